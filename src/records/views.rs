//! Live state as the API shows it, kept by lower layers: an RTMP output's status and a room's
//! media counts. Serialised as they are (camelCase) by the REST views in `wire`.

use serde::Serialize;

/// An RTMP output as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamView {
    pub id: String,
    /// The target with its stream key masked (`rtmp://host/app/****`).
    pub url: String,
    /// `connecting`, `live`, `retrying` or `stopped`.
    pub state: String,
    /// Why the last attempt failed (with `retrying`, and after it on `live` until cleared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Attempts that failed so far.
    pub retries: u32,
    /// Bytes sent to the RTMP server over this output's life.
    pub bytes_sent: u64,
    /// RFC 3339.
    pub started_at: String,
}

/// Media counts reported by a room (leak tests compare them) and what its media lost so far.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaStats {
    pub elements: usize,
    pub tiles: usize,
    pub encoders: usize,
    pub audio_inputs: usize,
    pub audio_outputs: usize,
    /// Composite video packets a slow receiver could not take (each loses only its own).
    pub video_packets_dropped: u64,
    /// Mixed audio packets a slow receiver could not take.
    pub audio_packets_dropped: u64,
    /// Times an input's audio ran dry while it was playing (each is a gap in that voice).
    pub audio_underruns: u64,
    /// Milliseconds of input audio thrown away to keep latency down.
    pub audio_discarded_ms: u64,
}
