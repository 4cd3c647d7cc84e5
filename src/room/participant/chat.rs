//! A participant's chat: messages from its data channel or its signaling socket go to the room;
//! the room's chat goes back on the data channel while it is open, else on the socket. Also
//! the dispatch of every other client message.

use super::Participant;
use crate::protocol::{ClientMessage, ServerMessage, parse_client_message};
use crate::room::chat::ChatError;
use crate::rtc::data::{self, ChannelEvent};
use std::sync::Arc;
use tracing::Instrument;
use webrtc::data_channel::{DataChannel, RTCDataChannelState};

/// Where a message came from, so an answer goes back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    Socket,
    /// The `chat` data channel when open, else the socket.
    Channel,
}

/// The label of the data channel chat uses.
const CHAT_LABEL: &str = "chat";

impl Participant {
    /// A message from the client (`leave` is the caller's).
    pub(super) async fn on_client(&mut self, msg: ClientMessage, via: Via) {
        match msg {
            ClientMessage::Offer { sdp, screen_track_id } => {
                let screen_track_id = screen_track_id.filter(|t| !t.is_empty());
                let stopped_sharing = self.screen_track_id.is_some() && screen_track_id.is_none();
                self.screen_track_id = screen_track_id;
                if let Err(e) = self.on_offer(sdp).await {
                    tracing::info!(error = %e, "offer refused");
                    self.send(ServerMessage::error("bad_sdp", e.to_string())).await;
                }
                if stopped_sharing {
                    self.stop_screen().await;
                }
            }
            ClientMessage::Candidate { candidate, sdp_mid, sdp_m_line_index, username_fragment } => {
                let init = ::rtc::peer_connection::transport::RTCIceCandidateInit {
                    candidate,
                    sdp_mid,
                    sdp_mline_index: sdp_m_line_index,
                    username_fragment,
                    ..Default::default()
                };
                self.on_candidate(init).await;
            }
            ClientMessage::Chat { text } => {
                if let Err(e) = self.room.chat(&self.id, text).await {
                    let retry_after_ms = match e {
                        ChatError::RateLimited { retry_after_ms } => Some(retry_after_ms),
                        _ => None,
                    };
                    let msg = ServerMessage::Error { code: e.code().into(), message: e.to_string(), starts_at: None, retry_after_ms };
                    self.send_chat(msg, via).await;
                }
            }
            ClientMessage::Leave {} => {}
        }
    }

    /// Sends on the chat channel (`Via::Channel` and open) or the signaling socket.
    pub(super) async fn send_chat(&mut self, msg: ServerMessage, via: Via) {
        if via == Via::Channel
            && let Some(ch) = &self.chat_channel
        {
            match serde_json::to_string(&msg) {
                Ok(text) if ch.send_text(&text).await.is_ok() => return,
                Ok(_) => {
                    tracing::debug!("chat channel send failed; using the signaling socket");
                    self.chat_channel = None;
                }
                Err(_) => return,
            }
        }
        self.send(msg).await;
    }

    /// The client opened a data channel: read it (only `chat` carries anything we use).
    pub(super) async fn on_data_channel(&mut self, channel: Arc<dyn DataChannel>) {
        let label = channel.label().await.unwrap_or_default();
        if label != CHAT_LABEL {
            tracing::debug!(%label, "data channel ignored");
        }
        if label == CHAT_LABEL && matches!(channel.ready_state().await, Ok(RTCDataChannelState::Open)) {
            self.chat_channel = Some(channel.clone());
        }
        self.tasks.spawn(data::read(channel, self.channel_tx.clone()).in_current_span());
    }

    pub(super) async fn on_channel(&mut self, ev: ChannelEvent) {
        match ev {
            ChannelEvent::Open(ch) => {
                if ch.label().await.is_ok_and(|l| l == CHAT_LABEL) {
                    tracing::debug!("chat channel open");
                    self.chat_channel = Some(ch);
                }
            }
            ChannelEvent::Text(text) => match parse_client_message(&text) {
                Ok(msg @ ClientMessage::Chat { .. }) => self.on_client(msg, Via::Channel).await,
                Ok(_) => {
                    let e = ServerMessage::error(
                        "bad_message",
                        "only chat messages are taken on the data channel; send the rest on the signaling socket",
                    );
                    self.send_chat(e, Via::Channel).await;
                }
                Err(e) => self.send_chat(ServerMessage::error("bad_message", e), Via::Channel).await,
            },
            ChannelEvent::Unreadable(why) => self.send_chat(ServerMessage::error("bad_message", why), Via::Channel).await,
            ChannelEvent::Closed => {
                tracing::debug!("a data channel closed");
                if let Some(ch) = &self.chat_channel
                    && !matches!(ch.ready_state().await, Ok(RTCDataChannelState::Open))
                {
                    self.chat_channel = None;
                }
            }
        }
    }
}
