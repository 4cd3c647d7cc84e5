//! One participant: a task with a `select!` loop over signaling input, room events, peer
//! events and cancellation. It owns the peer connection and the child tasks that move media
//! (remote tracks → room, composite → local tracks); all of them end with it.
//!
//! Protocol errors (bad SDP, bad candidate) are answered with an `error` message and never end
//! the session; only `leave`, a closed socket, a failed peer connection, the room ending or
//! cancellation do.

mod chat;
mod link;

use super::{CountGuard, RoomEvent, RoomHandle, Stats};
use crate::media::KeyframeGate;
use crate::media::VideoCodec;
use crate::metrics::{Kind, Rtp};
use crate::protocol::{ClientMessage, LeaveReason, ServerMessage};
use crate::rtc::data::ChannelEvent;
use crate::rtc::{self, PeerEvent, PeerEventForwarder, RtcFactory, sdp};
use ::rtc::peer_connection::sdp::RTCSessionDescription;
use ::rtc::peer_connection::transport::RTCIceCandidateInit;
use ::rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use ::rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use ::rtc::shared::marshal::Marshal;
use chat::Via;
use link::Link;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};
use webrtc::rtp_transceiver::RtpSender;

/// Shortest gap between two keyframe requests a receiver's PLI/FIR can cause.
const RECEIVER_KEYFRAME_GAP: Duration = Duration::from_millis(500);
/// The same while the receiver is still joining: its first PLI means "no picture yet", and
/// waiting out the long gap after the keyframe sent at its connection cost up to 400 ms of
/// join time (measured in Chromium).
const JOINING_KEYFRAME_GAP: Duration = Duration::from_millis(100);
const JOINING: Duration = Duration::from_secs(3);
/// Why a session whose first handshake failed ends (the `connection_failed` message).
const FIRST_HANDSHAKE_FAILED: &str =
    "the media connection could not be established (the ICE or DTLS handshake failed); join again with a new peer connection";
/// Shortest gap between two PLIs we send a sender.
const SENDER_PLI_GAP: Duration = Duration::from_millis(500);

/// Input from the signaling connection.
pub enum Signal {
    Client(ClientMessage),
    /// The connection broke (not a clean close): the session waits for a resume.
    Lost,
    /// A frame that is not a valid message (answered with `bad_message`).
    Bad(String),
}

/// A new signaling connection taking over this session (`?resume=`); its `welcome` is queued
/// in `out` already.
pub struct Resumption {
    pub out: mpsc::Sender<ServerMessage>,
    pub signals: mpsc::Receiver<Signal>,
    /// Cancelled when the session ends (the new connection closes then).
    pub done: CancellationToken,
}

/// Everything a participant task is started with.
pub struct Session {
    pub id: String,
    pub name: String,
    pub room: RoomHandle,
    pub events: mpsc::UnboundedReceiver<RoomEvent>,
    pub signals: mpsc::Receiver<Signal>,
    pub out: mpsc::Sender<ServerMessage>,
    pub rtc: RtcFactory,
    pub cancel: CancellationToken,
    /// Cancelled when this task ends, whatever the reason (the signaling connection closes then).
    pub done: CancellationToken,
    pub stats: Arc<Stats>,
    /// Signaling connections resuming this session.
    pub resumes: mpsc::Receiver<Resumption>,
    /// How long the session waits for its client after the network dropped.
    pub resume_window: Duration,
    /// How long a new peer connection may take to connect before the session gives up.
    pub connect_timeout: Duration,
}

/// Errors handling an offer; each becomes an `error` message to the client.
#[derive(Debug, thiserror::Error)]
enum OfferError {
    #[error("unusable offer: {0}")]
    Sdp(#[from] sdp::SdpError),
    #[error("the offer was refused: {0}")]
    Rejected(#[source] webrtc::error::Error),
    #[error("could not answer: {0}")]
    Answer(#[source] webrtc::error::Error),
}

struct LocalOut {
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
}

struct Participant {
    id: String,
    room: RoomHandle,
    out: mpsc::Sender<ServerMessage>,
    pc: Arc<dyn PeerConnection>,
    tasks: JoinSet<()>,
    remote_set: bool,
    pending_candidates: Vec<RTCIceCandidateInit>,
    video_out: Option<(LocalOut, VideoCodec)>,
    audio_out: Option<LocalOut>,
    sending: bool,
    video_keyframes: Option<Arc<KeyframeGate>>,
    /// Whether DTLS-SRTP is up: the send tasks wait for it instead of writing into the void.
    connected: tokio::sync::watch::Sender<bool>,
    /// The track (or stream) id the client says carries its shared screen.
    screen_track_id: Option<String>,
    /// The task feeding the shared screen into the room.
    screen_task: Option<tokio::task::AbortHandle>,
    /// The client's open `chat` data channel (chat goes there; else over signaling).
    chat_channel: Option<Arc<dyn DataChannel>>,
    /// Where data channel readers report.
    channel_tx: mpsc::Sender<ChannelEvent>,
    /// What is down and since when (`link.rs`).
    link: Link,
    /// When the session started (join-to-first-frame is timed from it).
    joined: std::time::Instant,
}

enum Exit {
    /// The participant went: tell the room.
    Leave(LeaveReason),
    /// The room removed us or ended: it knows already.
    Removed,
}

/// Runs a participant until it leaves; tells the room on the way out.
pub async fn run(s: Session) {
    let span = tracing::info_span!(parent: None, "participant", room = %s.room.id, id = %s.id, name = %s.name);
    run_inner(s).instrument(span).await
}

/// `Some(at)`: sleeps until then; `None`: never wakes.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Cancels the current signaling connection's token when the session ends, however it ends.
struct DoneGuard(CancellationToken);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

async fn run_inner(mut s: Session) {
    let _task = CountGuard::new(&s.stats, |s| &s.participant_tasks);
    let mut done = DoneGuard(s.done.clone());
    let (forwarder, mut peer_events) = PeerEventForwarder::new();
    let pc = match s.rtc.peer(forwarder).await {
        Ok(pc) => pc,
        Err(e) => {
            tracing::error!(error = %e, "could not create a peer connection");
            let _ = s.out.send(ServerMessage::error("internal", "the server could not create a peer connection")).await;
            s.room.leave(&s.id, LeaveReason::Disconnected).await;
            return;
        }
    };
    let _pc_count = CountGuard::new(&s.stats, |s| &s.peer_connections);
    let (channel_tx, mut channel_events) = mpsc::channel(64);
    let mut p = Participant {
        id: s.id.clone(),
        room: s.room.clone(),
        out: s.out.clone(),
        pc,
        tasks: JoinSet::new(),
        remote_set: false,
        pending_candidates: Vec::new(),
        video_out: None,
        audio_out: None,
        sending: false,
        video_keyframes: None,
        connected: tokio::sync::watch::channel(false).0,
        screen_track_id: None,
        screen_task: None,
        chat_channel: None,
        channel_tx,
        link: Link::default(),
        joined: std::time::Instant::now(),
    };
    let exit = loop {
        let give_up = p.link.give_up_at(s.resume_window, s.connect_timeout);
        tokio::select! {
            _ = s.cancel.cancelled() => break Exit::Removed,
            msg = s.signals.recv(), if p.link.socket_lost.is_none() => match msg {
                None | Some(Signal::Client(ClientMessage::Leave {})) => break Exit::Leave(LeaveReason::Left),
                Some(Signal::Lost) => {
                    tracing::info!("signaling connection lost; keeping the session for a resume");
                    // Let go of the broken socket (its writer closes it once no one can send).
                    p.out = mpsc::channel(1).0;
                    p.link.socket_lost = Some(tokio::time::Instant::now());
                    p.report_link().await;
                }
                Some(Signal::Bad(e)) => p.send(ServerMessage::error("bad_message", e)).await,
                Some(Signal::Client(msg)) => p.on_client(msg, Via::Socket).await,
            },
            Some(r) = s.resumes.recv() => {
                s.signals = r.signals;
                p.out = r.out;
                // The old connection is gone or going; the new one closes when the session ends.
                done.0.cancel();
                done = DoneGuard(r.done);
                p.link.socket_lost = None;
                p.report_link().await;
            }
            _ = sleep_until(give_up) => {
                let why = p.link.why_give_up();
                tracing::info!(why, "giving up on the session");
                p.send(ServerMessage::error("connection_failed", why)).await;
                break Exit::Leave(LeaveReason::Disconnected);
            }
            ev = s.events.recv() => match ev {
                None => break Exit::Removed,
                Some(RoomEvent::Removed(reason)) => {
                    let message = match reason {
                        LeaveReason::Replaced => "you joined this room again from somewhere else",
                        _ => "you were removed from the room",
                    };
                    p.send(ServerMessage::Removed { reason, message: message.into() }).await;
                    break Exit::Removed;
                }
                Some(RoomEvent::Ended(reason)) => {
                    let (reason, message) = match reason {
                        Some(r) => (r.as_str(), r.message()),
                        None => ("serverShutdown", "the server is shutting down"),
                    };
                    p.send(ServerMessage::RoomEnded { reason: reason.into(), message: message.into() }).await;
                    break Exit::Removed;
                }
                Some(RoomEvent::Chat(message)) => p.send_chat(ServerMessage::Chat { message }, Via::Channel).await,
                Some(other) => {
                    if let Some(msg) = room_message(other) {
                        p.send(msg).await;
                    }
                }
            },
            Some(ev) = channel_events.recv() => p.on_channel(ev).await,
            Some(ev) = peer_events.recv() => match ev {
                PeerEvent::LocalCandidate(c) => {
                    p.send(ServerMessage::Candidate { candidate: c.candidate, sdp_mid: c.sdp_mid, sdp_m_line_index: c.sdp_mline_index }).await;
                }
                PeerEvent::State(state) => {
                    tracing::debug!(%state, "peer connection state");
                    match state {
                        RTCPeerConnectionState::Connected => {
                            p.connected.send_replace(true);
                            p.link.ever_connected = true;
                            p.link.media_down = None;
                            p.report_link().await;
                            // The keyframe forced at subscription (or before the drop) went out
                            // while nobody could receive it.
                            if let Some(k) = &p.video_keyframes {
                                k.request(Duration::from_millis(100));
                            }
                        }
                        RTCPeerConnectionState::Failed if !p.link.ever_connected => {
                            // The first handshake failed (ICE, or DTLS giving up on a lossy
                            // path): this peer connection cannot recover; the client joins
                            // again with a new one at once rather than waiting out a timeout.
                            tracing::info!("the media connection failed before it ever connected");
                            p.send(ServerMessage::error("connection_failed", FIRST_HANDSHAKE_FAILED)).await;
                            break Exit::Leave(LeaveReason::Disconnected);
                        }
                        RTCPeerConnectionState::Disconnected | RTCPeerConnectionState::Failed
                            if p.link.ever_connected && p.link.media_down.is_none() =>
                        {
                            tracing::info!(%state, "media connection down; waiting for an ICE restart");
                            p.link.media_down = Some(tokio::time::Instant::now());
                            p.report_link().await;
                        }
                        RTCPeerConnectionState::Closed => break Exit::Leave(LeaveReason::Disconnected),
                        _ => {}
                    }
                }
                PeerEvent::Track(track) => p.on_track(track).await,
                PeerEvent::DataChannel(channel) => p.on_data_channel(channel).await,
            },
        }
    };
    if let Exit::Leave(reason) = exit {
        s.room.leave(&s.id, reason).await;
    }
    p.tasks.abort_all();
    if let Err(e) = p.pc.close().await {
        tracing::debug!(error = %e, "closing the peer connection");
    }
    while p.tasks.join_next().await.is_some() {}
    tracing::info!("session ended");
}

/// A room event as the client gets it (`None`: the event is not sent as is).
fn room_message(ev: RoomEvent) -> Option<ServerMessage> {
    Some(match ev {
        RoomEvent::Joined(info) => ServerMessage::ParticipantJoined { participant: info },
        RoomEvent::Left { id, reason } => ServerMessage::ParticipantLeft { participant_id: id, reason },
        RoomEvent::Updated(info) => ServerMessage::ParticipantUpdated { participant: info },
        RoomEvent::MediaError { message } => ServerMessage::error("media_error", message),
        RoomEvent::ScreenShareFailed { message } => ServerMessage::error("screen_share_failed", message),
        RoomEvent::LayoutChanged(layout) => ServerMessage::LayoutChanged { layout },
        RoomEvent::ActiveSpeakers { dominant, speakers } => ServerMessage::ActiveSpeakers { dominant_participant_id: dominant, speakers },
        RoomEvent::RecordingStarted(recording) => ServerMessage::RecordingStarted { recording },
        RoomEvent::RecordingStopped { id, state, reason } => {
            ServerMessage::RecordingStopped { recording_id: id, state: state.into(), reason }
        }
        RoomEvent::ChatChanged(enabled) => ServerMessage::ChatChanged { enabled },
        // Chat may go on the data channel, and removal or the end finishes the session: the
        // participant's loop sends these itself.
        RoomEvent::Chat(_) | RoomEvent::Removed(_) | RoomEvent::Ended(_) => return None,
    })
}

impl Participant {
    async fn send(&self, msg: ServerMessage) {
        let _ = self.out.send(msg).await;
    }

    /// A remote track: the shared screen if the client named it so, else camera or microphone.
    async fn on_track(&mut self, track: Arc<dyn TrackRemote>) {
        let (room, id) = (self.room.clone(), self.id.clone());
        let is_screen = match &self.screen_track_id {
            Some(want) => {
                track.kind().await == RtpCodecKind::Video && (&track.track_id().await == want || &track.stream_id().await == want)
            }
            None => false,
        };
        if is_screen {
            if let Some(old) = self.screen_task.take() {
                // A new screen track replaces the old: its tile goes now (commands are handled
                // in order, so this lands before the new one attaches).
                old.abort();
                self.room.detach_screen(&self.id).await;
            }
            let out = self.out.clone();
            self.screen_task = Some(self.tasks.spawn(ingest_video(room, id, track, Some(out)).in_current_span()));
        } else {
            self.tasks.spawn(ingest_track(room, id, track).in_current_span());
        }
    }

    /// The client stopped sharing its screen (an offer without `screenTrackId`).
    async fn stop_screen(&mut self) {
        if let Some(t) = self.screen_task.take() {
            t.abort();
        }
        self.room.detach_screen(&self.id).await;
    }

    async fn on_candidate(&mut self, c: RTCIceCandidateInit) {
        if c.candidate.trim().is_empty() {
            return; // end-of-candidates
        }
        if !self.remote_set {
            // Queued until the offer, but checked now: a broken one is refused at once, as it
            // would be after the offer.
            let raw = c.candidate.trim();
            let raw = raw.strip_prefix("candidate:").unwrap_or(raw);
            if let Err(e) = ::rtc::ice::candidate::unmarshal_candidate(raw) {
                self.send(ServerMessage::error("bad_candidate", format!("the ICE candidate could not be parsed: {e}"))).await;
                return;
            }
            if self.pending_candidates.len() < 64 {
                self.pending_candidates.push(c);
            }
            return;
        }
        if let Err(e) = self.pc.add_ice_candidate(c).await {
            self.send(ServerMessage::error("bad_candidate", format!("the ICE candidate was refused: {e}"))).await;
        }
    }

    async fn add_local_track(
        &self,
        kind: RtpCodecKind,
        codec: ::rtc::rtp_transceiver::rtp_sender::RTCRtpCodec,
        label: &str,
    ) -> Result<LocalOut, webrtc::error::Error> {
        let ssrc = rand::random::<u32>();
        let track = rtc::local_rtp_track(format!("tessera-{}", self.room.id), format!("{label}-{}", self.id), kind, codec, ssrc);
        let sender = self.pc.add_track(track.clone()).await?;
        Ok(LocalOut { track, sender, ssrc })
    }

    async fn on_offer(&mut self, offer: String) -> Result<(), OfferError> {
        let summary = sdp::summarize(&offer)?;
        tracing::debug!(?summary, "offer");
        tracing::trace!(%offer, "offer sdp");
        let desc = RTCSessionDescription::offer(offer).map_err(OfferError::Rejected)?;
        if self.video_out.is_none()
            && let Some(codec) = summary.receive_video
        {
            let out = self
                .add_local_track(RtpCodecKind::Video, rtc::video_codec(codec), "composite-video")
                .await
                .map_err(OfferError::Rejected)?;
            self.video_out = Some((out, codec));
        }
        if self.audio_out.is_none() && summary.receives_audio {
            self.audio_out =
                Some(self.add_local_track(RtpCodecKind::Audio, rtc::audio_codec(), "mix-audio").await.map_err(OfferError::Rejected)?);
        }
        self.pc.set_remote_description(desc).await.map_err(OfferError::Rejected)?;
        self.remote_set = true;
        for c in std::mem::take(&mut self.pending_candidates) {
            if let Err(e) = self.pc.add_ice_candidate(c).await {
                self.send(ServerMessage::error("bad_candidate", format!("the ICE candidate was refused: {e}"))).await;
            }
        }
        let answer = self.pc.create_answer(None).await.map_err(OfferError::Answer)?;
        self.pc.set_local_description(answer).await.map_err(OfferError::Answer)?;
        let sdp = self.pc.local_description().await.map(|d| d.sdp).unwrap_or_default();
        self.send(ServerMessage::Answer { sdp }).await;
        self.link.answered_at.get_or_insert_with(tokio::time::Instant::now);
        if !self.sending {
            self.sending = true;
            self.start_sending().await;
        }
        Ok(())
    }

    /// Subscribes to the room's composite and mix: the media threads write them straight to
    /// this peer's tracks (through [`rtc::RtpWriter`]) once the connection is up.
    async fn start_sending(&mut self) {
        if let Some((out, codec)) = &self.video_out {
            let pt = negotiated_pt(&out.sender, rtc::video_codec(*codec).mime_type.as_str(), default_video_pt(*codec)).await;
            let connected = self.connected.subscribe();
            let sink = Arc::new(rtc::RtpWriter::new(out.track.clone(), out.ssrc, pt, connected, Kind::Video, Some(self.joined)));
            match self.room.subscribe_video(&self.id, *codec, sink).await {
                Ok(sub) => {
                    self.video_keyframes = Some(sub.keyframes.clone());
                    self.tasks.spawn(keyframe_requests_from_receiver(out.track.clone(), sub.keyframes.clone()).in_current_span());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no composite video");
                    self.send(ServerMessage::error("media_error", format!("the composite video is unavailable: {e}"))).await;
                }
            }
        }
        if let Some(out) = &self.audio_out {
            let pt = negotiated_pt(&out.sender, rtc::audio_codec().mime_type.as_str(), rtc::PT_OPUS).await;
            let sink = Arc::new(rtc::RtpWriter::new(out.track.clone(), out.ssrc, pt, self.connected.subscribe(), Kind::Audio, None));
            if let Err(e) = self.room.subscribe_audio(&self.id, sink).await {
                tracing::warn!(error = %e, "no mixed audio");
                self.send(ServerMessage::error("media_error", format!("the mixed audio is unavailable: {e}"))).await;
            }
        }
    }
}

fn default_video_pt(codec: VideoCodec) -> u8 {
    match codec {
        VideoCodec::H264 => rtc::PT_H264,
        VideoCodec::Vp8 => rtc::PT_VP8,
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

/// A receiver's PLI/FIR → a (rate-limited) keyframe from the shared encoder.
async fn keyframe_requests_from_receiver(track: Arc<TrackLocalStaticRTP>, keyframes: Arc<KeyframeGate>) {
    let subscribed = tokio::time::Instant::now();
    let (requests, nacks) = (crate::metrics::keyframe_requests_received(), crate::metrics::nacks_received());
    loop {
        match track.poll().await {
            Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                let asked = packets.iter().filter(|p| rtc::is_keyframe_request(p.as_ref())).count();
                requests.increment(asked as u64);
                nacks.increment(packets.iter().filter(|p| rtc::is_nack(p.as_ref())).count() as u64);
                if asked > 0 {
                    let joining = subscribed.elapsed() < JOINING;
                    keyframes.request(if joining { JOINING_KEYFRAME_GAP } else { RECEIVER_KEYFRAME_GAP });
                }
            }
            Some(_) => {}
            // Not bound yet (or re-binding): nothing to read; look again shortly.
            None => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn codec_of(mime: &str) -> Option<VideoCodec> {
    if mime.eq_ignore_ascii_case("video/VP8") {
        Some(VideoCodec::Vp8)
    } else if mime.eq_ignore_ascii_case("video/H264") {
        Some(VideoCodec::H264)
    } else {
        None
    }
}

/// Feeds one remote track into the room until it ends.
async fn ingest_track(room: RoomHandle, id: String, track: Arc<dyn TrackRemote>) {
    match track.kind().await {
        RtpCodecKind::Audio => {
            let mut input = match room.attach_audio(&id).await {
                Ok(i) => i,
                Err(e) => return tracing::warn!(error = %e, "audio input refused"),
            };
            let received = Rtp::received(Kind::Audio);
            while let Some(ev) = track.poll().await {
                match ev {
                    TrackRemoteEvent::OnRtpPacket(p) => {
                        received.count(p.payload.len());
                        input.push_rtp(p.header.timestamp, &p.payload);
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        }
        RtpCodecKind::Video => ingest_video(room, id, track, None).await,
        _ => {}
    }
}

/// Feeds a video track into the room: the camera, or with `screen` (where to report a refusal)
/// the shared screen as a tile of its own.
async fn ingest_video(room: RoomHandle, id: String, track: Arc<dyn TrackRemote>, screen: Option<mpsc::Sender<ServerMessage>>) {
    // The first packet tells the payload type the sender really uses.
    let first = loop {
        match track.poll().await {
            // Padding-only packets (bandwidth probes) carry no picture.
            Some(TrackRemoteEvent::OnRtpPacket(p)) if p.payload.is_empty() => {}
            Some(TrackRemoteEvent::OnRtpPacket(p)) => break p,
            Some(TrackRemoteEvent::OnEnded) | None => return,
            Some(_) => {}
        }
    };
    let media_ssrc = first.header.ssrc;
    let mime = track.codec(media_ssrc).await.map(|c| c.mime_type).unwrap_or_default();
    let Some(codec) = codec_of(&mime) else {
        tracing::warn!(%mime, "video codec not supported; showing placeholder");
        if let Some(out) = &screen {
            let _ = out
                .send(ServerMessage::error("screen_share_failed", format!("the screen's codec {mime:?} is not supported (VP8 or H.264)")))
                .await;
        }
        return;
    };
    let attached = match &screen {
        Some(_) => room.attach_screen(&id, codec, first.header.payload_type).await,
        None => room.attach_video(&id, codec, first.header.payload_type).await,
    };
    let mut ingest = match (attached, &screen) {
        (Ok(i), _) => i,
        (Err(e), Some(out)) => {
            tracing::info!(error = %e, "screen share refused");
            let code = if matches!(e, super::RoomMediaError::ScreenBusy(_)) { "screen_share_busy" } else { "screen_share_failed" };
            let _ = out.send(ServerMessage::error(code, e.to_string())).await;
            return;
        }
        (Err(e), None) => return tracing::warn!(error = %e, "video input refused"),
    };
    tracing::info!(?codec, pt = first.header.payload_type, screen = screen.is_some(), "video input attached");
    let received = Rtp::received(Kind::Video);
    received.count(first.payload.len());
    let plis = crate::metrics::plis_sent();
    let pli = |t: &Arc<dyn TrackRemote>| {
        let t = t.clone();
        plis.increment(1);
        async move {
            let _ = t.write_rtcp(vec![Box::new(PictureLossIndication { sender_ssrc: 0, media_ssrc })]).await;
        }
    };
    pli(&track).await;
    let mut last_pli = Instant::now();
    if let Ok(b) = first.marshal() {
        ingest.push_rtp(b.freeze());
    }
    loop {
        tokio::select! {
            ev = track.poll() => match ev {
                Some(TrackRemoteEvent::OnRtpPacket(p)) if p.payload.is_empty() => {}
                Some(TrackRemoteEvent::OnRtpPacket(p)) => {
                    received.count(p.payload.len());
                    if let Ok(b) = p.marshal() {
                        ingest.push_rtp(b.freeze());
                    }
                }
                Some(TrackRemoteEvent::OnEnded) | None => break,
                Some(_) => {}
            },
            Some(()) = ingest.keyframe_requests.recv() => {
                if last_pli.elapsed() >= SENDER_PLI_GAP {
                    last_pli = Instant::now();
                    pli(&track).await;
                }
            }
        }
    }
    if screen.is_some() {
        room.detach_screen(&id).await;
    } else {
        room.detach_video(&id).await;
    }
}
