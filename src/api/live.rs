//! `GET /live/{roomId}/index.m3u8` and its segments: the room's HLS output. A public room's
//! needs nothing; otherwise a token of that room (any role; `viewer` tokens exist for this) as
//! `?token=` or `Authorization: Bearer`, or an API key. With `?token=`, the playlist's segment
//! links carry the same token, so players (Safari, hls.js) need no header support.

use super::rejection::{ApiError, reject};
use super::{AppState, download, with_state};
use crate::auth::{AuthError, Caller};
use crate::egress::hls;
use crate::room::Lookup;
use std::collections::HashMap;
use warp::http::HeaderValue;
use warp::reply::Response;
use warp::{Filter, Reply};

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + use<> {
    warp::path!("live" / String / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::query::<HashMap<String, String>>().or(warp::any().map(HashMap::new)).unify())
        .and(warp::header::optional::<String>("range"))
        .and_then(|room, file, st, auth, q, range| async move { serve(room, file, st, auth, q, range).await.map_err(reject) })
}

fn authorize(state: &AppState, room: &str, public: bool, header: Option<&str>, token: Option<&str>) -> Result<(), ApiError> {
    if public {
        return Ok(());
    }
    if let Some(t) = token {
        state.auth.verify_join(t, room)?;
        return Ok(());
    }
    match state.auth.caller(header)? {
        Caller::Open if header.is_none() && !state.auth.is_open() => Err(AuthError::Missing.into()),
        Caller::Open | Caller::ApiKey(_) => Ok(()),
        Caller::Token(c) if c.room == room => Ok(()),
        Caller::Token(_) => Err(AuthError::WrongRoom.into()),
    }
}

async fn serve(
    room: String,
    file: String,
    state: AppState,
    header: Option<String>,
    q: HashMap<String, String>,
    range: Option<String>,
) -> Result<Response, ApiError> {
    let token = q.get("token").filter(|t| !t.is_empty());
    let public = match state.rooms.lookup(&room)? {
        Lookup::Live(h) => h.info().await.map(|i| i.spec.public).unwrap_or(false),
        Lookup::Ended(_) => return Err(ApiError::RoomEnded),
        Lookup::NotFound => return Err(ApiError::RoomNotFound(room)),
    };
    authorize(&state, &room, public, header.as_deref(), token.map(String::as_str))?;
    if !hls::servable(&file) {
        return Err(ApiError::NotFound("not_found", "no such HLS file".into()));
    }
    let path = hls::room_dir(&state.config.hls_dir, &room).join(&file);
    if file == hls::PLAYLIST {
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|_| ApiError::NotFound("hls_not_running", "the room is not publishing HLS now".into()))?;
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
