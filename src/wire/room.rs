//! The room's wire types: its view, the `POST` and `PATCH` bodies (converted to the domain's
//! [`SettingsPatch`] by exhaustive destructuring, with the texts parsed here and every rule
//! checked by `RoomSettings::check`), and the list.

use super::fields::{double_option, metadata_object, metadata_patch, opt_whole, whole};
use super::{EndReasonName, RoomStateName};
use crate::protocol::ParticipantInfo;
use crate::records::CompositeConfig;
use crate::records::MediaStats;
use crate::records::room::RoomSpec;
use crate::records::settings::{MAX_NAME_CHARS, RoomSettings, SettingsPatch};
use crate::time::{format_unix, parse_rfc3339};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A composite's size, frame rate and bitrate (a room's bounds, checked by
/// `RoomSettings::check`: even sizes, 160..=1920 × 90..=1080, 1..=30 fps, 100..=8000 kbit/s).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompositeSettings {
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 160, maximum = 1920, multiple_of = 2)]
    pub width: u32,
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 90, maximum = 1080, multiple_of = 2)]
    pub height: u32,
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 1, maximum = 30)]
    pub fps: u32,
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 100, maximum = 8000)]
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
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// `scheduled`, `open` or `ended`.
    #[schema(example = "open", value_type = RoomStateName)]
    pub state: String,
    /// RFC 3339 (UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub starts_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub ends_at: Option<String>,
    #[schema(minimum = 1, maximum = 604800)]
    pub empty_timeout_seconds: u32,
    #[schema(minimum = 1, maximum = 25)]
    pub max_participants: u32,
    pub composite: CompositeSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub ended_at: Option<String>,
    /// `deleted`, `timeLimit` or `emptyTimeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<EndReasonName>)]
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
    /// Participants may chat and share files (signaling `chat`, `POST /rooms/{id}/files`).
    pub chat_enabled: bool,
    /// Live room: whom the `pinned` layout shows large.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_participant_id: Option<String>,
    /// Live room: who is sharing a screen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_participant_id: Option<String>,
    /// Cluster mode, live room: the node running it (its `node_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Present on `GET /rooms/{id}` of a live room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<ParticipantInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaStats>,
}

impl RoomView {
    /// The view of `s` at `now`; the live fields (pin, screen, media) are the caller's to fill.
    pub fn new(s: &RoomSpec, now: i64, num_participants: usize, participants: Option<Vec<ParticipantInfo>>) -> Self {
        let RoomSpec { id, created_at, settings, ended_at, end_reason } = s;
        let RoomSettings {
            name,
            starts_at,
            ends_at,
            empty_timeout_seconds,
            max_participants,
            composite,
            metadata,
            auto_record,
            hls,
            public,
            layout,
            hide_audio_only,
            chat_enabled,
        } = settings;
        Self {
            id: id.clone(),
            name: name.clone(),
            state: s.state(now).as_str().into(),
            created_at: format_unix(*created_at),
            starts_at: starts_at.map(format_unix),
            ends_at: ends_at.map(format_unix),
            empty_timeout_seconds: *empty_timeout_seconds,
            max_participants: *max_participants,
            composite: composite.into(),
            metadata: metadata.clone(),
            ended_at: ended_at.map(format_unix),
            end_reason: end_reason.map(|r| r.as_str().into()),
            num_participants,
            auto_record: *auto_record,
            hls: *hls,
            public: *public,
            layout: layout.clone(),
            hide_audio_only: *hide_audio_only,
            chat_enabled: *chat_enabled,
            pinned_participant_id: None,
            screen_participant_id: None,
            node: None,
            participants,
            media: None,
        }
    }
}

/// A time a room keeps and shows (`startsAt`, `endsAt`), in Unix seconds: RFC 3339 limited to
/// the years 0001 to 9998, so that with any UTC offset it is still a four-digit year when shown
/// in UTC (and so are the token expiry times computed from it).
pub fn parse_kept_time(field: &str, value: &str) -> Result<i64, String> {
    let year = value.get(..4).filter(|y| y.bytes().all(|b| b.is_ascii_digit())).and_then(|y| y.parse::<u32>().ok());
    if year.is_some_and(|y| !(1..=9998).contains(&y)) {
        return Err(format!("{field}: the year must be within 0001..=9998"));
    }
    parse_rfc3339(value).map_err(|e| format!("{field}: {e}"))
}

/// A room name as given: at most [`MAX_NAME_CHARS`] characters before the surrounding white
/// space is removed (the rest is checked with the room's other settings).
fn room_name(raw: String) -> Result<String, String> {
    if raw.chars().count() > MAX_NAME_CHARS {
        return Err(format!("name must be 1 to {MAX_NAME_CHARS} characters"));
    }
    Ok(raw.trim().to_owned())
}

/// `Some(Some(t))` of a kept time given as `Some(Some(text))`.
fn kept_time(field: &str, v: Option<Option<String>>) -> Result<Option<Option<i64>>, String> {
    v.map(|o| o.map(|s| parse_kept_time(field, &s)).transpose()).transpose()
}

/// `POST /rooms`. Every field is optional; with `startsAt` in the future the room is scheduled.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoomRequest {
    /// 1 to 100 characters, no control characters; surrounding white space is removed.
    /// Default `Room <first 6 characters of the id>`.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// RFC 3339 (year 0001 to 9998); in the future makes the room scheduled.
    #[schema(format = DateTime)]
    pub starts_at: Option<String>,
    /// RFC 3339 (year 0001 to 9998), in the future and after `startsAt`; the room ends then,
    /// whoever is in it.
    #[schema(format = DateTime)]
    pub ends_at: Option<String>,
    /// Seconds an open room may stay empty before it ends: 1 to 604800 (7 days), default 300.
    #[serde(default, deserialize_with = "opt_whole")]
    #[schema(minimum = 1, maximum = 604800)]
    pub empty_timeout_seconds: Option<u32>,
    /// 1 to 25 (or the server's lower `max_participants`), default 16 (or that maximum).
    #[serde(default, deserialize_with = "opt_whole")]
    #[schema(minimum = 1, maximum = 25)]
    pub max_participants: Option<u32>,
    /// Default: the server's composite settings.
    pub composite: Option<CompositeSettings>,
    /// Your app's own JSON object (or `null`), at most 4096 bytes serialised.
    #[serde(default, deserialize_with = "metadata_object")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Start a recording when the first participant joins (default false).
    pub auto_record: Option<bool>,
    /// Publish HLS while the room's media runs (default false).
    pub hls: Option<bool>,
    /// HLS may be watched without a viewer token (default false).
    pub public: Option<bool>,
    /// Default `grid`: `grid`, `speaker`, `pinned`, `presentation` or one an operator added to
    /// `layouts.json`; 400 `bad_request` for another name.
    pub layout: Option<String>,
    /// Default false.
    pub hide_audio_only: Option<bool>,
    /// Default true: participants may chat and share files.
    pub chat_enabled: Option<bool>,
}

impl CreateRoomRequest {
    /// The settings it gives, as a change to the defaults (texts parsed; rules are checked with
    /// the room's other settings).
    pub fn into_patch(self) -> Result<SettingsPatch, String> {
        let CreateRoomRequest {
            name,
            starts_at,
            ends_at,
            empty_timeout_seconds,
            max_participants,
            composite,
            metadata,
            auto_record,
            hls,
            public,
            layout,
            hide_audio_only,
            chat_enabled,
        } = self;
        Ok(SettingsPatch {
            name: name.map(room_name).transpose()?,
            starts_at: kept_time("startsAt", starts_at.map(Some))?,
            ends_at: kept_time("endsAt", ends_at.map(Some))?,
            empty_timeout_seconds,
            max_participants,
            composite: composite.as_ref().map(Into::into),
            metadata: metadata.map(|m| Some(serde_json::Value::Object(m))),
            auto_record,
            hls,
            public,
            layout,
            hide_audio_only,
            chat_enabled,
        })
    }
}

/// `201` reply to `POST /rooms`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoomResponse {
    pub room: RoomView,
    /// A join token with the host role: end the room, kick, mute.
    pub host_token: String,
    #[schema(format = DateTime)]
    pub host_token_expires_at: String,
    /// Link to the browser client for this room (add `&token=` for a token).
    pub join_url: String,
}

/// `PATCH /rooms/{id}`: only the fields given change; `null` clears `startsAt`, `endsAt`,
/// `metadata`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchRoomRequest {
    /// As on create: 1 to 100 characters, no control characters, trimmed.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// RFC 3339 (year 0001 to 9998); only before the room opens.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Option<String>>,
    /// RFC 3339 (year 0001 to 9998), in the future and after `startsAt`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Option<String>>,
    /// 1 to 604800.
    #[serde(default, deserialize_with = "opt_whole")]
    #[schema(minimum = 1, maximum = 604800)]
    pub empty_timeout_seconds: Option<u32>,
    /// 1 to 25 (or the server's lower `max_participants`).
    #[serde(default, deserialize_with = "opt_whole")]
    #[schema(minimum = 1, maximum = 25)]
    pub max_participants: Option<u32>,
    /// A JSON object (at most 4096 bytes serialised) or `null` to clear it.
    #[serde(default, deserialize_with = "metadata_patch")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    pub auto_record: Option<bool>,
    /// `true` starts HLS now if the room's media runs; `false` stops it and removes its files.
    pub hls: Option<bool>,
    pub public: Option<bool>,
    /// The room's layout (stored): `grid`, `speaker`, `pinned`, `presentation` or one an
    /// operator added to `layouts.json`; 400 `bad_request` for another name. The host may
    /// change it.
    pub layout: Option<String>,
    /// Participants without video stay off the canvas. The host may change it.
    pub hide_audio_only: Option<bool>,
    /// Chat and file sharing on or off (the host may change it; everyone gets `chatChanged`).
    pub chat_enabled: Option<bool>,
    /// Live rooms only (not stored): a participant id to show large in the `pinned` layout, or
    /// `null` to unpin. 404 `participant_not_found` if they are not in the room. Setting a pin
    /// does not change the layout. The host may change it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub pin: Option<Option<String>>,
}

impl PatchRoomRequest {
    /// The settings it changes, and the pin (texts parsed; rules are checked with the room's
    /// other settings).
    pub fn into_patch(self) -> Result<(SettingsPatch, Option<Option<String>>), String> {
        let PatchRoomRequest {
            name,
            starts_at,
            ends_at,
            empty_timeout_seconds,
            max_participants,
            metadata,
            auto_record,
            hls,
            public,
            layout,
            hide_audio_only,
            chat_enabled,
            pin,
        } = self;
        let settings = SettingsPatch {
            name: name.map(room_name).transpose()?,
            starts_at: kept_time("startsAt", starts_at)?,
            ends_at: kept_time("endsAt", ends_at)?,
            empty_timeout_seconds,
            max_participants,
            // Set when the room is created.
            composite: None,
            metadata: metadata.map(|m| m.map(serde_json::Value::Object)),
            auto_record,
            hls,
            public,
            layout,
            hide_audio_only,
            chat_enabled,
        };
        Ok((settings, pin))
    }
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
