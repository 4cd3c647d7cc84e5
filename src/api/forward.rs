//! Cluster mode: a REST call about a room that runs on another node is forwarded there, so
//! any node answers for every room (the signaling WebSocket is relayed in `ws_relay.rs`).
//!
//! Which calls: each room-scoped route says how it is routed, with a [`Kind`], where it is
//! defined (`rooms.rs`, `participants.rs`, `recordings.rs`, `streams.rs`, `files.rs`,
//! `live.rs`), and its handler starts with [`Incoming::route`], which decides once where the
//! call is served: calls that need the room's actor (`Live`: `PATCH`/`DELETE
//! /api/v1/rooms/{id}` and every route under it but `ws` and `tokens`) place a room running
//! nowhere first, on the least-loaded node; `GET /api/v1/rooms/{id}` and `/live/{id}/…` follow a running room only;
//! `POST /api/v1/recordings/{id}/stop` follows the recording's room; a recording's files go
//! to the node whose disk holds them. Tokens (`…/tokens`) are minted by any node (the secret
//! is shared). A call forwarded here carries [`HOP_HEADER`]: this node then takes the room
//! itself rather than choosing again, and forwards again only to the room's lease holder. A
//! call served here hands the decision to its handler ([`RoomRoute`]), which does not look
//! the room up again.
//!
//! Invariants: a call is routed only once its caller is known to this node (HLS: by the owner),
//! so nobody unknown makes a node place a room; the caller's credentials go through unchanged
//! and are checked by the owner (after this node checked them too); a node that cannot be
//! reached answers 503 `node_unreachable`; every other outcome is the owner's own answer,
//! status and body.

use super::AppState;
use super::rejection::ApiError;
use crate::room::{RoomHandle, Route};
use bytes::Buf;
use std::time::Duration;
use warp::http::{HeaderMap, Method, StatusCode};
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// The request body as warp streams it.
pub(super) type BodyStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, warp::Error>> + Send + Sync>>;

/// Marks a request one node forwarded to another.
pub const HOP_HEADER: &str = "x-tessera-hop";
/// A forwarded call's whole answer (the owner's own limits apply before this).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// How a room-scoped route is routed in a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Needs the room's actor: place it if it runs nowhere.
    Live,
    /// Only follows a running room.
    Follow,
    /// Stopping a recording: follows the room the recording (the id here) belongs to.
    Recording,
    /// A recording's files (download, delete): to the node whose disk holds them.
    Files,
}

/// Whose calls a route lets this node route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Callers {
    /// The route identified its caller already (`super::caller`, which refuses the unknown).
    Identified,
    /// Callers whose `Authorization` header this node knows; the route checks its own
    /// credentials later (a join token in the query too), and serves the others here.
    ByHeader,
    /// Anyone: the owner checks the credentials (HLS).
    Anyone,
}

/// A room-scoped call as it came, to be forwarded unchanged if another node serves it.
pub(super) struct Incoming {
    path: FullPath,
    method: Method,
    headers: HeaderMap,
    query: String,
    body: BodyStream,
    /// Whether this node may route it (see [`Callers`]).
    known: bool,
}

/// The call of a room-scoped route, taken after the route's path and method matched.
pub(super) fn incoming(state: &AppState, callers: Callers) -> impl Filter<Extract = (Incoming,), Error = Rejection> + Clone + use<> {
    let auth = state.auth.clone();
    warp::path::full()
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::body::stream().map(boxed))
        .map(move |path: FullPath, method: Method, headers: HeaderMap, query: String, body: BodyStream| {
            let known = match callers {
                Callers::Identified | Callers::Anyone => true,
                Callers::ByHeader => super::caller_of(&auth, &headers).is_ok(),
            };
            Incoming { path, method, headers, query, body, known }
        })
}

/// Where a room-scoped call is served.
pub(super) enum Routed {
    /// Another node answered it: its answer, status and body as it sent them.
    Forwarded(Response),
    /// Served here: where its room is served, and the body as it came.
    Here(RoomRoute, BodyStream),
}

/// Where the room of a call served here is served, decided at most once per call: when the call
/// came in (cluster mode, a `Live` route, a known caller), or else when the handler first asks,
/// after its own checks (a single node only looks the room up; a cluster may place it).
pub(super) struct RoomRoute {
    id: String,
    decided: Option<Route>,
}

impl RoomRoute {
    pub(super) async fn route(self, state: &AppState) -> Result<Route, ApiError> {
        match self.decided {
            Some(route) => Ok(route),
            None => Ok(Box::pin(state.rooms.route(&self.id, false)).await?),
        }
    }

    /// The live room, or 404 / 409. In a cluster a room running nowhere is placed (here or on
    /// another node; a call for a room on another node is forwarded before its handler, so
    /// landing elsewhere now means it moved in between: 503 `room_moving`).
    pub(super) async fn live(self, state: &AppState) -> Result<RoomHandle, ApiError> {
        let id = self.id.clone();
        match self.route(state).await? {
            Route::Local(h) => Ok(h),
            Route::Ended(_) => Err(ApiError::RoomEnded),
            Route::NotFound => Err(ApiError::RoomNotFound(id)),
            Route::Remote(_) => Err(room_moving()),
        }
    }
}

/// A room that started on another node between the routing decision and its use.
pub(super) fn room_moving() -> ApiError {
    ApiError::Cluster("room_moving", "the room is starting on another node; try again".into())
}

impl Incoming {
    /// Decides where the call about `id` (a room; a recording for `Recording` and `Files`) is
    /// served, as `kind` says, and forwards it when that is another node. A single node, or a
    /// caller this node does not know, is served here with nothing decided yet.
    pub(super) async fn route(self, state: &AppState, id: &str, kind: Kind) -> Result<Routed, ApiError> {
        let mut room = RoomRoute { id: id.to_owned(), decided: None };
        if state.rooms.cluster().is_none() || !self.known {
            return Ok(Routed::Here(room, self.body));
        }
        let hop = self.headers.contains_key(HOP_HEADER);
        // A room running here is never forwarded (`owner_url` and `route` answer it first).
        let remote = match kind {
            Kind::Files => Box::pin(files_node_url(state, id, hop)).await?,
            Kind::Recording => match Box::pin(state.rooms.store().get_recording(id)).await? {
                Some(rec) => Box::pin(state.rooms.owner_url(&rec.room_id)).await?,
                None => None,
            },
            Kind::Follow => Box::pin(state.rooms.owner_url(id)).await?,
            Kind::Live => match Box::pin(state.rooms.route(id, hop)).await? {
                Route::Remote(url) => Some(url),
                here => {
                    room.decided = Some(here);
                    None
                }
            },
        };
        let Some(url) = remote else { return Ok(Routed::Here(room, self.body)) };
        let Incoming { path, method, headers, query, body, .. } = self;
        // Boxed: a client request's future is large, and every route's future holds this one.
        let answer = Box::pin(proxy(state, &url, path.as_str(), &query, method, &headers, reqwest::Body::wrap_stream(body))).await?;
        Ok(Routed::Forwarded(answer))
    }
}

fn boxed<S, B>(s: S) -> BodyStream
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Send + Sync + 'static,
    B: Buf,
{
    Box::pin(futures::StreamExt::map(s, |r| r.map(|mut b| b.copy_to_bytes(b.remaining()))))
}

/// The URL of the node holding recording `id`'s files when that is another node; 503
/// `node_unreachable` when that node is not live.
async fn files_node_url(state: &AppState, id: &str, hop: bool) -> Result<Option<String>, ApiError> {
    let Some(cluster) = state.rooms.cluster() else { return Ok(None) };
    let node = Box::pin(state.rooms.store().files_node(id)).await?;
    let Some(node) = node.filter(|n| n != cluster.id() && !hop) else { return Ok(None) };
    let nodes = Box::pin(cluster.live_nodes()).await.map_err(crate::cluster::node::PlaceError::from)?;
    match nodes.into_iter().find(|n| n.id == node) {
        Some(n) => Ok(Some(n.url)),
        None => Err(ApiError::Cluster(
            "node_unreachable",
            format!("the recording's files are on node {node}, which is not running; try again when it is back"),
        )),
    }
}

/// Sends the call to `base` and returns its answer as it is.
async fn proxy(
    state: &AppState,
    base: &str,
    path: &str,
    query: &str,
    method: Method,
    headers: &HeaderMap,
    body: reqwest::Body,
) -> Result<Response, ApiError> {
    let url = if query.is_empty() { format!("{base}{path}") } else { format!("{base}{path}?{query}") };
    let unreachable = |e: reqwest::Error| {
        tracing::warn!(%base, error = %e, "cluster: forwarding to the room's node failed");
        ApiError::Cluster("node_unreachable", "the node running this room cannot be reached; try again shortly".into())
    };
    let mut req =
        state.http.request(method, &url).timeout(FORWARD_TIMEOUT).header(HOP_HEADER, state.rooms.cluster().map_or("", |c| c.id()));
    for (name, value) in headers {
        if !is_hop_by_hop(name.as_str()) {
            req = req.header(name, value);
        }
    }
    let resp = req.body(body).send().await.map_err(unreachable)?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out_headers = HeaderMap::new();
    for (name, value) in resp.headers() {
        // The owner's length stays: the body below is the owner's, byte for byte.
        if !is_hop_by_hop(name.as_str()) || name == "content-length" {
            out_headers.append(name, value.clone());
        }
    }
    // Streamed (a recording may be gigabytes), through a channel: the client library's own
    // stream is not `Sync`, which a reply body must be.
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let mut resp = resp;
    tokio::spawn(async move {
        use futures::SinkExt;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if tx.send(Ok(chunk)).await.is_err() {
                        break; // the client went away
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e))).await;
                    break;
                }
            }
        }
    });
    let mut out = warp::Reply::into_response(warp::reply::stream(rx));
    *out.status_mut() = status;
    *out.headers_mut() = out_headers;
    Ok(out)
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the length
/// the client library sets itself and our own hop marker.
fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade" | "te" | "trailer" | "host" | "content-length"
    ) || name == HOP_HEADER
}
