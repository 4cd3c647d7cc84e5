//! A live room's chat: the last [`HISTORY`] messages and a rate limit per sender. Pure state,
//! owned by the room's actor; the actor assigns the sender (never the client).
//!
//! Invariants: a message in the history passed every check (enabled, 1..=[`MAX_TEXT_BYTES`]
//! bytes, under the sender's rate); the history never holds more than [`HISTORY`] messages.

use crate::protocol::{ChatMessage, FileInfo};
use crate::time::Bucket;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Messages kept for late joiners.
pub const HISTORY: usize = 100;
/// Longest message text, bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Messages a sender may send at once…
const BURST: f64 = 10.0;
/// …then this many per second.
const PER_SECOND: f64 = 2.0;

/// Why a chat message was refused; each has its own error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    #[error("the host has turned chat off in this room")]
    Disabled,
    #[error("a chat message holds at most {MAX_TEXT_BYTES} bytes of text (this one has {0})")]
    TooLong(usize),
    #[error("a chat message needs some text")]
    Empty,
    #[error("you are sending messages too fast; wait {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    #[error("you are not in the room")]
    NotJoined,
}

impl ChatError {
    pub fn code(&self) -> &'static str {
        match self {
            ChatError::Disabled => "chat_disabled",
            ChatError::TooLong(_) => "chat_too_long",
            ChatError::Empty => "bad_message",
            ChatError::RateLimited { .. } => "chat_rate_limited",
            ChatError::NotJoined => "not_in_room",
        }
    }
}

/// Who sends, as the room knows them.
pub struct Sender<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

#[derive(Debug, Default)]
pub struct ChatLog {
    history: VecDeque<ChatMessage>,
    buckets: HashMap<String, Bucket>,
}

impl ChatLog {
    /// Checks and keeps a text message; returns it as everyone gets it.
    pub fn post(&mut self, from: Sender<'_>, text: &str, enabled: bool, now: Instant) -> Result<ChatMessage, ChatError> {
        if !enabled {
            return Err(ChatError::Disabled);
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(ChatError::TooLong(text.len()));
        }
        if text.trim().is_empty() {
            return Err(ChatError::Empty);
        }
        self.take(from.id, now)?;
        Ok(self.keep(from, text.to_owned(), None))
    }

    /// Announces a shared file (counted against the sender's rate like a message; the upload
    /// already happened, so it is never refused).
    pub fn post_file(&mut self, from: Sender<'_>, file: FileInfo, now: Instant) -> ChatMessage {
        let _ = self.take(from.id, now);
        self.keep(from, String::new(), Some(file))
    }

    fn take(&mut self, id: &str, now: Instant) -> Result<(), ChatError> {
        let bucket = self.buckets.entry(id.to_owned()).or_insert_with(|| Bucket::new(BURST, PER_SECOND, now));
        bucket.take(now).map_err(|retry_after_ms| ChatError::RateLimited { retry_after_ms })
    }

    fn keep(&mut self, from: Sender<'_>, text: String, file: Option<FileInfo>) -> ChatMessage {
        let msg = ChatMessage {
            id: crate::ids::random_id(12),
            participant_id: from.id.to_owned(),
            name: from.name.to_owned(),
            sent_at: crate::time::rfc3339_ms(std::time::SystemTime::now()),
            text,
            file,
        };
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(msg.clone());
        msg
    }

    /// The history, oldest first.
    pub fn history(&self) -> Vec<ChatMessage> {
        self.history.iter().cloned().collect()
    }

    /// A participant left for good: its rate state goes (its messages stay).
    pub fn forget(&mut self, id: &str) {
        self.buckets.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ada() -> Sender<'static> {
        Sender { id: "p1", name: "Ada" }
    }

    #[test]
    fn checks_text_and_switch() {
        let mut log = ChatLog::default();
        let now = Instant::now();
        assert_eq!(log.post(ada(), "hi", false, now), Err(ChatError::Disabled));
        assert_eq!(log.post(ada(), "  \n", true, now), Err(ChatError::Empty));
        assert_eq!(log.post(ada(), &"é".repeat(2049), true, now), Err(ChatError::TooLong(4098)));
        let m = log.post(ada(), &"x".repeat(MAX_TEXT_BYTES), true, now).expect("4096 bytes is the limit");
        assert_eq!((m.participant_id.as_str(), m.name.as_str()), ("p1", "Ada"));
        assert_eq!(log.history().len(), 1);
    }

    #[test]
    fn burst_then_rate() {
        let mut log = ChatLog::default();
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(log.post(ada(), "m", true, t0).is_ok(), "message {i} of the burst");
        }
        match log.post(ada(), "m", true, t0) {
            Err(ChatError::RateLimited { retry_after_ms }) => assert_eq!(retry_after_ms, 500),
            other => panic!("{other:?}"),
        }
        // Someone else is not limited by Ada.
        assert!(log.post(Sender { id: "p2", name: "Bo" }, "m", true, t0).is_ok());
        // 2 per second after the burst.
        let t1 = t0 + Duration::from_millis(500);
        assert!(log.post(ada(), "m", true, t1).is_ok());
        assert!(log.post(ada(), "m", true, t1).is_err());
    }

    #[test]
    fn history_keeps_the_last_hundred_in_order() {
        let mut log = ChatLog::default();
        let mut t = Instant::now();
        for i in 0..150 {
            t += Duration::from_secs(1);
            log.post(ada(), &format!("m{i}"), true, t).expect("one a second is under the rate");
        }
        let h = log.history();
        assert_eq!(h.len(), HISTORY);
        assert_eq!(h[0].text, "m50");
        assert_eq!(h[99].text, "m149");
    }
}
