//! Live RTMP outputs of a room: start (`POST`), list and read (`GET`), stop (`DELETE`). API key
//! or the room's host token. Stream keys never appear in answers (`rtmp://host/app/****`).

use super::body;
use super::forward::{self, Callers, Incoming, Kind, Routed};
use super::rejection::{ApiError, reject};
use super::{AppState, caller, with_state};
use crate::auth::Caller;
use crate::records::StreamView;
use crate::wire::{ErrorBody, StartStreamRequest, StreamList};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

type Reject = warp::Rejection;

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = Reject> + Clone + use<> {
    let s = || with_state(state.clone()).and(caller(state)).and(forward::incoming(state, Callers::Identified));
    let streams = || warp::path!("api" / "v1" / "rooms" / String / "streams");
    let stream = || warp::path!("api" / "v1" / "rooms" / String / "streams" / String);
    let start =
        streams().and(warp::post()).and(s()).and_then(|id, st, c, i| async move { start_stream(id, st, c, i).await.map_err(reject) });
    let list = streams().and(warp::get()).and(s()).and_then(|id, st, c, i| async move { list_streams(id, st, c, i).await.map_err(reject) });
    let get =
        stream().and(warp::get()).and(s()).and_then(|id, sid, st, c, i| async move { get_stream(id, sid, st, c, i).await.map_err(reject) });
    let stop = stream()
        .and(warp::delete())
        .and(s())
        .and_then(|id, sid, st, c, i| async move { stop_stream(id, sid, st, c, i).await.map_err(reject) });
    start.or(list).unify().or(get).unify().or(stop).unify()
}

/// Push the room's composite and full mix (H.264 + AAC in FLV) to an RTMP ingest. The answer
/// comes at once in state `connecting`; it becomes `live` while data flows to the server,
/// `retrying` (with `lastError`) while it cannot reach or keep the server, retrying with
/// back-off from 1 s to 30 s until stopped.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/streams", tag = "streams", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = StartStreamRequest,
    responses((status = 201, body = StreamView), (status = 400, body = ErrorBody, description = "a bad url"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`room_ended`; `room_not_open`: scheduled, not started yet"),
        (status = 429, body = ErrorBody, description = "`too_many_streams`: the room runs its maximum"),
        (status = 503, body = ErrorBody, description = "`media_unavailable`")))]
pub async fn start_stream(id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let (room, raw) = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, raw) => (room, body::read(raw, state.config.http_read_timeout()).await?),
    };
    state.auth.require_host(&caller, &id)?;
    let req: StartStreamRequest = body::json_required(&raw)?;
    // The document's `maxLength`, counted as sent (the RTMP check counts UTF-8 bytes once trimmed).
    if req.url.chars().count() > 2048 {
        return Err(ApiError::BadRequest("url must be at most 2048 characters".into()));
    }
    let view = room.live(&state).await?.start_stream(req.url).await??;
    Ok(warp::reply::with_status(warp::reply::json(&view), StatusCode::CREATED).into_response())
}

/// The room's RTMP outputs (stopped ones are forgotten).
#[utoipa::path(get, path = "/api/v1/rooms/{id}/streams", tag = "streams", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = StreamList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn list_streams(id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let room = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, _) => room,
    };
    state.auth.require_host(&caller, &id)?;
    let streams = room.live(&state).await?.streams().await?;
    Ok(warp::reply::json(&StreamList { streams }).into_response())
}

/// One RTMP output.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/streams/{streamId}", tag = "streams", security(("bearer" = [])),
    params(("id" = String, Path), ("streamId" = String, Path)),
    responses((status = 200, body = StreamView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`room_not_found`, `stream_not_found`"),
        (status = 409, body = ErrorBody, description = "`room_ended`")))]
pub async fn get_stream(id: String, sid: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let room = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, _) => room,
    };
    state.auth.require_host(&caller, &id)?;
    let streams = room.live(&state).await?.streams().await?;
    let s = streams
        .into_iter()
        .find(|s| s.id == sid)
        .ok_or_else(|| ApiError::NotFound("stream_not_found", format!("no stream {sid:?} in this room")))?;
    Ok(warp::reply::json(&s).into_response())
}

/// Stop an RTMP output; returns it in state `stopped`.
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/streams/{streamId}", tag = "streams", security(("bearer" = [])),
    params(("id" = String, Path), ("streamId" = String, Path)),
    responses((status = 200, body = StreamView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`room_not_found`, `stream_not_found`"),
        (status = 409, body = ErrorBody, description = "`room_ended`")))]
pub async fn stop_stream(id: String, sid: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let room = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, _) => room,
    };
    state.auth.require_host(&caller, &id)?;
    let view = room
        .live(&state)
        .await?
        .stop_stream(&sid)
        .await?
        .map_err(|_| ApiError::NotFound("stream_not_found", format!("no stream {sid:?} in this room")))?;
    Ok(warp::reply::json(&view).into_response())
}
