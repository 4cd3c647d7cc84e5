//! The REST surface of the media core: rooms, health, static client, and every error path
//! answering `{"code","message"}`.

mod common;

use common::TestServer;
use common::http::{raw, request};

fn assert_error(status: u16, body: &str, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("error body is JSON: {body}"));
    assert_eq!(v["code"], want_code, "{body}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test]
async fn rooms_create_and_get() {
    let s = TestServer::start().await;
    let (status, body) = request(s.addr(), "POST", "/api/v1/rooms", None).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id");
    assert_eq!(id.len(), 22);
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(body["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')));

    let (status, named) = request(s.addr(), "POST", "/api/v1/rooms", Some(r#"{"name":"Standup"}"#)).await;
    assert_eq!(status, 201);
    assert_eq!(named["name"], "Standup");
    assert_ne!(named["id"], body["id"], "ids are unique");

    let (status, got) = request(s.addr(), "GET", &format!("/api/v1/rooms/{}", named["id"].as_str().expect("id")), None).await;
    assert_eq!(status, 200);
    assert_eq!(got["name"], "Standup");
    assert_eq!(got["participants"], serde_json::json!([]));
    assert!(got["media"].is_null(), "no media before anyone joins");
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let s = TestServer::start().await;
    let (st, b) = raw(s.addr(), "GET", "/api/v1/rooms/NoSuchRoom", None, &[]).await;
    assert_error(st, &b, 404, "room_not_found");
    let (st, b) = raw(s.addr(), "POST", "/api/v1/rooms", Some(b"{nope"), &[]).await;
    assert_error(st, &b, 400, "bad_request");
    let (st, b) = raw(s.addr(), "POST", "/api/v1/rooms", Some(br#"{"title":"x"}"#), &[]).await;
    assert_error(st, &b, 400, "bad_request");
    let (st, b) = raw(s.addr(), "POST", "/api/v1/rooms", Some(br#"{"name":""}"#), &[]).await;
    assert_error(st, &b, 400, "bad_request");
    let big = vec![b' '; 64 * 1024];
    let (st, b) = raw(s.addr(), "POST", "/api/v1/rooms", Some(&big), &[]).await;
    assert_error(st, &b, 413, "payload_too_large");
    let (st, b) = raw(s.addr(), "GET", "/api/v1/nothing-here", None, &[]).await;
    assert_error(st, &b, 404, "not_found");
    let (st, b) = raw(s.addr(), "DELETE", "/api/v1/rooms", None, &[]).await;
    assert!((400..500).contains(&st), "{st} {b}");
    // The server still serves after all of that.
    let (status, _) = request(s.addr(), "POST", "/api/v1/rooms", None).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn health_and_client_are_served() {
    let s = TestServer::start().await;
    let h = s.health().await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["participantTasks"], 0);
    let (st, html) = raw(s.addr(), "GET", "/", None, &[]).await;
    assert_eq!(st, 200);
    assert!(html.contains("New room") && html.contains("Join by ID"), "{html}");
    let (st, js) = raw(s.addr(), "GET", "/app.js", None, &[]).await;
    assert_eq!(st, 200);
    assert!(js.contains("RTCPeerConnection"));
}
