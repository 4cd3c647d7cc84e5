//! A client's data channel, read into the participant task: each text message is forwarded as
//! it arrives; binary and oversized messages are answered by the task (they are not chat).

use std::sync::Arc;
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};

/// Largest data channel message read, bytes (a chat message is at most 4 KiB of text).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// What a data channel reported.
pub enum ChannelEvent {
    Open(Arc<dyn DataChannel>),
    Text(String),
    /// Binary, not UTF-8, or larger than [`MAX_MESSAGE_BYTES`].
    Unreadable(&'static str),
    Closed,
}

/// Forwards `channel`'s events to `tx` until it closes or the receiver is gone.
pub async fn read(channel: Arc<dyn DataChannel>, tx: mpsc::Sender<ChannelEvent>) {
    while let Some(ev) = channel.poll().await {
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
