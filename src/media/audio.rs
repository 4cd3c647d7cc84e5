//! The room's mix-minus audio: each input is decoded once (by its participant's task, through
//! [`AudioInput`]); every 20 ms a mixer thread takes a frame of each, lets the speaker detector
//! and the gate ([`super::gate`]) choose what is mixed (speech only, the loudest few), sums
//! those once, and hands the sum to [`super::mixout`]: one shared Opus encode for everyone whose
//! voice is not in it, a mix-minus encode for each talker. Cost grows with talkers, not with
//! listeners (beyond decoding each input and sending each packet).
//!
//! Invariants: the mixer thread never blocks on a receiver (full queues drop that receiver's
//! frame); it stops when the [`AudioMixer`] is dropped.

use super::gate::{Heard, Ramp, TalkerGate};
use super::mixout::MixOutputs;
use super::opus_state::OpusStateError;
use super::speaker::{SpeakerDetector, SpeakerUpdate};
use super::tap::{EgressTap, Taps, clock_now};
use super::{PacketSink, mixminus};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const SAMPLE_RATE: u32 = 48_000;
/// 20 ms at 48 kHz mono.
pub const FRAME: usize = 960;
/// Samples an input may hold before the oldest are dropped (bounds added latency to ~100 ms).
const MAX_QUEUED: usize = FRAME * 5;
/// Frames gathered before an input is mixed (again): its jitter allowance. It starts at one
/// frame (the least latency: a packet waits only for the next tick), grows by one frame at an
/// underrun that follows another within [`CALM_FRAMES`] (up to [`MAX_TARGET`]), and shrinks back
/// after [`CALM_FRAMES`] without one. A lone late packet costs one 20 ms gap, not 5 s of extra
/// latency: its frame then stands in the queue and the standing-queue rule below drops it.
const MAX_TARGET: usize = 4;
const CALM_FRAMES: u32 = 250; // 5 s
/// A queue that never fell below `target` frames (after taking) for this many ticks holds a
/// standing frame nobody needs (left by a burst, or by a shrunk target): one is dropped. Without
/// this a burst at connection time added 20 ms to an input for good (measured).
const STANDING_WINDOW: u32 = 50; // 1 s
const FRAME_TIME: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("opus codec error")]
    Opus(#[from] opus::Error),
    #[error("opus encoder error")]
    Encoder(#[from] OpusStateError),
    #[error("could not start the mixer thread")]
    Thread(#[source] std::io::Error),
}

/// One input's decoded samples: an adaptive jitter buffer in front of the mixer.
struct InputQueue {
    samples: VecDeque<i16>,
    primed: bool,
    /// Frames to gather before mixing (1..=MAX_TARGET).
    target: usize,
    /// Frames taken since the last underrun.
    calm: u32,
    /// Lowest level after taking, and ticks counted, in the current standing-queue window.
    low: usize,
    ticks: u32,
    /// Underruns and samples thrown away since the mixer last collected them into its stats.
    underruns: u64,
    discarded: u64,
}

impl Default for InputQueue {
    fn default() -> Self {
        // Calm from the start, so a first underrun counts as a lone one.
        Self {
            samples: VecDeque::new(),
            primed: false,
            target: 1,
            calm: CALM_FRAMES,
            low: usize::MAX,
            ticks: 0,
            underruns: 0,
            discarded: 0,
        }
    }
}

impl InputQueue {
    /// Takes one frame into `out`; `false` (and `out` untouched) when the input is silent or
    /// re-priming.
    fn take_frame(&mut self, out: &mut [i16]) -> bool {
        if !self.primed {
            if self.samples.len() < self.target * FRAME {
                return false;
            }
            self.primed = true;
        }
        if self.samples.len() < FRAME {
            // An underrun: the input is late (or stopped). A second one within the calm spell
            // says the jitter is real: allow it more.
            self.primed = false;
            self.underruns += 1;
            if self.calm < CALM_FRAMES {
                self.target = (self.target + 1).min(MAX_TARGET);
            }
            self.calm = 0;
            return false;
        }
        for (o, s) in out.iter_mut().zip(self.samples.drain(..FRAME)) {
            *o = s;
        }
        self.calm += 1;
        if self.calm >= CALM_FRAMES && self.target > 1 {
            self.target -= 1;
            self.calm = 0;
        }
        self.low = self.low.min(self.samples.len());
        self.ticks += 1;
        if self.ticks >= STANDING_WINDOW {
            if self.low >= self.target * FRAME {
                self.samples.drain(..FRAME);
                self.discarded += FRAME as u64;
            }
            self.low = usize::MAX;
            self.ticks = 0;
        }
        true
    }

    fn push(&mut self, pcm: &[i16]) {
        self.samples.extend(pcm);
        if self.samples.len() > MAX_QUEUED {
            let excess = self.samples.len() - self.target * FRAME;
            self.samples.drain(..excess);
            self.discarded += excess as u64;
        }
    }
}

/// One participant's audio going into the mix: owns its Opus decoder.
pub struct AudioInput {
    decoder: opus::Decoder,
    queue: Arc<Mutex<InputQueue>>,
    pcm: Vec<i16>,
    /// The RTP timestamp the next packet should carry (the last one's plus its samples).
    next_ts: Option<u32>,
}

/// Most audio concealed for lost packets: longer gaps are pauses (DTX, a muted sender), not loss.
const MAX_CONCEAL: u32 = 120 * SAMPLE_RATE / 1000;
/// Opus conceals in whole 2.5 ms steps.
const CONCEAL_STEP: u32 = SAMPLE_RATE / 400;

/// How many samples to conceal before a packet stamped `ts` when `expected` was due: the gap,
/// in 2.5 ms steps, if it is one of lost packets (under 120 ms); `None` for a packet from
/// before `expected` (late or repeated: not decoded).
fn conceal_before(expected: Option<u32>, ts: u32) -> Option<u32> {
    let Some(expected) = expected else { return Some(0) };
    let gap = ts.wrapping_sub(expected) as i32;
    if gap < 0 {
        return None;
    }
    let gap = gap as u32;
    Some(if gap <= MAX_CONCEAL { gap / CONCEAL_STEP * CONCEAL_STEP } else { 0 })
}

impl AudioInput {
    /// Decodes one Opus packet (any frame size up to 120 ms) stamped `timestamp` (RTP, 48 kHz)
    /// into the mix queue. Empty payloads (padding-only packets, which Firefox sends right
    /// after connecting) are skipped: decoding one would invent a whole buffer of concealment.
    /// A gap in the timestamps (lost packets) is concealed for exactly its length; late or
    /// repeated packets are dropped.
    pub fn push_rtp(&mut self, timestamp: u32, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        let Some(conceal) = conceal_before(self.next_ts, timestamp) else { return };
        let mut q = self.queue.lock();
        if conceal > 0
            && let Ok(n) = self.decoder.decode(&[], &mut self.pcm[..conceal as usize], false)
        {
            q.push(&self.pcm[..n]);
        }
        let Ok(n) = self.decoder.decode(payload, &mut self.pcm, false) else { return };
        q.push(&self.pcm[..n]);
        self.next_ts = Some(timestamp.wrapping_add(n as u32));
    }
}

/// What the mix lost over the room's life: each figure is one receiver's or one input's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioStats {
    /// Mixed packets a receiver could not take.
    pub dropped_packets: u64,
    /// Ticks at which an input that was playing had no frame ready (a gap in its audio).
    pub underruns: u64,
    /// Input samples thrown away to keep latency down (standing or overflowing queues).
    pub discarded_samples: u64,
}

struct MixerState {
    stats: AudioStats,
    inputs: HashMap<String, Arc<Mutex<InputQueue>>>,
    /// Receivers and the mix's encodes (one shared, one per talker).
    outputs: MixOutputs,
    /// Which inputs are mixed (speech only, the loudest `max_talkers`).
    gate: TalkerGate,
    /// Participants muted by the host: their input is drained but not mixed.
    muted: std::collections::HashSet<String>,
    /// Recordings and live outputs: each gets the full mix (everyone unmuted) every tick.
    taps: Taps,
    /// Who is talking, from the frames mixed; its decisions go to `speaker_updates`.
    speakers: SpeakerDetector,
    speaker_updates: Option<tokio::sync::mpsc::UnboundedSender<SpeakerUpdate>>,
}

impl MixerState {
    fn new(max_talkers: usize) -> Result<Self, AudioError> {
        Ok(Self {
            stats: AudioStats::default(),
            inputs: HashMap::new(),
            outputs: MixOutputs::new(FRAME)?,
            gate: TalkerGate::new(max_talkers),
            muted: Default::default(),
            taps: Taps::default(),
            speakers: SpeakerDetector::new(),
            speaker_updates: None,
        })
    }
}

/// Handle to a room's mixer thread.
pub struct AudioMixer {
    state: Arc<Mutex<MixerState>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AudioMixer {
    /// Starts the mixer thread, mixing at most `max_talkers` voices at once; who is talking goes
    /// to `speaker_updates` (only on change).
    pub fn start(
        room: &str,
        max_talkers: usize,
        speaker_updates: tokio::sync::mpsc::UnboundedSender<SpeakerUpdate>,
    ) -> Result<Self, AudioError> {
        let state = Arc::new(Mutex::new(MixerState { speaker_updates: Some(speaker_updates), ..MixerState::new(max_talkers)? }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("mix-{}", &room[..room.len().min(8)]))
            .spawn(move || run(s, st))
            .map_err(AudioError::Thread)?;
        Ok(Self { state, stop, thread: Some(thread) })
    }

    /// Registers `id` as a source of the mix.
    pub fn add_input(&self, id: &str) -> Result<AudioInput, AudioError> {
        let decoder = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono)?;
        let queue = Arc::new(Mutex::new(InputQueue::default()));
        self.state.lock().inputs.insert(id.to_owned(), queue.clone());
        Ok(AudioInput { decoder, queue, pcm: vec![0; FRAME * 6], next_ts: None })
    }

    /// Registers `id` as a receiver: every 20 ms `sink` gets one RTP packet holding an Opus
    /// frame of everyone else (the sink sets SSRC and payload type). The encoder is low-delay
    /// (CELT only: 2.5 ms look-ahead instead of VoIP mode's 6.5 ms) at 32 kbit/s.
    pub fn add_output(&self, id: &str, sink: Arc<dyn PacketSink>) {
        self.state.lock().outputs.add(id, sink);
    }

    /// Feeds the full mix (every unmuted input, nobody subtracted) to `tap` every 20 ms.
    pub fn add_tap(&self, id: &str, tap: Arc<dyn EgressTap>) {
        self.state.lock().taps.add(id, tap);
    }

    pub fn remove_tap(&self, id: &str) {
        self.state.lock().taps.remove(id);
    }

    /// Removes `id` as input and receiver.
    pub fn remove(&self, id: &str) {
        let mut s = self.state.lock();
        s.inputs.remove(id);
        s.outputs.remove(id);
        s.muted.remove(id);
        s.speakers.remove(id);
        s.gate.remove(id);
    }

    /// Keeps `id`'s audio out of (or puts it back into) everyone's mix; holds for an input
    /// attached later too.
    pub fn set_muted(&self, id: &str, muted: bool) {
        let mut s = self.state.lock();
        if muted {
            s.muted.insert(id.to_owned());
        } else {
            s.muted.remove(id);
        }
    }

    pub fn stats(&self) -> AudioStats {
        let s = self.state.lock();
        AudioStats { dropped_packets: s.outputs.stats.dropped_packets, ..s.stats }
    }

    pub fn counts(&self) -> (usize, usize) {
        let s = self.state.lock();
        (s.inputs.len(), s.outputs.len())
    }
}

impl Drop for AudioMixer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The middle value (the upper one of two), 0 for none.
fn median(v: &mut [usize]) -> usize {
    if v.is_empty() {
        return 0;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable(mid).1
}

/// Scratch buffers reused every frame (no per-frame allocation beyond the encoded packets).
struct Scratch {
    /// Each input's frame this tick, and the samples left queued behind it when one was taken
    /// (and not muted).
    frames: HashMap<String, (Vec<i16>, Option<usize>)>,
    /// The samples behind the inputs mixed this tick.
    waits: Vec<usize>,
    sum: Vec<i32>,
    /// The whole mix, saturated to 16 bits: what taps and the shared encode take.
    out: Vec<i16>,
}

impl Default for Scratch {
    fn default() -> Self {
        Self { frames: HashMap::new(), waits: Vec::new(), sum: vec![0; FRAME], out: vec![0; FRAME] }
    }
}

fn run(state: Arc<Mutex<MixerState>>, stop: Arc<AtomicBool>) {
    let mut scratch = Scratch::default();
    let mut next = Instant::now() + FRAME_TIME;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > FRAME_TIME * 10 {
            // Far behind (machine stalled): resynchronise instead of bursting.
            next = now;
        }
        next += FRAME_TIME;
        mix_one_frame(&mut state.lock(), &mut scratch);
    }
}

fn mix_one_frame(s: &mut MixerState, sc: &mut Scratch) {
    sc.frames.retain(|id, _| s.inputs.contains_key(id));
    for (id, q) in &s.inputs {
        let (buf, queued) = sc.frames.entry(id.clone()).or_insert_with(|| (vec![0; FRAME], None));
        *queued = None;
        let (got, behind) = {
            let mut q = q.lock();
            let before = q.target;
            let got = q.take_frame(buf);
            // What stayed behind arrived after this frame: how long it waited.
            let behind = q.samples.len();
            let (underruns, discarded) = (std::mem::take(&mut q.underruns), std::mem::take(&mut q.discarded));
            s.stats.underruns += underruns;
            s.stats.discarded_samples += discarded;
            crate::metrics::audio_losses(underruns, discarded);
            if q.target != before {
                tracing::debug!(participant = %id, frames = q.target, "audio input jitter allowance changed");
            }
            (got, behind)
        };
        let heard = if s.muted.contains(id) {
            s.speakers.observe(id, None);
            Heard::Muted
        } else if got {
            *queued = Some(behind);
            let (db, active) = s.speakers.observe(id, Some(buf));
            Heard::Frame { db, active }
        } else {
            s.speakers.observe(id, None);
            Heard::Nothing
        };
        s.gate.observe(id, heard);
    }
    if let Some(update) = s.speakers.tick()
        && let Some(tx) = &s.speaker_updates
    {
        let _ = tx.send(update);
    }
    sc.sum.iter_mut().for_each(|x| *x = 0);
    sc.waits.clear();
    for (id, ramp) in s.gate.select() {
        let Some((buf, queued)) = sc.frames.get_mut(id) else { continue };
        apply_ramp(buf, *ramp);
        mixminus::accumulate(&mut sc.sum, buf);
        sc.waits.extend(*queued);
    }
    mixminus::minus(&sc.sum, None, &mut sc.out);
    if !s.taps.is_empty() {
        // When the frame taken now started arriving: one frame ago, plus the time it waited in
        // its input's jitter buffer (the samples queued behind it), so the outputs' audio keeps
        // the time it was captured and stays with the video, which is stamped on arrival. The
        // mix has one time for all inputs: the median wait (the exact one with one speaker;
        // one jittery input among several does not move the others).
        let wait = median(&mut sc.waits) as u64 * 1_000_000_000 / u64::from(SAMPLE_RATE);
        let at = clock_now().saturating_sub(gstreamer::ClockTime::from_nseconds(FRAME_TIME.as_nanos() as u64 + wait));
        s.taps.each(|t| t.audio(&sc.out, at));
    }
    let chosen = s.gate.chosen();
    let frames = &sc.frames;
    let before = s.outputs.stats;
    s.outputs.send(&sc.sum, &sc.out, |id| chosen.iter().any(|(c, _)| c == id).then(|| frames.get(id).map(|(v, _)| v.as_slice())).flatten());
    let after = s.outputs.stats;
    crate::metrics::audio_encodes(after.shared - before.shared, after.own - before.own);
}

/// Fades `frame` in or out over its length (linearly), or leaves it at full weight.
fn apply_ramp(frame: &mut [i16], ramp: Ramp) {
    let n = frame.len() as i32;
    match ramp {
        Ramp::Full => {}
        Ramp::In => frame.iter_mut().zip(0..).for_each(|(x, i)| *x = (*x as i32 * i / n) as i16),
        Ramp::Out => frame.iter_mut().zip(0..).for_each(|(x, i)| *x = (*x as i32 * (n - i) / n) as i16),
    }
}

#[cfg(test)]
#[path = "audio_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "audio_talkers_tests.rs"]
mod talkers_tests;
