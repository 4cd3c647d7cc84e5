//! The mix's Opus encodes: **one shared encode** of the room's mix for every receiver whose own
//! voice is not in it, and a mix-minus encode of its own for each receiver whose voice is (a
//! *talker*, as the gate in [`super::gate`] decides). A room of sixteen where two talk encodes
//! three streams per 20 ms, not sixteen.
//!
//! Moving a receiver between the shared encode and its own is seamless:
//! - its RTP sequence numbers and timestamps are its own and advance every tick whichever
//!   encode it is sent (its sink sets the SSRC), so its jitter buffer sees one stream;
//! - **into the mix** (shared → own): its encoder starts as a byte copy of the shared encoder's
//!   state ([`CopyableEncoder`]), so the packets continue the very stream its decoder has been
//!   decoding, and the signal does not jump either (its voice was not in the shared mix);
//! - **out of the mix** (own → shared): its encoder goes on encoding the shared mix (now the
//!   same signal as the shared encoder's) until the two encoders give byte-identical packets,
//!   which means their coded states agree, or [`CONVERGE`] frames have passed; then it gets the
//!   shared packets.
//!
//! Why not a crossfade: the receiver decodes one stream, so the only possible seam is its
//! decoder's state (predicted band energies, the pitch post-filter). Copying the encoder state
//! removes it exactly; a crossfade would need two encodes of the same frames and still leave
//! the decoder with a stream from an encoder it never followed.
//!
//! Invariants: every receiver gets one packet per tick (or a numbered gap when an encode
//! fails); the shared encoder encodes every tick some receiver takes or follows its stream.

use super::opus_state::{CopyableEncoder, OpusStateError};
use super::{Delivery, PacketSink, mixminus};
use bytes::Bytes;
use rtc_rtp as rtp;
use std::collections::HashMap;
use std::sync::Arc;

/// The mix's bitrate: at 32 kbit/s low-delay (CELT) Opus carries speech and music in a mix
/// well (benchmarks C and E).
pub const BITRATE: i32 = 32_000;
/// Most frames a receiver whose voice left the mix keeps its own encoder while it converges on
/// the shared one.
pub const CONVERGE: u32 = 25;

struct Own {
    encoder: CopyableEncoder,
    /// Ticks since its voice left the mix (`None`: in it).
    left: Option<u32>,
}

/// One receiver of the mix: where its packets go, its RTP numbering, its own encoder while it
/// has one.
struct Output {
    sink: Arc<dyn PacketSink>,
    seq: u16,
    ts: u32,
    own: Option<Own>,
}

/// What the encodes did over the room's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeStats {
    /// Frames encoded by the shared encoder, and by receivers' own encoders.
    pub shared: u64,
    pub own: u64,
    /// Receivers moved onto an encoder of their own, and back onto the shared one (`converged`
    /// of them once their packets matched the shared ones byte for byte).
    pub to_own: u64,
    pub to_shared: u64,
    pub converged: u64,
    /// Packets a receiver could not take.
    pub dropped_packets: u64,
}

/// The room's receivers of the mix and its encoders.
pub struct MixOutputs {
    shared: CopyableEncoder,
    outputs: HashMap<String, Output>,
    own_pcm: Vec<i16>,
    packet: Vec<u8>,
    pub stats: EncodeStats,
    /// Tests only: switch without carrying state over (a fresh encoder in, no convergence out),
    /// to show that the tests' seam measure sees what this module avoids.
    #[cfg(test)]
    pub naive: bool,
}

impl MixOutputs {
    pub fn new(frame: usize) -> Result<Self, OpusStateError> {
        Ok(Self {
            shared: CopyableEncoder::new(BITRATE)?,
            outputs: HashMap::new(),
            own_pcm: vec![0; frame],
            packet: vec![0; 1500],
            stats: EncodeStats::default(),
            #[cfg(test)]
            naive: false,
        })
    }

    /// `id` receives the mix from the next tick (numbering starts at random values).
    pub fn add(&mut self, id: &str, sink: Arc<dyn PacketSink>) {
        self.outputs.insert(id.to_owned(), Output { sink, seq: rand::random(), ts: rand::random(), own: None });
    }

    pub fn remove(&mut self, id: &str) {
        self.outputs.remove(id);
    }

    pub fn len(&self) -> usize {
        self.outputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    /// Whether `id` is sent an encode of its own (it talks, or its stream is converging).
    pub fn has_own(&self, id: &str) -> bool {
        self.outputs.get(id).is_some_and(|o| o.own.is_some())
    }

    /// Sends one tick: `sum` is the whole mix (32-bit), `full` the same saturated to 16 bits
    /// (one frame: its length is the timestamp step), `part(id)` what `id` put into it this
    /// tick. Receivers that are gone are forgotten.
    pub fn send<'a>(&mut self, sum: &[i32], full: &[i16], part: impl Fn(&str) -> Option<&'a [i16]>) {
        #[cfg(test)]
        let naive = self.naive;
        #[cfg(not(test))]
        let naive = false;
        // Moves first: a new talker's encoder copies the shared state before it encodes this
        // tick, which is what that receiver's decoder has followed.
        let mut shared_needed = false;
        for (id, out) in self.outputs.iter_mut() {
            match (&mut out.own, part(id).is_some()) {
                (None, true) => {
                    let encoder = if naive { CopyableEncoder::new(BITRATE).expect("the bitrate is valid") } else { self.shared.clone() };
                    out.own = Some(Own { encoder, left: None });
                    self.stats.to_own += 1;
                }
                (Some(own), true) => own.left = None,
                (Some(own), false) => {
                    own.left = Some(own.left.map_or(0, |k| k + 1));
                    shared_needed = true;
                }
                (None, false) => shared_needed = true,
            }
        }
        let shared = if shared_needed {
            self.stats.shared += 1;
            self.shared.encode(full, &mut self.packet).ok().map(|n| Bytes::copy_from_slice(&self.packet[..n]))
        } else {
            None
        };
        let converge = if naive { 0 } else { CONVERGE };
        let step = full.len() as u32;
        let mut gone = Vec::new();
        for (id, out) in self.outputs.iter_mut() {
            let mut back_to_shared = false;
            let payload = match &mut out.own {
                None => shared.clone(),
                Some(own) => match own.left {
                    None => {
                        mixminus::minus(sum, part(id), &mut self.own_pcm);
                        self.stats.own += 1;
                        own.encoder.encode(&self.own_pcm, &mut self.packet).ok().map(|n| Bytes::copy_from_slice(&self.packet[..n]))
                    }
                    Some(k) if k >= converge => {
                        back_to_shared = true;
                        shared.clone()
                    }
                    Some(_) => {
                        self.stats.own += 1;
                        let p = own.encoder.encode(full, &mut self.packet).ok().map(|n| &self.packet[..n]);
                        if p.is_some() && p == shared.as_deref() {
                            back_to_shared = true;
                            self.stats.converged += 1;
                            shared.clone()
                        } else {
                            p.map(Bytes::copy_from_slice)
                        }
                    }
                },
            };
            if back_to_shared {
                out.own = None;
                self.stats.to_shared += 1;
            }
            if let Some(payload) = payload {
                let header = rtp::header::Header { version: 2, sequence_number: out.seq, timestamp: out.ts, ..Default::default() };
                match out.sink.send(rtp::Packet { header, payload }) {
                    Delivery::Sent | Delivery::NotReady => {}
                    Delivery::Dropped => self.stats.dropped_packets += 1,
                    Delivery::Gone => gone.push(id.clone()),
                }
            }
            // Numbered per tick whether or not a packet went out: a gap reads as loss, not as
            // time standing still.
            out.seq = out.seq.wrapping_add(1);
            out.ts = out.ts.wrapping_add(step);
        }
        for id in gone {
            self.outputs.remove(&id);
        }
    }
}
