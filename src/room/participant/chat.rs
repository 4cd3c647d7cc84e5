//! A participant's chat: messages from its data channel or its signaling socket go to the room;
//! the room's chat goes back on the data channel while it is open, else on the socket. Also
//! the dispatch of every other client message.

use super::Participant;
use crate::protocol::{ClientMessage, ServerMessage, parse_client_message};
use crate::room::chat::ChatError;
use crate::rtc;

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
                self.cap_sender();
                if let Err(e) = self.on_offer(sdp).await {
                    tracing::info!(error = %e, "offer refused");
                    self.send(ServerMessage::error("bad_sdp", e.to_string())).await;
                }
                if stopped_sharing {
                    self.stop_screen().await;
                }
            }
            ClientMessage::Candidate { candidate, sdp_mid, sdp_m_line_index, username_fragment } => {
                self.on_candidate(rtc::Candidate { candidate, sdp_mid, sdp_m_line_index, username_fragment }).await;
            }
            ClientMessage::Chat { text } => {
                if let Err(e) = self.room.chat(&self.id, text).await {
                    let retry_after_ms = match e {
                        ChatError::RateLimited { retry_after_ms } => Some(retry_after_ms),
                        _ => None,
                    };
                    self.send_chat(ServerMessage::error_retry(e.code(), e.to_string(), retry_after_ms), via).await;
                }
            }
            ClientMessage::VideoPreference { max_height, mode, canvas } => self.on_video_preference(max_height, mode, canvas).await,
            ClientMessage::SetState { mic_off, camera_off, hand_raised } => {
                if let Err(retry_after_ms) = self.states.take(std::time::Instant::now()) {
                    let message = format!("you are changing your states too fast; wait {retry_after_ms} ms");
                    self.send(ServerMessage::error_retry("state_rate_limited", message, Some(retry_after_ms))).await;
                    return;
                }
                let patch = crate::room::StatePatch { mic_off, camera_off, hand_raised };
                if let Err(e) = self.room.set_state(&self.id, patch).await {
                    tracing::debug!(error = %e, "state not set");
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
    pub(super) async fn on_data_channel(&mut self, channel: rtc::data::Channel) {
        if self.peer.kind() != rtc::PeerKind::Participant {
            // WHIP and WHEP sessions have no chat.
            return;
        }
        let label = channel.label().await;
        if label != CHAT_LABEL {
            tracing::debug!(%label, "data channel ignored");
        }
        if label == CHAT_LABEL && channel.is_open().await {
            self.chat_channel = Some(channel.clone());
        }
        self.peer.read_data_channel(channel, self.channel_tx.clone());
    }

    pub(super) async fn on_channel(&mut self, ev: rtc::data::ChannelEvent) {
        match ev {
            rtc::data::ChannelEvent::Open(ch) => {
                if ch.label().await == CHAT_LABEL {
                    tracing::debug!("chat channel open");
                    self.chat_channel = Some(ch);
                }
            }
            rtc::data::ChannelEvent::Text(text) => match parse_client_message(&text) {
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
            rtc::data::ChannelEvent::Unreadable(why) => self.send_chat(ServerMessage::error("bad_message", why), Via::Channel).await,
            rtc::data::ChannelEvent::Closed => {
                tracing::debug!("a data channel closed");
                if let Some(ch) = &self.chat_channel
                    && !ch.is_open().await
                {
                    self.chat_channel = None;
                }
            }
        }
    }
}
