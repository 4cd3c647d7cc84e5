//! `GET /live/{roomId}/index.m3u8` and its segments: the room's HLS output. A public room's
//! needs nothing; otherwise a token of that room (any role; `viewer` tokens exist for this) as
//! `?token=` or `Authorization: Bearer`, or an API key. With `?token=`, the playlist's segment
//! links carry the same token, so players (Safari, hls.js) need no header support.

use super::forward::{self, Callers, Incoming, Kind, Routed};
use super::rejection::{ApiError, reject};
use super::{AppState, download, header_text, with_state};
use crate::auth::{AuthError, Caller};
use crate::egress::hls;
use crate::room::Lookup;
use crate::wire::ErrorBody;
use std::collections::HashMap;
use warp::http::HeaderValue;
use warp::reply::Response;
use warp::{Filter, Reply};

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + use<> {
    warp::path!("live" / String / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(header_text("authorization"))
        .and(warp::query::<HashMap<String, String>>().or(warp::any().map(HashMap::new)).unify())
        .and(header_text("range"))
        .and(forward::incoming(state, Callers::Anyone))
        .and_then(|room, file, st, auth, q, range, i| async move { serve(room, file, st, auth, q, range, i).await.map_err(reject) })
}

/// Who may watch, decided before anything about the room is looked up: a credential is checked
/// on its own (a token names its room); without one, only a live public room answers, and any
/// other room id, existing or not, gets the same 401.
fn authorize(state: &AppState, room: &str, header: Option<&str>, token: Option<&str>) -> Result<(), ApiError> {
    if let Some(t) = token {
        state.auth.verify_join(t, room)?;
        return Ok(());
    }
    match state.auth.caller(header) {
        Ok(Caller::ApiKey(_)) => Ok(()),
        Ok(Caller::Token(c)) if c.room == room => Ok(()),
        Ok(Caller::Token(_)) => Err(AuthError::WrongRoom.into()),
        Ok(Caller::Open) if header.is_none() && state.rooms.get(room).is_some_and(|h| h.is_public()) => Ok(()),
        Ok(Caller::Open) if state.auth.is_open() => Ok(()),
        Ok(Caller::Open) => Err(AuthError::Missing.into()),
        Err(AuthError::Missing) if state.rooms.get(room).is_some_and(|h| h.is_public()) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The room's HLS output: `index.m3u8` (with `?token=`, its segment links carry the token) and
/// its `segmentNNNNN.ts` files. A public room needs no credential; otherwise a token of the room
/// (any role; `viewer` tokens exist for this) as `?token=` or Bearer, or an API key.
#[utoipa::path(get, path = "/live/{roomId}/{file}", tag = "live",
    params(("roomId" = String, Path), ("file" = String, Path, description = "`index.m3u8` or a segment named in it"),
        ("token" = Option<String>, Query, description = "a join token of the room"),
        ("Range" = Option<String>, Header, description = "segments only: bytes=start-end")),
    responses(
        (status = 200, description = "the playlist (`application/vnd.apple.mpegurl`) or a segment (`video/mp2t`)"),
        (status = 206, description = "a range of a segment"),
        (status = 401, body = ErrorBody, description = "no credential (and the room is not a live public one), expired or forged"),
        (status = 403, body = ErrorBody, description = "`wrong_room`: a token of another room"),
        (status = 404, body = ErrorBody, description = "`room_not_found`, `hls_not_running`, `not_found` (not a playlist or segment name), `file_not_found`"),
        (status = 409, body = ErrorBody, description = "`room_ended`"),
        (status = 416, body = ErrorBody, description = "`range_not_satisfiable`"),
        (status = 503, body = ErrorBody, description = "`storage_error`")))]
pub async fn serve(
    room: String,
    file: String,
    state: AppState,
    header: Option<String>,
    q: HashMap<String, String>,
    range: Option<String>,
    incoming: Incoming,
) -> Result<Response, ApiError> {
    if let Routed::Forwarded(answer) = incoming.route(&state, &room, Kind::Follow).await? {
        return Ok(answer);
    }
    let token = q.get("token").filter(|t| !t.is_empty());
    authorize(&state, &room, header.as_deref(), token.map(String::as_str))?;
    if state.rooms.get(&room).is_none() {
        return Err(match state.rooms.lookup(&room).await? {
            Lookup::Ended(_) => ApiError::RoomEnded,
            _ => ApiError::RoomNotFound(room),
        });
    }
    if !hls::servable(&file) {
        return Err(ApiError::NotFound("not_found", "no such HLS file".into()));
    }
    let not_running = || ApiError::NotFound("hls_not_running", "the room is not publishing HLS now".into());
    let path = hls::current_dir(&state.config.hls_dir, &room).ok_or_else(not_running)?.join(&file);
    if file == hls::PLAYLIST {
        let text = tokio::fs::read_to_string(&path).await.map_err(|_| not_running())?;
        let body = match token {
            Some(t) => text
                .lines()
                .map(|l| if !l.is_empty() && !l.starts_with('#') { format!("{l}?token={t}") } else { l.to_owned() })
                .collect::<Vec<_>>()
                .join("\n"),
            None => text,
        };
        let mut r = body.into_response();
        r.headers_mut().insert("content-type", HeaderValue::from_static("application/vnd.apple.mpegurl"));
        r.headers_mut().insert("cache-control", HeaderValue::from_static("no-cache"));
        return Ok(r);
    }
    download::serve(&path, range.as_deref(), "video/mp2t", &file).await
}
