//! One client's peer connection ([`PeerSession`]): answering its offers, taking its ICE
//! candidates, the local tracks the composite and the mix go out on, and the tasks that read
//! what the connection reports (keyframe requests from the receiver, data channels).
//!
//! Invariants:
//! - Candidates that arrive before the first offer are checked at once and queued (at most
//!   [`MAX_PENDING_CANDIDATES`]); they are added right after the offer is set.
//! - Each local track (composite video, mixed audio) is added once, by the first offer that
//!   can receive it, and keeps its SSRC for the session's life.
//! - The writers handed out ([`PeerSession::video_sink`], [`PeerSession::audio_sink`]) send
//!   nothing until [`PeerSession::set_connected`] says DTLS-SRTP is up, and report their
//!   receiver gone once the session is dropped.
//! - Every task the session spawns ends with [`PeerSession::close`].

use super::data::{self, Channel, ChannelEvent};
use super::events::{Candidate, PeerEvent, PeerEventForwarder};
use super::feedback::LinkReport;
use super::inbound::MediaPulse;
use super::remb::SendCap;
use super::sdp::{self, SdpError};
use super::{PT_H264, PT_OPUS, PT_VP8, RtcError, RtcFactory, RtpWriter, audio_codec, local_rtp_track, video_codec};
use crate::media::VideoCodec;
use crate::media::ladder::{Receiver, Rung};
use crate::metrics::Kind;
use parking_lot::Mutex;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::RtpSender;

/// Shortest gap between two keyframes any receiver's PLI/FIR can cause on its encoder.
const RECEIVER_KEYFRAME_GAP: Duration = Duration::from_millis(500);
/// One receiver's keyframe requests: this many at once, then one per [`OWN_KEYFRAME_GAP`] (a
/// request over that waits for it): a receiver asking more often (a PLI flood) adds at most one
/// keyframe per 2 s for everyone on its rung.
const OWN_KEYFRAME_BURST: f64 = 3.0;
const OWN_KEYFRAME_GAP: Duration = Duration::from_secs(2);
/// The same while the receiver is still joining: its first PLI means "no picture yet", and
/// waiting out the long gap after the keyframe sent at its connection cost up to 400 ms of
/// join time (measured in Chromium).
const JOINING_KEYFRAME_GAP: Duration = Duration::from_millis(100);
const JOINING: Duration = Duration::from_secs(3);
/// Most candidates kept from before the first offer (more are dropped silently).
pub const MAX_PENDING_CANDIDATES: usize = 64;

/// Errors handling an offer; each becomes an `error` message to the client.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    #[error("unusable offer: {0}")]
    Sdp(#[from] SdpError),
    #[error("the offer was refused: {0}")]
    Rejected(#[source] webrtc::error::Error),
    #[error("could not answer: {0}")]
    Answer(#[source] webrtc::error::Error),
}

/// A client's ICE candidate that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CandidateError {
    /// Before the offer: it does not parse (it would be refused after the offer too).
    #[error("the ICE candidate could not be parsed: {0}")]
    Unparsable(#[source] webrtc::error::Error),
    #[error("the ICE candidate was refused: {0}")]
    Refused(#[source] webrtc::error::Error),
}

struct LocalOut {
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
}

/// Who is at the other end, which decides how offers are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    /// Our signaling client: candidates trickle both ways (`candidate` messages); H.264 is
    /// constrained baseline.
    Participant,
    /// A WHIP encoder (RFC 9725): the answer waits for ICE gathering and carries every server
    /// candidate, since nothing trickles, and the connection sends nothing back. H.264 of any
    /// profile is taken, as from any client: webrtc-rs accepts an offered profile other than
    /// ours as a partial match, and the ingest decodes every profile (main and high from OBS
    /// and x264 were tried).
    Ingest,
    /// A WHEP player: its answer waits for ICE gathering too; it receives the composite and
    /// the mix and sends nothing.
    Viewer,
}

impl PeerKind {
    /// Whether the client takes our candidates one by one (else the answer carries them all).
    pub fn trickles(self) -> bool {
        self == PeerKind::Participant
    }
}

/// The longest an answer waits for ICE gathering ([`PeerKind::Ingest`]); past it, the answer
/// carries the candidates gathered so far (host candidates come at once; a STUN server that
/// does not answer is what can take this long).
pub const GATHER_LIMIT: Duration = Duration::from_secs(3);

/// A client's peer connection and everything hanging off it.
pub struct PeerSession {
    kind: PeerKind,
    /// Whether ICE gathering is complete.
    gathered: watch::Receiver<bool>,
    pc: Arc<dyn PeerConnection>,
    /// The stream id of our local tracks (`tessera-<room>`).
    stream_id: String,
    /// The participant's id, the suffix of our local tracks' ids.
    owner: String,
    remote_set: bool,
    pending_candidates: Vec<RTCIceCandidateInit>,
    video_out: Option<(LocalOut, VideoCodec)>,
    audio_out: Option<LocalOut>,
    /// Whether DTLS-SRTP is up: the writers wait for it instead of writing into the void.
    connected: watch::Sender<bool>,
    /// Keyframe-request and data channel readers.
    tasks: JoinSet<()>,
    /// When the session started (join-to-first-frame is timed from it).
    joined: Instant,
    /// What the receiver reports about the composite (filled by the interceptor chain).
    report: Arc<Mutex<LinkReport>>,
    /// Where the session's own tasks report (the participant's event channel).
    events: mpsc::UnboundedSender<PeerEvent>,
    /// The client's cap on its rung (`None`: no video).
    cap: watch::Sender<Option<Rung>>,
    /// When the client's media last arrived.
    pulse: MediaPulse,
    /// The cap on what the client sends, sent to it as REMB.
    send_cap: Arc<SendCap>,
}

impl PeerSession {
    /// A new peer connection for participant `owner` of room `room_id`, and where it reports.
    pub async fn new(
        factory: &RtcFactory,
        kind: PeerKind,
        room_id: &str,
        owner: &str,
    ) -> Result<(Self, mpsc::UnboundedReceiver<PeerEvent>), RtcError> {
        let (forwarder, events) = PeerEventForwarder::new(factory.ingest_limits());
        let report = Arc::new(Mutex::new(LinkReport::default()));
        let pulse = forwarder.pulse();
        let send_cap = forwarder.send_cap();
        let gathered = forwarder.gathered();
        let pc = factory.peer(forwarder.clone(), report.clone()).await?;
        let session = Self {
            kind,
            gathered,
            pc,
            stream_id: format!("tessera-{room_id}"),
            owner: owner.to_owned(),
            remote_set: false,
            pending_candidates: Vec::new(),
            video_out: None,
            audio_out: None,
            connected: watch::channel(false).0,
            tasks: JoinSet::new(),
            joined: Instant::now(),
            report,
            events: forwarder.sender(),
            cap: watch::channel(Some(Rung::L0)).0,
            pulse,
            send_cap,
        };
        Ok((session, events))
    }

    async fn add_local_track(&self, kind: RtpCodecKind, codec: RTCRtpCodec, label: &str) -> Result<LocalOut, webrtc::error::Error> {
        let ssrc = rand::random::<u32>();
        let track = local_rtp_track(self.stream_id.clone(), format!("{label}-{}", self.owner), kind, codec, ssrc);
        let sender = self.pc.add_track(track.clone()).await?;
        Ok(LocalOut { track, sender, ssrc })
    }

    /// Sets the client's offer: adds the local tracks it can receive (once each; none for a
    /// [`PeerKind::Ingest`] peer), sets it as
    /// the remote description, then adds the candidates queued before it. The `Ok` lists
    /// the queued candidates that were refused, in order. [`PeerSession::answer`] follows.
    pub async fn set_offer(&mut self, offer: String) -> Result<Vec<CandidateError>, OfferError> {
        let summary = sdp::summarize(&offer)?;
        tracing::debug!(?summary, "offer");
        tracing::trace!(%offer, "offer sdp");
        let desc = RTCSessionDescription::offer(offer).map_err(OfferError::Rejected)?;
        // A WHIP encoder receives nothing (its sections are answered recvonly).
        let receives = self.kind != PeerKind::Ingest;
        if receives
            && self.video_out.is_none()
            && let Some(codec) = summary.receive_video
        {
            let out =
                self.add_local_track(RtpCodecKind::Video, video_codec(codec), "composite-video").await.map_err(OfferError::Rejected)?;
            self.video_out = Some((out, codec));
        }
        if receives && self.audio_out.is_none() && summary.receives_audio {
            self.audio_out =
                Some(self.add_local_track(RtpCodecKind::Audio, audio_codec(), "mix-audio").await.map_err(OfferError::Rejected)?);
        }
        self.pc.set_remote_description(desc).await.map_err(OfferError::Rejected)?;
        self.remote_set = true;
        let mut refused = Vec::new();
        for c in std::mem::take(&mut self.pending_candidates) {
            if let Err(e) = self.pc.add_ice_candidate(c).await {
                refused.push(CandidateError::Refused(e));
            }
        }
        Ok(refused)
    }

    /// Creates and sets the answer to the offer just set; its SDP, for the client. For a peer
    /// that does not trickle (WHIP, WHEP) it waits for ICE gathering (at most [`GATHER_LIMIT`]) and
    /// carries every candidate gathered.
    pub async fn answer(&mut self) -> Result<String, OfferError> {
        let answer = self.pc.create_answer(None).await.map_err(OfferError::Answer)?;
        self.pc.set_local_description(answer).await.map_err(OfferError::Answer)?;
        if !self.kind.trickles() {
            let mut gathered = self.gathered.clone();
            let done = tokio::time::timeout(GATHER_LIMIT, gathered.wait_for(|g| *g)).await;
            if !matches!(done, Ok(Ok(_))) {
                tracing::warn!("ICE gathering did not finish in {GATHER_LIMIT:?}; answering with the candidates gathered so far");
            }
        }
        Ok(self.pc.local_description().await.map(|d| d.sdp).unwrap_or_default())
    }

    /// Who is at the other end.
    pub fn kind(&self) -> PeerKind {
        self.kind
    }

    /// A candidate from the client. The empty one (end of candidates) is ignored; before the
    /// first offer a candidate is parsed now (a broken one is refused at once, as it would be
    /// after the offer) and queued.
    pub async fn add_candidate(&mut self, c: Candidate) -> Result<(), CandidateError> {
        if c.candidate.trim().is_empty() {
            return Ok(()); // end-of-candidates
        }
        if !self.remote_set {
            let raw = c.candidate.trim();
            let raw = raw.strip_prefix("candidate:").unwrap_or(raw);
            rtc::ice::candidate::unmarshal_candidate(raw).map_err(CandidateError::Unparsable)?;
            if self.pending_candidates.len() < MAX_PENDING_CANDIDATES {
                self.pending_candidates.push(c.into());
            }
            return Ok(());
        }
        self.pc.add_ice_candidate(c.into()).await.map_err(CandidateError::Refused)
    }

    /// When the last RTP packet from the client arrived, on any of its tracks (`None`: none
    /// yet).
    pub fn media_seen(&self) -> Option<tokio::time::Instant> {
        self.pulse.last()
    }

    /// Whether DTLS-SRTP is up (the writers send only then).
    pub fn set_connected(&self, connected: bool) {
        self.connected.send_replace(connected);
    }

    /// A writer for the composite video, with the codec the client gets, if it receives video.
    pub async fn video_sink(&self) -> Option<(VideoCodec, Arc<RtpWriter>)> {
        let (out, codec) = self.video_out.as_ref()?;
        let pt = negotiated_pt(&out.sender, video_codec(*codec).mime_type.as_str(), default_video_pt(*codec)).await;
        let connected = self.connected.subscribe();
        let sink = Arc::new(RtpWriter::new(out.track.clone(), out.ssrc, pt, connected, Kind::Video, Some(self.joined)));
        Some((*codec, sink))
    }

    /// A writer for the mixed audio, if the client receives audio.
    pub async fn audio_sink(&self) -> Option<Arc<RtpWriter>> {
        let out = self.audio_out.as_ref()?;
        let pt = negotiated_pt(&out.sender, audio_codec().mime_type.as_str(), PT_OPUS).await;
        Some(Arc::new(RtpWriter::new(out.track.clone(), out.ssrc, pt, self.connected.subscribe(), Kind::Audio, None)))
    }

    /// Watches the composite's receiver on this connection until the session closes: its
    /// PLI/FIR become (rate-limited) keyframe requests to the rung it wants, and its reports
    /// drive its rung controller, whose moves come out as [`PeerEvent::VideoQuality`].
    /// `nominal_kbps` are the rungs' bitrates. Nothing without a video track.
    pub fn watch_receiver(&mut self, receiver: Arc<Receiver>, nominal_kbps: [u32; 3]) {
        if let Some((out, _)) = &self.video_out {
            self.tasks.spawn(keyframe_requests_from_receiver(out.track.clone(), receiver.clone()).in_current_span());
            let control =
                super::control::control_rung(self.report.clone(), receiver, nominal_kbps, self.cap.subscribe(), self.events.clone());
            self.tasks.spawn(control.in_current_span());
        }
    }

    /// The client's cap on its rung (`None`: no video); takes effect at the controller's next
    /// tick.
    pub fn set_video_cap(&self, cap: Option<Rung>) {
        self.cap.send_replace(cap);
    }

    /// Holds what the client sends to its camera's cap, `camera_kbps`, plus room for its
    /// microphone and, when `sharing`, its screen: sent to it as REMB (see `remb.rs`).
    pub fn cap_sender(&self, camera_kbps: u32, sharing: bool) {
        self.send_cap.set(camera_kbps, sharing);
    }

    /// Reads `channel` into `tx` ([`data::read`]) until it closes or the session does.
    pub fn read_data_channel(&mut self, channel: Channel, tx: mpsc::Sender<ChannelEvent>) {
        self.tasks.spawn(data::read(channel, tx).in_current_span());
    }

    /// Stops the session's tasks, closes the peer connection and waits for the tasks to end.
    pub async fn close(mut self) {
        self.tasks.abort_all();
        if let Err(e) = self.pc.close().await {
            tracing::debug!(error = %e, "closing the peer connection");
        }
        while self.tasks.join_next().await.is_some() {}
    }
}

fn default_video_pt(codec: VideoCodec) -> u8 {
    match codec {
        VideoCodec::H264 => PT_H264,
        VideoCodec::Vp8 => PT_VP8,
    }
}

/// The payload type the answer gave `mime` (browsers renumber codecs).
async fn negotiated_pt(sender: &Arc<dyn RtpSender>, mime: &str, fallback: u8) -> u8 {
    let Ok(params) = sender.get_parameters().await else { return fallback };
    params
        .rtp_parameters
        .codecs
        .iter()
        .filter(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
        .max_by_key(|c| c.rtp_codec.sdp_fmtp_line.contains("packetization-mode=1"))
        .map(|c| c.payload_type)
        .unwrap_or(fallback)
}

/// A receiver's PLI/FIR → a (rate-limited) keyframe from the rung it wants. Each receiver has a
/// budget ([`OWN_KEYFRAME_BURST`] at once, then one per [`OWN_KEYFRAME_GAP`]): a request over
/// it is served when the budget allows (requests meanwhile join it), so a PLI flood adds at
/// most one keyframe per 2 s for everyone on its rung, while a joining receiver's first few are
/// served at once.
async fn keyframe_requests_from_receiver(track: Arc<TrackLocalStaticRTP>, receiver: Arc<Receiver>) {
    let subscribed = tokio::time::Instant::now();
    let requests = crate::metrics::keyframe_requests_received();
    let mut budget = crate::time::Bucket::new(OWN_KEYFRAME_BURST, 1.0 / OWN_KEYFRAME_GAP.as_secs_f64(), std::time::Instant::now());
    // Serves a request if the budget allows; else says when it will (the request waits).
    let mut attempt = || {
        let now = tokio::time::Instant::now();
        match budget.take(now.into_std()) {
            Ok(()) => {
                let gap = if now.duration_since(subscribed) < JOINING { JOINING_KEYFRAME_GAP } else { RECEIVER_KEYFRAME_GAP };
                receiver.request_keyframe(gap);
                None
            }
            Err(ms) => Some(now + Duration::from_millis(ms.max(1))),
        }
    };
    // When a request over the budget is to be served.
    let mut deferred: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deferred.unwrap_or_else(tokio::time::Instant::now)), if deferred.is_some() => {
                deferred = attempt();
            }
            ev = track.poll() => match ev {
                Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                    let asked = packets.iter().filter(|p| super::is_keyframe_request(p.as_ref())).count();
                    requests.increment(asked as u64);
                    if asked > 0 && deferred.is_none() {
                        deferred = attempt();
                    }
                }
                Some(_) => {}
                // Not bound yet (or re-binding): nothing to read; look again shortly.
                None => tokio::time::sleep(Duration::from_millis(200)).await,
            },
        }
    }
}
