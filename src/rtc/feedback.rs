//! What a receiver says about our composite, read on the wire side of the interceptor chain:
//! its bandwidth estimate (REMB), its loss and the round trip (receiver reports against our
//! sender reports) go into a shared [`LinkReport`] for its rung controller, and its NACKs are
//! held to a budget before the NACK responder (just app-ward of this) resends anything.
//!
//! The budget: retransmissions may use [`RESEND_SHARE`] of the receiver's estimate (REMB when
//! fresh, up to twice what we send it; else what we send it), with a burst of a quarter second
//! of that, between [`MIN_BURST`] and [`BURST`]; a packet sent more than
//! [`MAX_RESEND_AGE`] ago is not resent (its frame is long due), nor one resent less than a
//! round trip ago, nor a probe's padding. Without it a weak link's NACK
//! storm multiplied what we put on it (8× the media at 500 kbit/s, measured).
//!
//! Invariants: never blocks; memory is bounded (a ring of [`RING`] sent records per video
//! SSRC, [`SR_KEPT`] sender reports); RTCP that is not a video NACK passes unchanged.

use parking_lot::Mutex;
use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use rtc::shared::marshal::MarshalSize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Share of the receiver's estimate retransmissions may take.
pub const RESEND_SHARE: f64 = 0.15;
/// Most bytes resent at once after a quiet spell: a quarter of a second of the budget, within
/// these bounds (a weak link's queue holds a few kB: a larger burst is lost again).
pub const BURST: f64 = 24_000.0;
pub const MIN_BURST: f64 = 6_000.0;
/// A packet older than this is not resent.
pub const MAX_RESEND_AGE: Duration = Duration::from_millis(750);
/// The least time between two resends of one packet (a round trip when it is longer).
pub const RESEND_GAP: Duration = Duration::from_millis(100);
/// A NACK counts as loss (`video_nacked`) only for a packet sent this recently: after an
/// outage a receiver asks for everything it missed, which is no news about the link now.
pub const LOSS_AGE: Duration = Duration::from_millis(1000);
/// A REMB older than this is stale (Firefox can stop sending it).
pub const REMB_FRESH: Duration = Duration::from_secs(5);
/// A REMB below this (no browser estimates less) is ignored as nonsense.
pub const MIN_REMB: f32 = 10_000.0;
const RING: usize = 2048;
const SR_KEPT: usize = 16;

/// What the receiver has told us lately (shared with its controller).
#[derive(Debug, Clone, Default)]
pub struct LinkReport {
    /// The latest REMB, bits/s, and when it came.
    pub remb: Option<(u64, Instant)>,
    /// The latest fraction of our video lost (0..=1), and when it was reported.
    pub video_loss: Option<(f64, Instant)>,
    /// The latest round trip from a report block against one of our sender reports, and when
    /// it was measured.
    pub rtt: Option<Duration>,
    pub rtt_at: Option<Instant>,
    /// Video bytes (headers included) sent for the first time, and resent.
    pub video_bytes: u64,
    pub resent_bytes: u64,
    /// NACK packets received for the composite.
    pub nacks: u64,
    /// Video packets sent for the first time, and how many of them were NACKed (each counted
    /// once, however often it is asked for): the fastest loss signal there is, one round trip.
    pub video_packets: u64,
    pub video_nacked: u64,
    /// Bytes of probe packets (copies of packets already sent, see `ladder::Receiver::probe`):
    /// on the wire, but not media, so not in `video_bytes`.
    pub probe_bytes: u64,
    /// How long our packets wait in a queue on the way to the receiver (`super::queue`: from
    /// TWCC feedback on our audio), and when it was measured.
    pub queue: Option<(Duration, Instant)>,
    /// The same for the last packet of the latest feedback: the queue now, bursts included.
    pub queue_last: Option<(Duration, Instant)>,
}

impl LinkReport {
    /// The REMB if it is fresh at `now`.
    pub fn fresh_remb(&self, now: Instant) -> Option<u64> {
        self.remb.filter(|(_, at)| now.saturating_duration_since(*at) < REMB_FRESH).map(|(b, _)| b)
    }
}

#[derive(Clone, Copy)]
struct Sent {
    seq: u16,
    at: Instant,
    size: u32,
    /// Already NACKed once (counted in `video_nacked`).
    nacked: bool,
    /// A probe's padding-only packet: nothing to resend.
    padding: bool,
    /// When it was last resent.
    resent_at: Option<Instant>,
}

/// The interceptor (one per peer connection).
pub struct ReceiverFeedback {
    report: Arc<Mutex<LinkReport>>,
    /// Our video SSRCs, with a ring of what went out on each.
    video: HashMap<u32, Vec<Option<Sent>>>,
    /// Our sender reports: NTP middle 32 bits → when sent.
    srs: VecDeque<(u32, Instant)>,
    /// Retransmission budget, bytes, and when it was last refilled.
    tokens: f64,
    refilled: Option<Instant>,
    /// What we send, bits/s (smoothed over 500 ms windows), for the budget without REMB.
    window: Option<(Instant, u64)>,
    sent_bps: f64,
    outcomes: [metrics::Counter; 6],
    nacks: metrics::Counter,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl ReceiverFeedback {
    pub fn new(report: Arc<Mutex<LinkReport>>) -> Self {
        Self {
            report,
            video: HashMap::new(),
            srs: VecDeque::new(),
            tokens: BURST,
            refilled: None,
            window: None,
            sent_bps: 0.0,
            outcomes: crate::metrics::nacked_packets(),
            nacks: crate::metrics::nacks_received(),
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }

    fn on_sent(&mut self, now: Instant, ssrc: u32, seq: u16, size: usize, resent: bool, padding: bool) {
        let Some(ring) = self.video.get_mut(&ssrc) else { return };
        let slot = &mut ring[usize::from(seq) % RING];
        let mut r = self.report.lock();
        if resent {
            r.resent_bytes += size as u64;
            return;
        }
        if slot.is_some_and(|s| s.seq == seq) {
            // A copy of a packet sent moments ago: a probe.
            r.probe_bytes += size as u64;
            return;
        }
        r.video_bytes += size as u64;
        r.video_packets += 1;
        drop(r);
        *slot = Some(Sent { seq, at: now, size: size as u32, nacked: false, padding, resent_at: None });
        let (start, bytes) = self.window.get_or_insert((now, 0));
        *bytes += size as u64;
        let span = now.saturating_duration_since(*start);
        if span >= Duration::from_millis(500) {
            let rate = *bytes as f64 * 8.0 / span.as_secs_f64();
            self.sent_bps = if self.sent_bps == 0.0 { rate } else { 0.5 * self.sent_bps + 0.5 * rate };
            self.window = Some((now, 0));
        }
    }

    /// The NACK's sequence numbers that may be resent now; the others are counted away.
    fn budget(&mut self, now: Instant, nack: &TransportLayerNack) -> Vec<u16> {
        // A REMB is believed up to twice what we send (Chromium's can sit far above the link
        // after a spell of probes or a pause).
        let remb = self.report.lock().fresh_remb(now).map(|b| b as f64);
        let estimate = remb.map_or(self.sent_bps, |r| r.min(2.0 * self.sent_bps.max(MIN_BURST * 8.0)));
        let rate = estimate * RESEND_SHARE / 8.0;
        let burst = (rate * 0.25).clamp(MIN_BURST, BURST);
        self.tokens = self.tokens.min(burst);
        if let Some(last) = self.refilled {
            self.tokens = (self.tokens + rate * now.saturating_duration_since(last).as_secs_f64()).min(burst);
        }
        self.refilled = Some(now);
        let [resent, over_budget, too_old, unknown, duplicate, padding] = &self.outcomes;
        // A receiver asks again every few tens of ms while a packet is missing; a resend is
        // not repeated before it could have arrived (a round trip, at least RESEND_GAP): on a
        // link with a full queue every repeat only deepens the loss.
        let gap = self.report.lock().rtt.unwrap_or_default().max(RESEND_GAP);
        let Some(ring) = self.video.get_mut(&nack.media_ssrc) else { return vec![] };
        let mut kept = Vec::new();
        let mut first_asked = 0;
        for seq in nack.nacks.iter().flat_map(|p| p.packet_list()) {
            match &mut ring[usize::from(seq) % RING] {
                Some(s) if s.seq == seq => {
                    if !s.nacked && now.saturating_duration_since(s.at) <= LOSS_AGE {
                        s.nacked = true;
                        first_asked += 1;
                    }
                    if s.padding {
                        padding.increment(1);
                    } else if s.resent_at.is_some_and(|r| now.saturating_duration_since(r) < gap) {
                        duplicate.increment(1);
                    } else if now.saturating_duration_since(s.at) > MAX_RESEND_AGE {
                        too_old.increment(1);
                    } else if self.tokens < f64::from(s.size) {
                        over_budget.increment(1);
                    } else {
                        self.tokens -= f64::from(s.size);
                        resent.increment(1);
                        s.resent_at = Some(now);
                        kept.push(seq);
                    }
                }
                _ => unknown.increment(1),
            }
        }
        self.report.lock().video_nacked += first_asked;
        kept
    }

    fn on_report_blocks(&self, now: Instant, blocks: &[ReceptionReport]) {
        let mut r = self.report.lock();
        for b in blocks.iter().filter(|b| self.video.contains_key(&b.ssrc)) {
            r.video_loss = Some((f64::from(b.fraction_lost) / 256.0, now));
            if b.last_sender_report != 0
                && let Some((_, sent)) = self.srs.iter().find(|(ntp, _)| *ntp == b.last_sender_report)
            {
                let held = Duration::from_secs_f64(f64::from(b.delay) / 65536.0);
                r.rtt = Some(now.saturating_duration_since(*sent).saturating_sub(held));
                r.rtt_at = Some(now);
            }
        }
    }
}

/// NACK pairs (RFC 4585 §6.2.1) covering `seqs` (in the order given).
fn nack_pairs(seqs: &[u16]) -> Vec<NackPair> {
    let mut pairs: Vec<NackPair> = Vec::new();
    for &seq in seqs {
        if let Some(p) = pairs.last_mut() {
            let d = seq.wrapping_sub(p.packet_id);
            if (1..=16).contains(&d) {
                p.lost_packets |= 1 << (d - 1);
                continue;
            }
        }
        pairs.push(NackPair { packet_id: seq, lost_packets: 0 });
    }
    pairs
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for ReceiverFeedback {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        let now = msg.now;
        if let Packet::Rtcp(packets) = &mut msg.message.packet {
            let mut kept: Vec<Box<dyn rtc::rtcp::Packet>> = Vec::with_capacity(packets.len());
            for p in packets.drain(..) {
                let any = p.as_any();
                if let Some(nack) = any.downcast_ref::<TransportLayerNack>()
                    && self.video.contains_key(&nack.media_ssrc)
                {
                    self.nacks.increment(1);
                    self.report.lock().nacks += 1;
                    let seqs = self.budget(now, nack);
                    if !seqs.is_empty() {
                        kept.push(Box::new(TransportLayerNack { nacks: nack_pairs(&seqs), ..nack.clone() }));
                    }
                    continue;
                }
                if let Some(remb) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
                    // Absurd values are not trusted: below MIN_REMB (0, negative, NaN) ignored,
                    // beyond 100 Gbit/s clamped (the controller's rungs cap what is sent anyway).
                    if remb.bitrate.is_finite() && remb.bitrate >= MIN_REMB {
                        self.report.lock().remb = Some((remb.bitrate.min(1e11) as u64, now));
                    }
                } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    self.on_report_blocks(now, &rr.reports);
                } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
                    self.on_report_blocks(now, &sr.reports);
                }
                kept.push(p);
            }
            if kept.is_empty() {
                return Ok(());
            }
            *packets = kept;
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        match &msg.message.packet {
            Packet::Rtp(p) => {
                let size = p.header.marshal_size() + p.payload.len();
                let resent = msg.message.has(&Attribute::Retransmission);
                self.on_sent(msg.now, p.header.ssrc, p.header.sequence_number, size, resent, p.payload.is_empty());
            }
            Packet::Rtcp(packets) => {
                for sr in packets.iter().filter_map(|p| p.as_any().downcast_ref::<SenderReport>()) {
                    if self.video.contains_key(&sr.ssrc) {
                        if self.srs.len() == SR_KEPT {
                            self.srs.pop_front();
                        }
                        self.srs.push_back((((sr.ntp_time >> 16) & 0xffff_ffff) as u32, msg.now));
                    }
                }
            }
            _ => {}
        }
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

impl Interceptor for ReceiverFeedback {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        if info.mime_type.to_ascii_lowercase().starts_with("video/") {
            self.video.insert(info.ssrc, vec![None; RING]);
        }
    }
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.video.remove(&info.ssrc);
    }
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::shared::TransportContext;

    fn tagged(now: Instant, packet: Packet) -> TaggedPacket {
        TaggedPacket { now, transport: TransportContext::default(), message: rtc::interceptor::AttributedPacket::new(packet) }
    }

    fn video_stream(ssrc: u32) -> StreamInfo {
        StreamInfo { ssrc, mime_type: "video/H264".into(), ..Default::default() }
    }

    fn rtp(ssrc: u32, seq: u16, size: usize) -> Packet {
        Packet::Rtp(rtc::rtp::Packet {
            header: rtc::rtp::header::Header { version: 2, ssrc, sequence_number: seq, ..Default::default() },
            payload: vec![0u8; size].into(),
        })
    }

    fn nack(ssrc: u32, seqs: &[u16]) -> Packet {
        Packet::Rtcp(vec![Box::new(TransportLayerNack { sender_ssrc: 1, media_ssrc: ssrc, nacks: nack_pairs(seqs) })])
    }

    fn asked(f: &mut ReceiverFeedback) -> Vec<u16> {
        let mut out = Vec::new();
        while let Some(m) = f.poll_read() {
            if let Packet::Rtcp(ps) = m.message.packet {
                for p in ps {
                    if let Some(n) = p.as_any().downcast_ref::<TransportLayerNack>() {
                        out.extend(n.nacks.iter().flat_map(|p| p.packet_list()));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn nack_pairs_round_trip() {
        let seqs = [65534, 65535, 0, 3, 40];
        let got: Vec<u16> = nack_pairs(&seqs).iter().flat_map(|p| p.packet_list()).collect();
        assert_eq!(got, seqs);
    }

    #[test]
    fn a_nack_storm_is_held_to_its_budget_and_old_packets_are_not_resent() {
        let mut f = ReceiverFeedback::new(Arc::default());
        f.bind_local_stream(&video_stream(7));
        let t0 = Instant::now();
        // ~9.5 Mbit/s sent over a second.
        for seq in 0..1000u16 {
            f.handle_write(tagged(t0 + Duration::from_millis(u64::from(seq)), rtp(7, seq, 1188))).unwrap();
        }
        // 500 kbit/s REMB: 75 kbit/s (9.4 kB/s) of resends, a quarter second of it (2.3 kB,
        // so the 6 kB least) at once.
        let at = t0 + Duration::from_millis(1000);
        f.handle_read(tagged(
            at,
            Packet::Rtcp(vec![Box::new(ReceiverEstimatedMaximumBitrate { sender_ssrc: 1, bitrate: 500_000.0, ssrcs: vec![7] })]),
        ))
        .unwrap();
        let _ = asked(&mut f);
        let all: Vec<u16> = (0..1000).collect();
        f.handle_read(tagged(at, nack(7, &all))).unwrap();
        let first = asked(&mut f);
        assert_eq!(first.len(), 5, "a 6 kB burst of 1.2 kB packets: {first:?}");
        assert!(first.iter().all(|s| *s >= 250), "the oldest are too old: {first:?}");
        // 300 ms on, about 2.8 kB more may go.
        f.handle_read(tagged(at + Duration::from_millis(300), nack(7, &all))).unwrap();
        assert_eq!(asked(&mut f).len(), 2);
        f.handle_read(tagged(at + Duration::from_millis(1000), nack(7, &all))).unwrap();
        assert!(asked(&mut f).is_empty(), "a second on, every packet is too old to resend");
        assert_eq!(f.report.lock().nacks, 3);
        assert_eq!(f.report.lock().video_nacked, 1000, "each NACKed packet counted once, all sent within a second");
        assert_eq!(f.report.lock().video_packets, 1000);
        // Unknown SSRC (audio, or not ours): passes untouched.
        f.handle_read(tagged(t0, nack(9, &[1, 2]))).unwrap();
        assert_eq!(asked(&mut f), [1, 2]);
    }

    #[test]
    fn a_packet_is_resent_once_per_round_trip_and_padding_never() {
        let mut f = ReceiverFeedback::new(Arc::default());
        f.bind_local_stream(&video_stream(7));
        let t0 = Instant::now();
        f.handle_write(tagged(t0, rtp(7, 1, 1000))).unwrap();
        f.handle_write(tagged(t0, rtp(7, 2, 0))).unwrap();
        let _ = asked(&mut f);
        f.handle_read(tagged(t0 + Duration::from_millis(10), nack(7, &[1, 2]))).unwrap();
        assert_eq!(asked(&mut f), [1], "padding is not resent");
        f.handle_read(tagged(t0 + Duration::from_millis(30), nack(7, &[1, 2]))).unwrap();
        assert!(asked(&mut f).is_empty(), "asked again 20 ms later: the resend is on its way");
        f.report.lock().rtt = Some(Duration::from_millis(300));
        f.handle_read(tagged(t0 + Duration::from_millis(200), nack(7, &[1]))).unwrap();
        assert!(asked(&mut f).is_empty(), "within a 300 ms round trip of the resend");
        f.handle_read(tagged(t0 + Duration::from_millis(320), nack(7, &[1]))).unwrap();
        assert_eq!(asked(&mut f), [1], "a round trip on, the resend was lost: again");
        assert_eq!(f.report.lock().video_nacked, 2, "padding lost is loss all the same");
    }

    #[test]
    fn nacks_for_packets_sent_long_ago_are_not_loss() {
        let report = Arc::new(Mutex::new(LinkReport::default()));
        let mut f = ReceiverFeedback::new(report.clone());
        f.bind_local_stream(&video_stream(7));
        let t0 = Instant::now();
        for seq in 0..10u16 {
            f.handle_write(tagged(t0, rtp(7, seq, 1000))).unwrap();
        }
        // Back from a 10 s outage, the receiver asks for all of them.
        f.handle_read(tagged(t0 + Duration::from_secs(10), nack(7, &(0..10).collect::<Vec<_>>()))).unwrap();
        assert_eq!(report.lock().video_nacked, 0);
        assert!(asked(&mut f).is_empty(), "too old to resend");
    }

    #[test]
    fn copies_of_sent_packets_count_as_probes() {
        let report = Arc::new(Mutex::new(LinkReport::default()));
        let mut f = ReceiverFeedback::new(report.clone());
        f.bind_local_stream(&video_stream(7));
        let t0 = Instant::now();
        f.handle_write(tagged(t0, rtp(7, 1, 1000))).unwrap();
        f.handle_write(tagged(t0, rtp(7, 1, 1000))).unwrap();
        f.handle_write(tagged(t0, rtp(7, 2, 1000))).unwrap();
        let r = report.lock().clone();
        assert_eq!((r.video_packets, r.video_bytes, r.probe_bytes), (2, 2024, 1012));
    }

    #[test]
    fn remb_loss_and_rtt_are_reported() {
        let report = Arc::new(Mutex::new(LinkReport::default()));
        let mut f = ReceiverFeedback::new(report.clone());
        f.bind_local_stream(&video_stream(7));
        let t0 = Instant::now();
        let ntp: u64 = 0x1234_5678_9abc_def0;
        let sr = SenderReport { ssrc: 7, ntp_time: ntp, ..Default::default() };
        f.handle_write(tagged(t0, Packet::Rtcp(vec![Box::new(sr)]))).unwrap();
        let block = ReceptionReport {
            ssrc: 7,
            fraction_lost: 64,
            last_sender_report: ((ntp >> 16) & 0xffff_ffff) as u32,
            delay: 65536 / 10, // held 100 ms
            ..Default::default()
        };
        let rr = ReceiverReport { ssrc: 1, reports: vec![block], ..Default::default() };
        let remb = ReceiverEstimatedMaximumBitrate { sender_ssrc: 1, bitrate: f32::NAN, ssrcs: vec![7] };
        f.handle_read(tagged(t0 + Duration::from_millis(180), Packet::Rtcp(vec![Box::new(rr), Box::new(remb)]))).unwrap();
        let r = report.lock().clone();
        assert_eq!(r.video_loss.map(|(l, _)| l), Some(0.25));
        let rtt = r.rtt.expect("rtt");
        assert!(rtt >= Duration::from_millis(79) && rtt <= Duration::from_millis(81), "{rtt:?}");
        assert_eq!(r.remb, None, "a NaN estimate is ignored");
        for (bogus, kept) in [(0.0, None), (-5.0, None), (1e30, Some(99_999_997_952)), (300_000.0, Some(300_000))] {
            // (1e11 as f32 is 99 999 997 952.)
            let remb = ReceiverEstimatedMaximumBitrate { sender_ssrc: 1, bitrate: bogus, ssrcs: vec![7] };
            report.lock().remb = None;
            f.handle_read(tagged(t0, Packet::Rtcp(vec![Box::new(remb)]))).unwrap();
            assert_eq!(report.lock().remb.map(|(b, _)| b), kept, "REMB {bogus}");
        }
    }
}
