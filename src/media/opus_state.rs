//! An Opus encoder whose whole state can be copied: what lets a listener move from the room's
//! shared encode of the mix to an encode of its own without its decoder noticing (see
//! [`super::mixout`]).
//!
//! libopus documents its encoder state as "position independent and can be freely copied"
//! (`opus.h`, `OpusEncoder`): the state lives here in memory this type owns (aligned for
//! libopus's SIMD code), is set up with `opus_encoder_init`, and a clone is a copy of those
//! bytes. The `opus` crate keeps its state behind a private pointer, so this is a thin wrapper
//! over the same library (`opusic-sys`, which the `opus` crate builds on).
//!
//! Invariants: `state` always holds an initialised encoder of `opus_encoder_get_size(1)` bytes
//! (mono); nothing outside this file touches it.

use opusic_sys as ffi;

/// One 16-byte aligned block of encoder state (malloc's alignment on x86-64, which libopus's
/// own `opus_encoder_create` relies on).
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Block([u8; 16]);

/// A mono, 48 kHz, low-delay (CELT only) Opus encoder that can be cloned mid-stream.
#[derive(Clone)]
pub struct CopyableEncoder {
    state: Box<[Block]>,
}

#[derive(Debug, thiserror::Error)]
#[error("libopus refused: {0}")]
pub struct OpusStateError(i32);

fn check(code: i32) -> Result<i32, OpusStateError> {
    if code < 0 { Err(OpusStateError(code)) } else { Ok(code) }
}

impl CopyableEncoder {
    /// A new encoder at `bitrate` bits per second.
    pub fn new(bitrate: i32) -> Result<Self, OpusStateError> {
        // SAFETY: a pure function of the channel count.
        let size = unsafe { ffi::opus_encoder_get_size(1) };
        let size = usize::try_from(check(size)?).map_err(|_| OpusStateError(size))?;
        let mut state = vec![Block([0; 16]); size.div_ceil(16)].into_boxed_slice();
        let st = state.as_mut_ptr().cast::<ffi::OpusEncoder>();
        // SAFETY: `st` points at `size` writable, aligned bytes, as opus_encoder_init asks.
        check(unsafe { ffi::opus_encoder_init(st, 48_000, 1, ffi::OPUS_APPLICATION_RESTRICTED_LOWDELAY) })?;
        let mut enc = Self { state };
        // SAFETY: the request takes one opus_int32 argument.
        check(unsafe { ffi::opus_encoder_ctl(enc.ptr(), ffi::OPUS_SET_BITRATE_REQUEST, bitrate as ffi::opus_int32) })?;
        Ok(enc)
    }

    fn ptr(&mut self) -> *mut ffi::OpusEncoder {
        self.state.as_mut_ptr().cast()
    }

    /// Encodes one frame of `pcm` (2.5 to 60 ms of mono samples) into `out`; the packet's
    /// length.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, OpusStateError> {
        let frame = i32::try_from(pcm.len()).map_err(|_| OpusStateError(ffi::OPUS_BAD_ARG))?;
        let max = i32::try_from(out.len()).unwrap_or(i32::MAX);
        // SAFETY: the state is initialised (invariant); `pcm` holds `frame` samples and `out`
        // `max` bytes; libopus checks that `frame` is a valid frame size.
        let n = unsafe { ffi::opus_encode(self.ptr(), pcm.as_ptr(), frame, out.as_mut_ptr(), max) };
        Ok(check(n)? as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, from: usize, n: usize) -> Vec<i16> {
        (from..from + n).map(|i| ((i as f32 * freq * std::f32::consts::TAU / 48_000.0).sin() * 6000.0) as i16).collect()
    }

    #[test]
    fn a_clone_carries_on_exactly_where_the_original_was() {
        let mut a = CopyableEncoder::new(32_000).expect("encoder");
        let (mut pa, mut pb) = (vec![0u8; 1500], vec![0u8; 1500]);
        for f in 0..30 {
            a.encode(&tone(440.0, f * 960, 960), &mut pa).expect("encode");
        }
        let mut b = a.clone();
        let mut fresh = CopyableEncoder::new(32_000).expect("encoder");
        let mut differs_from_fresh = false;
        for f in 30..60 {
            let pcm = tone(440.0, f * 960, 960);
            let na = a.encode(&pcm, &mut pa).expect("encode");
            let nb = b.encode(&pcm, &mut pb).expect("encode");
            assert_eq!(pa[..na], pb[..nb], "frame {f}: the copy encodes byte for byte like the original");
            let nf = fresh.encode(&pcm, &mut pb).expect("encode");
            differs_from_fresh |= pa[..na] != pb[..nf];
        }
        assert!(differs_from_fresh, "a fresh encoder's packets differ: the state carried over is real");
        assert!(a.encode(&[0; 7], &mut pa).is_err(), "an invalid frame size is an error, not a crash");
    }
}
