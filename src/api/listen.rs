//! The HTTP server loop: hyper (through hyper-util) serving the warp routes, with the limits a
//! public server needs that `warp::serve` does not set: a client has
//! `http_read_timeout_seconds` to send a request's headers (a slowloris client sending a byte a
//! second is cut off, its socket and task freed), request heads are at most
//! [`MAX_HEAD_BYTES`] (hyper answers 431 beyond), and shutdown lets open requests finish.
//! Request bodies have the same time limit where they are read (`body.rs`: 408).
//!
//! Invariant: every accepted connection is one task, watched by the graceful shutdown; an
//! accept error (too many open files) pauses accepting briefly instead of spinning.

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;

/// Largest request head (request line and headers), bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves the API on `listener` until `stop` is cancelled, then waits for open connections
/// to finish their requests.
pub async fn serve(state: super::AppState, listener: tokio::net::TcpListener, stop: tokio_util::sync::CancellationToken) {
    let header_timeout = state.config.http_read_timeout();
    let service = warp::service(super::routes(state));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout).max_buf_size(MAX_HEAD_BYTES);
    builder.http2().timer(TokioTimer::new());
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service.clone()));
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
