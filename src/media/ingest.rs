//! One participant's video input: RTP pushed by the participant task into an `appsrc`, then
//! jitter buffer → depayloader → decoder → `split` (a tee) → `fit` (the crop to a grid cell's
//! shape, `tile::fit`) → name label → a compositor sink pad. The small-screen canvas, while it runs, takes the decoded frames from `split` (before
//! the label: it draws names at its own size), so a stream is never decoded twice.
//!
//! Decoded frames are re-stamped with the pipeline's running time as they are decoded (before
//! `split`, so both canvases get the stamp), so a compositor shows each frame as soon as it is
//! decoded whatever the input's own latency; a stalled input simply keeps its last frame.

use super::{MediaError, VideoCodec, make, tile};
use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tokio::sync::{mpsc, oneshot};

/// What the participant task holds to feed its video into the room.
pub struct VideoIngest {
    appsrc: gst_app::AppSrc,
    /// One `()` each time the decoder side asks for a keyframe (the caller sends a PLI,
    /// rate-limited).
    pub keyframe_requests: mpsc::UnboundedReceiver<()>,
    /// Resolves (with an error) once the room has taken this ingest's elements out of its graph
    /// (the input failed, the tile was removed, the room's media stopped): what is pushed after
    /// that goes nowhere, and the caller may attach a new ingest.
    pub detached: oneshot::Receiver<()>,
}

impl VideoIngest {
    /// Pushes one marshalled RTP packet. Never blocks: `appsrc` drops the oldest data when its
    /// queue is full, and a removed ingest just refuses the buffer.
    pub fn push_rtp(&self, packet: Bytes) {
        let _ = self.appsrc.push_buffer(gst::Buffer::from_slice(packet));
    }
}

/// The elements of an ingest, owned by the room's video graph.
pub(crate) struct IngestBin {
    pub bin: gst::Bin,
    /// Dropped with the bin's place in the graph: resolves [`VideoIngest::detached`].
    _attached: oneshot::Sender<()>,
}

pub(crate) fn build(name: &str, codec: VideoCodec, payload_type: u8) -> Result<(IngestBin, VideoIngest), MediaError> {
    let bin = gst::Bin::new();
    let src = make("appsrc")?;
    let appsrc = src.clone().dynamic_cast::<gst_app::AppSrc>().map_err(|_| MediaError::Graph("appsrc is not an AppSrc".into()))?;
    appsrc.set_caps(Some(
        &gst::Caps::builder("application/x-rtp")
            .field("media", "video")
            .field("encoding-name", codec.encoding_name())
            .field("clock-rate", 90_000i32)
            .field("payload", payload_type as i32)
            .build(),
    ));
    appsrc.set_is_live(true);
    appsrc.set_format(gst::Format::Time);
    appsrc.set_do_timestamp(true);
    appsrc.set_max_bytes(4 * 1024 * 1024);
    appsrc.set_leaky_type(gst_app::AppLeakyType::Upstream);

    let jitter = make("rtpjitterbuffer")?;
    jitter.set_property("latency", 60u32);
    jitter.set_property("drop-on-latency", true);
    let (depay, dec) = match codec {
        VideoCodec::Vp8 => (make("rtpvp8depay")?, make("vp8dec")?),
        VideoCodec::H264 => (make("rtph264depay")?, make("avdec_h264")?),
    };
    depay.set_property("request-keyframe", true);
    depay.set_property("wait-for-keyframe", true);
    // A corrupt frame must not end the input: drop it and ask the sender for a keyframe.
    dec.set_property("max-errors", -1i32);
    dec.set_property("discard-corrupted-frames", true);
    dec.set_property("automatic-request-sync-points", true);
    let convert = make("videoconvert")?;
    let split = tile::split()?;
    let fit = tile::fit_element()?;
    let label = tile::name_overlay(name, "bottom")?;

    bin.add_many([&src, &jitter, &depay, &dec, &convert, &split, &fit, &label])?;
    gst::Element::link_many([&src, &jitter, &depay, &dec, &convert, &split, &fit, &label])?;

    let (kf_tx, kf_rx) = mpsc::unbounded_channel();
    let src_pad = src.static_pad("src").ok_or_else(|| MediaError::Graph("appsrc has no src pad".into()))?;
    src_pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_pad, info| {
        if let Some(gst::PadProbeData::Event(ev)) = &info.data
            && gstreamer_video::UpstreamForceKeyUnitEvent::parse(ev).is_ok()
        {
            let _ = kf_tx.send(());
        }
        gst::PadProbeReturn::Ok
    });

    let decoded = convert.static_pad("src").ok_or_else(|| MediaError::Graph("videoconvert has no src pad".into()))?;
    let weak = convert.downgrade();
    decoded.add_probe(gst::PadProbeType::BUFFER, move |_pad, info| {
        let now = weak.upgrade().and_then(|e| e.current_running_time());
        if let (Some(now), Some(gst::PadProbeData::Buffer(buf))) = (now, info.data.as_mut()) {
            let b = buf.make_mut();
            b.set_pts(now);
            b.set_dts(gst::ClockTime::NONE);
            b.set_duration(gst::ClockTime::NONE);
        }
        gst::PadProbeReturn::Ok
    });
    let out = label.static_pad("src").ok_or_else(|| MediaError::Graph("textoverlay has no src pad".into()))?;
    bin.add_pad(&gst::GhostPad::with_target(&out)?)?;
    let (attached, detached) = oneshot::channel();
    Ok((IngestBin { bin, _attached: attached }, VideoIngest { appsrc, keyframe_requests: kf_rx, detached }))
}
