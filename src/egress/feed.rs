//! The bridge from a room's media threads into one output pipeline: an [`EgressTap`] that pushes
//! the composite's H.264 access units and the full mix into the output's two `appsrc`s.
//!
//! Invariants: nothing here blocks a media thread (the appsrcs are bounded and drop their oldest
//! data when the output falls behind); the output's timeline starts at the first keyframe it
//! gets (video before it is skipped, audio before it is skipped), so every file or stream starts
//! decodable and with audio and video together; audio is stamped by counting samples from its
//! first frame, and re-anchored to the clock only when the two drift apart by more than
//! [`AUDIO_RESYNC`] (the mixer thread stalled), so small scheduling jitter never shows as gaps.

use crate::media::audio::{FRAME, SAMPLE_RATE};
use crate::media::tap::{EgressTap, TapStatus};
use gstreamer as gst;
use gstreamer_app as gst_app;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Audio timestamps follow the clock again when sample counting is this far off.
const AUDIO_RESYNC: gst::ClockTime = gst::ClockTime::from_mseconds(80);
/// Most data an output may hold back before its oldest is dropped.
const VIDEO_QUEUE_BYTES: u64 = 8 * 1024 * 1024;
const AUDIO_QUEUE_BYTES: u64 = 512 * 1024;

/// Raw audio caps of the mix as the tap gives it.
pub fn audio_caps() -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("format", "S16LE")
        .field("layout", "interleaved")
        .field("rate", SAMPLE_RATE as i32)
        .field("channels", 1i32)
        .build()
}

#[derive(Default)]
struct Timeline {
    /// Absolute clock time of the output's zero (its first keyframe).
    origin: Option<gst::ClockTime>,
    caps: Option<gst::Caps>,
    /// Output time of the first counted audio sample, and samples counted since.
    audio_base: Option<gst::ClockTime>,
    audio_samples: u64,
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
        }
        audio.set_caps(Some(&audio_caps()));
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
        self.timeline.lock().map(|t| t.origin.is_some()).unwrap_or(false)
    }
}

impl EgressTap for Feed {
    fn video(&self, au: &gst::Buffer, caps: &gst::Caps, at: gst::ClockTime) -> TapStatus {
        if self.is_closed() {
            return TapStatus::Closed;
        }
        let Ok(mut t) = self.timeline.lock() else { return TapStatus::Closed };
        let origin = match t.origin {
            Some(o) => o,
            None if au.flags().contains(gst::BufferFlags::DELTA_UNIT) => return TapStatus::Open,
            None => *t.origin.insert(at),
        };
        let Some(pts) = at.checked_sub(origin) else { return TapStatus::Open };
        if t.caps.as_ref() != Some(caps) {
            self.video.set_caps(Some(caps));
            t.caps = Some(caps.clone());
        }
        drop(t);
        // A shallow copy: the encoded bytes are shared, only the timestamps are the output's.
        let mut out = au.copy();
        {
            let b = out.make_mut();
            b.set_pts(pts);
            b.set_dts(pts);
        }
        if self.video.push_buffer(out).is_ok() {
            self.video_frames.fetch_add(1, Ordering::Relaxed);
        }
        TapStatus::Open
    }

    fn audio(&self, pcm: &[i16], at: gst::ClockTime) -> TapStatus {
        if self.is_closed() {
            return TapStatus::Closed;
        }
        let Ok(mut t) = self.timeline.lock() else { return TapStatus::Closed };
        let Some(origin) = t.origin else { return TapStatus::Open };
        let Some(now) = at.checked_sub(origin) else { return TapStatus::Open };
        let counted = t.audio_base.map(|b| b + samples_time(t.audio_samples));
        let pts = match counted {
            Some(c) if c.absdiff(now) <= AUDIO_RESYNC => c,
            _ => {
                t.audio_base = Some(now);
                t.audio_samples = 0;
                now
            }
        };
        t.audio_samples += pcm.len() as u64;
        drop(t);
        let mut bytes = Vec::with_capacity(pcm.len() * 2);
        for s in pcm {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        let mut buf = gst::Buffer::from_mut_slice(bytes);
        {
            let b = buf.make_mut();
            b.set_pts(pts);
            b.set_duration(samples_time(pcm.len() as u64));
        }
        if self.audio.push_buffer(buf).is_ok() {
            self.audio_frames.fetch_add(1, Ordering::Relaxed);
        }
        TapStatus::Open
    }
}

fn samples_time(n: u64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(n * 1_000_000_000 / u64::from(SAMPLE_RATE))
}

const _: () = assert!(FRAME == 960, "the mix comes in 20 ms frames");

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
    fn output_starts_at_the_first_keyframe_and_audio_is_counted_not_jittered() {
        gst::init().expect("gstreamer");
        let (v, a) = (appsrc(), appsrc());
        let feed = Feed::new(v, a);
        let caps = gst::Caps::builder("video/x-h264").build();
        let mut delta = gst::Buffer::with_size(10).unwrap();
        delta.make_mut().set_flags(gst::BufferFlags::DELTA_UNIT);
        let key = gst::Buffer::with_size(10).unwrap();
        assert_eq!(feed.audio(&[0; FRAME], ms(990)), TapStatus::Open);
        feed.video(&delta, &caps, ms(1000));
        assert!(!feed.started(), "a delta frame does not start the output");
        feed.video(&key, &caps, ms(1033));
        assert!(feed.started());
        // Audio before the origin is skipped; then frames at jittery clock times are stamped
        // 20 ms apart.
        feed.audio(&[0; FRAME], ms(1020));
        for at in [1040, 1063, 1079, 1101] {
            feed.audio(&[0; FRAME], ms(at));
        }
        assert_eq!(feed.audio_frames.load(Ordering::Relaxed), 4);
        assert_eq!(feed.video_frames.load(Ordering::Relaxed), 1);
        let t = feed.timeline.lock().unwrap();
        assert_eq!(t.audio_base, Some(ms(7)), "anchored at the first frame after the origin");
        assert_eq!(t.audio_samples, 4 * FRAME as u64);
        drop(t);
        // A stall of the mixer (200 ms) re-anchors instead of piling up.
        feed.audio(&[0; FRAME], ms(1300));
        assert_eq!(feed.timeline.lock().unwrap().audio_base, Some(ms(267)));
        feed.finish();
        assert_eq!(feed.audio(&[0; FRAME], ms(1320)), TapStatus::Closed);
    }
}
