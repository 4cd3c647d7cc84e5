//! A client of our own signaling protocol (docs/signaling.md): WebSocket + webrtc-rs peer
//! connection as the offerer. Used by the load generator and the integration tests.

use crate::media::VideoCodec;
use crate::rtc::{MediaState, PeerEvent, PeerEventForwarder};
use futures::{SinkExt, StreamExt};
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodecParameters, RtpCodecKind};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder};

/// Errors joining a room as a client.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("webrtc: {0}")]
    Webrtc(#[from] webrtc::error::Error),
    #[error("the server did not send welcome: {0}")]
    NoWelcome(String),
}

type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Codecs this client sends and offers. webrtc-rs offers only the codec of a track it sends,
/// so the video codec sent is also the one received.
#[derive(Debug, Clone, Copy)]
pub struct SessionMedia {
    pub video: Option<VideoCodec>,
    pub audio: bool,
    /// With no `video` sent: whether to receive the composite (a receive-only video m-line) or
    /// nothing of video at all (an audio-only participant: no video m-line).
    pub receive_video: bool,
}

impl SessionMedia {
    /// Sends `video` (if any) and audio, receives the composite and the mix.
    pub fn call(video: Option<VideoCodec>) -> Self {
        Self { video, audio: true, receive_video: true }
    }
}

/// A joined client.
pub struct Session {
    pub id: String,
    pub welcome: serde_json::Value,
    /// Signaling messages other than `answer`/`candidate`; a `{"type":"socketClosed"}` last.
    pub events: mpsc::UnboundedReceiver<serde_json::Value>,
    /// Remote tracks as they arrive.
    pub tracks: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
    /// True while the peer connection is connected.
    pub connected: watch::Receiver<bool>,
    /// Local tracks to write RTP into: video (if any), then audio (if any), with their SSRCs.
    pub video: Option<(Arc<TrackLocalStaticRTP>, u32)>,
    pub audio: Option<(Arc<TrackLocalStaticRTP>, u32)>,
    pub pc: Arc<dyn PeerConnection>,
    ws_out: mpsc::UnboundedSender<Message>,
    /// Cancelled to drop the signaling socket without a close frame ([`Session::cut_signaling`]).
    cut: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The next frame of the signaling socket; never, once it was cut.
async fn next_frame(
    ws: &mut Option<futures::stream::SplitStream<WsStream>>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match ws {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

/// Payload types this client uses (it is the offerer, so the answer keeps them).
pub fn payload_type(codec: VideoCodec) -> u8 {
    match codec {
        VideoCodec::H264 => crate::rtc::PT_H264,
        VideoCodec::Vp8 => crate::rtc::PT_VP8,
    }
}

fn media_engine(media: SessionMedia) -> Result<MediaEngine, webrtc::error::Error> {
    let mut m = MediaEngine::default();
    m.register_codec(
        RTCRtpCodecParameters { rtp_codec: crate::rtc::audio_codec(), payload_type: crate::rtc::PT_OPUS },
        RtpCodecKind::Audio,
    )?;
    for codec in [VideoCodec::Vp8, VideoCodec::H264] {
        if media.video.is_none() || media.video == Some(codec) {
            m.register_codec(
                RTCRtpCodecParameters { rtp_codec: crate::rtc::video_codec(codec), payload_type: payload_type(codec) },
                RtpCodecKind::Video,
            )?;
        }
    }
    // As Chrome and Firefox offer it, so the server stamps its send times for us too (what
    // that costs is in benchmark A).
    m.register_header_extension(
        rtc::rtp_transceiver::rtp_sender::RTCRtpHeaderExtensionCapability { uri: crate::rtc::ABS_SEND_TIME_URI.into() },
        RtpCodecKind::Video,
        None,
    )?;
    Ok(m)
}

/// A peer connection for a client of a server at `server` (on loopback: candidates on
/// loopback only), its events coming out of the returned receiver.
pub(crate) async fn peer(
    server: SocketAddr,
    media: SessionMedia,
) -> Result<(Arc<dyn PeerConnection>, mpsc::UnboundedReceiver<PeerEvent>), webrtc::error::Error> {
    let (forwarder, peer_events) = PeerEventForwarder::new(crate::config::IngestLimitConfig::default());
    let mut engine = media_engine(media)?;
    let registry = register_default_interceptors(Registry::new(), &mut engine)?;
    let loopback = server.ip().is_loopback();
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .with_include_loopback_candidate(loopback)
        .build();
    let pc: Arc<dyn PeerConnection> = Arc::new(
        PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(engine)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .with_handler(forwarder)
            .with_udp_addrs(vec![format!("{}:0", if loopback { server.ip().to_string() } else { "0.0.0.0".into() })])
            .build()
            .await?,
    );
    Ok((pc, peer_events))
}

impl Session {
    /// Connects to `room` on `addr` as `name` (open mode), offers, and keeps negotiating in the
    /// background.
    pub async fn join(addr: SocketAddr, room: &str, name: &str, media: SessionMedia) -> Result<Session, SessionError> {
        Self::join_with(addr, room, &format!("name={name}"), media).await
    }

    /// Like [`Session::join`] with the WebSocket's query string given (`token=...`).
    pub async fn join_with(addr: SocketAddr, room: &str, query: &str, media: SessionMedia) -> Result<Session, SessionError> {
        let url = format!("ws://{addr}/api/v1/rooms/{room}/ws?{query}");
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        let (mut ws_tx, ws_rx) = ws.split();
        let mut ws_rx = Some(ws_rx);
        // The first text message; the server's keep-alive pings may come first.
        let welcome: serde_json::Value = loop {
            match next_frame(&mut ws_rx).await {
                Some(Ok(Message::Text(t))) => break serde_json::from_str(&t).map_err(|e| SessionError::NoWelcome(e.to_string()))?,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => return Err(SessionError::NoWelcome(format!("{other:?}"))),
            }
        };
        let Some(id) = welcome["participantId"].as_str().map(str::to_owned) else {
            return Err(SessionError::NoWelcome(welcome.to_string()));
        };

        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let cut = CancellationToken::new();
        let writer = {
            let cut = cut.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        // A network drop: the socket goes without a close frame.
                        _ = cut.cancelled() => return,
                        m = out_rx.recv() => {
                            let Some(m) = m else { break };
                            if ws_tx.send(m).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = ws_tx.close().await;
            })
        };

        let (pc, mut peer_events) = peer(addr, media).await?;
        let mut video = None;
        if let Some(codec) = media.video {
            let ssrc = rand::random::<u32>();
            let t =
                crate::rtc::local_rtp_track(format!("load-{id}"), "cam".into(), RtpCodecKind::Video, crate::rtc::video_codec(codec), ssrc);
            pc.add_track(t.clone() as Arc<dyn TrackLocal>).await?;
            video = Some((t, ssrc));
        } else if media.receive_video {
            let init = rtc::rtp_transceiver::RTCRtpTransceiverInit {
                direction: rtc::rtp_transceiver::RTCRtpTransceiverDirection::Recvonly,
                ..Default::default()
            };
            pc.add_transceiver_from_kind(RtpCodecKind::Video, Some(init)).await?;
        }
        let mut audio = None;
        if media.audio {
            let ssrc = rand::random::<u32>();
            let t = crate::rtc::local_rtp_track(format!("load-{id}"), "mic".into(), RtpCodecKind::Audio, crate::rtc::audio_codec(), ssrc);
            pc.add_track(t.clone() as Arc<dyn TrackLocal>).await?;
            audio = Some((t, ssrc));
        }
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        let sdp = pc.local_description().await.map(|d| d.sdp).unwrap_or_default();
        let _ = out_tx.send(Message::text(serde_json::json!({"type": "offer", "sdp": sdp}).to_string()));

        let (events_tx, events) = mpsc::unbounded_channel();
        let (tracks_tx, tracks) = mpsc::unbounded_channel();
        let (connected_tx, connected) = watch::channel(false);
        let driver = {
            let (pc, out_tx, cut) = (pc.clone(), out_tx.clone(), cut.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        // The peer connection's events go on being handled.
                        _ = cut.cancelled(), if ws_rx.is_some() => ws_rx = None,
                        frame = next_frame(&mut ws_rx) => {
                            let text = match frame {
                                Some(Ok(Message::Text(t))) => t,
                                Some(Ok(Message::Close(c))) => {
                                    let _ = events_tx.send(serde_json::json!({"type": "socketClosed", "code": c.map(|c| u16::from(c.code))}));
                                    break;
                                }
                                Some(Ok(_)) => continue,
                                None | Some(Err(_)) => {
                                    let _ = events_tx.send(serde_json::json!({"type": "socketClosed"}));
                                    break;
                                }
                            };
                            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
                            match msg["type"].as_str() {
                                Some("answer") => {
                                    let sdp = msg["sdp"].as_str().unwrap_or_default().to_owned();
                                    if let Ok(desc) = RTCSessionDescription::answer(sdp) {
                                        let _ = pc.set_remote_description(desc).await;
                                    }
                                }
                                Some("candidate") => {
                                    let init = RTCIceCandidateInit {
                                        candidate: msg["candidate"].as_str().unwrap_or_default().to_owned(),
                                        sdp_mid: msg["sdpMid"].as_str().map(str::to_owned),
                                        sdp_mline_index: msg["sdpMLineIndex"].as_u64().map(|v| v as u16),
                                        ..Default::default()
                                    };
                                    let _ = pc.add_ice_candidate(init).await;
                                }
                                _ => { let _ = events_tx.send(msg); }
                            }
                        }
                        Some(ev) = peer_events.recv() => match ev {
                            PeerEvent::LocalCandidate(c) => {
                                let m = serde_json::json!({"type": "candidate", "candidate": c.candidate, "sdpMid": c.sdp_mid, "sdpMLineIndex": c.sdp_m_line_index});
                                let _ = out_tx.send(Message::text(m.to_string()));
                            }
                            PeerEvent::State(s) => { connected_tx.send_replace(s == MediaState::Connected); }
                            PeerEvent::Track(t) => { let _ = tracks_tx.send(t.into_remote()); }
                            PeerEvent::DataChannel(_) | PeerEvent::VideoQuality(_) => {}
                        },
                    }
                }
            })
        };
        Ok(Session { id, welcome, events, tracks, connected, video, audio, pc, ws_out: out_tx, cut, tasks: vec![writer, driver] })
    }

    /// Drops the signaling socket without a close frame, as a network drop does; the peer
    /// connection and its media go on. Nothing is sent or received on signaling afterwards.
    pub fn cut_signaling(&self) {
        self.cut.cancel();
    }

    /// Sends a raw text frame on the signaling socket.
    pub fn send_text(&self, text: &str) {
        let _ = self.ws_out.send(Message::text(text.to_owned()));
    }

    /// Keeps a task alive as long as the session (aborted by [`Session::close`]).
    pub fn own(&mut self, task: tokio::task::JoinHandle<()>) {
        self.tasks.push(task);
    }

    /// Says `leave` (if `polite`), closes the peer connection and stops every task.
    pub async fn close(self, polite: bool) {
        if polite {
            self.send_text(r#"{"type":"leave"}"#);
        }
        let _ = self.pc.close().await;
        // The writer sends what is queued (the `leave`) and closes the socket once every
        // sender is gone: stop the other tasks (the driver holds a sender), then wait for it.
        let mut tasks = self.tasks.into_iter();
        let writer = tasks.next();
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
        drop(self.ws_out);
        if let Some(writer) = writer {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
        }
    }
}
