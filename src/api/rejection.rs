//! Typed API errors → HTTP status + `{"code": "...", "message": "..."}`; warp's own
//! rejections (no route, wrong method, body too large, bad JSON) get the same shape.

use serde::Serialize;
use std::convert::Infallible;
use warp::http::StatusCode;
use warp::reject::Reject;
use warp::{Rejection, Reply};

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no room with id {0:?}")]
    RoomNotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
}

impl Reject for ApiError {}

impl ApiError {
    fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::RoomNotFound(_) => (StatusCode::NOT_FOUND, "room_not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        }
    }
}

#[derive(Serialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

pub fn error_reply(status: StatusCode, code: &str, message: impl Into<String>) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(&ErrorBody { code: code.into(), message: message.into() }), status).into_response()
}

pub async fn recover(r: Rejection) -> Result<warp::reply::Response, Infallible> {
    if let Some(e) = r.find::<ApiError>() {
        let (status, code) = e.status_code();
        return Ok(error_reply(status, code, e.to_string()));
    }
    if r.is_not_found() {
        return Ok(error_reply(StatusCode::NOT_FOUND, "not_found", "no such resource"));
    }
    if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        return Ok(error_reply(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large"));
    }
    if r.find::<warp::reject::LengthRequired>().is_some() {
        return Ok(error_reply(StatusCode::LENGTH_REQUIRED, "length_required", "a Content-Length is required"));
    }
    if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        return Ok(error_reply(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this resource"));
    }
    if r.find::<warp::reject::InvalidQuery>().is_some() {
        return Ok(error_reply(StatusCode::BAD_REQUEST, "bad_request", "invalid query string"));
    }
    if r.find::<warp::reject::MissingHeader>().is_some() || r.find::<warp::reject::InvalidHeader>().is_some() {
        return Ok(error_reply(StatusCode::BAD_REQUEST, "bad_request", "a required header is missing or invalid"));
    }
    tracing::debug!(rejection = ?r, "unhandled rejection");
    Ok(error_reply(StatusCode::BAD_REQUEST, "bad_request", "the request could not be handled"))
}
