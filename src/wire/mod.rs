//! REST and webhook wire types (JSON, camelCase), apart from the domain types they show. The
//! OpenAPI document is generated from these (`utoipa`). Requests deny unknown fields so typos
//! are caught.

mod fields;
mod health;
pub mod objects;
mod room;

pub use health::{Health, HealthStatus, Liveness, Readiness, ReadyStatus};
pub use room::{
    CompositeSettings, CreateRoomRequest, CreateRoomResponse, Invitation, LadderSettings, PatchRoomRequest, RoomList, RoomView,
    RungSettings, parse_kept_time,
};

use crate::auth::Role;
use crate::protocol::ParticipantInfo;
use crate::time::format_unix_ms;
use fields::{not_null, opt_whole};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /rooms/{id}/participants`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantList {
    pub participants: Vec<ParticipantInfo>,
    /// Cluster mode: the node running the room (its `node_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// `POST /rooms/{id}/participants/{pid}/mute`: `true` mutes, `false` unmutes, absent keeps; at
/// least one of the two.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct MuteRequest {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = bool)]
    pub audio: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = bool)]
    pub video: Option<bool>,
}

/// `POST /rooms/{id}/participants/{pid}/role`: make a participant a co-host, or a participant
/// again.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleRequest {
    pub role: GrantedRole,
}

/// The roles a host may give someone in the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum GrantedRole {
    /// Host powers: mute, remove, lock, layout, record, end; with a host token of its own.
    Host,
    Participant,
}

impl From<GrantedRole> for crate::auth::Role {
    fn from(r: GrantedRole) -> Self {
        match r {
            GrantedRole::Host => crate::auth::Role::Host,
            GrantedRole::Participant => crate::auth::Role::Participant,
        }
    }
}

/// `GET /rooms/{id}/lobby`: who waits for a host to let them in, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LobbyList {
    pub waiting: Vec<crate::protocol::KnockInfo>,
}

/// `POST /rooms/{id}/lobby/{knockId}`: `true` lets them in, `false` refuses them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LobbyAnswer {
    pub admit: bool,
}

/// `POST /rooms/{id}/tokens`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    /// Display name, 1 to 64 characters, no control characters; surrounding white space is
    /// removed.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// Default `participant`.
    pub role: Option<Role>,
    /// 1 to 2592000 (30 days), default 3600.
    #[serde(default, deserialize_with = "opt_whole")]
    #[schema(minimum = 1, maximum = 2592000)]
    pub ttl_seconds: Option<u32>,
    /// Stable identity, 1 to 128 letters, digits, `-`, `_`, `.` or `@`; default: random. A second
    /// join with the same identity replaces the first session.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._@-]{1,128}$")]
    pub identity: Option<String>,
}

/// A join token.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub token: String,
    pub identity: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The link to share: the call (`/?room=…&token=…`), or for a `viewer` token the watch page
    /// (`/watch.html?room=…&token=…`: the composite and the sound over WHEP, no camera).
    pub join_url: String,
}

/// One file of a recording.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartView {
    /// 1-based; download at `/api/v1/recordings/{id}/parts/{index}`.
    pub index: u32,
    pub bytes: u64,
    pub duration_ms: u64,
}

/// A recording.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingView {
    pub id: String,
    pub room_id: String,
    /// `recording`, `finalizing`, `complete`, `interrupted` or `failed`.
    #[schema(example = "complete", value_type = RecordingStateName)]
    pub state: String,
    /// Why it failed or was interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339 with milliseconds.
    #[schema(format = DateTime)]
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub ended_at: Option<String>,
    /// Media duration over every part (while recording: time since the start).
    pub duration_ms: u64,
    pub bytes: u64,
    pub parts: Vec<PartView>,
}

impl RecordingView {
    pub fn new(r: &crate::records::recording::RecordingRecord) -> Self {
        let running = r.state.is_active();
        let duration_ms = match (running, r.duration_ms) {
            (false, Some(d)) => d,
            _ => (r.ended_at.unwrap_or_else(crate::time::now_ms) - r.started_at).max(0) as u64,
        };
        Self {
            id: r.id.clone(),
            room_id: r.room_id.clone(),
            state: r.state.as_str().into(),
            reason: r.reason.clone(),
            started_at: format_unix_ms(r.started_at),
            ended_at: r.ended_at.map(format_unix_ms),
            duration_ms,
            bytes: r.bytes,
            parts: r.parts.iter().map(|p| PartView { index: p.index, bytes: p.bytes, duration_ms: p.duration_ms }).collect(),
        }
    }
}

/// `GET /recordings`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingList {
    pub recordings: Vec<RecordingView>,
    pub total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

/// `POST /rooms/{id}/streams`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartStreamRequest {
    /// `rtmp://[user:pass@]host[:port]/app/streamkey` or `rtmps://…`, at most 2048 characters;
    /// surrounding white space is removed. Printable ASCII only; `user:pass` of letters, digits
    /// and ``-._~%!$&'()*+,;=:``; the host is a name (letters,
    /// digits, `.`, `-`, `_`; an international name in its `xn--` form) or a bracketed IPv6
    /// address; the port 1 to 65535; app and key not empty. The `pattern` is exact but for one
    /// rule it cannot state: what stands in brackets must be a valid IPv6 address (else 400
    /// `bad_request`).
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
}

/// Never shows the URL: it holds the stream key.
impl std::fmt::Debug for StartStreamRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StartStreamRequest { url: <secret> }")
    }
}

/// `GET /rooms/{id}/streams`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamList {
    pub streams: Vec<crate::records::StreamView>,
}

/// A room's state (`RoomView.state`; the `state` filter of `GET /rooms`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub enum RoomStateName {
    Scheduled,
    Open,
    Ended,
}

/// Why a room ended.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub enum EndReasonName {
    Deleted,
    TimeLimit,
    EmptyTimeout,
}

/// A recording's state (`RecordingView.state`; the `state` filter of `GET /recordings`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub enum RecordingStateName {
    Recording,
    Finalizing,
    Complete,
    Interrupted,
    Failed,
}

/// Every error: a stable machine code and a sentence for people.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(example = "room_not_found")]
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_absent_from_null() {
        let p: PatchRoomRequest = serde_json::from_str(r#"{"endsAt":null,"name":"x"}"#).unwrap();
        assert_eq!(p.ends_at, Some(None));
        assert_eq!(p.starts_at, None);
        let p: PatchRoomRequest = serde_json::from_str(r#"{"startsAt":"2030-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(p.starts_at, Some(Some("2030-01-01T00:00:00Z".into())));
        assert!(serde_json::from_str::<PatchRoomRequest>(r#"{"nmae":"x"}"#).is_err());
    }

    #[test]
    fn metadata_is_an_object_or_null() {
        let c: CreateRoomRequest = serde_json::from_str(r#"{"metadata":{"a":[1]}}"#).unwrap();
        assert_eq!(c.metadata.map(serde_json::Value::Object), Some(serde_json::json!({"a": [1]})));
        let c: CreateRoomRequest = serde_json::from_str(r#"{"metadata":null}"#).unwrap();
        assert!(c.metadata.is_none());
        let p: PatchRoomRequest = serde_json::from_str(r#"{"metadata":null}"#).unwrap();
        assert_eq!(p.metadata, Some(None));
        let p: PatchRoomRequest = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(p.metadata, None);
        for bad in ["[1,2,3]", "\"x\"", "7", "true"] {
            let e = serde_json::from_str::<CreateRoomRequest>(&format!(r#"{{"metadata":{bad}}}"#)).unwrap_err();
            assert!(e.to_string().contains("metadata must be a JSON object or null"), "{bad}: {e}");
            assert!(serde_json::from_str::<PatchRoomRequest>(&format!(r#"{{"metadata":{bad}}}"#)).is_err(), "{bad}");
        }
    }

    #[test]
    fn integers_may_be_written_with_a_zero_fraction() {
        let t: TokenRequest = serde_json::from_str(r#"{"name":"a","ttlSeconds":60.0}"#).unwrap();
        assert_eq!(t.ttl_seconds, Some(60));
        let t: TokenRequest = serde_json::from_str(r#"{"name":"a","ttlSeconds":null}"#).unwrap();
        assert_eq!(t.ttl_seconds, None);
        for bad in ["60.5", "-1", "4294967296", "\"60\""] {
            assert!(serde_json::from_str::<TokenRequest>(&format!(r#"{{"name":"a","ttlSeconds":{bad}}}"#)).is_err(), "{bad}");
        }
        let c: CompositeSettings = serde_json::from_str(r#"{"width":640.0,"height":360,"fps":30,"bitrateKbps":600}"#).unwrap();
        assert_eq!((c.width, c.height), (640, 360));
    }

    #[test]
    fn mute_fields_are_booleans_when_given() {
        let m: MuteRequest = serde_json::from_str(r#"{"audio":true}"#).unwrap();
        assert_eq!((m.audio, m.video), (Some(true), None));
        assert!(serde_json::from_str::<MuteRequest>(r#"{"audio":true,"video":null}"#).is_err());
    }
}
