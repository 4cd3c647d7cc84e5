//! The HTTP server loop: hyper (through hyper-util) serving the warp routes, with the limits a
//! public server needs that `warp::serve` does not set: a client has
//! `http_read_timeout_seconds` to send a request's headers (a slowloris client sending a byte a
//! second is cut off, its socket and task freed; so is a connection that never sends a byte),
//! request heads are at most
//! [`MAX_HEAD_BYTES`] (hyper answers 431 beyond), and shutdown lets open requests finish.
//! Request bodies have the same time limit where they are read (`body.rs`: 408).
//!
//! Every request is first counted against the rate limits (`limits.rs`: `429 rate_limited`
//! with `Retry-After` beyond them) before it reaches a route.
//!
//! Invariant: every accepted connection is one task, watched by the graceful shutdown once its
//! first bytes told its HTTP version (before that, shutdown drops it: a request whose first
//! bytes came in that same instant may go unanswered); an accept error (too many open files)
//! pauses accepting briefly instead of spinning.

use super::limits::RateLimits;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use warp::http::{HeaderValue, StatusCode, header};

/// Largest request head (request line and headers), bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves the API on `listener` until `stop` is cancelled, then waits for open connections
/// to finish their requests.
pub async fn serve(state: super::AppState, listener: tokio::net::TcpListener, stop: tokio_util::sync::CancellationToken) {
    let header_timeout = state.config.http_read_timeout();
    let limits = Arc::new(RateLimits::new(&state.config.rate_limit, state.config.redis_url.is_some()));
    let service = warp::service(super::routes(state));
    let mut forget = tokio::time::interval(Duration::from_secs(60));
    let mut graceful = Arc::new(GracefulShutdown::new());
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout).max_buf_size(MAX_HEAD_BYTES);
    // An HTTP/2 connection that goes silent is pinged, and closed when the ping goes unanswered.
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(header_timeout)).keep_alive_timeout(header_timeout);
    let builder = Arc::new(builder);
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            _ = forget.tick() => {
                limits.forget_idle();
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (service, limits, from) = (service.clone(), limits.clone(), peer.ip());
        let limited = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let (mut service, limits) = (service.clone(), limits.clone());
            async move {
                if let Some(too_many) = refused(&limits, from, &req) {
                    return Ok::<_, Infallible>(too_many);
                }
                tower_service::Service::call(&mut service, req).await
            }
        });
        let (builder, shutdown, stop) = (builder.clone(), Arc::downgrade(&graceful), stop.clone());
        tokio::spawn(async move {
            // The auto builder first reads which HTTP version comes, with no timeout of its
            // own (HTTP/1's header timeout starts after): a connection that sends nothing, or
            // only part of HTTP/2's preface, is closed here instead.
            tokio::select! {
                biased;
                started = tokio::time::timeout(header_timeout, version_known(&stream)) => if !matches!(started, Ok(true)) { return },
                _ = stop.cancelled() => return,
            }
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), limited).into_owned();
            let Some(graceful) = shutdown.upgrade() else { return };
            let conn = graceful.watch(conn);
            drop(graceful);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    // A connection task holds the shutdown only for the instant it registers itself.
    let graceful = loop {
        match Arc::try_unwrap(graceful) {
            Ok(g) => break g,
            Err(g) => {
                graceful = g;
                tokio::task::yield_now().await;
            }
        }
    };
    graceful.shutdown().await;
}

/// The first bytes of HTTP/2 with prior knowledge (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits until the first bytes tell the HTTP version (they stop matching HTTP/2's preface, or
/// all of it came): true then, false when the connection ends first. Only a client sending the
/// preface byte by byte makes this look again (every 10 ms; the caller's timeout bounds it).
async fn version_known(stream: &tokio::net::TcpStream) -> bool {
    let mut head = [0u8; H2_PREFACE.len()];
    loop {
        match stream.peek(&mut head).await {
            Ok(0) | Err(_) => return false,
            Ok(n) if n == head.len() || !H2_PREFACE.starts_with(&head[..n]) => return true,
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Counts `req` from `from` against the limits: the 429 to answer instead when it is over one.
fn refused<B>(limits: &RateLimits, from: IpAddr, req: &hyper::Request<B>) -> Option<warp::reply::Response> {
    let credential = req.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    let forwarded = req.headers().contains_key(super::forward::HOP_HEADER);
    let (which, wait) = limits.check(from, req.uri().path(), credential, forwarded).err()?;
    crate::metrics::rate_limited(which.as_str());
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let what = which.what();
    let mut reply =
        super::rejection::error_reply(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("too many {what}: try again in {seconds} s"));
    reply.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    Some(reply)
}
