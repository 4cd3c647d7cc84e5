//! Typed API errors → HTTP status + `{"code": "...", "message": "..."}`; warp's own
//! rejections (no route, wrong method, body too large, bad JSON) get the same shape.

use crate::auth::AuthError;
use crate::room::{CreateError, JoinError, ManageError, RoomGone};
use crate::store::StoreError;
use crate::wire::ErrorBody;
use std::convert::Infallible;
use warp::http::StatusCode;
use warp::reject::Reject;
use warp::{Rejection, Reply};

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no room with id {0:?}")]
    RoomNotFound(String),
    #[error("no participant with id {0:?} in this room")]
    ParticipantNotFound(String),
    #[error("the room has ended")]
    RoomEnded,
    #[error("{0}")]
    BadRequest(String),
    /// 403 `forbidden` with its own reason (a good credential that may not do this).
    #[error("{0}")]
    Forbidden(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request body did not arrive within {0} s")]
    Timeout(u64),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{0}")]
    TooManyRooms(String),
    #[error("the server could not complete the request")]
    Internal(#[source] StoreError),
    /// 404 with its own code (`recording_not_found`, `stream_not_found`, `part_not_found`, …).
    #[error("{1}")]
    NotFound(&'static str, String),
    /// 409 with its own code (`recording_running`, `recording_not_running`, `multiple_parts`).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// 400 with its own code (`bad_sdp`).
    #[error("{1}")]
    Invalid(&'static str, String),
    /// 403 with its own code (`room_locked`, `removed_from_room`, `must_knock`).
    #[error("{1}")]
    Refused(&'static str, String),
    /// 415 `unsupported_media_type`: the body is not of the type the operation takes.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 with its own code: a well-formed request that cannot be served (`no_usable_codec`,
    /// `too_many_tracks`, `nothing_sent`).
    #[error("{1}")]
    Unprocessable(&'static str, String),
    /// 429 with its own code (`too_many_recordings`, `too_many_streams`).
    #[error("{1}")]
    Limit(&'static str, String),
    #[error("{0}")]
    Unavailable(String),
    /// 503 `storage_error`: a file could not be read or removed.
    #[error("{0}")]
    Storage(String),
    #[error("the range is outside the file's {0} bytes")]
    RangeNotSatisfiable(u64),
    /// 503 with its own code: `store_unavailable`, `cluster_unavailable`, `cluster_full`,
    /// `room_moving`, `draining`, `node_unreachable`.
    #[error("{1}")]
    Cluster(&'static str, String),
}

impl Reject for ApiError {}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "the shared store cannot be reached");
            return ApiError::Cluster("store_unavailable", format!("the shared store cannot be reached, try again shortly ({e})"));
        }
        tracing::error!(error = %e, source = ?std::error::Error::source(&e), "store failure");
        ApiError::Internal(e)
    }
}

impl From<CreateError> for ApiError {
    fn from(e: CreateError) -> Self {
        match e {
            CreateError::Invalid(m) => ApiError::BadRequest(m),
            CreateError::TooMany(_) => ApiError::TooManyRooms(e.to_string()),
            CreateError::Store(s) => s.into(),
            CreateError::Place(p) => p.into(),
        }
    }
}

impl From<crate::cluster::node::PlaceError> for ApiError {
    fn from(e: crate::cluster::node::PlaceError) -> Self {
        use crate::cluster::node::PlaceError as P;
        let code = match &e {
            P::Full => "cluster_full",
            P::OwnerGone(_) => "room_moving",
            P::Draining => "draining",
            P::Unavailable(_) | P::Settling => "cluster_unavailable",
        };
        ApiError::Cluster(code, e.to_string())
    }
}

impl From<crate::room::RouteError> for ApiError {
    fn from(e: crate::room::RouteError) -> Self {
        match e {
            crate::room::RouteError::Store(s) => s.into(),
            crate::room::RouteError::Place(p) => p.into(),
        }
    }
}

/// The room's actor stopped while the call was being served.
impl From<RoomGone> for ApiError {
    fn from(_: RoomGone) -> Self {
        ApiError::RoomEnded
    }
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Gone(g) => g.into(),
            ManageError::NoParticipant(p) => ApiError::ParticipantNotFound(p),
            e @ ManageError::NoKnock(_) => ApiError::NotFound("knock_not_found", e.to_string()),
            ManageError::NotAllowed(m) => ApiError::Forbidden(m),
            ManageError::Invalid(m) => ApiError::BadRequest(m),
            ManageError::Store(s) => s.into(),
        }
    }
}

/// A join the room refused (a WHIP stream's; the signaling socket has its own close codes).
impl From<JoinError> for ApiError {
    fn from(e: JoinError) -> Self {
        let message = e.to_string();
        match e {
            JoinError::Full(_) => ApiError::Conflict("room_full", message),
            JoinError::Gone(_) => ApiError::RoomEnded,
            JoinError::NotStarted { .. } => ApiError::Conflict("room_not_started", message),
            JoinError::Media(_) => ApiError::Unavailable(message),
            JoinError::Locked => ApiError::Refused("room_locked", message),
            JoinError::Removed => ApiError::Refused("removed_from_room", message),
            JoinError::MustKnock => ApiError::Refused(
                "must_knock",
                "the room's lobby is on and a stream cannot wait in it: use a host token, or turn the lobby off".into(),
            ),
            JoinError::LobbyFull(_) => ApiError::Limit("lobby_full", message),
            JoinError::TooManyViewers(_) => ApiError::Limit("too_many_viewers", message),
        }
    }
}

impl From<crate::egress::OutputError> for ApiError {
    fn from(e: crate::egress::OutputError) -> Self {
        use crate::egress::OutputError as O;
        use crate::egress::recording::RecordError as R;
        match e {
            O::Record(R::AlreadyRunning(_)) => ApiError::Conflict("recording_running", e.to_string()),
            O::Record(R::TooMany(_)) => ApiError::Limit("too_many_recordings", e.to_string()),
            O::Record(R::Store(s)) => s.into(),
            O::NotFound(_) => ApiError::NotFound("output_not_found", e.to_string()),
            O::TooManyStreams(_) => ApiError::Limit("too_many_streams", e.to_string()),
            O::Invalid(m) => ApiError::BadRequest(m),
            O::NotOpen(m) => ApiError::Conflict("room_not_open", m),
            O::Unavailable(m) => ApiError::Unavailable(m),
            O::Media(_) => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl ApiError {
    fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::RoomNotFound(_) => (StatusCode::NOT_FOUND, "room_not_found"),
            ApiError::ParticipantNotFound(_) => (StatusCode::NOT_FOUND, "participant_not_found"),
            ApiError::RoomEnded => (StatusCode::CONFLICT, "room_ended"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::Auth(a) => (StatusCode::from_u16(a.status()).unwrap_or(StatusCode::UNAUTHORIZED), a.code()),
            ApiError::TooManyRooms(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_rooms"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::NotFound(code, _) => (StatusCode::NOT_FOUND, code),
            ApiError::Conflict(code, _) => (StatusCode::CONFLICT, code),
            ApiError::Limit(code, _) => (StatusCode::TOO_MANY_REQUESTS, code),
            ApiError::Refused(code, _) => (StatusCode::FORBIDDEN, code),
            ApiError::Invalid(code, _) => (StatusCode::BAD_REQUEST, code),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::Unprocessable(code, _) => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "media_unavailable"),
            ApiError::Storage(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_error"),
            ApiError::RangeNotSatisfiable(_) => (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable"),
            ApiError::Cluster(code, _) => (StatusCode::SERVICE_UNAVAILABLE, code),
        }
    }
}

/// Turns an error into a warp rejection (recovered by [`recover`]).
pub fn reject(e: impl Into<ApiError>) -> Rejection {
    warp::reject::custom(e.into())
}

pub fn error_reply(status: StatusCode, code: &str, message: impl Into<String>) -> warp::reply::Response {
    let mut r =
        warp::reply::with_status(warp::reply::json(&ErrorBody { code: code.into(), message: message.into() }), status).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert("www-authenticate", warp::http::HeaderValue::from_static("Bearer"));
    }
    r
}

pub async fn recover(r: Rejection) -> Result<warp::reply::Response, Infallible> {
    if let Some(e) = r.find::<ApiError>() {
        let (status, code) = e.status_code();
        let mut reply = error_reply(status, code, e.to_string());
        if let ApiError::RangeNotSatisfiable(len) = e
            && let Ok(v) = warp::http::HeaderValue::from_str(&format!("bytes */{len}"))
        {
            reply.headers_mut().insert("content-range", v);
        }
        // A passing state (Redis away or just back, a room moving, a node unreachable): the
        // client may try again in a second.
        if let ApiError::Cluster("store_unavailable" | "cluster_unavailable" | "room_moving" | "node_unreachable", _) = e {
            reply.headers_mut().insert("retry-after", warp::http::HeaderValue::from_static("1"));
        }
        return Ok(reply);
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
