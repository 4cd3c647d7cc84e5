//! Recordings: start one for a room, stop it, list and read the index, download the files (with
//! `Range`), delete them. API key or the room's host token.

use super::forward::{self, Callers, Incoming, Kind, Routed};
use super::rejection::{ApiError, reject};
use super::{AppState, caller, download, header_text, with_state};
use crate::auth::{AuthError, Caller};
use crate::records::recording::{RecordingRecord, RecordingState};
use crate::store::RecordingFilter;
use crate::wire::{ErrorBody, RecordingList, RecordingView};
use std::collections::HashMap;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

type Reject = warp::Rejection;

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = Reject> + Clone + use<> {
    let s = || with_state(state.clone()).and(caller(state));
    let incoming = || forward::incoming(state, Callers::Identified);
    let start = warp::path!("api" / "v1" / "rooms" / String / "recordings")
        .and(warp::post())
        .and(s())
        .and(incoming())
        .and_then(|id, st, c, i| async move { start_recording(id, st, c, i).await.map_err(reject) });
    let stop = warp::path!("api" / "v1" / "recordings" / String / "stop")
        .and(warp::post())
        .and(s())
        .and(incoming())
        .and_then(|id, st, c, i| async move { stop_recording(id, st, c, i).await.map_err(reject) });
    let list = warp::path!("api" / "v1" / "recordings")
        .and(warp::get())
        .and(s())
        .and(warp::query::<HashMap<String, String>>())
        .and_then(|st, c, q| async move { list_recordings(st, c, q).await.map_err(reject) });
    let get = warp::path!("api" / "v1" / "recordings" / String)
        .and(warp::get())
        .and(s())
        .and_then(|id, st, c| async move { get_recording(id, st, c).await.map_err(reject) });
    let delete = warp::path!("api" / "v1" / "recordings" / String)
        .and(warp::delete())
        .and(s())
        .and(incoming())
        .and_then(|id, st, c, i| async move { delete_recording(id, st, c, i).await.map_err(reject) });
    let range = || header_text("range");
    let file = warp::path!("api" / "v1" / "recordings" / String / "file")
        .and(warp::get())
        .and(s())
        .and(range())
        .and(incoming())
        .and_then(|id, st, c, r, i| async move { download_file(id, None, st, c, r, i).await.map_err(reject) });
    let part = warp::path!("api" / "v1" / "recordings" / String / "parts" / u32)
        .and(warp::get())
        .and(s())
        .and(range())
        .and(incoming())
        .and_then(|id, n, st, c, r, i| async move { download_part(id, n, st, c, r, i).await.map_err(reject) });
    start.or(stop).unify().or(list).unify().or(get).unify().or(delete).unify().or(file).unify().or(part).unify()
}

/// Refuses participant and viewer tokens (and revoked host tokens) before anything is looked up.
fn host_or_key(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    match caller {
        Caller::Token(c) if !state.auth.is_host(c) => Err(AuthError::NotHost.into()),
        _ => Ok(()),
    }
}

/// The recording `id`, if the caller may see it; an active one with its parts as on disk now.
async fn recording(state: &AppState, caller: &Caller, id: &str) -> Result<RecordingRecord, ApiError> {
    host_or_key(state, caller)?;
    let mut rec = state
        .rooms
        .store()
        .get_recording(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("recording_not_found", format!("no recording with id {id:?}")))?;
    state.auth.require_host(caller, &rec.room_id)?;
    if rec.state.is_active() {
        rec.parts = crate::egress::mp4::scan_parts(&rec.dir);
        rec.bytes = rec.parts.iter().map(|p| p.bytes).sum();
    }
    Ok(rec)
}

/// Start recording the room: its composite as participants see it (H.264, not encoded again)
/// and the full mix (AAC), in MP4. Works in an empty room too (its media starts for it). If
/// the recording cannot be written (no folder, no space) it is returned already `failed`, with
/// the reason.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/recordings", tag = "recordings", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 201, body = RecordingView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`recording_running`: one runs already; `room_ended`; `room_not_open`: scheduled, not started yet"),
        (status = 429, body = ErrorBody, description = "`too_many_recordings`: the server runs its maximum"),
        (status = 503, body = ErrorBody, description = "`media_unavailable`: the room's media could not start")))]
pub async fn start_recording(id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let room = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, _) => room,
    };
    state.auth.require_host(&caller, &id)?;
    let rec = room.live(&state).await?.start_recording().await??;
    Ok(warp::reply::with_status(warp::reply::json(&RecordingView::new(&rec)), StatusCode::CREATED).into_response())
}

/// Stop a running recording. It answers at once with state `finalizing`; the recording becomes
/// `complete` when its open part is closed (`recordingFinished` webhook). Stopping one that
/// is no longer running returns it unchanged.
#[utoipa::path(post, path = "/api/v1/recordings/{id}/stop", tag = "recordings", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = RecordingView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`recording_not_found`")))]
pub async fn stop_recording(id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    if let Routed::Forwarded(answer) = incoming.route(&state, &id, Kind::Recording).await? {
        return Ok(answer);
    }
    let mut rec = recording(&state, &caller, &id).await?;
    if rec.state == RecordingState::Recording
        && let Some(room) = state.rooms.get(&rec.room_id)
        && let Ok(Ok(())) = room.stop_recording(&id).await
    {
        rec.state = RecordingState::Finalizing;
    }
    Ok(warp::reply::json(&RecordingView::new(&rec)).into_response())
}

const MAX_PAGE: u32 = 200;

fn filter_from(q: &HashMap<String, String>) -> Result<RecordingFilter, ApiError> {
    let mut f = RecordingFilter { limit: 50, ..Default::default() };
    for (k, v) in q {
        let int = |max: u32| super::body::whole_number(k, v, max);
        match k.as_str() {
            "roomId" => f.room_id = Some(v.clone()),
            "state" => {
                f.state =
                    Some(RecordingState::parse(v).ok_or_else(|| {
                        ApiError::BadRequest("state must be recording, finalizing, complete, interrupted or failed".into())
                    })?)
            }
            "limit" => {
                f.limit = int(MAX_PAGE)?;
                if f.limit == 0 {
                    return Err(ApiError::BadRequest(format!("limit must be within 1..={MAX_PAGE}")));
                }
            }
            "offset" => f.offset = int(u32::MAX)?,
            other => {
                return Err(ApiError::BadRequest(format!("unknown query parameter {other:?} (known: roomId, state, limit, offset)")));
            }
        }
    }
    Ok(f)
}

/// List recordings, newest first. A host token must name its room in `roomId`.
#[utoipa::path(get, path = "/api/v1/recordings", tag = "recordings", security(("bearer" = [])),
    params(("roomId" = Option<String>, Query),
        ("state" = inline(Option<crate::wire::RecordingStateName>), Query, description = "recording, finalizing, complete, interrupted or failed"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "1 to 200, default 50"),
        ("offset" = Option<u32>, Query, format = Int64, minimum = 0, maximum = 4294967295.0, description = "default 0")),
    responses((status = 200, body = RecordingList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_recordings(state: AppState, caller: Caller, q: HashMap<String, String>) -> Result<Response, ApiError> {
    host_or_key(&state, &caller)?;
    let f = filter_from(&q)?;
    if let Caller::Token(_) = &caller {
        let room = f.room_id.as_deref().ok_or_else(|| ApiError::from(AuthError::NotAdmin))?;
        state.auth.require_host(&caller, room)?;
    }
    let (recs, total) = state.rooms.store().list_recordings(&f).await?;
    let end = u64::from(f.offset) + recs.len() as u64;
    let list =
        RecordingList { recordings: recs.iter().map(RecordingView::new).collect(), total, next_offset: (end < total).then_some(end) };
    Ok(warp::reply::json(&list).into_response())
}

/// A recording: state, times, duration, size and parts.
#[utoipa::path(get, path = "/api/v1/recordings/{id}", tag = "recordings", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = RecordingView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_recording(id: String, state: AppState, caller: Caller) -> Result<Response, ApiError> {
    let rec = recording(&state, &caller, &id).await?;
    Ok(warp::reply::json(&RecordingView::new(&rec)).into_response())
}

/// Delete a recording that is no longer running: its files and its entry.
#[utoipa::path(delete, path = "/api/v1/recordings/{id}", tag = "recordings", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`recording_running`: stop it first"),
        (status = 503, body = ErrorBody, description = "`storage_error`: the files could not be removed")))]
pub async fn delete_recording(id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    if let Routed::Forwarded(answer) = incoming.route(&state, &id, Kind::Files).await? {
        return Ok(answer);
    }
    let rec = recording(&state, &caller, &id).await?;
    if rec.state.is_active() {
        return Err(ApiError::Conflict("recording_running", "the recording is still running: stop it first".into()));
    }
    if let Err(e) = std::fs::remove_dir_all(&rec.dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(ApiError::Storage(format!("the recording's files could not be removed: {e}")));
    }
    state.rooms.store().delete_recording(&id).await?;
    tracing::info!(recording = %id, "recording deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Download a recording (`/file`: the whole recording when it is one part, the usual case) or
/// one part (`/parts/{n}`, 1-based), as `video/mp4` with `Range` support, so a `<video>` can
/// seek in it. A running recording's open part plays up to its last header update (every 0.5 s).
#[utoipa::path(get, path = "/api/v1/recordings/{id}/file", tag = "recordings", security(("bearer" = [])),
    params(("id" = String, Path), ("Range" = Option<String>, Header, description = "bytes=start-end, bytes=start- or bytes=-suffix")),
    responses((status = 200, description = "the MP4 file", content_type = "video/mp4"),
        (status = 206, description = "the requested range", content_type = "video/mp4"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`recording_not_found`, `file_not_found`"),
        (status = 409, body = ErrorBody, description = "`multiple_parts`: download /parts/{n}"),
        (status = 416, body = ErrorBody, description = "`range_not_satisfiable`"),
        (status = 503, body = ErrorBody, description = "`storage_error`: the file could not be read")))]
pub async fn download_file(
    id: String,
    part: Option<u32>,
    state: AppState,
    caller: Caller,
    range: Option<String>,
    incoming: Incoming,
) -> Result<Response, ApiError> {
    if let Routed::Forwarded(answer) = incoming.route(&state, &id, Kind::Files).await? {
        return Ok(answer);
    }
    let rec = recording(&state, &caller, &id).await?;
    let p = match part {
        Some(n) => rec.parts.iter().find(|p| p.index == n).ok_or_else(|| {
            ApiError::NotFound("part_not_found", format!("recording {id:?} has {} part(s); there is no part {n}", rec.parts.len()))
        })?,
        None => match rec.parts.as_slice() {
            [] => return Err(ApiError::NotFound("file_not_found", "the recording has no file (it failed before writing)".into())),
            [one] => one,
            more => {
                return Err(ApiError::Conflict(
                    "multiple_parts",
                    format!(
                        "the recording has {} parts: download each at /api/v1/recordings/{id}/parts/{{1..={}}}",
                        more.len(),
                        more.len()
                    ),
                ));
            }
        },
    };
    let name = format!("{}-{}", rec.id, p.file);
    download::serve(&rec.dir.join(&p.file), range.as_deref(), "video/mp4", &name).await
}

/// Same as `/file` for one part.
#[utoipa::path(get, path = "/api/v1/recordings/{id}/parts/{n}", tag = "recordings", security(("bearer" = [])),
    params(("id" = String, Path), ("n" = u32, Path, description = "1-based part index"),
        ("Range" = Option<String>, Header, description = "bytes=start-end, bytes=start- or bytes=-suffix")),
    responses((status = 200, description = "the MP4 part", content_type = "video/mp4"),
        (status = 206, description = "the requested range", content_type = "video/mp4"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`recording_not_found`, `part_not_found`"),
        (status = 416, body = ErrorBody, description = "`range_not_satisfiable`"),
        (status = 503, body = ErrorBody, description = "`storage_error`: the file could not be read")))]
pub async fn download_part(
    id: String,
    n: u32,
    state: AppState,
    caller: Caller,
    range: Option<String>,
    incoming: Incoming,
) -> Result<Response, ApiError> {
    download_file(id, Some(n), state, caller, range, incoming).await
}
