//! webrtc-rs glue: the one owner of the `webrtc` and `rtc` crates on the server side. Nothing
//! above this module (the room, the participant) names a webrtc-rs type; it sees domain-level
//! types only, and this module never sees the room (it may use `media`, `config`, `metrics`).
//!
//! - [`RtcFactory`] builds peer connections with our codecs, interceptors and socket settings.
//! - [`PeerSession`] (`session.rs`) is one client's peer connection: offer/answer, ICE
//!   candidates, the local tracks the composite and the mix go out on ([`RtpWriter`]), keyframe
//!   requests from the receiver, its child tasks.
//! - [`PeerEvent`] (`events.rs`): what the connection reports, forwarded from webrtc-rs's
//!   callbacks into the owning participant task and translated on the way.
//! - [`InboundTrack`] (`inbound.rs`): a track the client sends, pumped into the media graph,
//!   with the room's cap on what the client sends as REMB (`remb.rs`) and the limits it is held
//!   to whatever it does with that cap (`limit.rs`: over them, packets are dropped undecoded).
//! - [`data::Channel`] (`data.rs`): a data channel the client opened, and its reader.
//! - What a receiver reports about the composite (`feedback.rs`: REMB, loss, round trip, and
//!   NACKs held to a budget) and the rung controller that reads it ([`bwe::Controller`]).
//!
//! Errors are returned as values ([`OfferError`], [`CandidateError`], …); what the client is
//! told about them is the participant's business.

pub mod bwe;
mod control;
pub mod data;
mod events;
mod feedback;
#[cfg(test)]
mod fuzz_tests;
mod inbound;
mod keyframe;
mod limit;
mod queue;
mod remb;
pub mod sdp;
mod sendtime;
mod session;

pub use bwe::{Decision, Reason};
pub use events::{Candidate, MediaState, PeerEvent, PeerEventForwarder};
pub use feedback::LinkReport;
pub use inbound::{FirstVideo, InboundTrack, MediaKind, MediaPulse, PumpEnd};
pub use sendtime::ABS_SEND_TIME_URI;
pub use session::{CandidateError, GATHER_LIMIT, MAX_PENDING_CANDIDATES, OfferError, PeerKind, PeerSession};

use crate::config::Config;
use rtc::interceptor::{Registry, Slot};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability,
    RtpCodecKind,
};
use std::net::IpAddr;
use std::sync::Arc;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder};

pub use rtc::peer_connection::transport::RTCIceCandidateType;

/// Payload types we offer in answers (browsers' own numbers are remapped by negotiation).
pub const PT_OPUS: u8 = 111;
pub const PT_VP8: u8 = 96;
pub const PT_H264: u8 = 102;
pub const H264_FMTP: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

/// Errors creating a peer connection.
#[derive(Debug, thiserror::Error)]
pub enum RtcError {
    #[error("webrtc: {0}")]
    Webrtc(#[from] webrtc::error::Error),
}

/// Builds peer connections that bind and advertise the configured media addresses.
#[derive(Clone)]
pub struct RtcFactory {
    bind_ip: IpAddr,
    public_ip: Option<IpAddr>,
    /// What each inbound track may send (`[ingest_limit]`).
    ingest: crate::config::IngestLimitConfig,
}

fn video_feedback() -> Vec<RTCPFeedback> {
    [("goog-remb", ""), ("ccm", "fir"), ("nack", ""), ("nack", "pli"), ("transport-cc", "")]
        .iter()
        .map(|(t, p)| RTCPFeedback { typ: (*t).into(), parameter: (*p).into() })
        .collect()
}

/// The codec a local video track of `codec` is declared with.
pub fn video_codec(codec: crate::media::VideoCodec) -> RTCRtpCodec {
    match codec {
        crate::media::VideoCodec::H264 => RTCRtpCodec {
            mime_type: MIME_TYPE_H264.into(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: H264_FMTP.into(),
            rtcp_feedback: video_feedback(),
        },
        crate::media::VideoCodec::Vp8 => RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.into(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: video_feedback(),
        },
    }
}

/// The codec of local and remote audio.
pub fn audio_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.into(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
        rtcp_feedback: vec![],
    }
}

fn media_engine() -> Result<MediaEngine, RtcError> {
    let mut m = MediaEngine::default();
    m.register_codec(RTCRtpCodecParameters { rtp_codec: audio_codec(), payload_type: PT_OPUS }, RtpCodecKind::Audio)?;
    m.register_codec(
        RTCRtpCodecParameters { rtp_codec: video_codec(crate::media::VideoCodec::Vp8), payload_type: PT_VP8 },
        RtpCodecKind::Video,
    )?;
    m.register_codec(
        RTCRtpCodecParameters { rtp_codec: video_codec(crate::media::VideoCodec::H264), payload_type: PT_H264 },
        RtpCodecKind::Video,
    )?;
    // Our send times on the composite: receivers' estimates react within a few packets of a
    // queue growing (see `sendtime`).
    m.register_header_extension(RTCRtpHeaderExtensionCapability { uri: sendtime::ABS_SEND_TIME_URI.into() }, RtpCodecKind::Video, None)?;
    Ok(m)
}

const ICE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

impl RtcFactory {
    pub fn new(cfg: &Config) -> Self {
        Self { bind_ip: cfg.media_bind_ip(), public_ip: cfg.public_ip, ingest: cfg.ingest_limit }
    }

    /// With explicit addresses (tests, the load generator) and the default limits.
    pub fn with_ip(bind_ip: IpAddr) -> Self {
        Self { bind_ip, public_ip: None, ingest: crate::config::IngestLimitConfig::default() }
    }

    /// What each inbound track may send.
    pub fn ingest_limits(&self) -> crate::config::IngestLimitConfig {
        self.ingest
    }

    /// A new peer connection whose events go to `events` and whose receiver's reports (REMB,
    /// loss, round trip) to `report`.
    pub async fn peer(
        &self,
        events: Arc<PeerEventForwarder>,
        report: Arc<parking_lot::Mutex<LinkReport>>,
    ) -> Result<Arc<dyn PeerConnection>, RtcError> {
        let mut media = media_engine()?;
        let registry = register_default_interceptors(Registry::new(), &mut media)?;
        // Wire-ward of the NACK responder (4_000), so NACKs meet the budget before anything is
        // resent, and every departing packet (resends too) is seen.
        let registry = registry.with(Slot::from(3_500), feedback::ReceiverFeedback::new(report.clone()));
        // Our audio numbered for TWCC feedback, which measures the queue on the receiver's
        // path (see `queue`).
        let registry = registry.with(Slot::TwccSender, queue::AudioSequencer::new(report));
        // Wire-ward of everything that sends: every packet leaves with its send time.
        let registry = registry.with(Slot::from(3_000), sendtime::SendTimeStamper::new());
        // Last in the chain, so every other interceptor has seen the RTCP it narrows down.
        let registry = registry.with(Slot::from(14_000), keyframe::KeyframeRequestForwarder::default());
        let mut settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .with_include_loopback_candidate(self.bind_ip.is_loopback())
            // Checks every 50 ms instead of 200 (for the same 1.4 s per candidate): the server's
            // own check of the pair the browser nominates is what completes ICE, and waiting for
            // the next 200 ms round was most of the join time on a fast network.
            .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), Some(28));
        if let Some(ip) = self.public_ip {
            settings = settings.with_nat_1to1_ips(vec![ip.to_string()], RTCIceCandidateType::Host);
        }
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings.build())
            .with_interceptor_registry(registry)
            .with_handler(events)
            .with_udp_addrs(vec![format!("{}:0", self.bind_ip)])
            .build()
            .await?;
        Ok(Arc::new(pc))
    }
}

/// A local track that takes ready-made RTP with the given SSRC (the SSRC must be declared in
/// the track's encoding: webrtc-rs does not rewrite it).
pub fn local_rtp_track(stream_id: String, track_id: String, kind: RtpCodecKind, codec: RTCRtpCodec, ssrc: u32) -> Arc<TrackLocalStaticRTP> {
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        stream_id,
        track_id.clone(),
        track_id,
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            active: true,
            codec,
            ..Default::default()
        }],
    )))
}

/// Writes ready-made RTP packets (the composite, the mix) to a local track from a media thread,
/// with the track's SSRC and payload type, without waiting: the packet goes straight into the
/// peer connection's own queue. It is dropped when the connection is not up yet (stale media),
/// or when that queue is full or busy (a slow receiver loses its own packets).
///
/// This replaced a queue and a task per receiver that only awaited `write_rtp`: one task wake
/// and poll less per packet per receiver (benchmark A, `benches/OPTIMISATIONS.md`).
pub struct RtpWriter {
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pt: u8,
    connected: tokio::sync::watch::Receiver<bool>,
    sent: crate::metrics::Rtp,
    dropped: metrics::Counter,
    /// The participant's join, until its first packet of the composite went out (video only).
    first_frame: parking_lot::Mutex<Option<std::time::Instant>>,
}

impl RtpWriter {
    /// A writer of `kind` media; `joined` (the participant's join) times its first packet.
    pub fn new(
        track: Arc<TrackLocalStaticRTP>,
        ssrc: u32,
        pt: u8,
        connected: tokio::sync::watch::Receiver<bool>,
        kind: crate::metrics::Kind,
        joined: Option<std::time::Instant>,
    ) -> Self {
        let (sent, dropped) = (crate::metrics::Rtp::sent(kind), crate::metrics::dropped(kind));
        Self { track, ssrc, pt, connected, sent, dropped, first_frame: parking_lot::Mutex::new(joined) }
    }
}

use crate::media::Delivery;

impl crate::media::PacketSink for RtpWriter {
    fn send(&self, mut packet: rtc::rtp::Packet) -> Delivery {
        match self.connected.has_changed() {
            // The participant's session is gone: so is this receiver.
            Err(_) => return Delivery::Gone,
            Ok(_) if !*self.connected.borrow() => return Delivery::NotReady,
            Ok(_) => {}
        }
        packet.header.ssrc = self.ssrc;
        packet.header.payload_type = self.pt;
        let size = packet.payload.len();
        // One poll: the track's context lock and the driver queue's send complete at once
        // unless contended or full, and dropping the pending future then loses only this packet.
        let write = std::pin::pin!(self.track.write_rtp(packet));
        match write.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
            std::task::Poll::Ready(Ok(())) => {
                self.sent.count(size);
                // Uncontended: only this writer's media thread takes it, once per packet.
                if let Some(mut first) = self.first_frame.try_lock()
                    && let Some(joined) = first.take()
                {
                    crate::metrics::join_to_first_frame(joined.elapsed().as_secs_f64());
                }
                Delivery::Sent
            }
            std::task::Poll::Ready(Err(_)) | std::task::Poll::Pending => {
                self.dropped.increment(1);
                Delivery::Dropped
            }
        }
    }
}

/// Waits until the peer connection is up, then drops what queued meanwhile (stale media).
/// `false` when the connection state is gone (the peer was dropped).
pub async fn until_connected<T>(connected: &mut tokio::sync::watch::Receiver<bool>, queue: &mut tokio::sync::mpsc::Receiver<T>) -> bool {
    if connected.wait_for(|c| *c).await.is_err() {
        return false;
    }
    while queue.try_recv().is_ok() {}
    true
}

/// Writes ready-made RTP packets to `track` with its SSRC and payload type, once `connected`
/// turns true (packets queued before that are stale and dropped), until `packets` closes.
pub async fn forward_rtp(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pt: u8,
    mut packets: tokio::sync::mpsc::Receiver<rtc::rtp::Packet>,
    mut connected: tokio::sync::watch::Receiver<bool>,
) {
    if !until_connected(&mut connected, &mut packets).await {
        return;
    }
    while let Some(mut p) = packets.recv().await {
        p.header.ssrc = ssrc;
        p.header.payload_type = pt;
        let _ = track.write_rtp(p).await;
    }
}

/// Whether an RTCP packet is a NACK (a receiver asking for lost packets again).
pub fn is_nack(p: &dyn rtc::rtcp::Packet) -> bool {
    p.as_any().is::<rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack>()
}

/// Whether an RTCP packet type is a keyframe request (PLI or FIR).
pub fn is_keyframe_request(p: &dyn rtc::rtcp::Packet) -> bool {
    let any = p.as_any();
    any.is::<rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication>()
        || any.is::<rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest>()
}
