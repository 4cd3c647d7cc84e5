//! A WHEP viewer (receive-only): a webrtc-rs peer connection with a receive-only video and
//! audio transceiver, its offer POSTed to `/api/v1/rooms/{id}/whep` (after ICE gathering), the
//! answer set. It reads what arrives without decoding it, counting the composite's frames.
//! Benchmark W runs many to price a viewer and to find how many a node holds at full rate.

use super::session::{SessionMedia, peer};
use crate::media::VideoCodec;
use crate::rtc::{MediaKind, MediaState, PeerEvent};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use webrtc::peer_connection::PeerConnection;

/// Errors starting a viewer.
#[derive(Debug, thiserror::Error)]
pub enum WhepError {
    #[error("webrtc: {0}")]
    Webrtc(#[from] webrtc::error::Error),
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the server refused ({0}): {1}")]
    Refused(u16, String),
}

/// A watching viewer; [`Viewer::stop`] ends its session.
pub struct Viewer {
    pc: Arc<dyn PeerConnection>,
    /// The session URL (absolute).
    session: String,
    connected: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Composite frames received (packets with the RTP marker on the video track).
    frames: Arc<AtomicU64>,
}

impl Viewer {
    /// Starts watching `room` on `addr` (with a token, or none for a public room / open mode),
    /// taking the composite as `codec`.
    pub async fn watch(addr: SocketAddr, room: &str, token: Option<&str>, codec: VideoCodec) -> Result<Viewer, WhepError> {
        let (pc, mut events) = peer(addr, SessionMedia { video: Some(codec), audio: true, receive_video: true }).await?;
        let recv = || RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
        pc.add_transceiver_from_kind(RtpCodecKind::Video, Some(recv())).await?;
        pc.add_transceiver_from_kind(RtpCodecKind::Audio, Some(recv())).await?;
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        // Host candidates on loopback come at once; the offer carries what is there by then
        // (the events meanwhile stay queued for the task below).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sdp = pc.local_description().await.map(|d| d.sdp).unwrap_or_default();
        let mut req =
            reqwest::Client::new().post(format!("http://{addr}/api/v1/rooms/{room}/whep")).header("content-type", "application/sdp");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.body(sdp).send().await?;
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = resp.text().await?;
        let Some(location) = location.filter(|_| status == 201) else { return Err(WhepError::Refused(status, body)) };
        pc.set_remote_description(RTCSessionDescription::answer(body)?).await?;
        let (connected_tx, connected) = watch::channel(false);
        let frames = Arc::new(AtomicU64::new(0));
        let counted = frames.clone();
        let task = tokio::spawn(async move {
            let mut drains = tokio::task::JoinSet::new();
            while let Some(ev) = events.recv().await {
                match ev {
                    PeerEvent::Track(t) => {
                        let counted = counted.clone();
                        drains.spawn(async move {
                            if t.kind().await == Some(MediaKind::Video) {
                                t.count_frames(&counted).await;
                            } else {
                                t.drain().await;
                            }
                        });
                    }
                    PeerEvent::State(MediaState::Connected) => {
                        let _ = connected_tx.send(true);
                    }
                    _ => {}
                }
            }
        });
        Ok(Viewer { pc, session: format!("http://{addr}{location}"), connected, task, frames })
    }

    /// Waits (at most `limit`) until the media connection is up.
    pub async fn connected(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.connected.wait_for(|c| *c)).await.is_ok_and(|r| r.is_ok())
    }

    /// Composite frames received so far.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Ends the session (`DELETE`) and closes the connection.
    pub async fn stop(self) {
        let _ = reqwest::Client::new().delete(&self.session).send().await;
        let _ = self.pc.close().await;
        self.task.abort();
    }
}
