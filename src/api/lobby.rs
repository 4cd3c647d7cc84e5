//! `/api/v1/rooms/{id}/lobby`: who waits to be let in, and a host's answer (host powers).

use super::forward::{self, Callers, Incoming, Kind, Routed};
use super::rejection::{ApiError, reject};
use super::{AppState, body, caller, with_state};
use crate::auth::Caller;
use crate::wire::{ErrorBody, LobbyAnswer, LobbyList};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + use<> {
    let s = || with_state(state.clone()).and(caller(state)).and(forward::incoming(state, Callers::Identified));
    let list = warp::path!("api" / "v1" / "rooms" / String / "lobby")
        .and(warp::get())
        .and(s())
        .and_then(|id, st, c, i| async move { list_lobby(id, st, c, i).await.map_err(reject) });
    let answer = warp::path!("api" / "v1" / "rooms" / String / "lobby" / String)
        .and(warp::post())
        .and(s())
        .and_then(|id, kid, st, c, i| async move { answer_knock(id, kid, st, c, i).await.map_err(reject) });
    list.or(answer).unify()
}

/// Who waits in the room's lobby (the room's `lobby` setting), oldest first.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/lobby", tag = "participants", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = LobbyList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn list_lobby(id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let room = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, _) => room,
    };
    state.auth.require_host(&caller, &id)?;
    let waiting = room.live(&state).await?.waiting().await?;
    Ok(warp::reply::json(&LobbyList { waiting }).into_response())
}

/// Let someone waiting in the lobby in (`{"admit": true}`: they join at once) or refuse them
/// (`false`: told `lobby_denied`). Every host gets `lobbyResolved`.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/lobby/{knockId}", tag = "participants", security(("bearer" = [])),
    params(("id" = String, Path), ("knockId" = String, Path)), request_body = LobbyAnswer,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn answer_knock(id: String, knock_id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let (room, raw) = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, raw) => (room, body::read(raw, state.config.http_read_timeout()).await?),
    };
    state.auth.require_host(&caller, &id)?;
    let req: LobbyAnswer = body::json_required(&raw)?;
    room.live(&state).await?.answer_knock(&knock_id, req.admit).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
