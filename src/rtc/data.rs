//! A client's data channel ([`Channel`]), read into the participant task: each text message is
//! forwarded as it arrives; binary and oversized messages are answered by the task (they are
//! not chat). The reader ([`read`]) ends when the channel closes or the task stops listening,
//! and always says [`ChannelEvent::Closed`] last if anyone still listens.

use std::sync::Arc;
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelState};

/// Largest data channel message read, bytes (a chat message is at most 4 KiB of text).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// A data channel the client opened (cheap to clone: all clones are the same channel).
#[derive(Clone)]
pub struct Channel(Arc<dyn DataChannel>);

/// Sending on a data channel failed (it is closing, closed or congested).
#[derive(Debug, thiserror::Error)]
#[error("data channel send failed: {0}")]
pub struct SendError(#[source] webrtc::error::Error);

impl Channel {
    pub(super) fn new(channel: Arc<dyn DataChannel>) -> Self {
        Self(channel)
    }

    /// The channel's label (empty when it cannot be read).
    pub async fn label(&self) -> String {
        self.0.label().await.unwrap_or_default()
    }

    /// Whether the channel is open now.
    pub async fn is_open(&self) -> bool {
        matches!(self.0.ready_state().await, Ok(RTCDataChannelState::Open))
    }

    /// Sends one text message.
    pub async fn send_text(&self, text: &str) -> Result<(), SendError> {
        self.0.send_text(text).await.map_err(SendError)
    }
}

/// What a data channel reported.
pub enum ChannelEvent {
    Open(Channel),
    Text(String),
    /// Binary, not UTF-8, or larger than [`MAX_MESSAGE_BYTES`].
    Unreadable(&'static str),
    Closed,
}

/// Forwards `channel`'s events to `tx` until it closes or the receiver is gone.
pub async fn read(channel: Channel, tx: mpsc::Sender<ChannelEvent>) {
    while let Some(ev) = channel.0.poll().await {
        let out = match ev {
            DataChannelEvent::OnOpen => ChannelEvent::Open(channel.clone()),
            DataChannelEvent::OnMessage(m) if !m.is_string => ChannelEvent::Unreadable("binary messages are not accepted; send JSON text"),
            DataChannelEvent::OnMessage(m) if m.data.len() > MAX_MESSAGE_BYTES => {
                ChannelEvent::Unreadable("the message is larger than 16 KiB")
            }
            DataChannelEvent::OnMessage(m) => match String::from_utf8(m.data.to_vec()) {
                Ok(text) => ChannelEvent::Text(text),
                Err(_) => ChannelEvent::Unreadable("the message is not UTF-8 text"),
            },
            DataChannelEvent::OnClose => break,
            _ => continue,
        };
        if tx.send(out).await.is_err() {
            return;
        }
    }
    let _ = tx.send(ChannelEvent::Closed).await;
}
