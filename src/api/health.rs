//! `GET /healthz`: liveness plus live-object counts (rooms, participant tasks, peer
//! connections, media pipelines) that leak tests watch. `GET /metrics`: the same counts and
//! the media counters in Prometheus text format (`crate::metrics`).

use super::{AppState, with_state};
use std::sync::atomic::Ordering;
use warp::Filter;

pub fn healthz(state: AppState) -> impl Filter<Extract = (warp::reply::Json,), Error = warp::Rejection> + Clone {
    warp::path!("healthz").and(warp::get()).and(with_state(state)).map(|state: AppState| {
        let s = state.rooms.stats();
        let e = state.rooms.egress_counts();
        warp::reply::json(&serde_json::json!({
            "status": "ok",
            "rooms": state.rooms.len(),
            "participantTasks": s.participant_tasks.load(Ordering::SeqCst),
            "peerConnections": s.peer_connections.load(Ordering::SeqCst),
            "roomPipelines": s.room_media.load(Ordering::SeqCst),
            "recordings": e.recordings.load(Ordering::SeqCst),
            "streams": e.streams.load(Ordering::SeqCst),
            "hlsOutputs": e.hls.load(Ordering::SeqCst),
            "outputPipelines": e.pipelines.load(Ordering::SeqCst),
        }))
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
