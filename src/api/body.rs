//! Request bodies: read with a size limit (with or without Content-Length) and parsed as JSON
//! with an error that says what is wrong (structs only from JSON objects, `wire::objects`).

use super::rejection::ApiError;
use bytes::Buf;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use std::time::Duration;
use warp::Filter;

/// Largest accepted request body.
pub const MAX_BODY: usize = 16 * 1024;

/// The raw body, at most [`MAX_BODY`] bytes, all of it within `timeout` (else 408).
pub fn limited(timeout: Duration) -> impl Filter<Extract = (Vec<u8>,), Error = warp::Rejection> + Clone {
    warp::body::stream().and_then(move |body| async move { read_limited(body, MAX_BODY, timeout).await.map_err(warp::reject::custom) })
}

/// A body taken as a stream (a room-scoped call, see `forward.rs`), read as [`limited`] does.
pub async fn read(body: super::forward::BodyStream, timeout: Duration) -> Result<Vec<u8>, ApiError> {
    read_limited(body, MAX_BODY, timeout).await
}

/// The same with a limit of its own (an SDP offer, [`super::whip::MAX_OFFER`]).
pub async fn read_up_to(body: super::forward::BodyStream, limit: usize, timeout: Duration) -> Result<Vec<u8>, ApiError> {
    read_limited(body, limit, timeout).await
}

async fn read_limited<S, B>(body: S, limit: usize, timeout: Duration) -> Result<Vec<u8>, ApiError>
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    tokio::time::timeout(timeout, read_all(body, limit)).await.map_err(|_| ApiError::Timeout(timeout.as_secs()))?
}

async fn read_all<S, B>(mut body: S, limit: usize) -> Result<Vec<u8>, ApiError>
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
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

/// A query parameter `key` that must be a whole number up to `max`.
pub fn whole_number(key: &str, value: &str, max: u32) -> Result<u32, ApiError> {
    value.parse::<u32>().ok().filter(|n| *n <= max).ok_or_else(|| ApiError::BadRequest(format!("{key} must be a whole number up to {max}")))
}

/// Parses a JSON body; `None` when the body is empty.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    crate::wire::objects::from_slice(body).map(Some).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Parses a JSON body that must be present.
pub fn json_required<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    json(body)?.ok_or_else(|| ApiError::BadRequest("a JSON body is required".into()))
}
