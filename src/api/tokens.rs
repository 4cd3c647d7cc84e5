//! `POST /api/v1/rooms/{id}/tokens`: join tokens for a room.

use super::rejection::{ApiError, reject};
use super::rooms::{existing_room, join_url};
use super::{AppState, body, caller, with_state};
use crate::auth::{Caller, Role};
use crate::time::{format_unix, now_unix};
use crate::wire::{ErrorBody, TokenRequest, TokenResponse};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

const DEFAULT_TTL: u32 = 3600;
const MAX_TTL: u32 = 30 * 86_400;

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + use<> {
    warp::path!("api" / "v1" / "rooms" / String / "tokens")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(caller(state))
        .and(body::limited(state.config.http_read_timeout()))
        .and_then(|id, st, c, b| async move { create_token(id, st, c, b).await.map_err(reject) })
}

fn valid_identity(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
}

/// Issue a join token (a JWT, HS256) for a scheduled or open room. Pass it to the WebSocket as
/// `?token=` or share the returned `joinUrl`.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/tokens", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = TokenRequest,
    responses((status = 201, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_token(id: String, state: AppState, caller: Caller, raw: Vec<u8>) -> Result<Response, ApiError> {
    state.auth.require_admin(&caller)?;
    let req: TokenRequest = body::json_required(&raw)?;
    // At most 64 characters as given (the document's `maxLength`), then trimmed.
    let name = req.name.trim();
    if name.is_empty() || req.name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest("name must be 1 to 64 characters without control characters".into()));
    }
    let ttl = req.ttl_seconds.unwrap_or(DEFAULT_TTL);
    if !(1..=MAX_TTL).contains(&ttl) {
        return Err(ApiError::BadRequest(format!("ttlSeconds must be within 1..={MAX_TTL}")));
    }
    let identity = match req.identity {
        Some(i) if valid_identity(&i) => i,
        Some(_) => return Err(ApiError::BadRequest("identity must be 1 to 128 letters, digits, '-', '_', '.' or '@'".into())),
        None => format!("user-{}", crate::ids::random_id(10)),
    };
    existing_room(&state, &id).await?;
    let role = req.role.unwrap_or(Role::Participant);
    let (token, exp) = state.auth.issue(&id, &identity, name, role, now_unix(), ttl.into())?;
    // A viewer's link opens the watch page (no camera, no microphone); others join the call.
    let join_url = match role {
        Role::Viewer => format!("{}/watch.html?room={id}&token={token}", state.config.base_url()),
        Role::Host | Role::Participant => join_url(&state, &id, Some(&token)),
    };
    let resp = TokenResponse { join_url, token, identity, expires_at: format_unix(exp) };
    Ok(warp::reply::with_status(warp::reply::json(&resp), StatusCode::CREATED).into_response())
}
