//! A WHIP/WHEP client library that is not ours: gst-plugins-rs's `whipsink` and `whepsrc` (the
//! crates.io crate `gst-plugin-webrtchttp`, registered into this test process; GStreamer's
//! webrtcbin and libnice underneath). `whipsink` pushes a stream into the room; `whepsrc` watches
//! the composite and the whole mix. Each runs as a pipeline here, set to `Null` when dropped
//! (both DELETE their session then). The plugin blocks on a tokio runtime of its own while it
//! changes state, so that is done off this test's runtime workers.

use super::common::signal::{Frame, db, tone_power};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::sync::{Arc, Mutex};

/// A running client pipeline; its bus errors are collected for failure messages.
pub struct Running {
    pipeline: gst::Pipeline,
}

impl Running {
    fn start(pipeline: gst::Pipeline) -> Running {
        // The plugin blocks on a runtime of its own: never on one of this test's workers.
        tokio::task::block_in_place(|| pipeline.set_state(gst::State::Playing)).expect("the client pipeline starts");
        Running { pipeline }
    }

    /// The errors and warnings the pipeline posted so far.
    pub fn problems(&self) -> String {
        let Some(bus) = self.pipeline.bus() else { return String::new() };
        let mut out = String::new();
        while let Some(m) = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Warning]) {
            match m.view() {
                gst::MessageView::Error(e) => out.push_str(&format!("error: {} ({:?})\n", e.error(), e.debug())),
                gst::MessageView::Warning(w) => out.push_str(&format!("warning: {} ({:?})\n", w.error(), w.debug())),
                _ => {}
            }
        }
        out
    }

    /// Stops the pipeline (the element DELETEs its session on the way down).
    pub fn stop(self) {}
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = tokio::task::block_in_place(|| self.pipeline.set_state(gst::State::Null));
    }
}

/// Registers the plugin once in this process.
fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gst::init().expect("GStreamer is installed (scripts/deps.sh)");
        gstwebrtchttp::plugin_register_static().expect("the webrtchttp plugin registers once");
    });
}

/// `whipsink` publishing a solid colour (`argb`, as videotestsrc takes it) as VP8 and a tone as
/// Opus to `url` with `token`.
pub fn publish(url: &str, token: &str, argb: u32, hz: u32) -> Running {
    register();
    let desc = format!(
        "whipsink name=out whip-endpoint={url} auth-token={token} use-link-headers=true \
         videotestsrc is-live=true pattern=solid-color foreground-color={argb} ! video/x-raw,width=640,height=360,framerate=15/1 ! \
         videoconvert ! vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 ! queue ! out. \
         audiotestsrc is-live=true wave=sine freq={hz} volume=0.3 ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=100 ! queue ! out."
    );
    let pipeline = gst::parse::launch(&desc)
        .expect("the whipsink description parses")
        .downcast::<gst::Pipeline>()
        .expect("a description with several chains is a pipeline");
    Running::start(pipeline)
}

/// What a `whepsrc` viewer decoded so far.
#[derive(Default)]
struct Seen {
    frame: Option<Frame>,
    frames: u64,
    audio: Vec<i16>,
}

/// A `whepsrc` viewer decoding the composite (scaled to 640×360 RGB) and the mix (48 kHz mono).
pub struct Viewer {
    pub running: Running,
    seen: Arc<Mutex<Seen>>,
}

impl Viewer {
    pub fn watch(url: &str, token: &str) -> Viewer {
        register();
        let pipeline = gst::Pipeline::new();
        let src = gst::ElementFactory::make("whepsrc")
            .property("whep-endpoint", url)
            .property("auth-token", token)
            .property("use-link-headers", true)
            .build()
            .expect("whepsrc is registered");
        pipeline.add(&src).expect("a new pipeline takes the source");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (weak, store) = (pipeline.downgrade(), seen.clone());
        src.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else { return };
            let decode = gst::ElementFactory::make("decodebin").build().expect("decodebin is in gstreamer1.0-plugins-base");
            pipeline.add(&decode).expect("a new element");
            let (weak, store) = (pipeline.downgrade(), store.clone());
            decode.connect_pad_added(move |_, pad| {
                let Some(pipeline) = weak.upgrade() else { return };
                let caps = pad.current_caps().map(|c| c.to_string()).unwrap_or_default();
                let video = caps.starts_with("video/");
                let tail = if video {
                    "videoconvert ! videoscale ! video/x-raw,format=RGB,width=640,height=360 ! appsink name=sink sync=false"
                } else {
                    "audioconvert ! audioresample ! audio/x-raw,format=S16LE,channels=1,rate=48000 ! appsink name=sink sync=false"
                };
                let bin = gst::parse::bin_from_description(tail, true).expect("the decoded tail parses");
                let sink = bin.by_name("sink").and_then(|s| s.downcast::<gst_app::AppSink>().ok()).expect("the tail ends in an appsink");
                let store = store.clone();
                sink.set_callbacks(
                    gst_app::AppSinkCallbacks::builder()
                        .new_sample(move |s| {
                            let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                            let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                            let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                            let mut seen = store.lock().map_err(|_| gst::FlowError::Error)?;
                            if video {
                                seen.frame = Some(Frame { width: 640, height: 360, rgb: map.as_slice().to_vec() });
                                seen.frames += 1;
                            } else {
                                seen.audio.extend(map.as_slice().chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
                                let extra = seen.audio.len().saturating_sub(48_000);
                                seen.audio.drain(..extra);
                            }
                            Ok(gst::FlowSuccess::Ok)
                        })
                        .build(),
                );
                pipeline.add(&bin).expect("a new bin");
                bin.sync_state_with_parent().expect("the tail starts");
                let sink_pad = bin.static_pad("sink").expect("a ghost sink pad");
                pad.link(&sink_pad).expect("decoded media links to its tail");
            });
            decode.sync_state_with_parent().expect("decodebin starts");
            pad.link(&decode.static_pad("sink").expect("decodebin has a sink")).expect("the received RTP links to decodebin");
        });
        Viewer { running: Running::start(pipeline), seen }
    }

    pub fn frames(&self) -> u64 {
        self.seen.lock().map(|s| s.frames).unwrap_or(0)
    }

    /// Whether a coarse scan of the latest composite frame finds `rgb` somewhere.
    pub fn shows(&self, rgb: [u8; 3]) -> Result<(), String> {
        let seen = self.seen.lock().map_err(|_| "poisoned")?;
        let f = seen.frame.as_ref().ok_or("no frame decoded yet")?;
        if f.finds(rgb, 20, 4, 60.0) { Ok(()) } else { Err(format!("colour {rgb:?} nowhere in the composite")) }
    }

    /// The last 0.5 s of the mix holds every tone of `tones` at least 20 dB above an unused
    /// frequency (`quiet`): the viewer hears everyone, nobody subtracted.
    pub fn hears(&self, tones: &[f64], quiet: f64) -> Result<(), String> {
        let seen = self.seen.lock().map_err(|_| "poisoned")?;
        if seen.audio.len() < 24_000 {
            return Err(format!("{} audio samples decoded", seen.audio.len()));
        }
        let tail = &seen.audio[seen.audio.len() - 24_000..];
        let floor = tone_power(tail, quiet);
        for &t in tones {
            let margin = db(tone_power(tail, t) / floor);
            if margin < 20.0 {
                return Err(format!("tone {t} Hz is only {margin:.1} dB above {quiet} Hz"));
            }
        }
        Ok(())
    }
}
