//! What a room is, apart from who is in it: its schedule, limits, composite settings and the
//! calling app's metadata. This is the record the store keeps; the room's state is derived from
//! it and the clock, so a restart can never leave a stale state behind.

use serde::{Deserialize, Serialize};

/// Settings of the composite every room produces.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CompositeConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Target video bitrate of the composite, kbit/s.
    pub bitrate_kbps: u32,
}

impl Default for CompositeConfig {
    fn default() -> Self {
        Self { width: 1280, height: 720, fps: 30, bitrate_kbps: 1500 }
    }
}

/// Defaults and bounds of the room settings.
pub const DEFAULT_EMPTY_TIMEOUT: u32 = 300;
pub const DEFAULT_MAX_PARTICIPANTS: u32 = 16;
pub const MAX_PARTICIPANTS: u32 = 25;
pub const MAX_METADATA_BYTES: usize = 4096;
pub const MAX_NAME_CHARS: usize = 100;

/// Where a room is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoomState {
    Scheduled,
    Open,
    Ended,
}

impl RoomState {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomState::Scheduled => "scheduled",
            RoomState::Open => "open",
            RoomState::Ended => "ended",
        }
    }
}

/// Why a room ended (sent in `roomEnded` and webhooks; stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EndReason {
    /// `DELETE /rooms/{id}` by an API key or the room's host.
    Deleted,
    /// `endsAt` was reached.
    TimeLimit,
    /// Nobody was in the open room for `emptyTimeoutSeconds`.
    EmptyTimeout,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Deleted => "deleted",
            EndReason::TimeLimit => "timeLimit",
            EndReason::EmptyTimeout => "emptyTimeout",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [EndReason::Deleted, EndReason::TimeLimit, EndReason::EmptyTimeout].into_iter().find(|r| r.as_str() == s)
    }

    /// Plain words for people.
    pub fn message(self) -> &'static str {
        match self {
            EndReason::Deleted => "the room was ended for everyone",
            EndReason::TimeLimit => "the room reached its end time",
            EndReason::EmptyTimeout => "the room was empty for too long",
        }
    }
}

/// A room's record. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomSpec {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub empty_timeout_seconds: u32,
    pub max_participants: u32,
    pub composite: CompositeConfig,
    /// The calling app's own JSON (at most [`MAX_METADATA_BYTES`] serialised).
    pub metadata: Option<serde_json::Value>,
    pub ended_at: Option<i64>,
    pub end_reason: Option<EndReason>,
    /// Start a recording when the room's media starts (its first participant joins).
    pub auto_record: bool,
    /// Publish the composite as HLS while the room's media runs.
    pub hls: bool,
    /// The HLS output may be watched without a viewer token.
    pub public: bool,
    /// The layout (a name from `layouts.json`; checked against it where the room is created or
    /// changed). Screen sharing shows `presentation` over it while it lasts.
    pub layout: String,
    /// Participants without video stay off the canvas.
    pub hide_audio_only: bool,
    /// Participants may chat and share files (the host can turn it off).
    pub chat_enabled: bool,
}

impl RoomSpec {
    /// The state at `now`.
    pub fn state(&self, now: i64) -> RoomState {
        if self.ended_at.is_some() {
            RoomState::Ended
        } else if self.starts_at.is_some_and(|t| t > now) {
            RoomState::Scheduled
        } else {
            RoomState::Open
        }
    }

    /// Checks the rules every room must keep (after creation and after every change).
    pub fn validate(&self) -> Result<(), String> {
        let n = self.name.chars().count();
        if n == 0 || n > MAX_NAME_CHARS {
            return Err(format!("name must be 1 to {MAX_NAME_CHARS} characters"));
        }
        if self.name.chars().any(char::is_control) {
            return Err("name must not contain control characters".into());
        }
        if !(1..=MAX_PARTICIPANTS).contains(&self.max_participants) {
            return Err(format!("maxParticipants must be within 1..={MAX_PARTICIPANTS}"));
        }
        if !(1..=7 * 86_400).contains(&self.empty_timeout_seconds) {
            return Err("emptyTimeoutSeconds must be within 1..=604800".into());
        }
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at)
            && e <= s
        {
            return Err("endsAt must be after startsAt".into());
        }
        if let Some(m) = &self.metadata {
            let len = serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX);
            if len > MAX_METADATA_BYTES {
                return Err(format!("metadata must be at most {MAX_METADATA_BYTES} bytes of JSON, got {len}"));
            }
        }
        let c = &self.composite;
        if !(160..=1920).contains(&c.width) || !c.width.is_multiple_of(2) || !(90..=1080).contains(&c.height) || !c.height.is_multiple_of(2)
        {
            return Err("composite width/height must be even, width 160..=1920 and height 90..=1080".into());
        }
        if !(1..=30).contains(&c.fps) {
            return Err("composite fps must be within 1..=30".into());
        }
        if !(100..=8000).contains(&c.bitrate_kbps) {
            return Err("composite bitrateKbps must be within 100..=8000".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RoomSpec {
        RoomSpec {
            id: "r".into(),
            name: "Standup".into(),
            created_at: 100,
            starts_at: None,
            ends_at: None,
            empty_timeout_seconds: DEFAULT_EMPTY_TIMEOUT,
            max_participants: DEFAULT_MAX_PARTICIPANTS,
            composite: CompositeConfig::default(),
            metadata: None,
            ended_at: None,
            end_reason: None,
            auto_record: false,
            hls: false,
            public: false,
            layout: "grid".into(),
            hide_audio_only: false,
            chat_enabled: true,
        }
    }

    #[test]
    fn state_follows_clock_and_end() {
        let mut s = spec();
        assert_eq!(s.state(100), RoomState::Open);
        s.starts_at = Some(200);
        assert_eq!(s.state(199), RoomState::Scheduled);
        assert_eq!(s.state(200), RoomState::Open);
        s.ended_at = Some(150);
        assert_eq!(s.state(120), RoomState::Ended);
    }

    #[test]
    fn validation_names_the_field() {
        let mut s = spec();
        s.validate().unwrap();
        s.max_participants = 26;
        assert!(s.validate().unwrap_err().contains("maxParticipants"));
        let mut s = spec();
        s.starts_at = Some(10);
        s.ends_at = Some(10);
        assert!(s.validate().unwrap_err().contains("endsAt"));
        let mut s = spec();
        s.metadata = Some(serde_json::json!({ "x": "y".repeat(5000) }));
        assert!(s.validate().unwrap_err().contains("metadata"));
        let mut s = spec();
        s.name = "a\u{7}".into();
        assert!(s.validate().is_err());
    }
}
