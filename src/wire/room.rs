//! The room's wire types: its view, the `POST` and `PATCH` bodies (converted to the domain's
//! [`SettingsPatch`] by exhaustive destructuring, with the texts parsed here and every rule
//! checked by `RoomSettings::check`), and the list.

use super::fields::{double_option, metadata_object, metadata_patch, opt_whole, whole};
use super::{EndReasonName, RoomStateName};
use crate::protocol::ParticipantInfo;
use crate::records::MediaStats;
use crate::records::room::RoomSpec;
use crate::records::settings::{MAX_NAME_CHARS, RoomSettings, SettingsPatch};
use crate::records::{CompositeConfig, LadderConfig, RungConfig};
use crate::time::{format_unix, parse_rfc3339};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A composite's size, frame rate and bitrate (a room's bounds, checked by
/// `RoomSettings::check`: even sizes, 160..=1920 × 90..=1080, 1..=30 fps, 100..=8000 kbit/s),
/// and its ladder.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, ToSchema)]
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
    /// The smaller encodes of this composite that receivers on weak links or small screens get.
    /// On create, optional: a rung not given is derived from this composite (L1 half its width
    /// and height, same fps, 30 % of its bitrate; L2 a quarter, at most 15 fps, 8 %, never more
    /// than L1). A room's view always shows both rungs in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ladder: Option<LadderSettings>,
}

/// The composite's lower rungs. Each is no larger, no faster and of no higher bitrate than the
/// rung above it (`L0` is the composite itself), else 400 `bad_request`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LadderSettings {
    /// Default: derived from the composite (640×360, 30 fps, 450 kbit/s of 1280×720, 30 fps,
    /// 1500 kbit/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1: Option<RungSettings>,
    /// Default: derived from the composite (320×180, 15 fps, 120 kbit/s of 1280×720, 30 fps,
    /// 1500 kbit/s), at most `l1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l2: Option<RungSettings>,
}

/// One rung of the ladder: even `width` and `height` of at least 16 and at most the rung
/// above's (another aspect ratio is letterboxed), `fps` 1 to the rung above's, `bitrateKbps`
/// 30 to the rung above's.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RungSettings {
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 16, maximum = 1920, multiple_of = 2)]
    pub width: u32,
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 16, maximum = 1080, multiple_of = 2)]
    pub height: u32,
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 1, maximum = 30)]
    pub fps: u32,
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 30, maximum = 8000)]
    pub bitrate_kbps: u32,
}

impl From<RungConfig> for RungSettings {
    fn from(r: RungConfig) -> Self {
        let RungConfig { width, height, fps, bitrate_kbps } = r;
        Self { width, height, fps, bitrate_kbps }
    }
}

impl From<RungSettings> for RungConfig {
    fn from(r: RungSettings) -> Self {
        let RungSettings { width, height, fps, bitrate_kbps } = r;
        Self { width, height, fps, bitrate_kbps }
    }
}

impl From<&CompositeConfig> for CompositeSettings {
    /// The view: the ladder's rungs in effect, set or derived.
    fn from(c: &CompositeConfig) -> Self {
        let CompositeConfig { width, height, fps, bitrate_kbps, ladder: _ } = *c;
        let ladder = LadderSettings { l1: Some(c.l1().into()), l2: Some(c.l2().into()) };
        Self { width, height, fps, bitrate_kbps, ladder: Some(ladder) }
    }
}

impl From<&CompositeSettings> for CompositeConfig {
    /// A request: the rungs not given stay derived.
    fn from(c: &CompositeSettings) -> Self {
        let CompositeSettings { width, height, fps, bitrate_kbps, ladder } = *c;
        let LadderSettings { l1, l2 } = ladder.unwrap_or_default();
        Self { width, height, fps, bitrate_kbps, ladder: LadderConfig { l1: l1.map(Into::into), l2: l2.map(Into::into) } }
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
    /// Live room on `GET /rooms/{id}`: WHEP viewers watching now (not participants).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_viewers: Option<usize>,
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
    /// Nobody new may join: a join is refused with `room_locked` (hosts, and people who have
    /// been in this call, with the same identity or from the same `device`, still come in).
    pub locked: bool,
    /// Newcomers wait in the lobby until a host admits them (`POST /rooms/{id}/lobby/{knockId}`);
    /// hosts and people who have been in the call come straight in.
    pub lobby: bool,
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
            locked,
            lobby,
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
            num_viewers: None,
            auto_record: *auto_record,
            hls: *hls,
            public: *public,
            layout: layout.clone(),
            hide_audio_only: *hide_audio_only,
            chat_enabled: *chat_enabled,
            locked: *locked,
            lobby: *lobby,
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
    /// Default: the server's composite settings, with its ladder. A composite given here
    /// replaces them whole: its ladder's rungs not given are derived from it.
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
    /// Default false: while true, nobody new joins (hosts still do).
    pub locked: Option<bool>,
    /// Default false: while true, newcomers wait for a host to admit them.
    pub lobby: Option<bool>,
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
            locked,
            lobby,
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
            locked,
            lobby,
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
    /// Lock or unlock the room (the host may change it; everyone gets `roomLocked`). While
    /// locked, newcomers are refused with `room_locked`; hosts and people who have been in this
    /// call (same identity, or same `device`) still come in.
    pub locked: Option<bool>,
    /// The lobby on or off (the host may change it; everyone gets `lobbyChanged`). Turning it
    /// off admits everyone waiting.
    pub lobby: Option<bool>,
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
            locked,
            lobby,
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
            locked,
            lobby,
        };
        Ok((settings, pin))
    }
}

/// `GET /rooms/{id}/invitation`: what an invitation page shows before joining.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub id: String,
    pub name: String,
    #[schema(example = "scheduled", value_type = RoomStateName)]
    pub state: String,
    /// When a scheduled room starts (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub starts_at: Option<String>,
    /// When a scheduled room lets people in: `startsAt` less the server's early-join window.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub opens_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub ends_at: Option<String>,
    /// Nobody new may join now.
    pub locked: bool,
    /// Newcomers ask to join and wait for a host.
    pub lobby: bool,
    /// The server's time now (RFC 3339, UTC), for a countdown that does not trust the
    /// device's clock.
    #[schema(format = DateTime)]
    pub now: String,
}

impl Invitation {
    /// The invitation to `s` at `now`; `early_join` is the server's early-join window, seconds.
    pub fn new(s: &RoomSpec, now: i64, early_join: i64) -> Self {
        Self {
            id: s.id.clone(),
            name: s.settings.name.clone(),
            state: s.state(now).as_str().into(),
            starts_at: s.settings.starts_at.map(format_unix),
            opens_at: s.settings.starts_at.map(|t| format_unix(t - early_join)),
            ends_at: s.settings.ends_at.map(format_unix),
            locked: s.settings.locked,
            lobby: s.settings.lobby,
            now: format_unix(now),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_composite_converts_with_its_ladder_both_ways() {
        let req: CreateRoomRequest = serde_json::from_str(
            r#"{"composite":{"width":960,"height":540,"fps":25,"bitrateKbps":1200,
                "ladder":{"l2":{"width":320.0,"height":180,"fps":10,"bitrateKbps":90}}}}"#,
        )
        .unwrap();
        let patch = req.into_patch().unwrap();
        let c = patch.composite.expect("a composite was given");
        let l2 = RungConfig { width: 320, height: 180, fps: 10, bitrate_kbps: 90 };
        assert_eq!(c.ladder, LadderConfig { l1: None, l2: Some(l2) }, "only the rung given is set");
        // The view shows both rungs in effect: L1 derived from this composite, L2 as given.
        let view = CompositeSettings::from(&c);
        let l1 = RungSettings { width: 480, height: 270, fps: 25, bitrate_kbps: 360 };
        assert_eq!(view.ladder, Some(LadderSettings { l1: Some(l1), l2: Some(l2.into()) }));
        assert_eq!(
            serde_json::to_value(view).unwrap()["ladder"]["l1"],
            serde_json::json!({"width": 480, "height": 270, "fps": 25, "bitrateKbps": 360})
        );
        // A view sent back sets both rungs to what they were: the same ladder.
        assert_eq!(CompositeConfig::from(&view).rungs(), c.rungs());
        // Without a ladder, nothing is set.
        let plain = CompositeSettings { ladder: None, ..view };
        assert!(CompositeConfig::from(&plain).ladder.is_derived());
        assert!(!serde_json::to_string(&plain).unwrap().contains("ladder"), "a request without one sends none");
    }

    #[test]
    fn a_ladder_is_given_whole_and_named_as_documented() {
        let composite = |ladder: &str| format!(r#"{{"width":640,"height":360,"fps":30,"bitrateKbps":600,"ladder":{ladder}}}"#);
        for bad in [
            r#"{"l3":{"width":160,"height":90,"fps":10,"bitrateKbps":60}}"#,
            r#"{"l1":{"width":160,"height":90,"fps":10}}"#,
            r#"{"l1":{"width":160,"height":90,"fps":10,"bitrateKbps":60,"codec":"vp8"}}"#,
            r#"{"l1":{"width":160,"height":90,"fps":10,"bitrate_kbps":60}}"#,
            r#"{"l1":{"width":160.5,"height":90,"fps":10,"bitrateKbps":60}}"#,
        ] {
            assert!(serde_json::from_str::<CompositeSettings>(&composite(bad)).is_err(), "{bad}");
        }
        for ok in ["{}", "null", r#"{"l1":null}"#] {
            let c: CompositeSettings = serde_json::from_str(&composite(ok)).unwrap();
            assert!(CompositeConfig::from(&c).ladder.is_derived(), "{ok}");
        }
    }
}
