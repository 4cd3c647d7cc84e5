//! What a room is, apart from who is in it: its settings (schedule, limits, composite, the
//! calling app's metadata; see [`super::settings`]), when and why it ended. This is the record
//! the store keeps; the room's state is derived from it and the clock, so a restart can never
//! leave a stale state behind.

use super::settings::RoomSettings;
use serde::{Deserialize, Serialize};

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

/// A room's record: its settings and what happened to it. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomSpec {
    pub id: String,
    pub created_at: i64,
    pub settings: RoomSettings,
    pub ended_at: Option<i64>,
    pub end_reason: Option<EndReason>,
}

impl RoomSpec {
    /// The state at `now`.
    pub fn state(&self, now: i64) -> RoomState {
        if self.ended_at.is_some() {
            RoomState::Ended
        } else if self.settings.starts_at.is_some_and(|t| t > now) {
            RoomState::Scheduled
        } else {
            RoomState::Open
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_follows_clock_and_end() {
        let mut s = RoomSpec { id: "r".into(), created_at: 100, settings: RoomSettings::default(), ended_at: None, end_reason: None };
        assert_eq!(s.state(100), RoomState::Open);
        s.settings.starts_at = Some(200);
        assert_eq!(s.state(199), RoomState::Scheduled);
        assert_eq!(s.state(200), RoomState::Open);
        s.ended_at = Some(150);
        assert_eq!(s.state(120), RoomState::Ended);
    }
}
