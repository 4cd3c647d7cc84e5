//! Stamps the abs-send-time header extension on every RTP packet of the composite we send,
//! as it leaves (resends and probe padding included), when the receiver negotiated it.
//!
//! Why: a receiver's REMB comes from its delay-based estimator. With abs-send-time, Chromium
//! estimates from our send times instead of the RTP timestamps of frames, so its REMB falls
//! within a few packets of a queue starting to grow on the link (a probe over the link, a
//! link that fell), and the rung controller (`super::control`) stops a probe or moves the
//! receiver down before that queue is deep enough to delay and drop audio. Padding-only probe
//! packets carry it too, so a paused receiver's probes are timed as well.
//!
//! Invariants: never blocks, never drops or reorders a packet; streams without the extension
//! pass unchanged; the 24-bit 6.18 fixed-point value is seconds since this interceptor was
//! made, modulo 64 s (receivers use differences only).

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

pub const ABS_SEND_TIME_URI: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";

/// The interceptor (one per peer connection).
pub struct SendTimeStamper {
    /// Our SSRCs that negotiated the extension, with its id.
    ids: HashMap<u32, u8>,
    start: Option<Instant>,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl SendTimeStamper {
    pub fn new() -> Self {
        Self { ids: HashMap::new(), start: None, reads: VecDeque::new(), writes: VecDeque::new() }
    }
}

/// `now` since `start` in 6.18 fixed-point seconds, 24 bits, big-endian.
fn abs_send_time(start: Instant, now: Instant) -> [u8; 3] {
    let t = now.saturating_duration_since(start);
    let v = ((t.as_secs() << 18) | ((u64::from(t.subsec_nanos()) << 18) / 1_000_000_000)) & 0xff_ffff;
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for SendTimeStamper {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        let now = msg.now;
        if let Packet::Rtp(p) = &mut msg.message.packet
            && let Some(id) = self.ids.get(&p.header.ssrc)
        {
            let start = *self.start.get_or_insert(now);
            // An id the negotiation allowed cannot be refused; if it were, the packet goes
            // out unstamped, which only costs the receiver's estimate its precision.
            let _ = p.header.set_extension(*id, bytes::Bytes::copy_from_slice(&abs_send_time(start, now)));
        }
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

/// The one-byte header extension id `info` negotiated for `uri`, if any (RFC 8285: 1-14).
pub(super) fn extension_id(info: &StreamInfo, uri: &str) -> Option<u8> {
    let ext = info.rtp_header_extensions.iter().find(|e| e.uri == uri)?;
    u8::try_from(ext.id).ok().filter(|id| (1..=14).contains(id))
}

impl Interceptor for SendTimeStamper {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        if let Some(id) = extension_id(info, ABS_SEND_TIME_URI) {
            self.ids.insert(info.ssrc, id);
        }
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.ids.remove(&info.ssrc);
    }

    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::RTPHeaderExtension;
    use rtc::shared::TransportContext;
    use std::time::Duration;

    fn packet(now: Instant, ssrc: u32) -> TaggedPacket {
        let p =
            rtc::rtp::Packet { header: rtc::rtp::header::Header { version: 2, ssrc, ..Default::default() }, payload: vec![1u8; 10].into() };
        TaggedPacket { now, transport: TransportContext::default(), message: rtc::interceptor::AttributedPacket::new(Packet::Rtp(p)) }
    }

    #[test]
    fn negotiated_streams_get_their_send_time_and_others_pass_unchanged() {
        let mut s = SendTimeStamper::new();
        s.bind_local_stream(&StreamInfo {
            ssrc: 7,
            rtp_header_extensions: vec![RTPHeaderExtension { uri: ABS_SEND_TIME_URI.into(), id: 3 }],
            ..Default::default()
        });
        s.bind_local_stream(&StreamInfo { ssrc: 8, ..Default::default() });
        let t0 = Instant::now();
        for (at, ssrc) in [(Duration::ZERO, 7), (Duration::from_millis(250), 7), (Duration::from_millis(250), 8)] {
            s.handle_write(packet(t0 + at, ssrc)).unwrap();
        }
        let out: Vec<rtc::rtp::Packet> = std::iter::from_fn(|| s.poll_write())
            .map(|m| match m.message.packet {
                Packet::Rtp(p) => p,
                _ => unreachable!("only RTP was written"),
            })
            .collect();
        assert_eq!(out[0].header.get_extension(3).as_deref(), Some(&[0u8, 0, 0][..]));
        // 0.25 s = 0x10000 in 6.18 fixed point.
        assert_eq!(out[1].header.get_extension(3).as_deref(), Some(&[1u8, 0, 0][..]));
        assert!(out[2].header.extensions.is_empty(), "not negotiated: unchanged");
        assert_eq!(abs_send_time(t0, t0 + Duration::from_secs(65)), abs_send_time(t0, t0 + Duration::from_secs(1)), "modulo 64 s");
    }
}
