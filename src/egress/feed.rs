//! The bridge from a room's media into one output pipeline: the composite's H.264 access units
//! (an [`EgressTap`] on the encoder) and the room's encoded full mix (from the shared encoder in
//! [`super::audio`]) pushed into the output's two `appsrc`s.
//!
//! Invariants: nothing here blocks a media thread (the appsrcs are bounded and drop their oldest
//! data when the output falls behind); the output's timeline starts at the first keyframe it
//! gets once the mix's audio flows (video before it is skipped, audio before it is skipped), so
//! every file or stream starts decodable and with audio and video together (a first HLS segment
//! without audio made hls.js fail when the next one had it); if no audio has come
//! [`AUDIO_WAIT`] after the first keyframe, the output starts without waiting longer. Both
//! streams are stamped from the same clock.

use crate::media::tap::{EgressTap, TapStatus};
use gstreamer as gst;
use gstreamer_app as gst_app;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// How late input data may arrive after its timestamp (the latency the appsrcs report).
const INPUT_LATENCY: gst::ClockTime = gst::ClockTime::from_mseconds(300);
/// Most data an output may hold back before its oldest is dropped.
const VIDEO_QUEUE_BYTES: u64 = 8 * 1024 * 1024;
const AUDIO_QUEUE_BYTES: u64 = 512 * 1024;
/// How long after the first keyframe an output waits for the mix's first audio frame before it
/// starts without (the composite has a keyframe every 2 s at most).
const AUDIO_WAIT: gst::ClockTime = gst::ClockTime::from_seconds(2);

#[derive(Default)]
struct Timeline {
    /// Absolute clock time of the output's zero (its first keyframe).
    origin: Option<gst::ClockTime>,
    caps: Option<gst::Caps>,
    audio_caps: Option<gst::Caps>,
    /// Whether an audio frame came (before the origin too).
    audio_seen: bool,
    /// The first keyframe offered, while the output waits for audio.
    first_keyframe: Option<gst::ClockTime>,
}

/// One output's inputs.
pub struct Feed {
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
    timeline: Mutex<Timeline>,
    closed: AtomicBool,
    /// Access units and audio frames handed to the output.
    pub video_frames: AtomicU64,
    pub audio_frames: AtomicU64,
}

impl Feed {
    /// Configures the output pipeline's `video` and `audio` appsrcs.
    pub fn new(video: gst_app::AppSrc, audio: gst_app::AppSrc) -> Self {
        for (src, max) in [(&video, VIDEO_QUEUE_BYTES), (&audio, AUDIO_QUEUE_BYTES)] {
            src.set_format(gst::Format::Time);
            src.set_is_live(true);
            src.set_do_timestamp(false);
            src.set_block(false);
            src.set_max_bytes(max);
            src.set_leaky_type(gst_app::AppLeakyType::Downstream);
            // Data arrives up to ~100 ms after its timestamp (encoders in the room's pipeline
            // and the shared audio encoder); said as latency, so a live muxer (flvmux) waits
            // for it instead of timing out and leaving a stream out.
            src.set_latency(INPUT_LATENCY, gst::ClockTime::from_seconds(1));
        }
        Self {
            video,
            audio,
            timeline: Mutex::new(Timeline::default()),
            closed: AtomicBool::new(false),
            video_frames: AtomicU64::new(0),
            audio_frames: AtomicU64::new(0),
        }
    }

    /// Ends both inputs (the output finishes what it holds, then posts end-of-stream); nothing
    /// more is accepted.
    pub fn finish(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            let _ = self.video.end_of_stream();
            let _ = self.audio.end_of_stream();
        }
    }

    /// Stops accepting without ending the streams (the output pipeline is being torn down).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Whether the output has started (got its first keyframe).
    pub fn started(&self) -> bool {
        self.timeline.lock().origin.is_some()
    }
}

impl EgressTap for Feed {
    fn video(&self, au: &gst::Buffer, caps: &gst::Caps, at: gst::ClockTime) -> TapStatus {
        if self.is_closed() {
            return TapStatus::Closed;
        }
        let mut t = self.timeline.lock();
        let origin = match t.origin {
            Some(o) => o,
            None if au.flags().contains(gst::BufferFlags::DELTA_UNIT) => return TapStatus::Open,
            None => {
                let first = *t.first_keyframe.get_or_insert(at);
                if !t.audio_seen && at.saturating_sub(first) < AUDIO_WAIT {
                    return TapStatus::Open;
                }
                *t.origin.insert(at)
            }
        };
        let Some(pts) = at.checked_sub(origin) else { return TapStatus::Open };
        if t.caps.as_ref() != Some(caps) {
            self.video.set_caps(Some(caps));
            t.caps = Some(caps.clone());
        }
        drop(t);
        if push_at(&self.video, au, pts) {
            self.video_frames.fetch_add(1, Ordering::Relaxed);
        }
        TapStatus::Open
    }

    /// The room's shared encoder hands out the mix already encoded (see [`super::audio`]).
    fn audio(&self, _pcm: &[i16], _at: gst::ClockTime) -> TapStatus {
        TapStatus::Open
    }
}

impl Feed {
    /// One encoded audio frame of the full mix (from the room's shared encoder), stamped with
    /// the absolute clock time of its first sample. Frames from before the output's first
    /// keyframe are skipped.
    pub fn encoded_audio(&self, frame: &gst::Buffer, caps: &gst::Caps, at: gst::ClockTime) {
        if self.is_closed() {
            return;
        }
        let mut t = self.timeline.lock();
        t.audio_seen = true;
        let Some(pts) = t.origin.and_then(|o| at.checked_sub(o)) else { return };
        if t.audio_caps.as_ref() != Some(caps) {
            self.audio.set_caps(Some(caps));
            t.audio_caps = Some(caps.clone());
        }
        drop(t);
        if push_at(&self.audio, frame, pts) {
            self.audio_frames.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Pushes a shallow copy of `frame` (the encoded bytes are shared) stamped `pts` on the output's
/// timeline, DTS included: the encoders' DTS is on the absolute clock (flvmux orders by DTS and
/// waited forever for an audio frame hours ahead). Whether `src` took it.
fn push_at(src: &gst_app::AppSrc, frame: &gst::Buffer, pts: gst::ClockTime) -> bool {
    let mut out = frame.copy();
    {
        let b = out.make_mut();
        b.set_pts(pts);
        b.set_dts(pts);
    }
    src.push_buffer(out).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appsrc() -> gst_app::AppSrc {
        gst_app::AppSrc::builder().build()
    }

    fn ms(v: u64) -> gst::ClockTime {
        gst::ClockTime::from_mseconds(v)
    }

    #[test]
    fn output_starts_at_the_first_keyframe_and_audio_follows_it() {
        gst::init().expect("gstreamer");
        let feed = Feed::new(appsrc(), appsrc());
        let caps = gst::Caps::builder("video/x-h264").build();
        let aac = gst::Caps::builder("audio/mpeg").field("mpegversion", 4i32).build();
        let mut delta = gst::Buffer::with_size(10).unwrap();
        delta.make_mut().set_flags(gst::BufferFlags::DELTA_UNIT);
        let key = gst::Buffer::with_size(10).unwrap();
        let frame = gst::Buffer::with_size(10).unwrap();
        feed.encoded_audio(&frame, &aac, ms(990));
        feed.video(&delta, &caps, ms(1000));
        assert!(!feed.started(), "a delta frame does not start the output");
        assert_eq!(feed.audio_frames.load(Ordering::Relaxed), 0, "audio waits for the first keyframe");
        feed.video(&key, &caps, ms(1033));
        assert!(feed.started());
        feed.encoded_audio(&frame, &aac, ms(1020));
        assert_eq!(feed.audio_frames.load(Ordering::Relaxed), 0, "audio from before the origin is skipped");
        feed.encoded_audio(&frame, &aac, ms(1040));
        feed.video(&delta, &caps, ms(1066));
        assert_eq!((feed.video_frames.load(Ordering::Relaxed), feed.audio_frames.load(Ordering::Relaxed)), (2, 1));
        feed.finish();
        assert_eq!(feed.video(&delta, &caps, ms(1100)), TapStatus::Closed);
    }

    #[test]
    fn output_waits_for_audio_at_most_a_while() {
        gst::init().expect("gstreamer");
        let caps = gst::Caps::builder("video/x-h264").build();
        let aac = gst::Caps::builder("audio/mpeg").field("mpegversion", 4i32).build();
        let key = gst::Buffer::with_size(10).unwrap();
        let frame = gst::Buffer::with_size(10).unwrap();
        let feed = Feed::new(appsrc(), appsrc());
        feed.video(&key, &caps, ms(1000));
        assert!(!feed.started(), "no audio yet: the output waits for the next keyframe");
        feed.encoded_audio(&frame, &aac, ms(1500));
        feed.video(&key, &caps, ms(2000));
        assert!(feed.started(), "audio flows: the next keyframe starts it");
        let silent = Feed::new(appsrc(), appsrc());
        silent.video(&key, &caps, ms(1000));
        silent.video(&key, &caps, ms(2000));
        assert!(!silent.started());
        silent.video(&key, &caps, ms(3000));
        assert!(silent.started(), "no audio 2 s after the first keyframe: it starts without");
    }
}
