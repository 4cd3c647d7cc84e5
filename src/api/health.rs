//! `GET /healthz`: liveness plus live-object counts (rooms, participant tasks, peer
//! connections, media pipelines) that leak tests watch. `status` is `ok` (200), or 503 with
//! `draining` (SIGTERM: no new rooms; live ones run to their end) or `degraded` (cluster mode:
//! Redis cannot be reached, so no room can be placed; live calls continue), with a `reason`; in
//! cluster mode `node` and `settled` (whether this node places rooms that ran before again: false
//! for a few seconds after Redis came back). `GET /metrics`: the same counts and the media
//! counters in Prometheus text format (`crate::metrics`). `/livez` and `/readyz` are the
//! orchestrator's and load balancer's probes. The JSON answers are `crate::wire`'s `Liveness`,
//! `Readiness` and `Health`; all four routes are in the OpenAPI document (tag `probes`) without
//! the shared 401/413/500/503 of the API's operations: they take no credentials and no body.

use super::{AppState, with_state};
use crate::wire::{ErrorBody, Health, HealthStatus, Liveness, Readiness, ReadyStatus};
use std::sync::atomic::Ordering;
use warp::Filter;
use warp::http::StatusCode;

/// `GET /livez`: 200 while the process serves HTTP (for an orchestrator's liveness probe; it
/// says nothing of Redis or draining, which a restart would not mend).
#[utoipa::path(get, path = "/livez", tag = "probes",
    responses((status = 200, body = Liveness, description = "always, while the process serves HTTP")))]
pub fn livez() -> impl Filter<Extract = (warp::reply::Json,), Error = warp::Rejection> + Clone {
    warp::path!("livez").and(warp::get()).map(|| warp::reply::json(&Liveness { status: "alive" }))
}

/// `GET /readyz`: whether a load balancer should send this node new connections: 503
/// `draining` once it drains; otherwise 200, also while Redis cannot be reached (`status`
/// `degraded`): every node is then alike, and live calls and their reconnections continue
/// through any of them, so taking them all out would only cut calls.
#[utoipa::path(get, path = "/readyz", tag = "probes",
    responses((status = 200, body = Readiness, description = "`ready`, or `degraded` (cluster mode: Redis cannot be reached)"),
        (status = 503, body = Readiness, description = "`draining` (SIGTERM)")))]
pub fn readyz(state: AppState) -> impl Filter<Extract = (warp::reply::WithStatus<warp::reply::Json>,), Error = warp::Rejection> + Clone {
    warp::path!("readyz").and(warp::get()).and(with_state(state)).map(|state: AppState| {
        let (code, status) = if state.rooms.draining() {
            (StatusCode::SERVICE_UNAVAILABLE, ReadyStatus::Draining)
        } else if state.rooms.cluster().is_some_and(|c| !c.is_connected()) {
            (StatusCode::OK, ReadyStatus::Degraded)
        } else {
            (StatusCode::OK, ReadyStatus::Ready)
        };
        warp::reply::with_status(warp::reply::json(&Readiness { status }), code)
    })
}

/// `GET /healthz`: `ok` (200), or 503 `draining` / `degraded` with a `reason`, and the live
/// counts.
#[utoipa::path(get, path = "/healthz", tag = "probes",
    responses((status = 200, body = Health, description = "`status` `ok`"),
        (status = 503, body = Health, description = "`status` `draining` (SIGTERM) or `degraded` (cluster mode: Redis cannot be reached), with a `reason`")))]
pub fn healthz(state: AppState) -> impl Filter<Extract = (warp::reply::WithStatus<warp::reply::Json>,), Error = warp::Rejection> + Clone {
    warp::path!("healthz").and(warp::get()).and(with_state(state)).map(|state: AppState| {
        let s = state.rooms.stats();
        let e = state.rooms.egress_counts();
        let cluster = state.rooms.cluster();
        let (status, reason) = if state.rooms.draining() {
            (HealthStatus::Draining, Some("this node takes no new rooms; its live rooms continue until they end".to_owned()))
        } else if cluster.is_some_and(|c| !c.is_connected()) {
            (
                HealthStatus::Degraded,
                Some("redis cannot be reached: live calls continue, but no room can be placed or joined anew".to_owned()),
            )
        } else {
            (HealthStatus::Ok, None)
        };
        let code = if status == HealthStatus::Ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        let body = Health {
            status,
            reason,
            node: cluster.map(|c| c.id().to_owned()),
            settled: cluster.map(|c| c.settled()),
            rooms: state.rooms.len(),
            participant_tasks: s.participant_tasks.load(Ordering::SeqCst),
            peer_connections: s.peer_connections.load(Ordering::SeqCst),
            room_pipelines: s.room_media.load(Ordering::SeqCst),
            recordings: e.recordings.load(Ordering::SeqCst),
            streams: e.streams.load(Ordering::SeqCst),
            hls_outputs: e.hls.load(Ordering::SeqCst),
            output_pipelines: e.pipelines.load(Ordering::SeqCst),
        };
        warp::reply::with_status(warp::reply::json(&body), code)
    })
}

/// `GET /metrics`: Prometheus text format, version 0.0.4 (503 `metrics_unavailable` when this
/// process's metrics recorder is not ours).
#[utoipa::path(get, path = "/metrics", tag = "probes",
    responses((status = 200, content_type = "text/plain; version=0.0.4; charset=utf-8", body = String, description = "Prometheus text format 0.0.4"),
        (status = 503, body = ErrorBody, description = "`metrics_unavailable`: another metrics recorder is installed in this process")))]
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
                StatusCode::SERVICE_UNAVAILABLE,
                "metrics_unavailable",
                "another metrics recorder is installed in this process",
            ),
        }
    })
}
