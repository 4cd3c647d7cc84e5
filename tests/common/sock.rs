//! Signaling-only sockets and keyed REST calls for tests of rooms' rules (joins refused, the
//! lock, the lobby, co-hosts): no media, just the JSON each side says.

use futures::StreamExt;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tessera::config::Config;
use tokio_tungstenite::tungstenite::Message;

/// The API key of [`keyed_config`].
pub const KEY: &str = "ops:0123456789abcdef-secret";

/// A keyed server whose dropped sockets keep their session only 1 s (vanished clients leave
/// quickly).
pub fn keyed_config() -> Config {
    Config { api_keys: tessera::config::parse_api_keys(KEY).expect("valid"), resume_seconds: 1, ..super::test_config() }
}

/// A REST call with `Authorization: Bearer <auth>`; the status and the JSON body (`Null` when not JSON).
pub async fn call(addr: SocketAddr, method: &str, path: &str, auth: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let bearer = format!("Bearer {auth}");
    let (st, text) = super::http::raw(addr, method, path, body.as_deref().map(str::as_bytes), &[("authorization", &bearer)]).await;
    (st, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates a room with the API key; returns (id, host token).
pub async fn create(addr: SocketAddr, body: Value) -> (String, String) {
    let (st, v) = call(addr, "POST", "/api/v1/rooms", KEY, Some(body)).await;
    assert_eq!(st, 201, "{v}");
    (v["room"]["id"].as_str().expect("id").to_owned(), v["hostToken"].as_str().expect("token").to_owned())
}

pub async fn token(addr: SocketAddr, room: &str, name: &str, identity: Option<&str>) -> String {
    let mut body = json!({ "name": name });
    if let Some(i) = identity {
        body["identity"] = json!(i);
    }
    let (st, v) = call(addr, "POST", &format!("/api/v1/rooms/{room}/tokens"), KEY, Some(body)).await;
    assert_eq!(st, 201, "{v}");
    v["token"].as_str().expect("token").to_owned()
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn ws(addr: SocketAddr, room: &str, query: &str) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/rooms/{room}/ws?{query}")).await.expect("connects").0
}

/// The first message, and the close code that follows it (skipping other traffic).
pub async fn first_and_close(mut w: Ws) -> (Value, Option<u16>) {
    let mut first = Value::Null;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), w.next()).await.expect("message within 10 s") {
            Some(Ok(Message::Text(t))) if first.is_null() => first = serde_json::from_str(&t).expect("JSON"),
            Some(Ok(Message::Close(c))) => return (first, c.map(|c| u16::from(c.code))),
            None | Some(Err(_)) => return (first, None),
            Some(Ok(_)) => {}
        }
    }
}

pub async fn first_message(w: &mut Ws) -> Value {
    loop {
        if let Some(Ok(Message::Text(t))) = tokio::time::timeout(Duration::from_secs(10), w.next()).await.expect("message") {
            return serde_json::from_str(&t).expect("JSON");
        }
    }
}

/// The next message of `kind` on a signaling-only socket (others skipped).
pub async fn next_of(w: &mut Ws, kind: &str) -> Value {
    loop {
        let m = first_message(w).await;
        if m["type"] == kind {
            return m;
        }
    }
}
