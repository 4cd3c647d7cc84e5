//! Cluster mode: a signaling WebSocket opened on a node that does not run the room is relayed,
//! frame for frame, to the node that does. The client keeps its one socket (a plain load
//! balancer may have sent it anywhere); its media goes straight to the owner, whose ICE
//! candidates are what the relayed `answer` carries.
//!
//! Invariants: text and binary frames pass unchanged in both directions, and a close frame
//! passes with its code and reason; each side's pings are answered on that side (the relay
//! pings the client every [`super::keepalive::PING_EVERY`] and gives up on it after
//! [`super::keepalive::SILENCE_LIMIT`] without a frame, closing the owner's side so the owner sees
//! the drop too and keeps the session for a resume).

use super::forward::HOP_HEADER;
use super::keepalive::{PING_EVERY, SILENCE_LIMIT};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig, frame::coding::CloseCode};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use warp::ws::{Message, WebSocket};

/// Why the owner could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the owner's address {0:?} is not a usable URL")]
    Url(String),
    #[error("the room's node cannot be reached: {0}")]
    Connect(#[from] tungstenite::Error),
}

/// Connects to `base` (the owner's `http(s)://host:port`) for room `room` with the client's
/// own query string (token, name, resume); the socket is the client's from then on.
pub async fn connect(
    base: &str,
    room: &str,
    query: &str,
    from: &str,
    max_message: usize,
) -> Result<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, RelayError> {
    let ws_base =
        base.strip_prefix("https://").map(|r| format!("wss://{r}")).or_else(|| base.strip_prefix("http://").map(|r| format!("ws://{r}")));
    let ws_base = ws_base.ok_or_else(|| RelayError::Url(base.to_owned()))?;
    let url =
        if query.is_empty() { format!("{ws_base}/api/v1/rooms/{room}/ws") } else { format!("{ws_base}/api/v1/rooms/{room}/ws?{query}") };
    let mut req = url.as_str().into_client_request().map_err(|_| RelayError::Url(base.to_owned()))?;
    if let Ok(v) = tungstenite::http::HeaderValue::from_str(from) {
        req.headers_mut().insert(HOP_HEADER, v);
    }
    let config = WebSocketConfig::default().max_message_size(Some(max_message)).max_frame_size(Some(max_message));
    let connect = tokio_tungstenite::connect_async_with_config(req, Some(config), false);
    let (upstream, _) = tokio::time::timeout(std::time::Duration::from_secs(5), connect)
        .await
        .map_err(|_| RelayError::Connect(tungstenite::Error::Io(std::io::ErrorKind::TimedOut.into())))??;
    Ok(upstream)
}

/// Moves frames between the client and the owner until either side closes.
pub async fn pipe(
    mut c_tx: SplitSink<WebSocket, Message>,
    mut c_rx: SplitStream<WebSocket>,
    upstream: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) {
    let (mut u_tx, mut u_rx) = upstream.split();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = tokio::time::Instant::now();
    // A client that vanished (silence, a read error) is passed on as a dropped connection, not
    // a close: the owner then keeps the session for a resume, as it would for a direct client.
    let mut clean = true;
    loop {
        tokio::select! {
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    tracing::debug!("relay: no frame from the client; dropping both sides");
                    clean = false;
                    break;
                }
                if c_tx.send(Message::ping(Vec::new())).await.is_err() {
                    break;
                }
            }
            m = c_rx.next() => {
                let m = match m {
                    Some(Ok(m)) => m,
                    Some(Err(_)) => {
                        clean = false;
                        break;
                    }
                    None => break,
                };
                last_heard = tokio::time::Instant::now();
                let out = if m.is_text() {
                    tungstenite::Message::text(m.to_str().unwrap_or_default())
                } else if m.is_binary() {
                    tungstenite::Message::binary(m.into_bytes())
                } else if m.is_close() {
                    let frame = m.close_frame().map(|(code, reason)| CloseFrame { code: CloseCode::from(code), reason: reason.to_owned().into() });
                    let _ = u_tx.send(tungstenite::Message::Close(frame)).await;
                    break;
                } else {
                    continue; // pings and pongs are this hop's
                };
                if u_tx.send(out).await.is_err() {
                    break;
                }
            }
            m = u_rx.next() => {
                let Some(Ok(m)) = m else { break };
                let out = match m {
                    tungstenite::Message::Text(t) => Message::text(t.as_str()),
                    tungstenite::Message::Binary(b) => Message::binary(b.to_vec()),
                    tungstenite::Message::Close(frame) => {
                        let close = match frame {
                            Some(f) => Message::close_with(u16::from(f.code), f.reason.as_str().to_owned()),
                            None => Message::close(),
                        };
                        let _ = c_tx.send(close).await;
                        break;
                    }
                    _ => continue,
                };
                if c_tx.send(out).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = c_tx.close().await;
    if clean {
        let _ = u_tx.close().await;
    }
}
