//! What the shipped encoder chains (`pipelines/encode-*.pipeline`) send when a keyframe is forced
//! through [`KeyframeGate`], read from their RTP packets as a receiver assembles them: a frame
//! is the packets up to one with the marker bit. Issue 23's keyframe loop was a marker packet
//! carrying only SPS/PPS; these tests catch it without a browser.

use super::*;
use crate::media::pipelines::{Pipelines, render};
use crate::media::tap::{EgressTap, TapStatus};
use crate::records::CompositeConfig;
use std::sync::mpsc;

/// Longest wait for one frame (a busy 2-core machine, a debug build).
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

const IDR: u8 = 5;
const SPS: u8 = 7;
const PPS: u8 = 8;

/// Hands the fanout's packets to the test thread.
struct Collect(mpsc::Sender<rtp::Packet>);

impl PacketSink for Collect {
    fn send(&self, packet: rtp::Packet) -> Delivery {
        if self.0.send(packet).is_ok() { Delivery::Sent } else { Delivery::Gone }
    }
}

/// Hands the test thread the NAL unit types of every access unit the taps (recording, RTMP,
/// HLS) get.
struct NalTap(mpsc::Sender<Vec<u8>>);

impl EgressTap for NalTap {
    fn video(&self, au: &gst::Buffer, _: &gst::Caps, _: gst::ClockTime) -> TapStatus {
        let Ok(map) = au.map_readable() else { return TapStatus::Open };
        let d = map.as_slice();
        let types = (0..d.len().saturating_sub(3)).filter(|&i| d[i..i + 3] == [0, 0, 1]).map(|i| d[i + 3] & 0x1f).collect();
        let _ = self.0.send(types);
        TapStatus::Open
    }

    fn audio(&self, _: &[i16], _: gst::ClockTime) -> TapStatus {
        TapStatus::Open
    }
}

/// The NAL unit types an H.264 RTP payload carries (RFC 6184: single NAL, STAP-A, FU-A).
fn nal_types(p: &[u8]) -> Vec<u8> {
    match p.first().map(|b| b & 0x1f) {
        Some(24) => {
            let mut out = vec![];
            let mut i = 1;
            while i + 2 < p.len() {
                out.push(p[i + 2] & 0x1f);
                i += 2 + usize::from(u16::from_be_bytes([p[i], p[i + 1]]));
            }
            out
        }
        Some(28) => p.get(1).map(|b| vec![b & 0x1f]).unwrap_or_default(),
        Some(t) => vec![t],
        None => vec![],
    }
}

/// Whether a VP8 RTP payload (RFC 7741) starts a keyframe.
fn vp8_keyframe_start(p: &[u8]) -> bool {
    let (Some(&b0), true) = (p.first(), p.len() > 1) else { return false };
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let x = p[1];
        i = 2;
        if x & 0x80 != 0 {
            i += if p.get(i).is_some_and(|b| b & 0x80 != 0) { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    let start_of_partition_0 = b0 & 0x10 != 0 && b0 & 0x07 == 0;
    start_of_partition_0 && p.get(i).is_some_and(|b| b & 0x01 == 0)
}

struct Frame(Vec<rtp::Packet>);

impl Frame {
    fn nals(&self) -> Vec<u8> {
        self.0.iter().flat_map(|p| nal_types(&p.payload)).collect()
    }

    fn is_h264_key(&self) -> bool {
        self.nals().contains(&IDR)
    }

    fn is_vp8_key(&self) -> bool {
        self.0.first().is_some_and(|p| vp8_keyframe_start(&p.payload))
    }

    fn describe(&self) -> String {
        let packets: Vec<String> = self
            .0
            .iter()
            .map(|p| {
                format!(
                    "(ts {} M {} nals {:?} {} B)",
                    p.header.timestamp,
                    u8::from(p.header.marker),
                    nal_types(&p.payload),
                    p.payload.len()
                )
            })
            .collect();
        packets.join(" ")
    }
}

/// A live moving picture at the composite's size and rate ending in a tee, and the shipped
/// pipeline files.
fn moving_canvas() -> (CompositeConfig, gst::Pipeline, gst::Element, Pipelines) {
    gst::init().expect("gstreamer");
    let cfg = CompositeConfig::default();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width={},height={},framerate={}/1 ! tee name=t",
        cfg.width, cfg.height, cfg.fps
    ))
    .expect("test source")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let tee = pipeline.by_name("t").expect("tee");
    let files = Pipelines::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")).expect("shipped pipelines");
    (cfg, pipeline, tee, files)
}

/// A live test picture at the composite's size and rate through a shipped encoder chain, built
/// as rooms build it ([`build`]).
struct Chain {
    pipeline: gst::Pipeline,
    branch: EncoderBranch,
    packets: mpsc::Receiver<rtp::Packet>,
    fps: usize,
}

impl Chain {
    fn start(codec: VideoCodec) -> Self {
        let (cfg, pipeline, tee, files) = moving_canvas();
        let desc = match codec {
            VideoCodec::H264 => &files.encode_h264,
            VideoCodec::Vp8 => &files.encode_vp8,
        };
        let branch =
            build(pipeline.upcast_ref(), &tee, &render(desc, &cfg.l0()), Arc::new(AtomicU64::new(0)), codec, 0).expect("encoder branch");
        let (tx, packets) = mpsc::channel();
        branch.fanout.add("test", Arc::new(Collect(tx)));
        pipeline.set_state(gst::State::Playing).expect("playing");
        Self { pipeline, branch, packets, fps: cfg.fps as usize }
    }

    fn next_frame(&self) -> Frame {
        let mut packets = vec![];
        loop {
            let p = self.packets.recv_timeout(FRAME_TIMEOUT).expect("the encoder sends packets");
            let end = p.header.marker;
            packets.push(p);
            if end {
                return Frame(packets);
            }
        }
    }

    /// Frames up to and including the first keyframe (`is_key`), failing after `limit` frames.
    fn until_key(&self, frames: &mut Vec<Frame>, is_key: fn(&Frame) -> bool, limit: usize, what: &str) -> usize {
        for _ in 0..limit {
            let f = self.next_frame();
            let key = is_key(&f);
            frames.push(f);
            if key {
                return frames.len() - 1;
            }
        }
        panic!("no {what} within {limit} frames");
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[test]
fn a_forced_h264_keyframe_ends_no_frame_without_picture_data() {
    let chain = Chain::start(VideoCodec::H264);
    let (tx, aus) = mpsc::channel();
    chain.branch.taps.add("test", Arc::new(NalTap(tx)));
    let mut frames = vec![];
    // Past the first keyframe (the scheduled one; the next is two seconds of frames later).
    chain.until_key(&mut frames, Frame::is_h264_key, chain.fps, "first keyframe");
    frames.extend((0..5).map(|_| chain.next_frame()));
    while aus.try_recv().is_ok() {}

    assert!(chain.branch.keyframes.force(), "the force-key-unit event was handled");
    let asked_at = frames.len();
    // Within a second of frames: the one asked for, not the scheduled one.
    let key = chain.until_key(&mut frames, Frame::is_h264_key, chain.fps, "forced keyframe");
    frames.extend((0..3).map(|_| chain.next_frame()));

    for (i, f) in frames.iter().enumerate() {
        let forced = if i >= asked_at { " (after the forced keyframe was asked for)" } else { "" };
        assert!(f.nals().iter().any(|&t| t == 1 || t == IDR), "frame {i}{forced} ends with a marker but has no slice: {}", f.describe());
        let ts = f.0[0].header.timestamp;
        assert!(f.0.iter().all(|p| p.header.timestamp == ts), "frame {i}{forced} mixes timestamps: {}", f.describe());
    }
    // A receiver joining at the forced keyframe can decode it: SPS and PPS come before its
    // first IDR slice, inside the same frame.
    let nals = frames[key].nals();
    let first_idr = nals.iter().position(|&t| t == IDR).expect("an IDR slice");
    assert!(nals[..first_idr].contains(&SPS) && nals[..first_idr].contains(&PPS), "no SPS/PPS before the IDR: {}", frames[key].describe());
    // So can an output started on it (a recording, RTMP, HLS): its access unit carries them.
    let au = aus.try_iter().find(|au| au.contains(&IDR)).expect("the taps got the forced keyframe");
    let first_idr = au.iter().position(|&t| t == IDR).expect("an IDR slice");
    assert!(au[..first_idr].contains(&SPS) && au[..first_idr].contains(&PPS), "the taps' keyframe lacks SPS/PPS: {au:?}");
}

#[test]
fn a_forced_vp8_keyframe_comes_at_once() {
    let chain = Chain::start(VideoCodec::Vp8);
    let mut frames = vec![];
    chain.until_key(&mut frames, Frame::is_vp8_key, chain.fps, "first keyframe");
    frames.extend((0..5).map(|_| chain.next_frame()));
    assert!(chain.branch.keyframes.force(), "the force-key-unit event was handled");
    let asked_at = frames.len();
    let key = chain.until_key(&mut frames, Frame::is_vp8_key, chain.fps, "forced keyframe");
    assert!(key - asked_at < 10, "the forced keyframe came {} frames after it was asked for", key - asked_at);
}

/// Every rung of a room's ladder stamps the same canvas frame with the same RTP timestamp (the
/// switch between rungs rewrites sequence numbers only).
#[test]
fn rungs_share_rtp_timestamps() {
    use crate::media::ladder::Rung;
    let (cfg, pipeline, tee, files) = moving_canvas();
    let offset = 0x1234_5678;
    let mut outs = vec![];
    let mut branches = vec![];
    for rung in [Rung::L0, Rung::L2] {
        let c = rung.config(&cfg);
        let desc = match rung {
            Rung::L0 => render(&files.encode_h264, &c),
            _ => format!("{} ! {}", render(&files.rung, &c), render(&files.encode_h264, &c)),
        };
        let branch = build(pipeline.upcast_ref(), &tee, &desc, Arc::new(AtomicU64::new(0)), VideoCodec::H264, offset).expect("branch");
        let (tx, rx) = mpsc::channel();
        branch.fanout.add("test", Arc::new(Collect(tx)));
        outs.push(rx);
        branches.push(branch);
    }
    pipeline.set_state(gst::State::Playing).expect("playing");
    let mut l0 = std::collections::HashSet::new();
    let mut l2 = vec![];
    while l2.len() < 20 {
        let p = outs[1].recv_timeout(FRAME_TIMEOUT).expect("L2 sends packets");
        if p.header.marker {
            l2.push(p.header.timestamp);
        }
        while let Ok(p) = outs[0].try_recv() {
            l0.insert(p.header.timestamp);
        }
    }
    // L0 is a frame or two behind L2 (it encodes 16 times the pixels): let it catch up.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !l2.iter().all(|t| l0.contains(t)) && std::time::Instant::now() < deadline {
        if let Ok(p) = outs[0].recv_timeout(FRAME_TIMEOUT) {
            l0.insert(p.header.timestamp);
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    let missing: Vec<u32> = l2.iter().copied().filter(|t| !l0.contains(t)).collect();
    // The first L2 frames may come from before L0's first frame (its encoder starts slower).
    assert!(missing.len() <= 3, "L2 timestamps L0 never used: {missing:?} of {l2:?}");
    assert!(l2.windows(2).all(|w| w[1].wrapping_sub(w[0]) == 6000), "L2 runs at 15 fps: {l2:?}");
}
