//! The composite's ladder: the one canvas encoded at up to three sizes (rungs), and the
//! per-receiver switch that moves a receiver between them.
//!
//! - [`Rung`]: L0 is the composite as configured (today's encode, also what recordings and live
//!   outputs take); L1 and L2 are the room's ladder (`records::composite`): as set in the
//!   server's configuration or the room's settings, else derived from L0, L1 half its width and
//!   height at 30 % of its bitrate, L2 a quarter at 8 %, at most 15 fps (120 kbit/s of a
//!   1500 kbit/s composite: with the audio and the packets' headers it fits a 250 kbit/s link,
//!   keyframes included). A lower rung's encoder branch runs only while someone receives it
//!   (the room reaps it [`IDLE_RUNG`] after its last receiver left).
//! - [`Receiver`]: one receiver's place on the ladder. Every rung it is fed from hands it
//!   packets through a [`RungFeed`]; it forwards those of its current rung, and moves to the
//!   rung it wants at that rung's next keyframe (an H.264 IDR with SPS/PPS in band, a VP8 key
//!   frame). It stamps its own continuous sequence numbers (and VP8 picture ids), so the
//!   receiver sees one stream with one SSRC; every rung's payloader of a room has the same
//!   timestamp offset, so the same canvas frame has the same RTP timestamp on every rung and
//!   timestamps pass unchanged. A feed of a rung the receiver neither uses nor wants answers
//!   [`Delivery::Gone`], so the rung's fan-out drops it by itself.
//! - Paused (no rung wanted): nothing is forwarded, the receiver keeps its audio.
//! - Probes ([`Receiver::probe`]) put bytes on the receiver's link without anything for it to
//!   decode, so the rung controller can learn whether a better rung would fit before moving to
//!   it: copies of the last packets forwarded (its SRTP drops a repeated packet as a replay; if
//!   the link cannot carry the extra bytes, originals get lost and NACKed), or, while paused,
//!   padding-only packets with numbers of their own (NACKed themselves when lost).
//!
//! - [`Canvas`] and [`Feed`]: besides the room's canvas (`Full`) a room may compose a portrait
//!   small-screen canvas (`Small`, see `super::small`); a receiver is fed from one canvas at one
//!   rung. The small canvas has two sizes, standing in for the rungs whose budget they fit:
//!   360×640 at L1's bitrate and frame rate, at most 15 fps (what a small-canvas receiver gets
//!   on L0 and L1) and 180×320 at L2's (on L2), whatever the ladder's sizes, so the rung
//!   controller needs not know which canvas a receiver is on. The
//!   switch between canvases is the switch between rungs: same SSRC, continuous sequence
//!   numbers, the room's one timestamp offset.
//!
//! Invariants: the receiver's sequence numbers never repeat or go back; a switch happens only
//! at the start of a keyframe of the new rung; a keyframe request goes to the wanted rung's
//! encoder only, so a weak receiver never costs the others a keyframe.

use super::encoder::KeyframeGate;
use super::{Delivery, PacketSink, VideoCodec};
use crate::records::{CompositeConfig, RungConfig};
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use rtc_rtp as rtp;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many forwarded packets a receiver keeps to send again as probes.
const PROBE_RING: usize = 48;
/// A padding-only probe packet on the wire: RTP header and 4 bytes of padding, SRTP's tag,
/// UDP and IPv4 headers.
pub const PADDING_WIRE_BYTES: usize = 12 + 4 + 10 + 8 + 20;
/// Most padding packets one probe call sends (a paused receiver's probe is small: L2's need).
const MAX_PADDING_PACKETS: usize = 64;

/// How long a lower rung's encoder keeps running after its last receiver left.
pub const IDLE_RUNG: Duration = Duration::from_secs(10);

/// One size of the composite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Rung {
    L0,
    L1,
    L2,
}

impl Rung {
    pub const ALL: [Rung; 3] = [Rung::L0, Rung::L1, Rung::L2];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Rung::L0 => "L0",
            Rung::L1 => "L1",
            Rung::L2 => "L2",
        }
    }

    /// The next rung up (better), if any.
    pub fn up(self) -> Option<Rung> {
        match self {
            Rung::L0 => None,
            Rung::L1 => Some(Rung::L0),
            Rung::L2 => Some(Rung::L1),
        }
    }

    /// The next rung down (cheaper), if any.
    pub fn down(self) -> Option<Rung> {
        match self {
            Rung::L0 => Some(Rung::L1),
            Rung::L1 => Some(Rung::L2),
            Rung::L2 => None,
        }
    }

    /// This rung's encode settings: the room's composite (L0), or its ladder's rung as set or
    /// derived (see `records::composite`).
    pub fn config(self, base: &CompositeConfig) -> RungConfig {
        match self {
            Rung::L0 => base.l0(),
            Rung::L1 => base.l1(),
            Rung::L2 => base.l2(),
        }
    }

    /// Each rung's nominal bitrate, kbit/s: what the rung controller (`rtc::bwe`) weighs a
    /// receiver's link against.
    pub fn nominal_kbps(base: &CompositeConfig) -> [u32; 3] {
        Rung::ALL.map(|r| r.config(base).bitrate_kbps)
    }
}

/// Which canvas of the room a receiver gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Canvas {
    /// The room's canvas as configured (also what recordings and live outputs take).
    #[default]
    Full,
    /// The portrait small-screen canvas.
    Small,
}

/// Size of the small canvas's larger feed: portrait, as many pixels as L1 of a 720p composite.
pub const SMALL_SIZE: (u32, u32) = (360, 640);
/// The small canvas's frame rate (at most): at 30 it cost a room 0.032–0.046 core in use, over
/// the 0.03 goal; at 15, 0.015–0.025 (`make bench` L). A phone's talking heads at 15 fps keep L1's
/// bitrate for half the frames: sharper faces and names.
pub const SMALL_FPS: u32 = 15;

/// What one encoder branch encodes: a canvas at a rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Feed {
    pub canvas: Canvas,
    pub rung: Rung,
}

impl Feed {
    /// Every feed, for per-feed tables (indexed by [`Feed::index`]).
    pub const COUNT: usize = 6;

    /// The feed a receiver on `canvas` gets when its controller chose `rung`: on the small
    /// canvas L0 and L1 both get its 360×640 feed (stored as L1, the budget it fits).
    pub fn of(canvas: Canvas, rung: Rung) -> Self {
        match (canvas, rung) {
            (Canvas::Small, Rung::L0) => Feed { canvas, rung: Rung::L1 },
            _ => Feed { canvas, rung },
        }
    }

    pub fn index(self) -> usize {
        (self.canvas as usize) * 3 + self.rung.index()
    }

    /// This feed's encode settings, from the room's composite and ladder: the small canvas takes
    /// its rung's bitrate and (at most [`SMALL_FPS`]) frame rate at its own sizes.
    pub fn config(self, base: &CompositeConfig) -> RungConfig {
        let full = self.rung.config(base);
        match self.canvas {
            Canvas::Full => full,
            Canvas::Small => {
                let (w, h) = SMALL_SIZE;
                let by = if self.rung == Rung::L2 { 2 } else { 1 };
                RungConfig { width: w / by, height: h / by, fps: full.fps.min(SMALL_FPS), ..full }
            }
        }
    }

    /// The metric label of its encoder.
    pub fn name(self) -> &'static str {
        match (self.canvas, self.rung) {
            (Canvas::Full, r) => r.name(),
            (Canvas::Small, Rung::L2) => "S2",
            (Canvas::Small, _) => "S1",
        }
    }
}

/// Whether `payload` starts a keyframe: the first packet of an H.264 access unit with SPS or an
/// IDR slice, or the first packet of a VP8 key frame.
pub fn starts_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::H264 => h264_starts_keyframe(payload),
        VideoCodec::Vp8 => vp8_descriptor(payload).is_some_and(|d| d.starts_key_frame),
    }
}

fn h264_starts_keyframe(p: &[u8]) -> bool {
    let Some(&first) = p.first() else { return false };
    match first & 0x1f {
        5 | 7 => true,
        // STAP-A: any aggregated NAL unit (each after its 2-byte size). x264enc begins every
        // access unit with a delimiter, so a keyframe's first packet is [AUD, SPS, PPS]:
        // reading only the first unit missed it, switched at the IDR packet after it, and the
        // receiver got the new rung's IDR without the new rung's SPS and PPS.
        24 => {
            let mut at = 1;
            while let (Some(&hi), Some(&lo)) = (p.get(at), p.get(at + 1)) {
                let Some(&nal) = p.get(at + 2) else { return false };
                if matches!(nal & 0x1f, 5 | 7) {
                    return true;
                }
                at += 2 + usize::from(u16::from_be_bytes([hi, lo]));
            }
            false
        }
        // FU-A: the start fragment of an IDR slice.
        28 => p.get(1).is_some_and(|h| h & 0x80 != 0 && h & 0x1f == 5),
        _ => false,
    }
}

/// What the switch reads from a VP8 payload descriptor (RFC 7741 §4.2).
struct Vp8Descriptor {
    /// Byte offset and width of the picture id, if present: (offset, 15-bit).
    picture_id: Option<(usize, bool)>,
    starts_key_frame: bool,
}

fn vp8_descriptor(p: &[u8]) -> Option<Vp8Descriptor> {
    let b0 = *p.first()?;
    let (x, s, pid) = (b0 & 0x80 != 0, b0 & 0x10 != 0, b0 & 0x07);
    let mut at = 1;
    let mut picture_id = None;
    if x {
        let b1 = *p.get(1)?;
        at = 2;
        if b1 & 0x80 != 0 {
            let m = *p.get(2)? & 0x80 != 0;
            picture_id = Some((2, m));
            at += if m { 2 } else { 1 };
        }
        if b1 & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if b1 & 0x30 != 0 {
            at += 1; // TID/Y/KEYIDX
        }
    }
    let header = *p.get(at)?;
    Some(Vp8Descriptor { picture_id, starts_key_frame: s && pid == 0 && header & 0x01 == 0 })
}

/// One receiver's position on the ladder.
pub struct Receiver {
    codec: VideoCodec,
    out: Arc<dyn PacketSink>,
    state: Mutex<SwitchState>,
    /// Each feed's keyframe gate, once the receiver was fed from it.
    gates: Mutex<[Option<Arc<KeyframeGate>>; Feed::COUNT]>,
}

struct SwitchState {
    /// The feed being forwarded.
    current: Option<Feed>,
    /// The feed wanted (`None`: paused).
    target: Option<Feed>,
    next_seq: u16,
    /// The last forwarded packet ended a frame (marker bit).
    frame_done: bool,
    /// VP8: the last picture id sent, and what to add to the current rung's ids.
    last_picture_id: Option<u16>,
    picture_id_shift: u16,
    /// The last packets forwarded (as sent), for probes, and the next one to copy.
    recent: VecDeque<rtp::Packet>,
    probe_next: usize,
    /// When the last keyframe forwarded began.
    keyframe_at: Option<Instant>,
}

impl Receiver {
    /// A receiver that wants `start` and sends through `out`.
    pub fn new(codec: VideoCodec, out: Arc<dyn PacketSink>, start: Feed) -> Arc<Self> {
        Arc::new(Self {
            codec,
            out,
            state: Mutex::new(SwitchState {
                current: None,
                target: Some(start),
                next_seq: rand::random(),
                frame_done: true,
                last_picture_id: None,
                picture_id_shift: 0,
                recent: VecDeque::with_capacity(PROBE_RING),
                probe_next: 0,
                keyframe_at: None,
            }),
            gates: Mutex::default(),
        })
    }

    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// The feed forwarded now and the one wanted (`None`: paused).
    pub fn feeds(&self) -> (Option<Feed>, Option<Feed>) {
        let st = self.state.lock();
        (st.current, st.target)
    }

    /// How long ago the last keyframe forwarded began (`None`: none yet, or paused), for the
    /// rung controller's timing of probes.
    pub fn keyframe_age(&self) -> Option<Duration> {
        let st = self.state.lock();
        st.current.and(st.keyframe_at).map(|t| t.elapsed())
    }

    /// Wants `feed` from now on (`None`: pause video). The move happens at its next keyframe.
    pub fn want(&self, feed: Option<Feed>) {
        let mut st = self.state.lock();
        st.target = feed;
        if feed.is_none() {
            st.current = None;
        }
    }

    pub(super) fn set_gate(&self, feed: Feed, gate: Arc<KeyframeGate>) {
        self.gates.lock()[feed.index()] = Some(gate);
    }

    /// Forgets the gate of a feed whose encoder stopped (a later start makes a new one).
    pub(super) fn clear_gate(&self, feed: Feed) {
        self.gates.lock()[feed.index()] = None;
    }

    /// The receiver lost its picture (PLI/FIR): a keyframe from the feed it wants, no sooner
    /// than `min_gap` after that feed's previous forced one. Nothing while paused.
    pub fn request_keyframe(&self, min_gap: Duration) {
        let Some(feed) = self.state.lock().target else { return };
        let gate = self.gates.lock()[feed.index()].clone();
        if let Some(g) = gate {
            g.request(min_gap);
        }
    }

    /// A packet of `rung`'s encoder (`rung`: the feed it encodes).
    fn offer(&self, rung: Feed, mut packet: rtp::Packet) -> Delivery {
        let mut st = self.state.lock();
        let mut switched = false;
        let take = if st.current == Some(rung) {
            true
        } else if st.target == Some(rung) {
            if !starts_keyframe(self.codec, &packet.payload) {
                // Not yet: the current rung carries on until this one's keyframe.
                return Delivery::NotReady;
            }
            if !st.frame_done {
                // The old rung's frame was cut: a skipped number tells the receiver's jitter
                // buffer it will not complete.
                st.next_seq = st.next_seq.wrapping_add(1);
            }
            st.current = Some(rung);
            switched = true;
            if self.codec == VideoCodec::Vp8 {
                st.picture_id_shift = match (st.last_picture_id, vp8_picture_id(&packet.payload)) {
                    (Some(last), Some(first)) => last.wrapping_add(1).wrapping_sub(first) & 0x7fff,
                    _ => 0,
                };
            }
            true
        } else {
            false
        };
        if !take {
            return Delivery::Gone;
        }
        packet.header.sequence_number = st.next_seq;
        if self.codec == VideoCodec::Vp8 {
            packet.payload = rewrite_picture_id(packet.payload, st.picture_id_shift, &mut st.last_picture_id);
        }
        let marker = packet.header.marker;
        let keyframe = switched || (st.frame_done && starts_keyframe(self.codec, &packet.payload));
        let copy = packet.clone();
        let delivery = self.out.send(packet);
        if matches!(delivery, Delivery::Sent | Delivery::Dropped) {
            // A dropped packet still used its number: the receiver sees the loss and asks.
            st.next_seq = st.next_seq.wrapping_add(1);
            st.frame_done = marker;
            if keyframe {
                st.keyframe_at = Some(Instant::now());
            }
            if st.recent.len() == PROBE_RING {
                st.recent.pop_front();
            }
            st.recent.push_back(copy);
        }
        delivery
    }

    /// Sends about `bytes` of probe: copies of the last packets forwarded, oldest first, each
    /// at most once per call; paused, padding-only packets (counted at [`PADDING_WIRE_BYTES`]
    /// each, at most [`MAX_PADDING_PACKETS`] per call). Returns the bytes sent (0 before any
    /// packet was forwarded).
    pub fn probe(&self, bytes: usize) -> usize {
        let mut st = self.state.lock();
        let Some(last) = st.recent.back().map(|p| p.header.clone()) else { return 0 };
        if st.current.is_none() {
            if !st.frame_done {
                // The frame cut by the pause: a skipped number says it will not complete.
                st.next_seq = st.next_seq.wrapping_add(1);
                st.frame_done = true;
            }
            let mut sent = 0;
            for _ in 0..MAX_PADDING_PACKETS {
                if sent >= bytes {
                    break;
                }
                let header = rtp::header::Header {
                    padding: true,
                    marker: false,
                    sequence_number: st.next_seq,
                    extension: false,
                    extensions: Vec::new(),
                    ..last.clone()
                };
                match self.out.send(rtp::Packet { header, payload: Bytes::new() }) {
                    Delivery::Sent | Delivery::Dropped => {
                        st.next_seq = st.next_seq.wrapping_add(1);
                        sent += PADDING_WIRE_BYTES;
                    }
                    _ => break,
                }
            }
            return sent;
        }
        let mut sent = 0;
        for _ in 0..st.recent.len() {
            if sent >= bytes {
                break;
            }
            let at = st.probe_next % st.recent.len();
            st.probe_next = at + 1;
            let copy = st.recent[at].clone();
            let size = copy.payload.len() + 12;
            if self.out.send(copy) == Delivery::Sent {
                sent += size;
            }
        }
        sent
    }
}

fn vp8_picture_id(p: &[u8]) -> Option<u16> {
    let (at, long) = vp8_descriptor(p)?.picture_id?;
    Some(if long { read_long_id(p, at) } else { u16::from(p[at] & 0x7f) })
}

/// The 15-bit picture id at `at` (the descriptor parser checked both bytes are there).
fn read_long_id(p: &[u8], at: usize) -> u16 {
    (u16::from(p[at] & 0x7f) << 8) | u16::from(p[at + 1])
}

/// Shifts a 15-bit VP8 picture id by `shift` and records the id sent. Payloads without one
/// (or with the 7-bit form, which the shipped pipeline does not use) pass unchanged.
fn rewrite_picture_id(payload: Bytes, shift: u16, last: &mut Option<u16>) -> Bytes {
    let Some((at, true)) = vp8_descriptor(&payload).and_then(|d| d.picture_id) else { return payload };
    let id = read_long_id(&payload, at).wrapping_add(shift) & 0x7fff;
    *last = Some(id);
    if shift == 0 {
        return payload;
    }
    let mut b = BytesMut::from(&payload[..]);
    b[at] = 0x80 | (id >> 8) as u8;
    b[at + 1] = (id & 0xff) as u8;
    b.freeze()
}

/// A receiver as one feed's fan-out sees it.
pub struct RungFeed {
    pub receiver: Arc<Receiver>,
    pub rung: Feed,
}

impl PacketSink for RungFeed {
    fn send(&self, packet: rtp::Packet) -> Delivery {
        self.receiver.offer(self.rung, packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::LadderConfig;

    fn packet(seq: u16, ts: u32, marker: bool, payload: &'static [u8]) -> rtp::Packet {
        rtp::Packet {
            header: rtp::header::Header { version: 2, sequence_number: seq, timestamp: ts, marker, ..Default::default() },
            payload: Bytes::from_static(payload),
        }
    }

    const SPS: &[u8] = &[0x67, 1, 2];
    const IDR_START: &[u8] = &[0x7c, 0x85, 0];
    const DELTA: &[u8] = &[0x41, 0];
    const STAP_SPS: &[u8] = &[0x78, 0, 3, 0x67, 1, 2];
    /// A keyframe's first packet as x264enc and rtph264pay (aggregate-mode=zero-latency) send
    /// it: a delimiter, then SPS and PPS.
    const STAP_AUD_SPS: &[u8] = &[0x78, 0, 2, 0x09, 0x10, 0, 3, 0x67, 0x42, 0xc0, 0, 2, 0x68, 0xce];
    /// A delta frame's: a delimiter, then the slice.
    const STAP_AUD_DELTA: &[u8] = &[0x58, 0, 2, 0x09, 0x30, 0, 3, 0x41, 0x9a, 0x20];

    #[test]
    fn h264_keyframe_starts_are_recognised() {
        assert!(starts_keyframe(VideoCodec::H264, SPS));
        assert!(starts_keyframe(VideoCodec::H264, STAP_SPS));
        assert!(starts_keyframe(VideoCodec::H264, STAP_AUD_SPS), "SPS after a delimiter");
        assert!(!starts_keyframe(VideoCodec::H264, STAP_AUD_DELTA));
        assert!(!starts_keyframe(VideoCodec::H264, &STAP_AUD_SPS[..5]), "cut after the delimiter");
        assert!(!starts_keyframe(VideoCodec::H264, &[0x78, 0xff, 0xff, 0x09]), "a size past the end");
        assert!(starts_keyframe(VideoCodec::H264, IDR_START));
        assert!(!starts_keyframe(VideoCodec::H264, DELTA));
        assert!(!starts_keyframe(VideoCodec::H264, &[0x7c, 0x05, 0]), "an IDR's middle fragment");
        assert!(!starts_keyframe(VideoCodec::H264, &[]));
    }

    #[test]
    fn vp8_key_frames_and_picture_ids() {
        // X, S, PID 0; I with M (15-bit id 0x1234); VP8 header P=0 (key frame).
        let key = [0x90, 0x80, 0x92, 0x34, 0x10];
        let delta = [0x90, 0x80, 0x92, 0x35, 0x11];
        assert!(starts_keyframe(VideoCodec::Vp8, &key));
        assert!(!starts_keyframe(VideoCodec::Vp8, &delta));
        assert_eq!(vp8_picture_id(&key), Some(0x1234));
        let mut last = None;
        let out = rewrite_picture_id(Bytes::copy_from_slice(&key), 0x10, &mut last);
        assert_eq!(vp8_picture_id(&out), Some(0x1244));
        assert_eq!(last, Some(0x1244));
        assert!(!starts_keyframe(VideoCodec::Vp8, &[0x10]), "too short to say");
    }

    #[test]
    fn a_switch_waits_for_the_new_rungs_keyframe_and_numbers_stay_continuous() {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<rtp::Packet>(64);
        let (f0, f1) = (Feed::of(Canvas::Full, Rung::L0), Feed::of(Canvas::Full, Rung::L1));
        let r = Receiver::new(VideoCodec::H264, Arc::new(tx), f0);
        let l0 = RungFeed { receiver: r.clone(), rung: f0 };
        let l1 = RungFeed { receiver: r.clone(), rung: f1 };
        assert_eq!(l0.send(packet(100, 0, true, DELTA)), Delivery::NotReady, "no keyframe yet");
        assert_eq!(l0.send(packet(101, 3000, false, SPS)), Delivery::Sent);
        assert_eq!(l0.send(packet(102, 3000, true, IDR_START)), Delivery::Sent);
        assert_eq!(l1.send(packet(7, 3000, true, SPS)), Delivery::Gone, "a rung it does not want");
        r.want(Some(f1));
        assert_eq!(l0.send(packet(103, 6000, false, DELTA)), Delivery::Sent, "L0 carries on until L1's keyframe");
        assert_eq!(l1.send(packet(8, 6000, true, DELTA)), Delivery::NotReady);
        assert_eq!(
            l1.send(packet(9, 9000, false, STAP_AUD_SPS)),
            Delivery::Sent,
            "switched at the keyframe's first packet (its SPS after a delimiter)"
        );
        assert_eq!(l0.send(packet(104, 9000, true, DELTA)), Delivery::Gone, "the old rung lets go");
        assert_eq!(r.feeds(), (Some(f1), Some(f1)));
        let seqs: Vec<u16> = std::iter::from_fn(|| rx.try_recv().ok()).map(|p| p.header.sequence_number).collect();
        assert_eq!(seqs.len(), 4);
        assert_eq!(seqs[1], seqs[0].wrapping_add(1));
        assert_eq!(seqs[2], seqs[1].wrapping_add(1));
        // L0's frame at 6000 was cut by the switch: one number skipped.
        assert_eq!(seqs[3], seqs[2].wrapping_add(2));
        r.want(None);
        assert_eq!(l1.send(packet(10, 12000, true, DELTA)), Delivery::Gone, "paused: nothing forwarded");
    }

    #[test]
    fn probes_copy_the_last_packets_forwarded_and_nothing_while_paused() {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<rtp::Packet>(256);
        let f0 = Feed::of(Canvas::Full, Rung::L0);
        let r = Receiver::new(VideoCodec::H264, Arc::new(tx), f0);
        assert_eq!(r.probe(1000), 0, "nothing forwarded yet");
        assert_eq!(r.keyframe_age(), None, "no keyframe forwarded yet");
        let l0 = RungFeed { receiver: r.clone(), rung: f0 };
        l0.send(packet(1, 0, false, SPS));
        assert!(r.keyframe_age().is_some(), "a keyframe began");
        l0.send(packet(2, 0, true, IDR_START));
        let sent: Vec<u16> = std::iter::from_fn(|| rx.try_recv().ok()).map(|p| p.header.sequence_number).collect();
        assert_eq!(r.probe(1), 15, "one packet: its payload and header");
        assert_eq!(r.probe(10_000), 30, "each packet at most once per call");
        let copies: Vec<u16> = std::iter::from_fn(|| rx.try_recv().ok()).map(|p| p.header.sequence_number).collect();
        assert_eq!(copies, vec![sent[0], sent[1], sent[0]], "copies keep the numbers they were sent with");
        r.want(None);
        assert_eq!(r.keyframe_age(), None, "paused: no keyframes to keep to");
        assert_eq!(r.probe(100), 2 * PADDING_WIRE_BYTES, "paused: padding packets");
        let padding: Vec<rtp::Packet> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(padding.len(), 2);
        assert!(padding.iter().all(|p| p.header.padding && p.payload.is_empty() && p.header.timestamp == 0));
        assert_eq!(padding[0].header.sequence_number, sent[1].wrapping_add(1), "numbers of their own, after the last sent");
        assert_eq!(padding[1].header.sequence_number, sent[1].wrapping_add(2));
        r.want(Some(f0));
        l0.send(packet(3, 3000, false, SPS));
        let next = rx.try_recv().expect("resumed at a keyframe");
        assert_eq!(next.header.sequence_number, sent[1].wrapping_add(3), "numbers stay continuous after padding");
    }

    #[test]
    fn rungs_halve_and_quarter_the_composite() {
        let base = CompositeConfig::default();
        let l1 = Rung::L1.config(&base);
        let l2 = Rung::L2.config(&base);
        assert_eq!((l1.width, l1.height, l1.fps, l1.bitrate_kbps), (640, 360, 30, 450));
        assert_eq!((l2.width, l2.height, l2.fps, l2.bitrate_kbps), (320, 180, 15, 120));
        assert_eq!(Rung::L0.config(&base), base.l0());
        assert_eq!(Rung::nominal_kbps(&base), [1500, 450, 120]);
    }

    #[test]
    fn a_configured_ladder_sets_the_rungs_the_controller_and_the_small_canvas() {
        let l1 = RungConfig { width: 960, height: 540, fps: 24, bitrate_kbps: 700 };
        let l2 = RungConfig { width: 480, height: 270, fps: 12, bitrate_kbps: 200 };
        let base = CompositeConfig { ladder: LadderConfig { l1: Some(l1), l2: Some(l2) }, ..CompositeConfig::default() };
        assert_eq!((Rung::L1.config(&base), Rung::L2.config(&base)), (l1, l2));
        assert_eq!(Rung::nominal_kbps(&base), [1500, 700, 200], "the controller weighs links against the rungs set");
        let s1 = Feed::of(Canvas::Small, Rung::L0).config(&base);
        let s2 = Feed::of(Canvas::Small, Rung::L2).config(&base);
        assert_eq!((s1.width, s1.height, s1.fps, s1.bitrate_kbps), (360, 640, 15, 700));
        assert_eq!((s2.width, s2.height, s2.fps, s2.bitrate_kbps), (180, 320, 12, 200));
    }

    #[test]
    fn the_small_canvas_stands_in_for_the_rungs_whose_budget_it_fits() {
        let base = CompositeConfig::default();
        assert_eq!(Feed::of(Canvas::Small, Rung::L0), Feed::of(Canvas::Small, Rung::L1));
        let s1 = Feed::of(Canvas::Small, Rung::L0).config(&base);
        let s2 = Feed::of(Canvas::Small, Rung::L2).config(&base);
        assert_eq!((s1.width, s1.height, s1.fps, s1.bitrate_kbps), (360, 640, 15, 450));
        assert_eq!((s2.width, s2.height, s2.fps, s2.bitrate_kbps), (180, 320, 15, 120));
        assert_eq!(Feed::of(Canvas::Full, Rung::L1).config(&base), Rung::L1.config(&base));
        let all: std::collections::HashSet<usize> =
            [Canvas::Full, Canvas::Small].iter().flat_map(|c| Rung::ALL.map(|r| Feed { canvas: *c, rung: r }.index())).collect();
        assert!(all.iter().all(|i| *i < Feed::COUNT) && all.len() == Feed::COUNT);
    }
}
