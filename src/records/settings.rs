//! A room's settings, described once: what its creator chooses, what `PATCH` changes, what the
//! room view shows and what the stores keep. The wire shapes in `wire` convert to and from
//! these by exhaustive destructuring, so a new setting does not compile until each handles it.
//!
//! Invariants: a [`SettingsPatch`] is applied field by field in one exhaustive `match` of its
//! fields ([`SettingsPatch::apply`], [`SettingsPatch::touched`]); who may change what is the
//! allow-list [`HOST_MAY_CHANGE`] (a new setting needs an API key until it is added there); and
//! every rule a room's settings must keep is checked in [`RoomSettings::check`], the one place,
//! on creation and after every change.

use super::composite::CompositeConfig;
use serde::{Deserialize, Deserializer, Serialize};

/// Defaults and bounds of the room settings.
pub const DEFAULT_EMPTY_TIMEOUT: u32 = 300;
pub const DEFAULT_MAX_PARTICIPANTS: u32 = 16;
pub const MAX_PARTICIPANTS: u32 = 25;
pub const MAX_METADATA_BYTES: usize = 4096;
pub const MAX_NAME_CHARS: usize = 100;
/// Longest an open room may stay empty, seconds (7 days).
pub const MAX_EMPTY_TIMEOUT: u32 = 7 * 86_400;

/// What a room is set to. Times are Unix seconds. Stored as JSON (camelCase) by the Redis
/// store; a field missing from what an older node wrote reads as its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoomSettings {
    pub name: String,
    /// In the future: the room is scheduled until then.
    pub starts_at: Option<i64>,
    /// The room ends then, whoever is in it.
    pub ends_at: Option<i64>,
    /// Seconds an open room may stay empty before it ends.
    pub empty_timeout_seconds: u32,
    pub max_participants: u32,
    pub composite: CompositeConfig,
    /// The calling app's own JSON (at most [`MAX_METADATA_BYTES`] serialised). Absent when
    /// `None`, so a stored `null` (`Some(Value::Null)`) comes back as it went in.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub metadata: Option<serde_json::Value>,
    /// Start a recording when the room's media starts (its first participant joins).
    pub auto_record: bool,
    /// Publish the composite as HLS while the room's media runs.
    pub hls: bool,
    /// The HLS output may be watched without a viewer token.
    pub public: bool,
    /// The layout (a name from `layouts.json`). Screen sharing shows `presentation` over it
    /// while it lasts.
    pub layout: String,
    /// Participants without video stay off the canvas.
    pub hide_audio_only: bool,
    /// Participants may chat and share files (the host can turn it off).
    pub chat_enabled: bool,
    /// Nobody new may join (hosts and those already in still can; see the room actor's join).
    pub locked: bool,
    /// Newcomers wait in a lobby until a host admits them.
    pub lobby: bool,
}

impl Default for RoomSettings {
    /// Every default but the name (the room's id gives it one) and the limits the server's own
    /// configuration lowers or sets (`max_participants`, `composite`).
    fn default() -> Self {
        Self {
            name: String::new(),
            starts_at: None,
            ends_at: None,
            empty_timeout_seconds: DEFAULT_EMPTY_TIMEOUT,
            max_participants: DEFAULT_MAX_PARTICIPANTS,
            composite: CompositeConfig::default(),
            metadata: None,
            auto_record: false,
            hls: false,
            public: false,
            layout: "grid".into(),
            hide_audio_only: false,
            chat_enabled: true,
            locked: false,
            lobby: false,
        }
    }
}

/// A field that is present is `Some`, even when it is `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// One setting, named as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Name,
    StartsAt,
    EndsAt,
    EmptyTimeoutSeconds,
    MaxParticipants,
    Composite,
    Metadata,
    AutoRecord,
    Hls,
    Public,
    Layout,
    HideAudioOnly,
    ChatEnabled,
    Locked,
    Lobby,
}

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Setting::Name => "name",
            Setting::StartsAt => "startsAt",
            Setting::EndsAt => "endsAt",
            Setting::EmptyTimeoutSeconds => "emptyTimeoutSeconds",
            Setting::MaxParticipants => "maxParticipants",
            Setting::Composite => "composite",
            Setting::Metadata => "metadata",
            Setting::AutoRecord => "autoRecord",
            Setting::Hls => "hls",
            Setting::Public => "public",
            Setting::Layout => "layout",
            Setting::HideAudioOnly => "hideAudioOnly",
            Setting::ChatEnabled => "chatEnabled",
            Setting::Locked => "locked",
            Setting::Lobby => "lobby",
        }
    }
}

/// What a room's host may change with its host token: what the call looks like and whether
/// people may chat (as a meeting's host can in Meet). Everything else needs an API key; a
/// setting not listed here is the API key's alone.
/// (`hls`: the host may record the call, so it may also stream it live as HLS, which stays on
/// this server and is served only to the room's tokens, or to anyone in a public room.)
/// (`locked`, `lobby`: the host decides who comes in, as Meet's and Zoom's hosts lock a meeting
/// or let people in from a waiting room.)
pub const HOST_MAY_CHANGE: [Setting; 6] =
    [Setting::Layout, Setting::HideAudioOnly, Setting::ChatEnabled, Setting::Hls, Setting::Locked, Setting::Lobby];

/// A change to a room's settings: `None` leaves a field alone, `Some(None)` clears an optional
/// one. Creating a room applies one to the defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsPatch {
    pub name: Option<String>,
    pub starts_at: Option<Option<i64>>,
    pub ends_at: Option<Option<i64>>,
    pub empty_timeout_seconds: Option<u32>,
    pub max_participants: Option<u32>,
    pub composite: Option<CompositeConfig>,
    pub metadata: Option<Option<serde_json::Value>>,
    pub auto_record: Option<bool>,
    pub hls: Option<bool>,
    pub public: Option<bool>,
    pub layout: Option<String>,
    pub hide_audio_only: Option<bool>,
    pub chat_enabled: Option<bool>,
    pub locked: Option<bool>,
    pub lobby: Option<bool>,
}

impl SettingsPatch {
    /// The settings this patch names.
    pub fn touched(&self) -> Vec<Setting> {
        let SettingsPatch {
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
        [
            (name.is_some(), Setting::Name),
            (starts_at.is_some(), Setting::StartsAt),
            (ends_at.is_some(), Setting::EndsAt),
            (empty_timeout_seconds.is_some(), Setting::EmptyTimeoutSeconds),
            (max_participants.is_some(), Setting::MaxParticipants),
            (composite.is_some(), Setting::Composite),
            (metadata.is_some(), Setting::Metadata),
            (auto_record.is_some(), Setting::AutoRecord),
            (hls.is_some(), Setting::Hls),
            (public.is_some(), Setting::Public),
            (layout.is_some(), Setting::Layout),
            (hide_audio_only.is_some(), Setting::HideAudioOnly),
            (chat_enabled.is_some(), Setting::ChatEnabled),
            (locked.is_some(), Setting::Locked),
            (lobby.is_some(), Setting::Lobby),
        ]
        .into_iter()
        .filter_map(|(set, s)| set.then_some(s))
        .collect()
    }

    /// Whether a room's host may make this change (see [`HOST_MAY_CHANGE`]).
    pub fn host_may_apply(&self) -> bool {
        self.touched().iter().all(|s| HOST_MAY_CHANGE.contains(s))
    }

    /// Writes the fields given into `to`.
    pub fn apply(self, to: &mut RoomSettings) {
        let SettingsPatch {
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
        fn set<T>(field: &mut T, v: Option<T>) {
            if let Some(v) = v {
                *field = v;
            }
        }
        set(&mut to.name, name);
        set(&mut to.starts_at, starts_at);
        set(&mut to.ends_at, ends_at);
        set(&mut to.empty_timeout_seconds, empty_timeout_seconds);
        set(&mut to.max_participants, max_participants);
        set(&mut to.composite, composite);
        set(&mut to.metadata, metadata);
        set(&mut to.auto_record, auto_record);
        set(&mut to.hls, hls);
        set(&mut to.public, public);
        set(&mut to.layout, layout);
        set(&mut to.hide_audio_only, hide_audio_only);
        set(&mut to.chat_enabled, chat_enabled);
        set(&mut to.locked, locked);
        set(&mut to.lobby, lobby);
    }
}

/// What settings are checked against besides themselves.
pub struct Rules<'a> {
    pub now: i64,
    /// The server's own `max_participants` (at most [`MAX_PARTICIPANTS`]).
    pub server_max_participants: u32,
    /// The layouts operators configured (`layouts.json`).
    pub layouts: &'a crate::layout::Layouts,
}

impl RoomSettings {
    /// Checks the rules every room's settings keep: `before` is what they were (`None` while
    /// the room is being created), `opened` whether the room has opened. The error names the
    /// field and its bounds.
    pub fn check(&self, before: Option<&RoomSettings>, opened: bool, rules: &Rules<'_>) -> Result<(), String> {
        let n = self.name.chars().count();
        if n == 0 || n > MAX_NAME_CHARS {
            return Err(format!("name must be 1 to {MAX_NAME_CHARS} characters"));
        }
        if self.name.chars().any(char::is_control) {
            return Err("name must not contain control characters".into());
        }
        let cap = rules.server_max_participants;
        if before.is_none_or(|b| b.max_participants != self.max_participants) && self.max_participants > cap {
            return Err(format!("maxParticipants must be at most {cap} on this server"));
        }
        if !(1..=MAX_PARTICIPANTS).contains(&self.max_participants) {
            return Err(format!("maxParticipants must be within 1..={MAX_PARTICIPANTS}"));
        }
        if !(1..=MAX_EMPTY_TIMEOUT).contains(&self.empty_timeout_seconds) {
            return Err(format!("emptyTimeoutSeconds must be within 1..={MAX_EMPTY_TIMEOUT}"));
        }
        if opened && before.is_some_and(|b| b.starts_at != self.starts_at) {
            return Err("startsAt cannot change once the room is open".into());
        }
        if self.ends_at.is_some_and(|e| e <= rules.now) {
            return Err("endsAt must be in the future".into());
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
        if before.is_some_and(|b| b.composite != self.composite) {
            return Err("composite is set when the room is created and cannot change".into());
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
        c.check_ladder("bitrateKbps")?;
        // Only a layout being set is checked: a room whose stored layout an operator removed
        // from `layouts.json` shows the grid and can still be changed.
        if before.is_none_or(|b| b.layout != self.layout) && !rules.layouts.contains(&self.layout) {
            let names: Vec<&str> = rules.layouts.names().collect();
            return Err(format!("layout must be one of {}", names.join(", ")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layouts;
    use crate::records::RungConfig;
    use std::path::Path;

    fn layouts() -> Layouts {
        Layouts::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")).expect("the shipped layouts load")
    }

    fn settings() -> RoomSettings {
        RoomSettings { name: "Standup".into(), ..RoomSettings::default() }
    }

    fn check(s: &RoomSettings, before: Option<&RoomSettings>, opened: bool) -> Result<(), String> {
        let layouts = layouts();
        s.check(before, opened, &Rules { now: 1000, server_max_participants: 20, layouts: &layouts })
    }

    #[test]
    fn validation_names_the_field() {
        check(&settings(), None, false).unwrap();
        type Change = fn(&mut RoomSettings);
        let cases: [(&str, Change); 11] = [
            ("maxParticipants must be at most 20 on this server", |s| s.max_participants = 21),
            ("maxParticipants must be within", |s| s.max_participants = 0),
            ("endsAt must be after startsAt", |s| (s.starts_at, s.ends_at) = (Some(2000), Some(2000))),
            ("endsAt must be in the future", |s| s.ends_at = Some(1000)),
            ("metadata", |s| s.metadata = Some(serde_json::json!({ "x": "y".repeat(5000) }))),
            ("control characters", |s| s.name = "a\u{7}".into()),
            ("name must be 1 to", |s| s.name.clear()),
            ("layout must be one of", |s| s.layout = "nope".into()),
            ("composite fps", |s| s.composite.fps = 31),
            ("composite.ladder.l1.width/height must be even", |s| {
                s.composite.ladder.l1 = Some(RungConfig { width: 641, ..s.composite.l1() })
            }),
            ("composite.ladder.l2.bitrateKbps must be within 30..=450", |s| {
                s.composite.ladder.l2 = Some(RungConfig { bitrate_kbps: 451, ..s.composite.l2() })
            }),
        ];
        for (want, change) in cases {
            let mut s = settings();
            change(&mut s);
            let e = check(&s, None, false).unwrap_err();
            assert!(e.contains(want), "{e:?} should say {want:?}");
        }
    }

    #[test]
    fn changes_are_checked_against_what_was() {
        let before = RoomSettings { starts_at: Some(900), layout: "gone".into(), max_participants: 25, ..settings() };
        // A stored layout an operator removed, and a limit over today's cap, stay as they are.
        check(&RoomSettings { name: "Renamed".into(), ..before.clone() }, Some(&before), true).unwrap();
        let moved = RoomSettings { starts_at: Some(950), ..before.clone() };
        assert!(check(&moved, Some(&before), true).unwrap_err().contains("startsAt cannot change"));
        check(&moved, Some(&before), false).unwrap();
        let bigger = RoomSettings { composite: CompositeConfig { width: 640, ..CompositeConfig::default() }, ..before.clone() };
        assert!(check(&bigger, Some(&before), false).unwrap_err().contains("composite"));
    }

    #[test]
    fn a_patch_names_what_it_changes_and_the_host_may_change_only_the_allowed() {
        let mut s = settings();
        let view = SettingsPatch { layout: Some("speaker".into()), chat_enabled: Some(false), ..SettingsPatch::default() };
        assert_eq!(view.touched(), [Setting::Layout, Setting::ChatEnabled]);
        assert!(view.host_may_apply());
        view.apply(&mut s);
        assert_eq!((s.layout.as_str(), s.chat_enabled, s.name.as_str()), ("speaker", false, "Standup"));
        let live = SettingsPatch { hide_audio_only: Some(true), hls: Some(true), ..SettingsPatch::default() };
        assert!(live.host_may_apply(), "the host may start HLS");
        let more = SettingsPatch { hls: Some(true), auto_record: Some(true), ..SettingsPatch::default() };
        assert!(!more.host_may_apply(), "autoRecord needs an API key");
        let clear = SettingsPatch { metadata: Some(None), ends_at: Some(None), ..SettingsPatch::default() };
        s.metadata = Some(serde_json::json!({}));
        s.ends_at = Some(5);
        clear.apply(&mut s);
        assert_eq!((s.metadata, s.ends_at), (None, None));
        assert!(SettingsPatch::default().host_may_apply() && SettingsPatch::default().touched().is_empty());
    }

    #[test]
    fn stored_json_round_trips_and_missing_settings_read_as_defaults() {
        let s = RoomSettings { metadata: Some(serde_json::Value::Null), hls: true, ..settings() };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<RoomSettings>(&json).unwrap(), s);
        let old: RoomSettings = serde_json::from_str(r#"{"name":"Old","layout":"speaker"}"#).unwrap();
        assert_eq!(old, RoomSettings { name: "Old".into(), layout: "speaker".into(), ..RoomSettings::default() });
    }
}
