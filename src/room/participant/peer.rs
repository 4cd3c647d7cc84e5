//! A participant's side of its peer connection: what the connection reports (our candidates,
//! its state, the client's tracks and data channels), and the client's offers and candidates.
//! The connection itself is [`rtc::PeerSession`]'s; here its results become messages to the
//! client, link state (`link.rs`) and room actions.
//!
//! The first answer starts sending the room's composite and mix (`tracks.rs`), once.

use super::{Exit, Participant};
use crate::protocol::{LeaveReason, ServerMessage};
use crate::rtc;
use std::time::Duration;

/// Why a session whose first handshake failed ends (the `connection_failed` message).
const FIRST_HANDSHAKE_FAILED: &str =
    "the media connection could not be established (the ICE or DTLS handshake failed); join again with a new peer connection";

impl Participant {
    /// Something the peer connection reported; `Some` when the session ends.
    pub(super) async fn on_peer_event(&mut self, ev: rtc::PeerEvent) -> Option<Exit> {
        match ev {
            // A WHIP encoder or WHEP player got every candidate in its answer.
            rtc::PeerEvent::LocalCandidate(_) if !self.peer.kind().trickles() => {}
            rtc::PeerEvent::LocalCandidate(c) => {
                self.send(ServerMessage::Candidate { candidate: c.candidate, sdp_mid: c.sdp_mid, sdp_m_line_index: c.sdp_m_line_index })
                    .await;
            }
            rtc::PeerEvent::State(state) => return self.on_media_state(state).await,
            rtc::PeerEvent::Track(track) => self.on_track(track).await,
            rtc::PeerEvent::DataChannel(channel) => self.on_data_channel(channel).await,
            rtc::PeerEvent::VideoQuality(d) => self.on_video_quality(d).await,
        }
        None
    }

    async fn on_media_state(&mut self, state: rtc::MediaState) -> Option<Exit> {
        tracing::debug!(%state, "peer connection state");
        match state {
            rtc::MediaState::Connected => self.on_connected().await,
            rtc::MediaState::Failed if !self.link.ever_connected => {
                // The first handshake failed (ICE, or DTLS giving up on a lossy path): this peer
                // connection cannot recover; the client joins again with a new one at once
                // rather than waiting out a timeout.
                tracing::info!("the media connection failed before it ever connected");
                self.send(ServerMessage::error("connection_failed", FIRST_HANDSHAKE_FAILED)).await;
                return Some(Exit::Leave(LeaveReason::Disconnected));
            }
            rtc::MediaState::Disconnected | rtc::MediaState::Failed if self.link.ever_connected && self.link.media_down.is_none() => {
                tracing::info!(%state, "media connection down; waiting for an ICE restart");
                self.link.media_down = Some(tokio::time::Instant::now());
                self.report_link().await;
            }
            rtc::MediaState::Closed => return Some(Exit::Leave(LeaveReason::Disconnected)),
            _ => {}
        }
        None
    }

    async fn on_connected(&mut self) {
        self.peer.set_connected(true);
        self.link.ever_connected = true;
        self.link.media_down = None;
        self.report_link().await;
        // The keyframe forced at subscription (or before the drop) went out while nobody could
        // receive it.
        if let Some(v) = &self.video {
            v.receiver.request_keyframe(Duration::from_millis(100));
        }
    }

    /// The client's offer: answered, or refused with a `bad_sdp` error (the session goes on).
    pub(super) async fn on_offer(&mut self, offer: String) -> Result<(), rtc::OfferError> {
        for refused in self.peer.set_offer(offer).await? {
            self.send(ServerMessage::error("bad_candidate", refused.to_string())).await;
        }
        let sdp = self.peer.answer().await?;
        self.send(ServerMessage::Answer { sdp }).await;
        self.link.answered_at.get_or_insert_with(tokio::time::Instant::now);
        if !self.sending {
            self.sending = true;
            self.start_sending().await;
        }
        Ok(())
    }

    /// A candidate from the client; one that cannot be used is answered with `bad_candidate`.
    pub(super) async fn on_candidate(&mut self, c: rtc::Candidate) {
        if let Err(e) = self.peer.add_candidate(c).await {
            self.send(ServerMessage::error("bad_candidate", e.to_string())).await;
        }
    }
}
