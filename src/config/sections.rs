//! The configuration's sub-tables: ICE and TURN servers handed to clients, request rate limits,
//! what one inbound track may send, webhook delivery. Each is read with `deny_unknown_fields`
//! and checked in `Config::validate`.

use serde::Deserialize;

/// An ICE server handed to clients in `welcome`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub credential: Option<String>,
}

/// A TURN server whose credentials are made per participant from a shared secret (`[[turn]]`;
/// coturn's `use-auth-secret` with `static-auth-secret`): see [`crate::turn`].
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TurnConfig {
    /// `turn:` / `turns:` URLs of the server.
    pub urls: Vec<String>,
    /// The secret shared with the TURN server (at least 16 characters). Never sent to a client.
    pub secret: String,
    /// How long a credential is valid after it is handed out, seconds (60..=604800, default
    /// 86400; a call longer than this keeps its allocation, coturn only checks new ones).
    #[serde(default = "default_turn_ttl")]
    pub ttl_seconds: u64,
}

fn default_turn_ttl() -> u64 {
    86_400
}

/// The secret stays out of logs.
impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self { urls, secret: _, ttl_seconds } = self;
        f.debug_struct("TurnConfig").field("urls", urls).field("secret", &"<hidden>").field("ttl_seconds", ttl_seconds).finish()
    }
}

/// Request rate limits (`[rate_limit]`; see `api/limits.rs`). 0 turns a limit off.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// HTTP requests a second from one source address (REST, the client's files, WebSocket
    /// upgrades), sustained.
    pub requests_per_second: u32,
    /// Requests one address, or one credential, may make at once above the sustained rate.
    pub burst: u32,
    /// Signaling WebSocket connects a second from one source address, and their burst.
    pub connects_per_second: u32,
    pub connect_burst: u32,
    /// Requests a second with one credential (`Authorization` value), from any address.
    pub per_credential_per_second: u32,
    /// Signaling messages a second on one connection, sustained, and at once above that; more
    /// are dropped unread (the client is told once per spell: `signaling_rate_limited`).
    pub messages_per_second: u32,
    pub message_burst: u32,
    /// Offers (renegotiations) a minute on one connection, with bursts of 10; more are dropped
    /// the same way.
    pub offers_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 100,
            burst: 400,
            connects_per_second: 10,
            connect_burst: 60,
            per_credential_per_second: 100,
            messages_per_second: 50,
            message_burst: 200,
            offers_per_minute: 30,
        }
    }
}

/// What one inbound track of a participant (or WHIP stream) may send (`[ingest_limit]`): bits
/// and packets a second, each with a second's worth of burst. Packets over either rate are
/// dropped before they are decoded and counted in `tessera_ingest_limited_packets_total`; the
/// sender's own tile and voice suffer, nobody else's. The defaults are far above what a browser
/// sends (a camera ~2.5 Mbit/s and ~300 packets/s; Opus at most 510 kbit/s and 400 packets/s).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestLimitConfig {
    /// A video track's bits a second, in kbit/s (100..=1000000, default 20000).
    pub video_kbps: u32,
    /// A video track's packets a second (10..=100000, default 3000).
    pub video_packets_per_second: u32,
    /// An audio track's kbit/s (16..=100000, default 600).
    pub audio_kbps: u32,
    /// An audio track's packets a second (10..=100000, default 500).
    pub audio_packets_per_second: u32,
}

impl Default for IngestLimitConfig {
    fn default() -> Self {
        Self { video_kbps: 20_000, video_packets_per_second: 3_000, audio_kbps: 600, audio_packets_per_second: 500 }
    }
}

impl IngestLimitConfig {
    /// Every rate within its range.
    pub fn check(&self) -> Result<(), String> {
        let Self { video_kbps, video_packets_per_second, audio_kbps, audio_packets_per_second } = *self;
        for (name, value, range) in [
            ("video_kbps", video_kbps, 100..=1_000_000),
            ("video_packets_per_second", video_packets_per_second, 10..=100_000),
            ("audio_kbps", audio_kbps, 16..=100_000),
            ("audio_packets_per_second", audio_packets_per_second, 10..=100_000),
        ] {
            if !range.contains(&value) {
                return Err(format!("ingest_limit.{name} must be within {}..={}, got {value}", range.start(), range.end()));
            }
        }
        Ok(())
    }
}

/// Where and how to deliver webhooks (`[webhook]`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: String,
    /// Attempts per event (the first included).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First retry delay in milliseconds; doubled for each further retry.
    #[serde(default = "default_backoff_ms")]
    pub initial_backoff_ms: u64,
}

fn default_attempts() -> u32 {
    6
}

fn default_backoff_ms() -> u64 {
    1000
}
