//! HTTP surface (the only module that knows warp): REST under `/api/v1`, WebSocket signaling,
//! `/healthz`, the OpenAPI document and the browser client at `/`. One file per resource;
//! [`rejection`] maps typed errors and warp's own rejections to a status and
//! `{"code","message"}`, and [`allow`] adds `Allow` to every 405.
//!
//! Every REST call first identifies its caller ([`caller`]) and checks what the caller may do
//! before it looks anything up, so a refused caller learns nothing about which rooms exist. In a
//! cluster, a room-scoped call of a known caller is first routed, once, to the node serving its
//! room ([`forward`]); that node's handler checks it.

mod allow;
mod body;
mod client;
mod download;
mod files;
mod forward;
#[cfg(test)]
mod fuzz_tests;
mod health;
mod keepalive;
mod limits;
mod listen;
mod live;
mod lobby;
pub mod openapi;
pub use sdp_session::Sessions;
mod participants;
mod recordings;
pub mod rejection;
mod rooms;
mod sdp_session;
mod streams;
mod tokens;
mod whep;
mod whip;
mod ws;
mod ws_limits;
mod ws_lobby;
mod ws_relay;

use crate::auth::{Auth, AuthError, Caller};
use crate::config::Config;
use crate::room::Rooms;
use crate::rtc::RtcFactory;
use std::sync::Arc;
use warp::Filter;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub rooms: Rooms,
    pub config: Arc<Config>,
    pub rtc: RtcFactory,
    pub auth: Auth,
    /// Cluster mode: forwards calls to the node running a room.
    pub http: reqwest::Client,
    /// The WHIP and WHEP sessions this node serves.
    pub sessions: sdp_session::Sessions,
}

fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// The caller, from the `Authorization` header (401 when it is bad or missing outside open
/// mode; a value that is not visible ASCII is a bad credential too, not a bad request).
fn caller(state: &AppState) -> impl Filter<Extract = (Caller,), Error = warp::Rejection> + Clone + use<> {
    let auth = state.auth.clone();
    warp::header::headers_cloned().and_then(move |h: warp::http::HeaderMap| {
        let r = caller_of(&auth, &h).map_err(rejection::reject);
        async move { r }
    })
}

/// The caller that `headers` name (see [`caller`]).
fn caller_of(auth: &Auth, headers: &warp::http::HeaderMap) -> Result<Caller, AuthError> {
    match headers.get(warp::http::header::AUTHORIZATION).map(|v| v.to_str()) {
        None => auth.caller(None),
        Some(Ok(v)) => auth.caller(Some(v)),
        Some(Err(_)) => Err(AuthError::Invalid),
    }
}

/// An optional header as text. A value with bytes outside visible ASCII is read lossily rather
/// than refused with 400: a `Range` like that is then ignored as invalid syntax (RFC 9110
/// §14.2), an `Authorization` refused as a bad credential (401).
fn header_text(name: &'static str) -> impl Filter<Extract = (Option<String>,), Error = std::convert::Infallible> + Clone {
    warp::header::headers_cloned()
        .map(move |h: warp::http::HeaderMap| h.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()))
}

/// `routes` as one boxed filter answering with a plain response.
fn boxed<R: warp::Reply + 'static>(
    routes: impl Filter<Extract = (R,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    routes.map(warp::Reply::into_response).boxed()
}

/// Serves the API on `listener` until `stop` is cancelled (then finishes open requests), with
/// the time and size limits of `listen.rs`.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener, stop: tokio_util::sync::CancellationToken) {
    listen::serve(state, listener, stop).await
}

/// Every route, with rejections recovered into JSON errors.
pub fn routes(state: AppState) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    let doc = Arc::new(openapi::document(&state));
    let allow = Arc::new(allow::Allow::new(&doc));
    // Each resource's routes are boxed: one future of the whole tree holding every handler's
    // inline grew past a debug build's 2 MiB thread stack.
    let api = boxed(rooms::routes(&state))
        .or(boxed(participants::routes(&state)))
        .or(boxed(lobby::routes(&state)))
        .or(boxed(tokens::routes(&state)))
        .or(boxed(recordings::routes(&state)))
        .or(boxed(streams::routes(&state)))
        .or(boxed(live::routes(&state)))
        .or(boxed(files::routes(&state)))
        .or(boxed(whip::routes(&state)))
        .or(boxed(whep::routes(&state)))
        .or(boxed(ws::signaling(state.clone())))
        .or(openapi::route(doc))
        .or(health::healthz(state.clone()))
        .or(health::livez())
        .or(health::readyz(state.clone()))
        .or(health::metrics(state.clone()));
    let all = api.or(client::files(state)).or(client::page_not_found()).recover(rejection::recover);
    allow::completing_405(all, allow).with(warp::log::custom(log_answer))
}

/// Logs each answer at the level it deserves, so operators alerting on ERROR are paged for
/// faults only: a server fault (500 and other 5xx) is an ERROR; a documented refusal (503:
/// Redis unreachable, a draining node, the cluster settling) a WARN, and `/healthz` saying
/// `degraded` or `draining` only DEBUG (load balancers probe it all the time); a client's error
/// INFO; the rest DEBUG. The path is logged without its query (which may carry a token).
fn log_answer(info: warp::log::Info<'_>) {
    let (status, method, path, ms) = (info.status().as_u16(), info.method().as_str(), info.path(), info.elapsed().as_millis());
    match level_of(status, path) {
        tracing::Level::ERROR => tracing::error!(status, method, path, ms, "server error"),
        tracing::Level::WARN => tracing::warn!(status, method, path, ms, "refused (documented 503)"),
        tracing::Level::INFO => tracing::info!(status, method, path, ms, "client error"),
        _ => tracing::debug!(status, method, path, ms, "answered"),
    }
}

/// The level an answer of `status` to `path` is logged at (see [`log_answer`]).
fn level_of(status: u16, path: &str) -> tracing::Level {
    match status {
        503 if matches!(path, "/healthz" | "/readyz") => tracing::Level::DEBUG,
        503 => tracing::Level::WARN,
        500..=599 => tracing::Level::ERROR,
        400..=499 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    }
}

#[cfg(test)]
mod tests {
    use super::level_of;
    use tracing::Level;

    #[test]
    fn only_faults_are_errors() {
        assert_eq!(level_of(500, "/api/v1/rooms"), Level::ERROR);
        assert_eq!(level_of(502, "/api/v1/rooms/x"), Level::ERROR);
        assert_eq!(level_of(503, "/api/v1/rooms"), Level::WARN, "a documented refusal (Redis away, draining)");
        assert_eq!(level_of(503, "/healthz"), Level::DEBUG, "probes during a deploy page nobody");
        assert_eq!(level_of(503, "/readyz"), Level::DEBUG);
        assert_eq!(level_of(404, "/api/v1/rooms/x"), Level::INFO);
        assert_eq!(level_of(200, "/healthz"), Level::DEBUG);
        assert_eq!(level_of(101, "/api/v1/rooms/x/ws"), Level::DEBUG);
    }
}
