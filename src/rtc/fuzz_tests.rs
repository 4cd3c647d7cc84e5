//! Property tests over what a peer sends us (issue 27 §2; cases and seed: `crate::fuzz`): RTCP
//! from a receiver of the composite through our interceptors, the RTP we send through the
//! retransmission ring, and offers through the SDP readers. Nothing may panic; what comes out
//! stays within what was asked and what was sent.

use super::feedback::{LinkReport, ReceiverFeedback};
use super::keyframe::KeyframeRequestForwarder;
use super::sdp::{check_ingest, summarize};
use parking_lot::Mutex;
use proptest::prelude::*;
use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::shared::TransportContext;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Our composite's SSRC in these tests (receivers' feedback names it, or another).
const OURS: u32 = 0x1234_5678;

fn tagged(now: Instant, packet: Packet) -> TaggedPacket {
    TaggedPacket { now, transport: TransportContext::default(), message: rtc::interceptor::AttributedPacket::new(packet) }
}

/// RTCP compound packets as a hostile receiver could send them: headers that parse (version 2,
/// a feedback or report type, the length of the body) around random bodies, our SSRC often in
/// the media-source field, and now and then plain random bytes.
fn rtcp_bytes() -> impl Strategy<Value = Vec<u8>> {
    let one = (0u8..32, 192u8..=210, prop::collection::vec(any::<u8>(), 0..24), any::<bool>()).prop_map(|(count, pt, words, ours)| {
        let mut body: Vec<u8> = words;
        body.resize(body.len().div_ceil(4) * 4 + 8, 0);
        if ours {
            body[4..8].copy_from_slice(&OURS.to_be_bytes());
        }
        let len = (body.len() / 4) as u16;
        let mut out = vec![0x80 | count, pt];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend(body);
        out
    });
    prop_oneof![
        4 => prop::collection::vec(one, 1..4).prop_map(|ps| ps.concat()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

proptest! {
    #![proptest_config(crate::fuzz::config())]

    #[test]
    fn fuzz_rtcp_from_a_receiver(sent in prop::collection::vec(any::<u16>(), 0..64), compound in prop::collection::vec(rtcp_bytes(), 1..8)) {
        let report = Arc::new(Mutex::new(LinkReport::default()));
        let mut feedback = ReceiverFeedback::new(report.clone());
        feedback.bind_local_stream(&StreamInfo { ssrc: OURS, mime_type: "video/VP8".into(), ..Default::default() });
        let mut keyframes = KeyframeRequestForwarder::default();
        let t0 = Instant::now();
        for (i, seq) in sent.iter().enumerate() {
            let p = rtc::rtp::Packet {
                header: rtc::rtp::header::Header { version: 2, ssrc: OURS, sequence_number: *seq, ..Default::default() },
                payload: vec![0u8; 100].into(),
            };
            feedback.handle_write(tagged(t0 + Duration::from_millis(i as u64), Packet::Rtp(p))).expect("a write is always taken");
        }
        while feedback.poll_write().is_some() {}
        for (i, raw) in compound.into_iter().enumerate() {
            let mut bytes = bytes::Bytes::from(raw);
            let Ok(packets) = rtc::rtcp::packet::unmarshal(&mut bytes) else { continue };
            for p in &packets {
                let _ = (super::is_nack(p.as_ref()), super::is_keyframe_request(p.as_ref()));
            }
            let now = t0 + Duration::from_millis(100 + i as u64 * 10);
            keyframes.handle_read(tagged(now, Packet::Rtcp(packets.clone()))).expect("a read is always taken");
            feedback.handle_read(tagged(now, Packet::Rtcp(packets))).expect("a read is always taken");
        }
        // What goes on asks only for packets we sent, and only keyframe requests reach the
        // application from the forwarder.
        while let Some(m) = feedback.poll_read() {
            if let Packet::Rtcp(ps) = m.message.packet {
                for n in ps.iter().filter_map(|p| p.as_any().downcast_ref::<rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack>()) {
                    if n.media_ssrc == OURS {
                        for seq in n.nacks.iter().flat_map(|p| p.packet_list()) {
                            prop_assert!(sent.contains(&seq), "a retransmission of {seq}, never sent");
                        }
                    }
                }
            }
        }
        while let Some(m) = keyframes.poll_read() {
            if let Packet::Rtcp(ps) = m.message.packet {
                prop_assert!(ps.iter().all(|p| super::is_keyframe_request(p.as_ref())));
            }
        }
        let r = report.lock();
        if let Some((loss, _)) = r.video_loss {
            prop_assert!((0.0..=1.0).contains(&loss), "a loss fraction of {loss}");
        }
        if let Some((bps, _)) = r.remb {
            prop_assert!(bps <= 100_000_000_000, "an estimate is clamped to 100 Gbit/s, got {bps}");
        }
    }

    #[test]
    fn fuzz_offers(lines in prop::collection::vec(sdp_line(), 0..16), prefix in prop_oneof!["v=0\r\n", "", " v=0\n", "x"]) {
        let offer = format!("{prefix}{}", lines.concat());
        let summary = summarize(&offer);
        if check_ingest(&offer).is_ok() {
            prop_assert!(summary.is_ok() || summary == Err(super::sdp::SdpError::NoVideoCodec), "an ingest offer is an offer: {summary:?}");
        }
    }
}

/// Lines of SDP an offer might hold, often broken.
fn sdp_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "m=(audio|video|application|[a-z]{0,5}) [0-9]{0,6} [A-Z/]{0,20}( [0-9]{1,3}){0,4}\r\n",
        "a=(sendonly|recvonly|sendrecv|inactive|mid:[0-9])\r\n",
        "a=rtpmap:[0-9]{0,4} (opus|OPUS|VP8|H264|VP9|[A-Za-z]{0,6})(/[0-9]{0,6}){0,2}\r?\n",
        "a=fmtp:[0-9]{0,4} ([a-z-]{1,20}=[0-9a-f]{0,8};?){0,4}\r?\n",
        "[ -~]{0,40}\r?\n",
        ".{0,40}",
    ]
}
