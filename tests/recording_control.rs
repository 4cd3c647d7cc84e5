//! Who may record and who is told: a room with `autoRecord` starts recording with its first
//! participant; everyone (late joiners in `welcome`) knows; the host token controls it, a
//! participant token may not; the server-wide limit refuses another room's recording (429);
//! ending the room stops and finalizes the recording; the webhooks `recordingStarted` and
//! `recordingFinished` (with duration, bytes and parts) arrive signed.

mod common;

use common::client::{Client, Opts};
use common::{TestServer, eventually, test_config};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tessera::config::Config;

const KEY: &str = "ops:0123456789abcdef-secret";
const HOOK_SECRET: &str = "hook-secret-0123456789";

async fn call(addr: SocketAddr, method: &str, path: &str, auth: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let bearer = format!("Bearer {auth}");
    let (st, text) = common::http::raw(addr, method, path, body.as_deref().map(str::as_bytes), &[("authorization", &bearer)]).await;
    (st, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn token(addr: SocketAddr, room: &str, name: &str) -> String {
    let (st, v) = call(addr, "POST", &format!("/api/v1/rooms/{room}/tokens"), KEY, Some(json!({ "name": name }))).await;
    assert_eq!(st, 201, "{v}");
    v["token"].as_str().expect("token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auto_recording_is_announced_controlled_by_the_host_and_finalized_when_the_room_ends() {
    let _turn = common::one_call_at_a_time().await;
    let (hook_addr, mut hooks) = common::webhook::receiver().await;
    let dir = std::env::temp_dir().join(format!("tessera-recctl-{}", tessera::ids::random_id(8)));
    let cfg = Config {
        api_keys: tessera::config::parse_api_keys(KEY).expect("valid"),
        webhook: Some(tessera::config::WebhookConfig {
            url: format!("http://{hook_addr}/hooks"),
            secret: HOOK_SECRET.into(),
            max_attempts: 5,
            initial_backoff_ms: 100,
        }),
        recordings_dir: dir.join("recordings"),
        max_recordings: 1,
        ..test_config()
    };
    let server = TestServer::start_with(cfg).await;
    let addr = server.addr();
    let (st, v) = call(addr, "POST", "/api/v1/rooms", KEY, Some(json!({"name": "Board", "autoRecord": true}))).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["room"]["autoRecord"], true);
    let room = v["room"]["id"].as_str().expect("id").to_owned();
    let host = v["hostToken"].as_str().expect("host token").to_owned();

    let opts = |name: &str, token: String| Opts {
        token: Some(token),
        name: name.into(),
        rgb: [220, 40, 40],
        tone_hz: 440.0,
        h264: true,
        ..Default::default()
    };
    let mut a = Client::join(addr, &room, opts("A", token(addr, &room, "A").await)).await;
    let rec = a.welcome["recording"].clone();
    let id = rec["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the first participant's welcome shows the automatic recording: {}", a.welcome))
        .to_owned();
    assert!(rec["startedAt"].as_str().is_some_and(|s| s.ends_with('Z')), "{rec}");
    let b = Client::join(addr, &room, opts("B", token(addr, &room, "B").await)).await;
    assert_eq!(b.welcome["recording"]["id"], id.as_str(), "a late joiner is told in its welcome");

    // Host powers: the host token may see and control it; a participant token may not.
    let participant = token(addr, &room, "C").await;
    let (st, v) = call(addr, "POST", &format!("/api/v1/rooms/{room}/recordings"), &participant, None).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    let (st, v) = call(addr, "POST", &format!("/api/v1/rooms/{room}/recordings"), &host, None).await;
    assert_eq!((st, v["code"].as_str()), (409, Some("recording_running")), "{v}");
    let (st, v) = call(addr, "GET", &format!("/api/v1/recordings/{id}"), &participant, None).await;
    assert_eq!(st, 403, "{v}");
    let (st, v) = call(addr, "GET", &format!("/api/v1/recordings?roomId={room}"), &host, None).await;
    assert_eq!((st, v["total"].as_u64()), (200, Some(1)), "{v}");
    let (st, _) = call(addr, "GET", "/api/v1/recordings", &host, None).await;
    assert_eq!(st, 403, "a host token lists only its own room's recordings");
    let (st, v) = call(addr, "GET", "/api/v1/recordings", "", None).await;
    assert_eq!(st, 401, "{v}");
    // The server-wide limit (max_recordings = 1 here): another room cannot record meanwhile.
    let (st, v) = call(addr, "POST", "/api/v1/rooms", KEY, Some(json!({"name": "Other"}))).await;
    assert_eq!(st, 201, "{v}");
    let other = v["room"]["id"].as_str().expect("id").to_owned();
    let (st, v) = call(addr, "POST", &format!("/api/v1/rooms/{other}/recordings"), KEY, None).await;
    assert_eq!((st, v["code"].as_str()), (429, Some("too_many_recordings")), "{v}");

    eventually(Duration::from_secs(20), "the recording has written media", || async {
        let (_, v) = call(addr, "GET", &format!("/api/v1/recordings/{id}"), &host, None).await;
        if v["bytes"].as_u64().unwrap_or(0) > 0 && v["durationMs"].as_u64().unwrap_or(0) >= 3000 { Ok(()) } else { Err(v.to_string()) }
    })
    .await;
    let (st, _) = call(addr, "DELETE", &format!("/api/v1/rooms/{room}"), &host, None).await;
    assert_eq!(st, 200);
    let stopped = tokio::time::timeout(Duration::from_secs(5), a.next_event("recordingStopped")).await.expect("told the recording stopped");
    assert_eq!((stopped["recordingId"].as_str(), stopped["state"].as_str()), (Some(id.as_str()), Some("finalizing")), "{stopped}");
    tokio::time::timeout(Duration::from_secs(5), a.next_event("roomEnded")).await.expect("then the room ends");
    let done = eventually(Duration::from_secs(20), "ending the room finalizes the recording", || async {
        let (_, v) = call(addr, "GET", &format!("/api/v1/recordings/{id}"), KEY, None).await;
        if v["state"] == "complete" { Ok(v) } else { Err(v.to_string()) }
    })
    .await;
    assert_eq!(done["parts"].as_array().map(Vec::len), Some(1), "{done}");

    let mut got = std::collections::HashMap::new();
    while !(got.contains_key("recordingStarted") && got.contains_key("recordingFinished")) {
        let (headers, body) =
            tokio::time::timeout(Duration::from_secs(10), hooks.recv()).await.expect("webhook within 10 s").expect("open");
        let sig = headers.iter().find(|(n, _)| n == "tessera-signature").map(|(_, v)| v.clone()).unwrap_or_default();
        assert!(common::webhook::verify_signature(HOOK_SECRET, &sig, &body), "signed");
        let v: Value = serde_json::from_slice(&body).expect("JSON body");
        got.insert(v["event"].as_str().unwrap_or_default().to_owned(), v);
    }
    let started = &got["recordingStarted"];
    assert_eq!(
        (started["recording"]["id"].as_str(), started["room"]["id"].as_str()),
        (Some(id.as_str()), Some(room.as_str())),
        "{started}"
    );
    let finished = &got["recordingFinished"]["recording"];
    assert_eq!(finished["state"], "complete", "{finished}");
    assert_eq!(finished["bytes"], done["bytes"], "{finished}");
    assert!(finished["durationMs"].as_u64().is_some_and(|d| d >= 2000), "{finished}");
    assert_eq!(finished["parts"].as_array().map(Vec::len), Some(1), "{finished}");
    drop((a, b));
    let _ = std::fs::remove_dir_all(dir);
}
