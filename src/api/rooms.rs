//! `POST /api/v1/rooms` and `GET /api/v1/rooms/{id}`.

use super::rejection::ApiError;
use super::{AppState, with_state};
use serde::Deserialize;
use warp::http::StatusCode;
use warp::{Filter, Reply};

/// Largest accepted request body.
const MAX_BODY: u64 = 16 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRoom {
    name: Option<String>,
}

fn parse_create(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    let req: CreateRoom = serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    match req.name.map(|n| n.trim().to_owned()) {
        Some(n) if n.is_empty() || n.chars().count() > 100 => Err(ApiError::BadRequest("name must be 1 to 100 characters".into())),
        other => Ok(other),
    }
}

pub fn create(state: AppState) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "v1" / "rooms").and(warp::post()).and(warp::body::stream()).and(with_state(state)).and_then(
        |body, state: AppState| async move {
            let body = read_limited(body, MAX_BODY as usize).await.map_err(warp::reject::custom)?;
            let name = parse_create(&body).map_err(warp::reject::custom)?;
            let room = state.rooms.create(name);
            let body = serde_json::json!({ "id": room.id, "name": room.name, "createdAt": room.created_at });
            Ok::<_, warp::Rejection>(warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response())
        },
    )
}

/// Reads a request body (with or without Content-Length) up to `limit` bytes.
async fn read_limited<S, B>(mut body: S, limit: usize) -> Result<Vec<u8>, ApiError>
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: bytes::Buf,
{
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        if out.len() + chunk.remaining() > limit {
            return Err(ApiError::TooLarge(limit));
        }
        while chunk.has_remaining() {
            let c = chunk.chunk();
            out.extend_from_slice(c);
            let n = c.len();
            chunk.advance(n);
        }
    }
    Ok(out)
}

pub fn get(state: AppState) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "v1" / "rooms" / String).and(warp::get()).and(with_state(state)).and_then(
        |id: String, state: AppState| async move {
            let room = state.rooms.get(&id).ok_or_else(|| warp::reject::custom(ApiError::RoomNotFound(id.clone())))?;
            let info = room.info().await.ok_or_else(|| warp::reject::custom(ApiError::RoomNotFound(id)))?;
            Ok::<_, warp::Rejection>(warp::reply::json(&info).into_response())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_rules() {
        assert_eq!(parse_create(b"").unwrap(), None);
        assert_eq!(parse_create(br#"{"name":" Standup "}"#).unwrap().as_deref(), Some("Standup"));
        assert!(parse_create(br#"{"name":""}"#).is_err());
        assert!(parse_create(br#"{"nme":"x"}"#).is_err());
        assert!(parse_create(b"{").is_err());
    }
}
