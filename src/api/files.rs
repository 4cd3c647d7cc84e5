//! Files shared in a room's chat, over HTTP:
//! - `POST /api/v1/rooms/{id}/files?name=NAME` with the uploader's join token and the raw bytes
//!   as the body (`Content-Length` required). The size and the room's quota are checked before
//!   a byte is stored; the body streams to a `.part` file that is renamed when complete, and
//!   deleted if the upload fails or the client goes away. The room then announces the file in
//!   its chat.
//! - `GET /api/v1/rooms/{id}/files/{fileId}` with a join token of the room (header or
//!   `?token=`): served as a download, never rendered by the browser.
//!
//! HTTP rather than the data channel: the body streams to disk with TCP's back-pressure, the
//! browser reports upload progress (`XMLHttpRequest.upload`), the size is known and refused
//! before anything is stored, and a large file never competes with chat or signaling.

use super::forward::{self, Callers, Incoming, Kind, Routed};
use super::rejection::{ApiError, error_reply, reject};
use super::{AppState, download, header_text, with_state};
use crate::auth::{AuthError, Caller, JoinClaims, Role};
use crate::room::RoomHandle;
use crate::room::files::{FileError, Slot};
use bytes::Buf;
use futures::{Stream, StreamExt};
use std::collections::HashMap;
use tokio::io::AsyncWriteExt;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + use<> {
    let upload = warp::path!("api" / "v1" / "rooms" / String / "files")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(header_text("authorization"))
        .and(warp::query::<HashMap<String, String>>())
        .and(header_text("content-length"))
        .and(header_text("content-type"))
        .and(forward::incoming(state, Callers::ByHeader))
        .and_then(|id, st, auth, q, len, ctype, i| async move { upload(id, st, auth, q, len, ctype, i).await.map_err(reject) });
    let fetch = warp::path!("api" / "v1" / "rooms" / String / "files" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(header_text("authorization"))
        .and(warp::query::<HashMap<String, String>>())
        .and(header_text("range"))
        .and(forward::incoming(state, Callers::ByHeader))
        .and_then(|id, file, st, auth, q, range, i| async move { fetch(id, file, st, auth, q, range, i).await.map_err(reject) });
    upload.or(fetch).unify()
}

/// The member of `room` the request is from: a join token of the room (not a viewer's), from
/// the header or `?token=`. API keys may download (`None` member) but not upload.
fn member(
    state: &AppState,
    room: &str,
    authorization: Option<&str>,
    query: &HashMap<String, String>,
) -> Result<Option<JoinClaims>, AuthError> {
    let caller = match query.get("token").filter(|t| !t.is_empty()) {
        Some(t) => Caller::Token(state.auth.verify_token(t)?),
        None => state.auth.caller(authorization)?,
    };
    match caller {
        Caller::Open | Caller::ApiKey(_) => Ok(None),
        Caller::Token(c) if c.room != room => Err(AuthError::WrongRoom),
        Caller::Token(c) if c.role == Role::Viewer => Err(AuthError::ViewerOnly),
        Caller::Token(c) => Ok(Some(c)),
    }
}

fn refused(e: &FileError) -> Response {
    let (status, code) = match e {
        FileError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large"),
        FileError::QuotaExceeded { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "room_quota_exceeded"),
        FileError::ChatDisabled => (StatusCode::FORBIDDEN, "chat_disabled"),
        FileError::NotInRoom => (StatusCode::FORBIDDEN, "not_in_room"),
        FileError::NoUpload => (StatusCode::CONFLICT, "upload_cancelled"),
    };
    error_reply(status, code, e.to_string())
}

/// A declared type if it looks like one (`type/subtype`, at most 100 characters), else none.
fn clean_type(raw: Option<&str>) -> String {
    let t = raw.unwrap_or_default().split(';').next().unwrap_or_default().trim();
    let ok = t.len() <= 100
        && t.split_once('/').is_some_and(|(a, b)| {
            let token = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c));
            token(a) && token(b)
        });
    if ok { t.to_ascii_lowercase() } else { "application/octet-stream".into() }
}

/// An upload in progress: unless it is finished, dropping it deletes the partial file and
/// gives the room its reservation back (the client went away, or the body broke).
struct Upload {
    room: RoomHandle,
    slot: Slot,
    finished: bool,
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.slot.part);
            self.room.file_abandoned(&self.slot.id);
        }
    }
}

/// Writes the body to the slot's `.part` file: exactly `slot.size` bytes or an error.
async fn store(slot: &Slot, mut body: impl Stream<Item = Result<impl Buf, warp::Error>> + Unpin) -> Result<(), ApiError> {
    let dir = slot.part.parent().map(std::path::Path::to_owned).unwrap_or_default();
    let io = |e: std::io::Error| ApiError::Storage(format!("the file could not be stored: {e}"));
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    let mut file = tokio::fs::File::create(&slot.part).await.map_err(io)?;
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the upload broke off: {e}")))?;
        written += chunk.remaining() as u64;
        if written > slot.size {
            return Err(ApiError::BadRequest("the body is longer than its Content-Length".into()));
        }
        while chunk.has_remaining() {
            let n = file.write(chunk.chunk()).await.map_err(io)?;
            chunk.advance(n);
        }
    }
    if written != slot.size {
        return Err(ApiError::BadRequest(format!("the body ended after {written} of {} bytes", slot.size)));
    }
    file.flush().await.map_err(io)?;
    drop(file);
    tokio::fs::rename(&slot.part, &slot.path).await.map_err(io)?;
    Ok(())
}

/// Share a file in the room's chat (see the module docs).
#[utoipa::path(post, path = "/api/v1/rooms/{id}/files", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path), ("name" = Option<String>, Query, description = "the file's name (paths, control characters and leading dots and spaces are removed; at most 200 characters; `file` if nothing is left)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file's bytes; Content-Length is required; at most `max_file_bytes` (default 100 MiB)"),
    responses((status = 201, body = crate::protocol::FileInfo),
        (status = 400, body = crate::wire::ErrorBody, description = "`bad_request`: the body did not match its Content-Length"),
        (status = 401, body = crate::wire::ErrorBody), (status = 403, body = crate::wire::ErrorBody, description = "`not_in_room`, `chat_disabled`, `forbidden` (an API key or a viewer token)"),
        (status = 404, body = crate::wire::ErrorBody), (status = 409, body = crate::wire::ErrorBody, description = "`room_ended`"),
        (status = 411, body = crate::wire::ErrorBody, description = "`length_required`"),
        (status = 413, body = crate::wire::ErrorBody, description = "`file_too_large` or `room_quota_exceeded`, before anything is stored")))]
pub async fn upload(
    id: String,
    state: AppState,
    authorization: Option<String>,
    query: HashMap<String, String>,
    length: Option<String>,
    content_type: Option<String>,
    incoming: Incoming,
) -> Result<Response, ApiError> {
    let (room, body) = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, body) => (room, body),
    };
    let Some(claims) = member(&state, &id, authorization.as_deref(), &HashMap::new())? else {
        return Ok(error_reply(StatusCode::FORBIDDEN, "forbidden", "a file is shared by a participant: use their join token"));
    };
    let room = room.live(&state).await?;
    let Some(size) = length.and_then(|l| l.trim().parse::<u64>().ok()) else {
        return Ok(error_reply(StatusCode::LENGTH_REQUIRED, "length_required", "an upload needs a Content-Length"));
    };
    let name = query.get("name").map(String::as_str).unwrap_or_default();
    let slot = match room.reserve_file(&claims.sub, name, &clean_type(content_type.as_deref()), size).await? {
        Err(e) => return Ok(refused(&e)),
        Ok(slot) => slot,
    };
    let mut upload = Upload { room: room.clone(), slot, finished: false };
    store(&upload.slot, body).await?;
    let info = match room.file_stored(&upload.slot.id).await? {
        Err(e) => return Ok(refused(&e)),
        Ok(info) => info,
    };
    upload.finished = true;
    Ok(warp::reply::with_status(warp::reply::json(&info), StatusCode::CREATED).into_response())
}

/// `attachment` with the name as RFC 6266 wants it: an ASCII fallback and the UTF-8 name.
fn disposition(name: &str) -> String {
    let ascii: String = name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Download a shared file (room members only).
#[utoipa::path(get, path = "/api/v1/rooms/{id}/files/{fileId}", tag = "files", security(("bearer" = [])),
    params(("id" = String, Path), ("fileId" = String, Path), ("token" = Option<String>, Query, description = "a join token of the room, instead of the Authorization header")),
    responses((status = 200, content_type = "application/octet-stream", description = "the file, as an attachment"),
        (status = 401, body = crate::wire::ErrorBody), (status = 403, body = crate::wire::ErrorBody),
        (status = 404, body = crate::wire::ErrorBody, description = "`room_not_found` or `file_not_found`"),
        (status = 409, body = crate::wire::ErrorBody, description = "`room_ended`: its files are deleted")))]
pub async fn fetch(
    id: String,
    file: String,
    state: AppState,
    authorization: Option<String>,
    query: HashMap<String, String>,
    range: Option<String>,
    incoming: Incoming,
) -> Result<Response, ApiError> {
    let room = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, _) => room,
    };
    member(&state, &id, authorization.as_deref(), &query)?;
    let room = room.live(&state).await?;
    // A room that ended meanwhile has deleted its files: not found either.
    let stored = room
        .file(&file)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::NotFound("file_not_found", format!("no file {file:?} in this room")))?;
    let mut resp = download::serve(&stored.path, range.as_deref(), "application/octet-stream", "file").await?;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&disposition(&stored.info.name)) {
        h.insert("content-disposition", v);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("cache-control", HeaderValue::from_static("private, no-store"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_dispositions() {
        assert_eq!(clean_type(Some("image/PNG")), "image/png");
        assert_eq!(clean_type(Some("text/html; charset=utf-8")), "text/html");
        assert_eq!(clean_type(Some("nonsense")), "application/octet-stream");
        assert_eq!(clean_type(Some("a/b\"<script>")), "application/octet-stream");
        assert_eq!(clean_type(None), "application/octet-stream");
        assert_eq!(
            disposition("r\u{e9}sum\u{e9} \"1\".pdf"),
            "attachment; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf"
        );
    }
}
