//! `GET /healthz`: liveness plus live-object counts (rooms, participant tasks, peer
//! connections, media pipelines) that leak tests watch. `status` is `ok` (200), or 503 with
//! `draining` (SIGTERM: no new rooms; live ones run to their end) or `degraded` (cluster mode:
//! Redis cannot be reached, so no room can be placed; live calls continue), with a `reason`; in
//! cluster mode `node` and `settled` (whether this node places rooms that ran before again: false
//! for a few seconds after Redis came back). `GET /metrics`: the same counts and the media
//! counters in Prometheus text format (`crate::metrics`).

use super::{AppState, with_state};
use std::sync::atomic::Ordering;
use warp::Filter;

/// `GET /livez`: 200 while the process serves HTTP (for an orchestrator's liveness probe; it
/// says nothing of Redis or draining, which a restart would not mend).
pub fn livez() -> impl Filter<Extract = (warp::reply::Json,), Error = warp::Rejection> + Clone {
    warp::path!("livez").and(warp::get()).map(|| warp::reply::json(&serde_json::json!({ "status": "alive" })))
}

/// `GET /readyz`: whether a load balancer should send this node new connections: 503
/// `draining` once it drains; otherwise 200, also while Redis cannot be reached (`status`
/// `degraded`): every node is then alike, and live calls and their reconnections continue
/// through any of them, so taking them all out would only cut calls.
pub fn readyz(state: AppState) -> impl Filter<Extract = (warp::reply::WithStatus<warp::reply::Json>,), Error = warp::Rejection> + Clone {
    warp::path!("readyz").and(warp::get()).and(with_state(state)).map(|state: AppState| {
        let (code, status) = if state.rooms.draining() {
            (warp::http::StatusCode::SERVICE_UNAVAILABLE, "draining")
        } else if state.rooms.cluster().is_some_and(|c| !c.is_connected()) {
            (warp::http::StatusCode::OK, "degraded")
        } else {
            (warp::http::StatusCode::OK, "ready")
        };
        warp::reply::with_status(warp::reply::json(&serde_json::json!({ "status": status })), code)
    })
}

pub fn healthz(state: AppState) -> impl Filter<Extract = (warp::reply::WithStatus<warp::reply::Json>,), Error = warp::Rejection> + Clone {
    warp::path!("healthz").and(warp::get()).and(with_state(state)).map(|state: AppState| {
        let s = state.rooms.stats();
        let e = state.rooms.egress_counts();
        let cluster = state.rooms.cluster();
        let (status, reason) = if state.rooms.draining() {
            ("draining", Some("this node takes no new rooms; its live rooms continue until they end".to_owned()))
        } else if cluster.is_some_and(|c| !c.is_connected()) {
            ("degraded", Some("redis cannot be reached: live calls continue, but no room can be placed or joined anew".to_owned()))
        } else {
            ("ok", None)
        };
        let code = if status == "ok" { warp::http::StatusCode::OK } else { warp::http::StatusCode::SERVICE_UNAVAILABLE };
        let body = warp::reply::json(&serde_json::json!({
            "status": status,
            "reason": reason,
            "node": cluster.map(|c| c.id().to_owned()),
            // Cluster mode: whether this node places rooms that ran before again (false for a
            // few seconds after Redis came back, or after a fresh Redis started).
            "settled": cluster.map(|c| c.settled()),
            "rooms": state.rooms.len(),
            "participantTasks": s.participant_tasks.load(Ordering::SeqCst),
            "peerConnections": s.peer_connections.load(Ordering::SeqCst),
            "roomPipelines": s.room_media.load(Ordering::SeqCst),
            "recordings": e.recordings.load(Ordering::SeqCst),
            "streams": e.streams.load(Ordering::SeqCst),
            "hlsOutputs": e.hls.load(Ordering::SeqCst),
            "outputPipelines": e.pipelines.load(Ordering::SeqCst),
        }));
        warp::reply::with_status(body, code)
    })
}

/// `GET /metrics`: Prometheus text format, version 0.0.4 (503 `metrics_unavailable` when this
/// process's metrics recorder is not ours).
pub fn metrics(state: AppState) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    use warp::Reply;
    warp::path!("metrics").and(warp::get()).and(with_state(state)).map(|state: AppState| {
        let s = state.rooms.stats();
        let e = state.rooms.egress_counts();
        let live = crate::metrics::Live {
            rooms: state.rooms.len(),
            max_rooms: state.rooms.capacity(),
            participants: s.participant_tasks.load(Ordering::SeqCst),
            recordings: e.recordings.load(Ordering::SeqCst),
            rtmp: e.streams.load(Ordering::SeqCst),
            hls: e.hls.load(Ordering::SeqCst),
        };
        match crate::metrics::render(live) {
            Some(text) => warp::reply::with_header(text, "content-type", "text/plain; version=0.0.4; charset=utf-8").into_response(),
            None => super::rejection::error_reply(
                warp::http::StatusCode::SERVICE_UNAVAILABLE,
                "metrics_unavailable",
                "another metrics recorder is installed in this process",
            ),
        }
    })
}
