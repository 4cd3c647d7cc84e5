//! Signaling wire types: the JSON contract in `docs/signaling.md`. Kept apart from domain types;
//! every message is an object with a camelCase `type`.

use serde::{Deserialize, Serialize};

/// What a client may send.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum ClientMessage {
    Offer {
        sdp: String,
        /// While sharing a screen: the id of the screen's track (or of the stream it was added
        /// with). An offer without it ends this participant's share.
        #[serde(default)]
        screen_track_id: Option<String>,
    },
    Candidate {
        candidate: String,
        #[serde(default)]
        sdp_mid: Option<String>,
        #[serde(default, rename = "sdpMLineIndex")]
        sdp_m_line_index: Option<u16>,
        /// Browsers' `RTCIceCandidate.toJSON()` includes it; accepted and ignored.
        #[serde(default)]
        username_fragment: Option<String>,
    },
    /// A struct variant (not a unit one) so `deny_unknown_fields` applies to it too.
    Leave {},
    /// A chat message (also accepted on the `chat` data channel).
    Chat { text: String },
    /// What this client wants of the composite: `maxHeight` (pixels, 1 to 4320; absent or
    /// `null`: no limit) picks the smallest rung at least that tall (a phone showing the
    /// composite 390 px wide asks for 220); `mode` `auto` (default), `low` (at most the
    /// 360-line rung) or `off` (audio only). The server's own choice for a weak link can only
    /// be lower. `canvas`: `full` (default: the room's canvas) or `small` (the portrait
    /// small-screen canvas, for phones held upright).
    VideoPreference {
        #[serde(default)]
        max_height: Option<u32>,
        #[serde(default)]
        mode: VideoMode,
        #[serde(default)]
        canvas: VideoCanvas,
    },
    /// The client's own states, shown to everyone (the list, and the composite's tile): each
    /// field given sets that state, one left out keeps it. `micOff` also takes the voice out of
    /// the mix (as the host's mute does), `cameraOff` shows the name tile instead of the picture.
    SetState {
        #[serde(default)]
        mic_off: Option<bool>,
        #[serde(default)]
        camera_off: Option<bool>,
        #[serde(default)]
        hand_raised: Option<bool>,
    },
}

/// A client's data-saver choice.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum VideoMode {
    #[default]
    Auto,
    /// At most the 360-line rung (L1 of a 720p composite).
    Low,
    /// No video: audio only.
    Off,
}

/// Which of the room's canvases a receiver gets.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum VideoCanvas {
    /// The room's canvas as configured (what recordings and live outputs show).
    #[default]
    Full,
    /// The portrait small-screen canvas: one tile large, a few small, names drawn large.
    Small,
}

/// Which size of the composite a receiver gets, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VideoQuality {
    /// `L0` (the full composite), `L1` (half its width and height), `L2` (a quarter, at most
    /// 15 fps), or `paused` (no video: the link is too weak, or the client chose audio only).
    pub rung: String,
    /// The rung's size (0 when paused).
    pub width: u32,
    pub height: u32,
    /// `start`, `bandwidth` (its estimate fell), `loss`, `probe` (trying the next rung up) or
    /// `limit` (the client's own `videoPreference`).
    pub reason: String,
    /// The receiver's bandwidth estimate the move was made on, kbit/s, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_kbps: Option<u32>,
    /// The canvas received: `full`, or `small` (then `width`×`height` is the small canvas's
    /// size at this rung: 360×640 on L0 and L1, 180×320 on L2).
    #[serde(default)]
    pub canvas: VideoCanvas,
}

/// The size the participant's camera is drawn at in the composite, and the bitrate its camera
/// should stay under (sent only to that participant, see `docs/signaling.md`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CameraConstraint {
    /// The camera tile's size on the canvas, pixels (the picture is fitted into it, aspect
    /// ratio kept).
    pub width: u32,
    pub height: u32,
    /// The most the camera should send, kbit/s.
    pub max_bitrate_kbps: u32,
    /// `false`: the tile is not drawn now (left out of the layout, or covered by its
    /// placeholder); `width`/`height` are then a small stand-in.
    pub shown: bool,
}

/// A participant as others (and the REST API) see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantInfo {
    /// This session's id (a reconnect gets a new one).
    pub id: String,
    /// Stable identity from the join token (random for anonymous joins in open mode).
    pub identity: String,
    pub name: String,
    pub role: crate::auth::Role,
    /// A host made them a host (`POST /rooms/{id}/participants/{pid}/role`). Other hosts may take
    /// a co-host's powers away; a host who joined as one loses them only to an API key (or by
    /// stepping down).
    #[serde(default)]
    pub co_host: bool,
    /// RFC 3339.
    pub joined_at: String,
    /// Muted by the host: their audio is not in the mix.
    pub audio_muted: bool,
    /// Muted by the host: their tile shows the placeholder.
    pub video_muted: bool,
    /// Their own microphone is off (`setState`): not in the mix, "muted" on their tile.
    #[serde(default)]
    pub mic_off: bool,
    /// Their own camera is off (`setState`): their tile shows their name.
    #[serde(default)]
    pub camera_off: bool,
    /// Their hand is raised (`setState`): a hand on their tile.
    #[serde(default)]
    pub hand_raised: bool,
    /// `reconnecting` while their network is gone and the session is kept for them.
    #[serde(default)]
    pub connection: Connection,
    /// The composite this participant receives (absent until it receives video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_quality: Option<VideoQuality>,
}

impl ParticipantInfo {
    /// Someone coming in now (`joined_at`, RFC 3339): not muted, every own state off, connected,
    /// receiving nothing yet.
    pub fn arriving(id: String, identity: String, name: String, role: crate::auth::Role, co_host: bool, joined_at: String) -> Self {
        Self {
            id,
            identity,
            name,
            role,
            co_host,
            joined_at,
            audio_muted: false,
            video_muted: false,
            mic_off: false,
            camera_off: false,
            hand_raised: false,
            connection: Connection::default(),
            video_quality: None,
        }
    }
}

/// Whether a participant's connection is up.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Connection {
    #[default]
    Connected,
    /// The network dropped; the session is kept (`resumeSeconds`, longer while their media still
    /// flows) for them to come back.
    Reconnecting,
}

/// A file shared in the room's chat.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// Where room members download it (with their join token).
    pub url: String,
}

/// One chat message as everyone sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub id: String,
    pub participant_id: String,
    pub name: String,
    /// RFC 3339 with milliseconds.
    pub sent_at: String,
    /// Plain text (empty for a file).
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<FileInfo>,
}

/// The chat as a joining participant finds it.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChatState {
    pub enabled: bool,
    /// The last messages of the live room, oldest first (at most 100).
    pub history: Vec<ChatMessage>,
}

/// Limits a client should know before it hits them.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub chat_message_bytes: usize,
    pub file_bytes: u64,
    pub resume_seconds: u64,
    /// The longest a session is kept for a resume while the client's media still flows.
    pub resume_max_seconds: u64,
}

/// An ICE server as browsers take it in `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IceServerInfo {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A running recording, as participants are told of it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordingInfo {
    pub id: String,
    /// RFC 3339 with milliseconds.
    pub started_at: String,
}

/// What the composite shows: sent in `welcome` and, on every change, as `layoutChanged`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LayoutInfo {
    /// The layout in effect (`presentation` while a screen is shared, unless the host chose
    /// another since).
    pub layout: String,
    pub pinned_participant_id: Option<String>,
    pub screen_participant_id: Option<String>,
}

/// One talking participant.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SpeakerInfo {
    pub participant_id: String,
    /// 0..1 (steps of 0.05).
    pub level: f32,
}

/// Someone waiting in the lobby, as hosts see them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KnockInfo {
    /// The knock's id (`POST /api/v1/rooms/{id}/lobby/{knockId}` answers it).
    pub id: String,
    /// The name they gave.
    pub name: String,
    /// When they knocked (RFC 3339).
    pub at: String,
}

/// How a knock was resolved.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum KnockOutcome {
    /// A host let them in (or the lobby was turned off).
    Admitted,
    /// A host refused them.
    Denied,
    /// They left the lobby (closed the page, or waited too long).
    Left,
}

/// Why a participant left.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum LeaveReason {
    /// Sent `leave` or closed its socket.
    Left,
    /// Its connection failed or vanished.
    Disconnected,
    /// Removed by the host or an API call.
    Kicked,
    /// The same identity joined again (a reload, another device); the older session is removed.
    Replaced,
    /// The room ended.
    RoomEnded,
}

impl LeaveReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveReason::Left => "left",
            LeaveReason::Disconnected => "disconnected",
            LeaveReason::Kicked => "kicked",
            LeaveReason::Replaced => "replaced",
            LeaveReason::RoomEnded => "roomEnded",
        }
    }
}

/// What the server sends.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ServerMessage {
    Welcome {
        participant_id: String,
        /// Yourself as others see you (your role tells whether you have host powers). Boxed:
        /// the largest variant by far.
        you: Box<ParticipantInfo>,
        room_id: String,
        participants: Vec<ParticipantInfo>,
        ice_servers: Vec<IceServerInfo>,
        /// The recording running now, or `null`.
        recording: Option<RecordingInfo>,
        /// What the composite shows now.
        layout: LayoutInfo,
        /// Lets this session be resumed after its network drops (`?resume=`).
        resume_token: String,
        /// This welcome answers a resume: same participant, keep the peer connection.
        resumed: bool,
        chat: ChatState,
        /// The host has locked the room: nobody new may join (see `roomLocked`).
        locked: bool,
        /// Newcomers wait in the lobby for a host (see `lobbyChanged`).
        lobby: bool,
        limits: Limits,
    },
    Answer {
        sdp: String,
    },
    Candidate {
        candidate: String,
        sdp_mid: Option<String>,
        #[serde(rename = "sdpMLineIndex")]
        sdp_m_line_index: Option<u16>,
    },
    ParticipantJoined {
        participant: ParticipantInfo,
    },
    ParticipantLeft {
        participant_id: String,
        reason: LeaveReason,
    },
    /// A participant's server-side mute changed (sent to everyone, the participant included).
    ParticipantUpdated {
        participant: ParticipantInfo,
    },
    /// A recording of the room started (sent to everyone).
    RecordingStarted {
        recording: RecordingInfo,
    },
    /// The room's recording stopped: `state` is `finalizing` (stopped by request or because
    /// the room ended; the file is being closed) or `failed` (with `reason`).
    RecordingStopped {
        recording_id: String,
        state: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The layout, the pinned participant or the screen sharer changed (sent to everyone).
    LayoutChanged {
        #[serde(flatten)]
        layout: LayoutInfo,
    },
    /// Who is talking (loudest first) and who holds the floor; sent only on change, at most
    /// about 3 times a second.
    ActiveSpeakers {
        dominant_participant_id: Option<String>,
        speakers: Vec<SpeakerInfo>,
    },
    /// You were removed from the room (`kicked` or `replaced`); the server closes the
    /// connection after it (close code 4001).
    Removed {
        reason: LeaveReason,
        message: String,
    },
    /// The room ended; the server closes the connection after it (close code 4410).
    RoomEnded {
        /// `deleted`, `timeLimit`, `emptyTimeout` or `serverShutdown`.
        reason: String,
        message: String,
    },
    /// A chat message (on the participant's `chat` data channel when open, else here).
    Chat {
        message: ChatMessage,
    },
    /// The host turned chat (and file sharing) on or off.
    ChatChanged {
        enabled: bool,
    },
    /// The host locked (`true`) or unlocked the room: while locked, nobody new may join.
    RoomLocked {
        locked: bool,
    },
    /// To a newcomer whose socket waits in the lobby: a host must let them in (`welcome` then
    /// follows), or refuses (`error` `lobby_denied`).
    LobbyWaiting {
        message: String,
    },
    /// To hosts: someone knocks.
    LobbyRequest {
        knock: KnockInfo,
    },
    /// To hosts: a knock was answered (by any host) or its knocker left.
    LobbyResolved {
        knock_id: String,
        outcome: KnockOutcome,
    },
    /// The host turned the lobby on or off (sent to everyone).
    LobbyChanged {
        lobby: bool,
    },
    /// To you only: a host made you a co-host (`host`, with your host token for the REST calls
    /// of host powers) or took it away (`participant`).
    RoleChanged {
        role: crate::auth::Role,
        #[serde(skip_serializing_if = "Option::is_none")]
        host_token: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        host_token_expires_at: Option<String>,
    },
    /// Your composite moved to another rung (only to you): a weak link gets a smaller one, or
    /// `paused` (show "video paused: weak connection"; it resumes by itself).
    VideoQuality {
        #[serde(flatten)]
        quality: VideoQuality,
    },
    /// Your camera's tile in the composite changed size (only to you): send at most that size
    /// and bitrate (`RTCRtpSender.setParameters`); the screen share is not concerned.
    CameraConstraint {
        #[serde(flatten)]
        constraint: CameraConstraint,
    },
    Error {
        code: String,
        message: String,
        /// With `room_not_started`: when the room starts (RFC 3339).
        #[serde(skip_serializing_if = "Option::is_none")]
        starts_at: Option<String>,
        /// With `chat_rate_limited`: when another message will be taken.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

impl ServerMessage {
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Self::error_retry(code, message, None)
    }

    /// An error that says when to try again (`retryAfterMs`, for rate limits).
    pub fn error_retry(code: &str, message: impl Into<String>, retry_after_ms: Option<u64>) -> Self {
        Self::Error { code: code.to_owned(), message: message.into(), starts_at: None, retry_after_ms }
    }
}

/// Parses one text frame; the error text is meant for the client.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(kind) = value.get("type").and_then(|t| t.as_str()).map(str::to_owned) else {
        return Err("a message must be a JSON object with a string \"type\"".into());
    };
    if !matches!(kind.as_str(), "offer" | "candidate" | "leave" | "chat" | "videoPreference" | "setState") {
        return Err(format!("unknown message type {kind:?}"));
    }
    serde_json::from_value(value).map_err(|e| format!("bad {kind:?} message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_browser_candidate_json() {
        let m = parse_client_message(
            r#"{"type":"candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"ab"}"#,
        )
        .unwrap();
        match m {
            ClientMessage::Candidate { sdp_mid, sdp_m_line_index, .. } => {
                assert_eq!(sdp_mid.as_deref(), Some("0"));
                assert_eq!(sdp_m_line_index, Some(0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_malformed_unknown_and_incomplete() {
        assert!(parse_client_message("{").unwrap_err().contains("JSON"));
        assert!(parse_client_message(r#"{"type":"dance"}"#).unwrap_err().contains("unknown"));
        assert!(parse_client_message(r#"{"type":"offer"}"#).unwrap_err().contains("sdp"));
        assert!(parse_client_message(r#"[1]"#).is_err());
        assert!(parse_client_message(r#"{"type":"leave","x":1}"#).is_err());
        assert_eq!(parse_client_message(r#"{"type":"leave"}"#).unwrap(), ClientMessage::Leave {});
        assert_eq!(
            parse_client_message(r#"{"type":"setState","micOff":true,"handRaised":false}"#).unwrap(),
            ClientMessage::SetState { mic_off: Some(true), camera_off: None, hand_raised: Some(false) }
        );
        assert!(parse_client_message(r#"{"type":"setState","mic":true}"#).is_err(), "unknown fields are refused");
        assert!(parse_client_message(r#"{"type":"setState","micOff":"yes"}"#).is_err(), "states are booleans");
        assert_eq!(
            parse_client_message(r#"{"type":"videoPreference","maxHeight":220,"mode":"low"}"#).unwrap(),
            ClientMessage::VideoPreference { max_height: Some(220), mode: VideoMode::Low, canvas: VideoCanvas::Full }
        );
        assert_eq!(
            parse_client_message(r#"{"type":"videoPreference","canvas":"small"}"#).unwrap(),
            ClientMessage::VideoPreference { max_height: None, mode: VideoMode::Auto, canvas: VideoCanvas::Small }
        );
        assert!(parse_client_message(r#"{"type":"videoPreference","canvas":"tiny"}"#).is_err());
        assert!(parse_client_message(r#"{"type":"videoPreference","mode":"hd"}"#).is_err());
        assert!(parse_client_message(r#"{"type":"videoPreference","maxHeight":-1}"#).is_err());
    }

    #[test]
    fn server_messages_are_camel_case() {
        let s = serde_json::to_string(&ServerMessage::ParticipantLeft { participant_id: "p".into(), reason: LeaveReason::Disconnected })
            .unwrap();
        assert_eq!(s, r#"{"type":"participantLeft","participantId":"p","reason":"disconnected"}"#);
        let s = serde_json::to_string(&ServerMessage::Candidate {
            candidate: "c".into(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
        })
        .unwrap();
        assert!(s.contains(r#""sdpMLineIndex":0"#), "{s}");
        let constraint = CameraConstraint { width: 426, height: 240, max_bitrate_kbps: 332, shown: true };
        let s = serde_json::to_string(&ServerMessage::CameraConstraint { constraint }).unwrap();
        assert_eq!(s, r#"{"type":"cameraConstraint","width":426,"height":240,"maxBitrateKbps":332,"shown":true}"#);
    }
}
