//! How long our packets wait in a queue on the way to a receiver, measured ten times a second
//! from transport-wide congestion control feedback on the audio we send it.
//!
//! Why audio, and only audio: a browser answers packets that carry a transport-wide sequence
//! number with TWCC feedback (each packet's arrival time, about every 100 ms) and estimates
//! the rest itself (REMB, which the rung controller reads). Numbering only the mix we send
//! keeps the composite under REMB while the audio, which shares every queue the composite
//! meets, becomes a probe of the path's one-way delay. A queue growing shows up within a
//! feedback interval, long before it drops anything: that is what stops a probe over the link
//! (`super::control`) and pauses video on a collapsed link (`super::bwe`) before the queue
//! delays the audio itself.
//!
//! [`AudioSequencer`] numbers the audio (the transport-cc extension, negotiated by the default
//! interceptors for the uplink's feedback) and remembers when each number left; it joins the
//! feedback's arrivals with those departures and hands them to [`QueueMeter`], which keeps the
//! least one-way delay seen over [`FLOOR_SPAN`] and reports the excess over it of each batch
//! of feedback (its least: a standing queue, not a keyframe's burst) in [`LinkReport::queue`],
//! and of its last packet (the queue now, for stopping a probe) in [`LinkReport::queue_last`].
//! (Not the library's congestion-control interceptor: it would record every video packet too.)
//!
//! Invariants: never blocks, never drops or reorders a packet, passes all RTCP on; memory is
//! bounded ([`SENT_KEPT`] departures, [`FLOOR_BUCKETS`] buckets); video is never numbered.

use super::feedback::LinkReport;
use parking_lot::Mutex;
use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use rtc::shared::marshal::Marshal;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const TRANSPORT_CC_URI: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
/// The least one-way delay is the least over this long (clocks drift; a route can change).
pub const FLOOR_SPAN: Duration = Duration::from_secs(30);
/// ... kept as the least of each of this many equal spans.
const FLOOR_BUCKETS: usize = 15;
/// Departures remembered, by transport-wide number (20 s of 50 packets/s).
const SENT_KEPT: usize = 1024;

/// Numbers our audio packets with the transport-wide sequence (see the module doc).
pub struct AudioSequencer {
    ids: HashMap<u32, u8>,
    next: u16,
    /// When each number left, at `number % SENT_KEPT`.
    sent: Vec<Option<(u16, Instant)>>,
    meter: QueueMeter,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl AudioSequencer {
    pub fn new(report: Arc<Mutex<LinkReport>>) -> Self {
        Self {
            ids: HashMap::new(),
            next: 0,
            sent: vec![None; SENT_KEPT],
            meter: QueueMeter::new(report),
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }

    fn on_feedback(&mut self, now: Instant, feedback: &TransportLayerCc) {
        let mut batch = Vec::new();
        for ack in rtc::interceptor::convert_twcc(feedback) {
            let Some(arrival) = ack.arrival.filter(|_| ack.arrived) else { continue };
            if let Some((seq, departure)) = self.sent[usize::from(ack.sequence_number) % SENT_KEPT]
                && seq == ack.sequence_number
            {
                batch.push((departure, arrival));
            }
        }
        self.meter.on_batch(now, &batch);
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for AudioSequencer {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if !self.ids.is_empty()
            && let Packet::Rtcp(packets) = &msg.message.packet
        {
            for fb in packets.iter().filter_map(|p| p.as_any().downcast_ref::<TransportLayerCc>()) {
                self.on_feedback(msg.now, fb);
            }
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtp(p) = &mut msg.message.packet
            && let Some(id) = self.ids.get(&p.header.ssrc)
        {
            let ext = rtc::rtp::extension::transport_cc_extension::TransportCcExtension { transport_sequence: self.next };
            self.sent[usize::from(self.next) % SENT_KEPT] = Some((self.next, msg.now));
            self.next = self.next.wrapping_add(1);
            // Two bytes into a buffer of their own cannot fail; if they did, the packet goes
            // out unnumbered and only this sample is missing.
            if let Ok(data) = ext.marshal() {
                let _ = p.header.set_extension(*id, data.freeze());
            }
        }
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

impl Interceptor for AudioSequencer {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        if info.mime_type.to_ascii_lowercase().starts_with("audio/")
            && let Some(id) = super::sendtime::extension_id(info, TRANSPORT_CC_URI)
        {
            self.ids.insert(info.ssrc, id);
        }
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.ids.remove(&info.ssrc);
    }

    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// Turns acknowledged packets into the queue delay of [`LinkReport::queue`].
struct QueueMeter {
    report: Arc<Mutex<LinkReport>>,
    /// The instant departures are measured from.
    origin: Option<Instant>,
    /// The least (arrival − departure), seconds, per span of `FLOOR_SPAN / FLOOR_BUCKETS`:
    /// (the span's start, its least).
    floor: VecDeque<(Instant, f64)>,
}

impl QueueMeter {
    pub fn new(report: Arc<Mutex<LinkReport>>) -> Self {
        Self { report, origin: None, floor: VecDeque::new() }
    }

    fn note_floor(&mut self, at: Instant, owd: f64) {
        let span = FLOOR_SPAN / FLOOR_BUCKETS as u32;
        match self.floor.back_mut() {
            Some((start, least)) if at.saturating_duration_since(*start) < span => *least = least.min(owd),
            _ => {
                if self.floor.len() == FLOOR_BUCKETS {
                    self.floor.pop_front();
                }
                self.floor.push_back((at, owd));
            }
        }
    }
}

impl QueueMeter {
    /// One feedback's packets that arrived: (departure, arrival on the receiver's clock).
    fn on_batch(&mut self, now: Instant, batch: &[(Instant, Duration)]) {
        // The least excess of the batch (about 100 ms of packets): a keyframe's burst queues
        // a few packets for a moment, a link over its rate queues all of them.
        let mut delays = Vec::new();
        for (departure, arrival) in batch {
            let origin = *self.origin.get_or_insert(*departure);
            // One-way delay up to a constant (the two clocks' offset): only its excess over
            // the least matters.
            let owd = arrival.as_secs_f64() - departure.saturating_duration_since(origin).as_secs_f64();
            self.note_floor(*departure, owd);
            delays.push(owd);
        }
        let Some(least) = self.floor.iter().map(|(_, l)| *l).reduce(f64::min) else { return };
        let Some(last) = delays.last().copied() else { return };
        let owd = delays.into_iter().fold(f64::INFINITY, f64::min);
        let excess = |d: f64| Duration::from_secs_f64((d - least).max(0.0));
        let mut r = self.report.lock();
        r.queue = Some((excess(owd), now));
        r.queue_last = Some((excess(last), now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::RTPHeaderExtension;

    fn report(departure: Instant, arrival_ms: u64) -> (Instant, Duration) {
        (departure, Duration::from_millis(arrival_ms))
    }

    #[test]
    fn the_queue_is_the_one_way_delay_over_its_least() {
        let r = Arc::new(Mutex::new(LinkReport::default()));
        let mut m = QueueMeter::new(r.clone());
        let t0 = Instant::now();
        // The receiver's clock is 5 s ahead: only differences count. 20 ms apart, arriving 20
        // ms apart (no queue), then each one 30 ms later than the one before (a queue growing:
        // the batch's least, its first, waited 30 ms).
        let steady: Vec<_> = (0..10).map(|k| report(t0 + Duration::from_millis(20 * k), 5_000 + 20 * k)).collect();
        m.on_batch(t0 + Duration::from_millis(300), &steady);
        assert_eq!(r.lock().queue.map(|(q, _)| q.as_millis()), Some(0));
        let growing: Vec<_> = (10..15).map(|k| report(t0 + Duration::from_millis(20 * k), 5_000 + 20 * k + 30 * (k - 9))).collect();
        m.on_batch(t0 + Duration::from_millis(400), &growing);
        let (q, _) = r.lock().queue.expect("measured");
        assert_eq!(q.as_millis(), 30);
        assert_eq!(r.lock().queue_last.map(|(q, _)| q.as_millis()), Some(150), "the batch's last packet waited 150 ms");
        let standing: Vec<_> = (15..20).map(|k| report(t0 + Duration::from_millis(20 * k), 5_000 + 20 * k + 150)).collect();
        m.on_batch(t0 + Duration::from_millis(400), &standing);
        let (q, at) = r.lock().queue.expect("measured");
        assert_eq!(q.as_millis(), 150, "a standing queue");
        assert_eq!(at, t0 + Duration::from_millis(400));
        // A feedback of lost packets only says nothing.
        m.on_batch(t0 + Duration::from_millis(500), &[]);
        assert_eq!(r.lock().queue.map(|(_, at)| at), Some(t0 + Duration::from_millis(400)));
    }

    #[test]
    fn the_floor_forgets_what_is_older_than_its_span() {
        let r = Arc::new(Mutex::new(LinkReport::default()));
        let mut m = QueueMeter::new(r.clone());
        let t0 = Instant::now();
        m.on_batch(t0, &[report(t0, 1_000)]);
        // 40 s later every packet takes 200 ms longer (a new route): after FLOOR_SPAN that is
        // the new least, not a queue.
        for s in 1..=40u64 {
            let at = t0 + Duration::from_secs(s);
            m.on_batch(at, &[report(at, 1_000 + 1_000 * s + 200)]);
        }
        assert_eq!(r.lock().queue.map(|(q, _)| q.as_millis()), Some(0));
        assert!(m.floor.len() <= FLOOR_BUCKETS);
    }

    #[test]
    fn only_audio_that_negotiated_the_extension_is_numbered() {
        let mut s = AudioSequencer::new(Arc::default());
        let ext = vec![RTPHeaderExtension { uri: TRANSPORT_CC_URI.into(), id: 5 }];
        s.bind_local_stream(&StreamInfo {
            ssrc: 1,
            mime_type: "audio/opus".into(),
            rtp_header_extensions: ext.clone(),
            ..Default::default()
        });
        s.bind_local_stream(&StreamInfo { ssrc: 2, mime_type: "video/H264".into(), rtp_header_extensions: ext, ..Default::default() });
        let t0 = Instant::now();
        for ssrc in [1, 1, 2] {
            let p = rtc::rtp::Packet {
                header: rtc::rtp::header::Header { version: 2, ssrc, ..Default::default() },
                payload: vec![0u8; 4].into(),
            };
            s.handle_write(TaggedPacket {
                now: t0,
                transport: rtc::shared::TransportContext::default(),
                message: rtc::interceptor::AttributedPacket::new(Packet::Rtp(p)),
            })
            .unwrap();
        }
        let out: Vec<rtc::rtp::Packet> = std::iter::from_fn(|| s.poll_write())
            .map(|m| match m.message.packet {
                Packet::Rtp(p) => p,
                _ => unreachable!("only RTP was written"),
            })
            .collect();
        assert_eq!(out[0].header.get_extension(5).as_deref(), Some(&[0u8, 0][..]));
        assert_eq!(out[1].header.get_extension(5).as_deref(), Some(&[0u8, 1][..]));
        assert!(out[2].header.extensions.is_empty(), "video stays under REMB");
    }
}
