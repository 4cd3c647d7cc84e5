//! `GET /healthz`: liveness plus live-object counts (rooms, participant tasks, peer
//! connections, media pipelines) that leak tests watch.

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
