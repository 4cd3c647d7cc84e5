//! Decoding what the server wrote (recordings, HLS segments, a pulled RTMP stream) with
//! GStreamer, independently of the server's own code: video as RGB frames, audio as 48 kHz mono.

use super::signal::Frame;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::sync::{Arc, Mutex};

/// What a decode produced.
#[derive(Default)]
pub struct Decoded {
    /// (presentation time in ms, frame) for the frames `keep` asked for.
    pub frames: Vec<(u64, Frame)>,
    /// (presentation time in ms, value) of `probe` on every frame.
    pub probes: Vec<(u64, f64)>,
    pub video_frames: usize,
    /// Mono 48 kHz samples and the time of the first one.
    pub audio: Vec<i16>,
    pub audio_start_ms: Option<u64>,
    /// (presentation time in µs, index in `audio` of its first sample) for each audio buffer:
    /// a sample's time is its buffer's, so a gap in the audio does not shift what follows.
    pub audio_buffers: Vec<(u64, usize)>,
    pub width: usize,
    pub height: usize,
    /// Time of the last video frame's end, ms.
    pub video_end_ms: u64,
}

type Probe = Box<dyn Fn(&Frame) -> f64 + Send + Sync>;

/// Decodes `uri` (file://, rtmp://, http://…) to the end (or until `max_ms` of video), keeping
/// frames at the times in `keep_ms` (the first frame at or after each) and evaluating `probe`
/// on every frame.
pub fn decode(uri: &str, keep_ms: &[u64], probe: Option<Probe>, max_ms: Option<u64>) -> Result<Decoded, String> {
    gst::init().map_err(|e| e.to_string())?;
    // The video queue is bounded: decoding outruns the RGB conversion, and an unbounded queue
    // of decoded 720p frames filled 24 GB on an hour-long recording.
    // TESSERA_DECODE_SCALE=WxH scales frames before the RGB conversion (long manual soaks: an
    // hour of 720p converted at full size takes tens of minutes).
    let scale = std::env::var("TESSERA_DECODE_SCALE")
        .ok()
        .and_then(|v| v.split_once('x').and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?))))
        .map(|(w, h)| format!("videoscale ! video/x-raw,width={w},height={h} ! "))
        .unwrap_or_default();
    let desc = format!(
        "uridecodebin uri={uri} name=d \
         d. ! queue max-size-time=0 max-size-buffers=100 max-size-bytes=0 ! {scale}videoconvert ! video/x-raw,format=RGB ! appsink name=v sync=false \
         d. ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! appsink name=a sync=false"
    );
    let p = gst::parse::launch(&desc).map_err(|e| e.to_string())?.downcast::<gst::Pipeline>().map_err(|_| "not a pipeline")?;
    let out = Arc::new(Mutex::new(Decoded::default()));
    let wanted = Arc::new(Mutex::new(keep_ms.to_vec()));
    let (o, w) = (out.clone(), wanted.clone());
    let v = p.by_name("v").ok_or("no v")?.downcast::<gst_app::AppSink>().map_err(|_| "v")?;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    v.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let (Some(buf), Some(caps)) = (sample.buffer(), sample.caps()) else { return Ok(gst::FlowSuccess::Ok) };
                let st = caps.structure(0).ok_or(gst::FlowError::Error)?;
                let (width, height) = (st.get::<i32>("width").unwrap_or(0) as usize, st.get::<i32>("height").unwrap_or(0) as usize);
                let pts = buf.pts().map(|t| t.mseconds()).unwrap_or(0);
                let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
                // RGB rows may be padded to 4 bytes.
                let stride = map.len() / height.max(1);
                let mut rgb = Vec::with_capacity(width * height * 3);
                for row in 0..height {
                    rgb.extend_from_slice(&map[row * stride..row * stride + width * 3]);
                }
                let frame = Frame { width, height, rgb };
                let mut o = o.lock().map_err(|_| gst::FlowError::Error)?;
                o.width = width;
                o.height = height;
                o.video_frames += 1;
                o.video_end_ms = pts + buf.duration().map(|d| d.mseconds()).unwrap_or(33);
                if let Some(pr) = &probe {
                    let val = pr(&frame);
                    o.probes.push((pts, val));
                }
                let mut w = w.lock().map_err(|_| gst::FlowError::Error)?;
                if let Some(i) = w.iter().position(|t| *t <= pts) {
                    w.remove(i);
                    o.frames.push((pts, frame));
                }
                if max_ms.is_some_and(|m| pts >= m) {
                    d2.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let a = p.by_name("a").ok_or("no a")?.downcast::<gst_app::AppSink>().map_err(|_| "a")?;
    let o = out.clone();
    a.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(buf) = sample.buffer() else { return Ok(gst::FlowSuccess::Ok) };
                let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
                let mut o = o.lock().map_err(|_| gst::FlowError::Error)?;
                if o.audio_start_ms.is_none() {
                    o.audio_start_ms = buf.pts().map(|t| t.mseconds());
                }
                if let Some(pts) = buf.pts() {
                    let at = o.audio.len();
                    o.audio_buffers.push((pts.useconds(), at));
                }
                o.audio.extend(map.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    p.set_state(gst::State::Playing).map_err(|e| e.to_string())?;
    let bus = p.bus().ok_or("no bus")?;
    // TESSERA_DECODE_SECONDS: more time for the long manual soaks (an hour of 720p).
    let limit = std::env::var("TESSERA_DECODE_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(120u64);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(limit);
    let result = loop {
        if done.load(std::sync::atomic::Ordering::SeqCst) {
            break Ok(());
        }
        if std::time::Instant::now() > deadline {
            break Err(format!("decoding took over {limit} s"));
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else { continue };
        match msg.view() {
            gst::MessageView::Eos(_) => break Ok(()),
            gst::MessageView::Error(e) => break Err(format!("{}: {:?}", e.error(), e.debug())),
            _ => {}
        }
    };
    let _ = p.set_state(gst::State::Null);
    result?;
    let mut o = out.lock().map_err(|_| "poisoned")?;
    Ok(std::mem::take(&mut *o))
}

impl Decoded {
    /// The presentation time (ms) of audio sample `i`: its buffer's time plus its place in it.
    pub fn audio_sample_ms(&self, i: usize) -> f64 {
        let k = self.audio_buffers.partition_point(|&(_, first)| first <= i);
        match k.checked_sub(1).map(|k| self.audio_buffers[k]) {
            Some((us, first)) => us as f64 / 1000.0 + (i - first) as f64 / 48.0,
            None => self.audio_start_ms.unwrap_or(0) as f64 + i as f64 / 48.0,
        }
    }
}

/// Seeks to `at_ms` in the file at `uri` and decodes the frame there: the file is seekable
/// when this lands near `at_ms`. Returns the frame's time.
pub fn seek_and_decode(uri: &str, at_ms: u64) -> Result<u64, String> {
    gst::init().map_err(|e| e.to_string())?;
    let desc = format!(
        "uridecodebin uri={uri} name=d d. ! videoconvert ! video/x-raw,format=RGB ! appsink name=v sync=false d. ! fakesink sync=false"
    );
    let p = gst::parse::launch(&desc).map_err(|e| e.to_string())?.downcast::<gst::Pipeline>().map_err(|_| "not a pipeline")?;
    let v = p.by_name("v").ok_or("no v")?.downcast::<gst_app::AppSink>().map_err(|_| "v")?;
    p.set_state(gst::State::Paused).map_err(|e| e.to_string())?;
    let (r, _, _) = p.state(gst::ClockTime::from_seconds(20));
    r.map_err(|e| format!("does not preroll: {e}"))?;
    p.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, gst::ClockTime::from_mseconds(at_ms))
        .map_err(|e| format!("seek refused: {e}"))?;
    p.set_state(gst::State::Playing).map_err(|e| e.to_string())?;
    let sample = v.try_pull_sample(gst::ClockTime::from_seconds(20)).ok_or("no frame after the seek")?;
    let pts = sample.buffer().and_then(|b| b.pts()).map(|t| t.mseconds()).ok_or("no time")?;
    let _ = p.set_state(gst::State::Null);
    Ok(pts)
}
