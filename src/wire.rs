//! REST and webhook wire types (JSON, camelCase), apart from the domain types they show. The
//! OpenAPI document is generated from these (`utoipa`). Requests deny unknown fields so typos
//! are caught.

use crate::auth::Role;
use crate::config::CompositeConfig;
use crate::protocol::ParticipantInfo;
use crate::room::MediaStats;
use crate::room::format_unix;
use crate::room::spec::RoomSpec;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// A composite's size, frame rate and bitrate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompositeSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
}

impl From<&CompositeConfig> for CompositeSettings {
    fn from(c: &CompositeConfig) -> Self {
        Self { width: c.width, height: c.height, fps: c.fps, bitrate_kbps: c.bitrate_kbps }
    }
}

impl From<&CompositeSettings> for CompositeConfig {
    fn from(c: &CompositeSettings) -> Self {
        Self { width: c.width, height: c.height, fps: c.fps, bitrate_kbps: c.bitrate_kbps }
    }
}

/// A room.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomView {
    pub id: String,
    pub name: String,
    /// `scheduled`, `open` or `ended`.
    #[schema(example = "open")]
    pub state: String,
    /// RFC 3339 (UTC).
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    pub empty_timeout_seconds: u32,
    pub max_participants: u32,
    pub composite: CompositeSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// `deleted`, `timeLimit` or `emptyTimeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    pub num_participants: usize,
    /// Record from the moment the room's first participant joins.
    pub auto_record: bool,
    /// Publish HLS at `/live/{id}/index.m3u8` while the room's media runs.
    pub hls: bool,
    /// HLS may be watched without a viewer token.
    pub public: bool,
    /// The room's layout: `grid`, `speaker`, `pinned`, `presentation` or one an operator added
    /// to `layouts.json`. While someone shares a screen the composite shows `presentation`.
    #[schema(example = "grid")]
    pub layout: String,
    /// Participants without video stay off the canvas (they are still in the people list).
    pub hide_audio_only: bool,
    /// Live room: whom the `pinned` layout shows large.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_participant_id: Option<String>,
    /// Live room: who is sharing a screen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_participant_id: Option<String>,
    /// Present on `GET /rooms/{id}` of a live room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<ParticipantInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaStats>,
}

impl RoomView {
    pub fn new(s: &RoomSpec, now: i64, num_participants: usize, participants: Option<Vec<ParticipantInfo>>) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            state: s.state(now).as_str().into(),
            created_at: format_unix(s.created_at),
            starts_at: s.starts_at.map(format_unix),
            ends_at: s.ends_at.map(format_unix),
            empty_timeout_seconds: s.empty_timeout_seconds,
            max_participants: s.max_participants,
            composite: (&s.composite).into(),
            metadata: s.metadata.clone(),
            ended_at: s.ended_at.map(format_unix),
            end_reason: s.end_reason.map(|r| r.as_str().into()),
            num_participants,
            auto_record: s.auto_record,
            hls: s.hls,
            public: s.public,
            layout: s.layout.clone(),
            hide_audio_only: s.hide_audio_only,
            pinned_participant_id: None,
            screen_participant_id: None,
            participants,
            media: None,
        }
    }
}

/// `POST /rooms`. Every field is optional; with `startsAt` in the future the room is scheduled.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoomRequest {
    pub name: Option<String>,
    /// RFC 3339; in the future makes the room scheduled.
    pub starts_at: Option<String>,
    /// RFC 3339; the room ends then, whoever is in it.
    pub ends_at: Option<String>,
    /// Default 300.
    pub empty_timeout_seconds: Option<u32>,
    /// Default 16, at most 25.
    pub max_participants: Option<u32>,
    /// Default: the server's composite settings.
    pub composite: Option<CompositeSettings>,
    /// Your app's own JSON, at most 4 KiB.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Start a recording when the first participant joins (default false).
    pub auto_record: Option<bool>,
    /// Publish HLS while the room's media runs (default false).
    pub hls: Option<bool>,
    /// HLS may be watched without a viewer token (default false).
    pub public: Option<bool>,
    /// Default `grid`: `grid`, `speaker`, `pinned`, `presentation` or one an operator added to
    /// `layouts.json`; 400 `invalid` for another name.
    pub layout: Option<String>,
    /// Default false.
    pub hide_audio_only: Option<bool>,
}

/// `201` reply to `POST /rooms`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoomResponse {
    pub room: RoomView,
    /// A join token with the host role: end the room, kick, mute.
    pub host_token: String,
    pub host_token_expires_at: String,
    /// Link to the browser client for this room (add `&token=` for a token).
    pub join_url: String,
}

/// Deserialises a field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /rooms/{id}`: only the fields given change; `null` clears `startsAt`, `endsAt`,
/// `metadata`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchRoomRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub starts_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub ends_at: Option<Option<String>>,
    pub empty_timeout_seconds: Option<u32>,
    pub max_participants: Option<u32>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<serde_json::Value>>,
    pub auto_record: Option<bool>,
    /// `true` starts HLS now if the room's media runs; `false` stops it and removes its files.
    pub hls: Option<bool>,
    pub public: Option<bool>,
    /// The room's layout (stored): `grid`, `speaker`, `pinned`, `presentation` or one an
    /// operator added to `layouts.json`; 400 `invalid` for another name.
    pub layout: Option<String>,
    pub hide_audio_only: Option<bool>,
    /// Live rooms only (not stored): a participant id to show large in the `pinned` layout, or
    /// `null` to unpin. 404 `participant_not_found` if they are not in the room. Setting a pin
    /// does not change the layout.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub pin: Option<Option<String>>,
}

/// `GET /rooms`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomList {
    pub rooms: Vec<RoomView>,
    /// Rooms matching the filter, over all pages.
    pub total: u64,
    /// `offset` of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

/// `GET /rooms/{id}/participants`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantList {
    pub participants: Vec<ParticipantInfo>,
}

/// `POST /rooms/{id}/participants/{pid}/mute`: `true` mutes, `false` unmutes, absent keeps.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MuteRequest {
    pub audio: Option<bool>,
    pub video: Option<bool>,
}

/// `POST /rooms/{id}/tokens`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    /// Display name, 1 to 64 characters.
    pub name: String,
    /// Default `participant`.
    pub role: Option<Role>,
    /// Default 3600, at most 30 days.
    pub ttl_seconds: Option<u32>,
    /// Stable identity (letters, digits, `-`, `_`, `.`, `@`); default: random. A second join with
    /// the same identity replaces the first session.
    pub identity: Option<String>,
}

/// A join token.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub token: String,
    pub identity: String,
    pub expires_at: String,
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
    #[schema(example = "complete")]
    pub state: String,
    /// Why it failed or was interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339 with milliseconds.
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Media duration over every part (while recording: time since the start).
    pub duration_ms: u64,
    pub bytes: u64,
    pub parts: Vec<PartView>,
}

/// Unix milliseconds as RFC 3339 with milliseconds.
pub fn format_unix_ms(ms: i64) -> String {
    let secs = format_unix(ms.div_euclid(1000));
    match secs.strip_suffix('Z') {
        Some(s) => format!("{s}.{:03}Z", ms.rem_euclid(1000)),
        None => secs,
    }
}

impl RecordingView {
    pub fn new(r: &crate::egress::spec::RecordingRecord) -> Self {
        let running = r.state.is_active();
        let duration_ms = match (running, r.duration_ms) {
            (false, Some(d)) => d,
            _ => (r.ended_at.unwrap_or_else(crate::egress::recording::now_ms) - r.started_at).max(0) as u64,
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
    /// `rtmp://host[:port]/app/streamkey` or `rtmps://…`, at most 2048 characters.
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
    pub streams: Vec<crate::egress::rtmp::StreamView>,
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
}
