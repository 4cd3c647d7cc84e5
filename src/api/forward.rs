//! Cluster mode: a REST call about a room that runs on another node is forwarded there, so
//! any node answers for every room (the signaling WebSocket is relayed in `ws_relay.rs`).
//!
//! Which calls: everything under `/api/v1/rooms/{id}/…` and `PATCH`/`DELETE
//! /api/v1/rooms/{id}` (they need the room's actor: a room running nowhere is placed first, on
//! the least-loaded node); `GET /api/v1/rooms/{id}`, `/live/{id}/…` and `POST
//! /api/v1/recordings/{id}/stop` follow a running room only. Tokens (`…/tokens`) are minted by any node (the secret is shared). A call forwarded
//! here carries [`HOP_HEADER`]: this node then takes the room itself rather than choosing
//! again, and forwards again only to the room's lease holder.
//!
//! Invariants: the caller's credentials go through unchanged and are checked by the owner
//! (after this node checked them too); a node that cannot be reached answers 503
//! `node_unreachable`; every other outcome is the owner's own answer, status and body.

use super::rejection::{ApiError, reject};
use super::{AppState, caller, with_state};
use crate::auth::Caller;
use crate::room::Route;
use bytes::Buf;
use std::time::Duration;
use warp::http::{HeaderMap, Method, StatusCode};
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// The request body as warp streams it.
type BodyStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, warp::Error>> + Send + Sync>>;

/// Marks a request one node forwarded to another.
pub const HOP_HEADER: &str = "x-tessera-hop";
/// A forwarded call's whole answer (the owner's own limits apply before this).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// What to do with one room-scoped request.
enum Kind {
    /// Needs the room's actor: place it if it runs nowhere.
    Live,
    /// Only follows a running room.
    Follow,
    /// Stopping a recording: follows the room the recording (the id here) belongs to.
    Recording,
    /// A recording's files (download, delete): to the node whose disk holds them.
    Files,
}

/// The room a path is about and how to treat it; `None` for paths served by any node.
fn classify(path: &str, method: &Method) -> Option<(String, Kind)> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api", "v1", "rooms", id] if !id.is_empty() => {
            let kind = if method == Method::GET || method == Method::HEAD { Kind::Follow } else { Kind::Live };
            Some(((*id).to_owned(), kind))
        }
        ["api", "v1", "rooms", _, "ws"] | ["api", "v1", "rooms", _, "tokens"] => None,
        ["api", "v1", "rooms", id, _, ..] if !id.is_empty() => Some(((*id).to_owned(), Kind::Live)),
        ["live", id, _, ..] if !id.is_empty() => Some(((*id).to_owned(), Kind::Follow)),
        ["api", "v1", "recordings", id, "stop"] if !id.is_empty() => Some(((*id).to_owned(), Kind::Recording)),
        ["api", "v1", "recordings", id, "file"] | ["api", "v1", "recordings", id, "parts", _] if !id.is_empty() => {
            Some(((*id).to_owned(), Kind::Files))
        }
        ["api", "v1", "recordings", id] if !id.is_empty() && method == Method::DELETE => Some(((*id).to_owned(), Kind::Files)),
        _ => None,
    }
}

/// Forwards room-scoped calls for rooms on other nodes; rejects (404, so the local routes
/// answer) everything else.
pub fn rest(state: &AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + use<> {
    // Credentials first: nobody unknown makes this node place a room. HLS files carry their
    // viewer token in the query (or need none) and are checked by the owner.
    let scoped = warp::path::full()
        .and(warp::method())
        .and(with_state(state.clone()))
        .and_then(|path: FullPath, method: Method, state: AppState| async move {
            match (state.rooms.cluster(), classify(path.as_str(), &method)) {
                (Some(_), Some(scope)) => Ok((scope, path, method)),
                _ => Err(warp::reject::not_found()),
            }
        })
        .untuple_one();
    let known = caller(state).map(|_: Caller| ()).or(warp::path("live").map(|| ())).unify();
    scoped
        .and(known)
        .and(warp::header::headers_cloned())
        .and(with_state(state.clone()))
        .and_then(|(id, kind): (String, Kind), path: FullPath, method: Method, (), headers: HeaderMap, state: AppState| async move {
            let hop = headers.contains_key(HOP_HEADER);
            Box::pin(target(&state, id, kind, hop)).await.map(|url| (url, path, method, headers))
        })
        .untuple_one()
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::body::stream().map(boxed))
        .and(with_state(state.clone()))
        .and_then(
            |url: String, path: FullPath, method: Method, headers: HeaderMap, query: String, body: BodyStream, state: AppState| async move {
                // Boxed: a client request's future is large, and every route's future holds this one.
                Box::pin(proxy(&state, &url, path.as_str(), &query, method, &headers, reqwest::Body::wrap_stream(body)))
                    .await
                    .map_err(reject)
            },
        )
}

fn boxed<S, B>(s: S) -> BodyStream
where
    S: futures::Stream<Item = Result<B, warp::Error>> + Send + Sync + 'static,
    B: Buf,
{
    Box::pin(futures::StreamExt::map(s, |r| r.map(|mut b| b.copy_to_bytes(b.remaining()))))
}

/// The URL of the node `id` (a room, or a recording for `Recording` and `Files`) must go to;
/// a rejection to serve it here. A room running here is never forwarded (`owner_url` and
/// `route` answer it first).
async fn target(state: &AppState, id: String, kind: Kind, hop: bool) -> Result<String, Rejection> {
    let failed = |e: crate::room::RouteError| reject(ApiError::from(e));
    let remote = match kind {
        Kind::Files => files_node_url(state, &id, hop).await?,
        Kind::Recording => match state.rooms.store().get_recording(&id).await.map_err(|e| reject(ApiError::from(e)))? {
            Some(rec) => Box::pin(state.rooms.owner_url(&rec.room_id)).await.map_err(failed)?,
            None => None,
        },
        Kind::Follow => Box::pin(state.rooms.owner_url(&id)).await.map_err(failed)?,
        Kind::Live => match Box::pin(state.rooms.route(&id, hop)).await.map_err(failed)? {
            Route::Remote(url) => Some(url),
            Route::Local(_) | Route::Ended(_) | Route::NotFound => None,
        },
    };
    remote.ok_or_else(warp::reject::not_found)
}

/// The URL of the node holding recording `id`'s files when that is another node; 503
/// `node_unreachable` when that node is not live.
async fn files_node_url(state: &AppState, id: &str, hop: bool) -> Result<Option<String>, Rejection> {
    let Some(cluster) = state.rooms.cluster() else { return Ok(None) };
    let node = Box::pin(state.rooms.store().files_node(id)).await.map_err(|e| reject(ApiError::from(e)))?;
    let Some(node) = node.filter(|n| n != cluster.id() && !hop) else { return Ok(None) };
    let nodes = Box::pin(cluster.live_nodes()).await.map_err(|e| reject(ApiError::from(crate::cluster::node::PlaceError::from(e))))?;
    match nodes.into_iter().find(|n| n.id == node) {
        Some(n) => Ok(Some(n.url)),
        None => Err(reject(ApiError::Cluster(
            "node_unreachable",
            format!("the recording's files are on node {node}, which is not running; try again when it is back"),
        ))),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_scoped_paths_are_recognised() {
        let live = |p: &str, m: Method| matches!(classify(p, &m), Some((_, Kind::Live)));
        let follow = |p: &str, m: Method| matches!(classify(p, &m), Some((_, Kind::Follow)));
        assert!(follow("/api/v1/rooms/abc", Method::GET));
        assert!(live("/api/v1/rooms/abc", Method::DELETE));
        assert!(live("/api/v1/rooms/abc/participants/p1/mute", Method::POST));
        assert!(live("/api/v1/rooms/abc/recordings", Method::POST));
        assert!(follow("/live/abc/index.m3u8", Method::GET));
        assert!(matches!(classify("/api/v1/recordings/rec_1/stop", &Method::POST), Some((_, Kind::Recording))));
        assert!(classify("/api/v1/recordings/rec_1", &Method::GET).is_none());
        assert!(matches!(classify("/api/v1/recordings/rec_1/file", &Method::GET), Some((_, Kind::Files))));
        assert!(matches!(classify("/api/v1/recordings/rec_1/parts/2", &Method::GET), Some((_, Kind::Files))));
        assert!(matches!(classify("/api/v1/recordings/rec_1", &Method::DELETE), Some((_, Kind::Files))));
        assert!(classify("/api/v1/rooms/abc/ws", &Method::GET).is_none());
        assert!(classify("/api/v1/rooms/abc/tokens", &Method::POST).is_none());
        assert!(classify("/api/v1/rooms", &Method::POST).is_none());
        assert!(classify("/api/v1/rooms/", &Method::GET).is_none());
        assert_eq!(classify("/api/v1/rooms/abc/streams", &Method::GET).map(|c| c.0), Some("abc".to_owned()));
    }
}
