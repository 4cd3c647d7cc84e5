//! Signaling fuzz (bounded, seeded): random and mutated client messages — JSON of every type,
//! chat texts, candidates, SDP, unknown fields, wrong types, binary frames and data channel
//! style payloads — never panic the server and never disturb another participant.

mod common;

use common::client::{Client, Opts};
use common::{TestServer, eventually};
use futures::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as PropConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A JSON value of bounded depth with awkward leaves.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        "[\\x00-\\x1f\"\\\\<>&]{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::hash_map("[a-zA-Z]{1,12}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A message close to a valid one: a real type with fields of any shape, sometimes extra ones.
fn near_valid() -> impl Strategy<Value = Value> {
    let kind = prop_oneof!["offer|candidate|leave|chat|Chat|", ".{0,12}"];
    let field = prop_oneof!["sdp|candidate|sdpMid|sdpMLineIndex|text|screenTrackId|usernameFragment", "[a-z]{1,8}"];
    (kind, prop::collection::vec((field, any_json()), 0..4)).prop_map(|(k, fields)| {
        let mut m = serde_json::Map::new();
        m.insert("type".into(), Value::String(k));
        for (f, v) in fields {
            m.insert(f, v);
        }
        Value::Object(m)
    })
}

/// Chat texts: unicode, markup, control characters, at and around the 4 KiB limit.
fn chat_text() -> impl Strategy<Value = Value> {
    prop_oneof![
        ".{0,200}",
        "(<script>|&amp;|\\u{202e}|\\u{0}|https?://[a-z]{1,8}\\.[a-z]{2}|\\s){1,40}",
        (4090usize..4100).prop_map(|n| "é".repeat(n / 2)),
    ]
    .prop_map(|t| json!({"type": "chat", "text": t}))
}

/// Candidates and SDP: mutations of real-looking strings.
fn candidate_or_sdp() -> impl Strategy<Value = Value> {
    prop_oneof![
        "candidate:[0-9a-z ]{0,60}".prop_map(|c| json!({"type": "candidate", "candidate": c, "sdpMid": "0", "sdpMLineIndex": 0})),
        "(candidate:1 1 (udp|tcp|x) [0-9]{1,10} (127\\.0\\.0\\.1|::1|[a-z.]{1,20}) [0-9]{1,6} typ (host|srflx|relay|zz)( [a-z]{1,5} [0-9a-z.]{1,6}){0,3})"
            .prop_map(|c| json!({"type": "candidate", "candidate": c, "sdpMid": "0"})),
        "(v=0\r\n|m=(audio|video|application) [0-9]{1,5} [A-Z/]{1,20} [0-9 ]{0,10}\r\n|a=[a-z-]{1,12}(:[ -~]{0,30})?\r\n|c=IN IP4 [0-9.]{1,15}\r\n){0,12}"
            .prop_map(|s| json!({"type": "offer", "sdp": s})),
    ]
}

#[derive(Debug, Clone)]
enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        3 => near_valid().prop_map(|v| Frame::Text(v.to_string())),
        2 => chat_text().prop_map(|v| Frame::Text(v.to_string())),
        2 => candidate_or_sdp().prop_map(|v| Frame::Text(v.to_string())),
        1 => any_json().prop_map(|v| Frame::Text(v.to_string())),
        1 => ".{0,80}".prop_map(Frame::Text),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Frame::Binary),
    ]
}

/// `n` frames from a fixed seed (the same run every time).
fn frames(n: usize, seed: u8) -> Vec<Frame> {
    let mut runner = TestRunner::new_with_rng(PropConfig::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]));
    let strategy = frame();
    (0..n).map(|_| strategy.new_tree(&mut runner).expect("a value").current()).collect()
}

#[test]
fn parsing_never_panics() {
    for f in frames(5000, 7) {
        if let Frame::Text(t) = f {
            let _ = tessera::protocol::parse_client_message(&t);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fuzzed_signaling_never_disturbs_another_participant() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let addr = server.addr();
    let room = server.create_room().await;
    let mut good = Client::join(addr, &room, Opts { name: "Good".into(), rgb: [220, 40, 40], tone_hz: 500.0, ..Default::default() }).await;
    eventually(Duration::from_secs(20), "the good client receives video", || async {
        if good.frames() > 5 { Ok(()) } else { Err(format!("{} frames", good.frames())) }
    })
    .await;

    let mut sent = 0usize;
    let mut sockets = 0usize;
    for batch in 0..4u8 {
        let url = format!("ws://{addr}/api/v1/rooms/{room}/ws?name=Fuzz{batch}");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("connects");
        sockets += 1;
        // Read whatever the server answers, so its queue never fills.
        let (mut tx, mut rx) = ws.split();
        let reader = tokio::spawn(async move {
            let mut answers = 0usize;
            while let Some(Ok(m)) = rx.next().await {
                if let Message::Text(t) = m {
                    let v: Value = serde_json::from_str(&t).expect("the server only sends JSON");
                    assert!(v["type"].is_string(), "{v}");
                    answers += 1;
                }
            }
            answers
        });
        for f in frames(150, batch) {
            let msg = match f {
                Frame::Text(t) => Message::text(t),
                Frame::Binary(b) => Message::binary(b),
            };
            if tx.send(msg).await.is_err() {
                break; // closed by the server (e.g. a `leave` was generated): a new socket follows
            }
            sent += 1;
        }
        let _ = tx.close().await;
        let answers = tokio::time::timeout(Duration::from_secs(10), reader).await.expect("the socket closes").expect("reader");
        assert!(answers > 0, "batch {batch}: the server answered nothing");
    }
    assert!(sent > 300, "only {sent} frames sent over {sockets} sockets");

    // The good participant kept receiving and was never removed; the server is healthy.
    let before = good.frames();
    eventually(Duration::from_secs(5), "the good client keeps receiving", || async {
        if good.frames() > before + 30 { Ok(()) } else { Err(format!("{} new frames", good.frames() - before)) }
    })
    .await;
    let info = common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}"), None).await.1;
    let ids: Vec<&str> = info["participants"].as_array().expect("live room").iter().filter_map(|p| p["id"].as_str()).collect();
    assert!(ids.contains(&good.id.as_str()), "{info}");
    while let Ok(ev) = good.events.try_recv() {
        if ev["type"] == "removed" || ev["type"] == "roomEnded" {
            panic!("the good participant was disturbed: {ev}");
        }
    }
    eventually(Duration::from_secs(40), "the fuzzing sessions are gone", || async {
        let h = server.health().await;
        if h["participantTasks"].as_u64() == Some(1) { Ok(()) } else { Err(h.to_string()) }
    })
    .await;
}

/// File names as a client might send them: unicode, paths, traversal, controls, quotes,
/// header-breaking characters, percent signs, very long and empty ones.
fn file_name() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        3 => ".{0,300}".prop_map(Some),
        3 => "(\\.\\./|/|\\\\|C:\\\\|\\u{0}|\\u{7f}|\\u{202e}|\\r\\n|\"|'|;|=|%|%2F|<script>|\\.|\\s|é|🎥|[a-z]{1,8}){1,30}".prop_map(Some),
        1 => "[ .]{0,6}".prop_map(Some),
    ]
}

/// Content types: well-formed, with parameters, and arbitrary printable header values.
fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        2 => "(text|image|application|video|x)/[a-zA-Z0-9+.-]{1,30}(; ?charset=[a-z0-9-]{1,10})?".prop_map(Some),
        2 => "[ -~]{0,150}".prop_map(Some),
    ]
}

fn upload_case() -> impl Strategy<Value = (Option<String>, Option<String>, Vec<u8>)> {
    (file_name(), content_type(), prop::collection::vec(any::<u8>(), 0..3000))
}

/// What every stored name must be, whatever was sent (docs/signaling.md "Files").
fn check_stored_name(name: &str, sent: Option<&str>) {
    assert!(!name.is_empty() && name.chars().count() <= 200, "{name:?} from {sent:?}");
    assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control), "{name:?} from {sent:?}");
    assert!(!name.starts_with('.') && name.trim() == name, "{name:?} from {sent:?}");
}

fn check_stored_type(t: &str) {
    let ok = t == "application/octet-stream"
        || t.split_once('/').is_some_and(|(a, b)| {
            let token =
                |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"!#$&-^_.+".contains(&c));
            token(a) && token(b)
        });
    assert!(ok && t.len() <= 100, "stored content type {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fuzzed_file_uploads_are_stored_safely_and_never_disturb_the_call() {
    let _turn = common::one_call_at_a_time().await;
    let dir = std::env::temp_dir().join(format!("tessera-files-fuzz-{}", std::process::id()));
    let server = TestServer::start_with(tessera::config::Config {
        files_dir: Some(dir.clone()),
        max_file_bytes: 64 * 1024,
        ..common::test_config()
    })
    .await;
    let addr = server.addr();
    let room = server.create_room().await;
    let good = Client::join(addr, &room, Opts { name: "Good".into(), rgb: [40, 40, 220], tone_hz: 600.0, ..Default::default() }).await;
    eventually(Duration::from_secs(20), "the good client receives video", || async {
        if good.frames() > 5 { Ok(()) } else { Err(format!("{} frames", good.frames())) }
    })
    .await;
    // The uploader is a member: a join token and an open signaling socket, read to the end.
    let token = common::http::participant_token(addr, &room, "uploader").await;
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/rooms/{room}/ws?token={token}")).await.expect("connects");
    let (_ws_tx, mut ws_rx) = ws.split();
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = ws_rx.next().await {} });

    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1/rooms/{room}/files");
    let mut runner = TestRunner::new_with_rng(PropConfig::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]));
    let strategy = upload_case();
    let mut stored = 0;
    for _ in 0..80 {
        let (name, ctype, body) = strategy.new_tree(&mut runner).expect("a value").current();
        let mut req = http.post(&base).bearer_auth(&token).body(body.clone());
        if let Some(n) = &name {
            req = req.query(&[("name", n)]);
        }
        if let Some(t) = &ctype {
            req = req.header("content-type", t);
        }
        let r = req.send().await.expect("upload answered");
        let status = r.status().as_u16();
        let v: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("a JSON answer");
        assert_eq!(status, 201, "{name:?} {ctype:?}: {v}");
        check_stored_name(v["name"].as_str().expect("name"), name.as_deref());
        check_stored_type(v["contentType"].as_str().expect("contentType"));
        assert_eq!(v["size"], body.len(), "{v}");
        // It comes back byte for byte, as an attachment with a well-formed disposition.
        let r = http.get(format!("http://{addr}{}", v["url"].as_str().expect("url"))).bearer_auth(&token).send().await.expect("download");
        assert_eq!(r.status(), 200, "{v}");
        let disposition = r.headers()["content-disposition"].to_str().expect("an ASCII disposition").to_owned();
        assert!(disposition.starts_with("attachment; filename=\"") && disposition.contains("filename*=UTF-8''"), "{disposition}");
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        assert_eq!(r.bytes().await.expect("file").as_ref(), body.as_slice());
        stored += 1;
    }
    // Query strings that are not valid percent-encoding or UTF-8: a 4xx with a code, or stored
    // under a clean name; never a 5xx.
    for query in ["name=%FF%FE", "name=%ZZ", "name=%", "name=a&name=b", "name", "=x", "name=%00%2e%2e%2F"] {
        let r = http.post(format!("{base}?{query}")).bearer_auth(&token).body("x").send().await.expect("answered");
        let status = r.status().as_u16();
        let v: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("a JSON answer");
        match status {
            201 => check_stored_name(v["name"].as_str().expect("name"), Some(query)),
            400..=499 => assert!(v["code"].is_string() && v["message"].is_string(), "{query}: {v}"),
            _ => panic!("{query}: {status} {v}"),
        }
    }
    assert_eq!(stored, 80);

    // Nothing half-written is left, the call went on, and the room's files go with the room.
    let leftovers: Vec<_> = std::fs::read_dir(dir.join(&room))
        .expect("the room's folder")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let before = good.frames();
    eventually(Duration::from_secs(5), "the good client keeps receiving", || async {
        if good.frames() > before + 30 { Ok(()) } else { Err(format!("{} new frames", good.frames() - before)) }
    })
    .await;
    let (status, _) = common::http::request(addr, "DELETE", &format!("/api/v1/rooms/{room}"), None).await;
    assert!(status < 300, "ending the room: {status}");
    eventually(Duration::from_secs(5), "the room's files are deleted", || async {
        if dir.join(&room).exists() { Err("still there".to_owned()) } else { Ok(()) }
    })
    .await;
    reader.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
