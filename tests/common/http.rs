//! HTTP for tests: the library's minimal client, panicking on I/O errors.

use std::net::SocketAddr;

/// Sends a request and returns the status and the JSON body (`Null` when not JSON).
pub async fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let (status, text) = raw(addr, method, path, body.map(str::as_bytes), &[]).await;
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Sends a request with raw body bytes and extra headers; returns status and body text.
pub async fn raw(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>, headers: &[(&str, &str)]) -> (u16, String) {
    tessera::loadgen::http::raw(addr, method, path, body, headers).await.expect("HTTP request")
}

/// A join token for a participant `name` (identity and display name) of `room`.
pub async fn participant_token(addr: SocketAddr, room: &str, name: &str) -> String {
    let body = serde_json::json!({"identity": name, "name": name}).to_string();
    let (status, v) = request(addr, "POST", &format!("/api/v1/rooms/{room}/tokens"), Some(&body)).await;
    assert_eq!(status, 201, "{v}");
    v["token"].as_str().expect("token").into()
}
