//! The room's full mix, encoded once for all its outputs (`pipelines/audio-aac.pipeline`: raw
//! PCM in, AAC out). It is a tap on the mixer; each encoded frame goes to every output's
//! [`Relay`]. One encoder per room whatever the number of outputs: with an AAC encoder in each
//! output, every further output cost 0.018 core, most of it encoding (benchmark G).
//!
//! Timestamps: the mixer hands a 20 ms frame every tick, stamped with the clock. Frames are
//! stamped by counting samples from the first one, re-anchored to the clock only when the two
//! drift apart by more than [`RESYNC`] (the mixer thread stalled, or an input's jitter allowance
//! changed), so scheduling jitter never shows as gaps or overlaps in the outputs; timestamps
//! never go back (frames are dropped instead). Encoded frames keep those absolute times.
//!
//! Invariants: the mixer thread never waits here (the appsrc is bounded and drops its oldest);
//! the pipeline is set to `Null` when the encoder is dropped (its guard).

use super::{EgressContext, PipelineGuard, Relay};
use crate::media::audio::SAMPLE_RATE;
use crate::media::tap::{EgressTap, TapStatus};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use parking_lot::Mutex;
use std::sync::Arc;

/// Audio timestamps follow the clock again when sample counting is this far off.
/// Below the ±60 ms the outputs promise between audio and video; above the mixer's usual jitter.
const RESYNC: gst::ClockTime = gst::ClockTime::from_mseconds(40);
const QUEUE_BYTES: u64 = 256 * 1024;

/// The mix as the mixer gives it: S16 mono 48 kHz.
fn pcm_caps() -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("format", "S16LE")
        .field("layout", "interleaved")
        .field("rate", SAMPLE_RATE as i32)
        .field("channels", 1i32)
        .build()
}

fn samples_time(n: u64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds((u128::from(n) * 1_000_000_000 / u128::from(SAMPLE_RATE)) as u64)
}

/// Sample counting against the clock.
#[derive(Default)]
struct Counter {
    base: Option<gst::ClockTime>,
    samples: u64,
    /// Counting ran ahead of the clock: frames are dropped until the clock catches up.
    catching_up: bool,
}

impl Counter {
    /// The time to stamp a frame of `n` samples that the clock says starts at `at`, or `None`
    /// when the frame is dropped. The clock far ahead (the mixer stalled, or its input's jitter
    /// allowance shrank) re-anchors: a gap in the output. The clock far behind (the allowance
    /// grew, so the mix now comes later) cannot be followed backwards without overlapping
    /// timestamps, so frames are dropped until it is within half a frame again.
    fn stamp(&mut self, at: gst::ClockTime, n: usize) -> Option<gst::ClockTime> {
        let counted = self.base.map(|b| b + samples_time(self.samples));
        let pts = match counted {
            Some(c) if c > at && (self.catching_up || c - at > RESYNC) => {
                self.catching_up = c - at > samples_time(n as u64) / 2;
                if self.catching_up {
                    return None;
                }
                c
            }
            Some(c) if c.absdiff(at) <= RESYNC => c,
            _ => {
                self.base = Some(at);
                self.samples = 0;
                at
            }
        };
        self.samples += n as u64;
        Some(pts)
    }
}

/// Where encoded frames go.
type Relays = Arc<Mutex<Vec<(String, Arc<Relay>)>>>;

pub struct AudioEncoder {
    src: gst_app::AppSrc,
    state: Mutex<Stamping>,
    relays: Relays,
    _guard: PipelineGuard,
}

impl AudioEncoder {
    /// Builds and starts the encoder.
    pub fn start(ctx: &EgressContext) -> Result<Arc<Self>, String> {
        let file = "audio-aac.pipeline";
        let (guard, bin) = super::build_pipeline(ctx, &ctx.pipelines.audio_aac, file)?;
        let named = |name: &str| bin.by_name(name).ok_or_else(|| format!("{file} has no element named `{name}`"));
        let src = named("src")?.dynamic_cast::<gst_app::AppSrc>().map_err(|_| format!("`src` in {file} is not an appsrc"))?;
        let sink = named("sink")?;
        src.set_caps(Some(&pcm_caps()));
        src.set_format(gst::Format::Time);
        src.set_is_live(true);
        src.set_block(false);
        src.set_max_bytes(QUEUE_BYTES);
        src.set_leaky_type(gst_app::AppLeakyType::Downstream);
        let appsink = sink.dynamic_cast::<gst_app::AppSink>().map_err(|_| "`sink` in audio-aac.pipeline is not an appsink")?;
        appsink.set_sync(false);
        let relays: Relays = Arc::default();
        let out = relays.clone();
        appsink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let (Some(frame), Some(caps)) = (sample.buffer_owned(), sample.caps_owned()) else { return Ok(gst::FlowSuccess::Ok) };
                    let Some(at) = frame.pts() else { return Ok(gst::FlowSuccess::Ok) };
                    for (_, relay) in out.lock().iter() {
                        relay.encoded_audio(&frame, &caps, at);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        guard.0.set_state(gst::State::Playing).map_err(|e| format!("the audio encoder did not start: {e}"))?;
        Ok(Arc::new(Self { src, state: Mutex::default(), relays, _guard: guard }))
    }

    pub fn add(&self, id: &str, relay: Arc<Relay>) {
        let mut l = self.relays.lock();
        l.retain(|(r, _)| r != id);
        l.push((id.to_owned(), relay));
    }

    /// Removes `id`; returns how many outputs remain.
    pub fn remove(&self, id: &str) -> usize {
        let mut l = self.relays.lock();
        l.retain(|(r, _)| r != id);
        l.len()
    }
}

impl EgressTap for AudioEncoder {
    fn video(&self, _: &gst::Buffer, _: &gst::Caps, _: gst::ClockTime) -> TapStatus {
        TapStatus::Open
    }

    fn audio(&self, pcm: &[i16], at: gst::ClockTime) -> TapStatus {
        let mut st = self.state.lock();
        let Some(pts) = st.counter.stamp(at, pcm.len()) else { return TapStatus::Open };
        // A frame that does not follow the batch (re-anchored after a stall) starts a new one.
        let contiguous = st.batch.start.is_some_and(|s| s + samples_time(st.batch.samples as u64) == pts);
        if !contiguous && let Some(chunk) = st.batch.take() {
            let _ = self.src.push_buffer(chunk);
        }
        st.batch.add(pts, pcm);
        if st.batch.samples >= BATCH_SAMPLES
            && let Some(chunk) = st.batch.take()
        {
            let _ = self.src.push_buffer(chunk);
        }
        TapStatus::Open
    }
}

/// Frames gathered into one buffer for the encoder: each buffer wakes its thread, and waking it
/// 50 times a second cost more than the encoding (benchmark G). 80 ms; outputs are not
/// interactive and their muxers allow for it (the appsrcs report 300 ms of latency).
const BATCH_SAMPLES: usize = crate::media::audio::FRAME * 4;

#[derive(Default)]
struct Batch {
    start: Option<gst::ClockTime>,
    bytes: Vec<u8>,
    samples: usize,
}

impl Batch {
    fn add(&mut self, pts: gst::ClockTime, pcm: &[i16]) {
        self.start.get_or_insert(pts);
        for s in pcm {
            self.bytes.extend_from_slice(&s.to_le_bytes());
        }
        self.samples += pcm.len();
    }

    /// The gathered frames as one stamped buffer (`None` when empty).
    fn take(&mut self) -> Option<gst::Buffer> {
        let start = self.start.take()?;
        let mut buf = gst::Buffer::from_mut_slice(std::mem::take(&mut self.bytes));
        {
            let b = buf.make_mut();
            b.set_pts(start);
            b.set_duration(samples_time(self.samples as u64));
        }
        self.samples = 0;
        Some(buf)
    }
}

#[derive(Default)]
struct Stamping {
    counter: Counter,
    batch: Batch,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> gst::ClockTime {
        gst::ClockTime::from_mseconds(v)
    }

    #[test]
    fn frames_are_stamped_by_counting_and_re_anchored_after_a_stall() {
        let mut c = Counter::default();
        let mut stamp = |t| c.stamp(ms(t), 960).map(|p| p.mseconds());
        let stamps: Vec<Option<u64>> = [1000, 1023, 1039, 1061, 1080].into_iter().map(&mut stamp).collect();
        assert_eq!(stamps, [Some(1000), Some(1020), Some(1040), Some(1060), Some(1080)], "jitter in the mixer's ticks does not show");
        assert_eq!(stamp(1300), Some(1300), "a 200 ms stall re-anchors instead of piling up");
        assert_eq!(stamp(1325), Some(1320));
    }

    #[test]
    fn a_mix_that_comes_later_drops_frames_instead_of_going_back() {
        // The input's jitter allowance grew by 60 ms: the clock now says each frame started
        // 60 ms earlier than counting does.
        let mut c = Counter::default();
        let mut stamp = |t| c.stamp(ms(t), 960).map(|p| p.mseconds());
        assert_eq!([stamp(1000), stamp(1020)], [Some(1000), Some(1020)]);
        let after: Vec<Option<u64>> = [980, 1000, 1020, 1040, 1060].into_iter().map(&mut stamp).collect();
        assert_eq!(after, [None, None, None, Some(1040), Some(1060)], "never earlier than what was stamped; back on the clock");
        // Small jitter after catching up is absorbed as before.
        assert_eq!(stamp(1095), Some(1080));
    }

    #[test]
    fn frames_are_batched_with_the_first_ones_time() {
        gst::init().expect("gstreamer");
        let mut b = Batch::default();
        assert!(b.take().is_none());
        b.add(ms(1000), &[1; 960]);
        b.add(ms(1020), &[2; 960]);
        let buf = b.take().expect("a buffer");
        assert_eq!((buf.pts(), buf.duration(), buf.size()), (Some(ms(1000)), Some(ms(40)), 960 * 2 * 2));
        assert!(b.take().is_none(), "taken once");
    }
}
