//! The probes' answers: `GET /livez`, `/readyz` and `/healthz` (open, no credentials, no body).

use serde::Serialize;
use utoipa::ToSchema;

/// `GET /livez`: the process serves HTTP.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `alive`.
    #[schema(example = "alive", pattern = "^alive$")]
    pub status: &'static str,
}

/// `GET /readyz`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReadyStatus {
    /// Send this node new connections.
    Ready,
    /// Cluster mode, Redis cannot be reached: still 200, since every node is alike then and live
    /// calls and their reconnections continue through any of them.
    Degraded,
    /// SIGTERM: 503, send new connections elsewhere.
    Draining,
}

/// `GET /readyz`: whether a load balancer should send this node new connections.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Readiness {
    pub status: ReadyStatus,
}

/// `GET /healthz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// 200.
    Ok,
    /// 503: SIGTERM; this node takes no new rooms, its live rooms continue until they end.
    Draining,
    /// 503, cluster mode: Redis cannot be reached; live calls continue, no room can be placed.
    Degraded,
}

/// `GET /healthz`: liveness plus the live-object counts that leak tests and operators watch.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub status: HealthStatus,
    /// Why the status is not `ok` (else `null`).
    pub reason: Option<String>,
    /// Cluster mode: this node's id (else `null`).
    pub node: Option<String>,
    /// Cluster mode: whether this node places rooms that ran before again (false for a few
    /// seconds after Redis came back or a fresh Redis started); else `null`.
    pub settled: Option<bool>,
    /// Rooms running on this node.
    pub rooms: usize,
    pub participant_tasks: usize,
    pub peer_connections: usize,
    /// Rooms' media pipelines (compositor and mixer).
    pub room_pipelines: usize,
    pub recordings: usize,
    /// RTMP outputs.
    pub streams: usize,
    pub hls_outputs: usize,
    /// Output pipelines of every kind.
    pub output_pipelines: usize,
}
