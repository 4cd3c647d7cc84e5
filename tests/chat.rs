//! Chat, shared files and resumable sessions (docs/signaling.md "Chat", "Files",
//! "Reconnection"), over the real signaling socket and HTTP.

mod common;

use common::{TestServer, test_config};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr, room: &str, query: &str) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/rooms/{room}/ws?{query}")).await.expect("connects").0
}

/// The next message of `kind`, skipping others (fails after 10 s).
async fn next_of(ws: &mut Ws, kind: &str) -> serde_json::Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap_or_else(|_| panic!("no {kind} within 10 s"));
        match m {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t).expect("JSON");
                if v["type"] == kind {
                    return v;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("socket ended waiting for {kind}: {other:?}"),
        }
    }
}

async fn send(ws: &mut Ws, v: serde_json::Value) {
    ws.send(Message::text(v.to_string())).await.expect("send");
}

/// A room and its host token.
async fn room_with_token(addr: std::net::SocketAddr) -> (String, String) {
    let (status, body) = common::http::request(addr, "POST", "/api/v1/rooms", Some("{}")).await;
    assert_eq!(status, 201, "{body}");
    (body["room"]["id"].as_str().expect("id").into(), body["hostToken"].as_str().expect("token").into())
}

async fn json(r: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&r.bytes().await.expect("body")).expect("JSON body")
}

/// Sends only the head of an upload of `len` bytes and reads the answer the server gives
/// without waiting for the body.
async fn headers_only(addr: std::net::SocketAddr, path: &str, token: &str, len: usize) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: {len}\r\n\r\n");
    s.write_all(head.as_bytes()).await.expect("head");
    let mut buf = Vec::new();
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.unwrap_or(0);
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)));
                if n == 0 || len.is_some_and(|l| body.len() >= l) {
                    return text;
                }
            } else if n == 0 {
                return text;
            }
        }
    })
    .await
    .expect("an answer without the body");
    let status = answer.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| serde_json::from_str(b).unwrap_or_default()).unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_reaches_everyone_with_history_limits_and_the_host_switch() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let addr = server.addr();
    let room = server.create_room().await;
    let mut ada = connect(addr, &room, "name=Ada").await;
    let w = next_of(&mut ada, "welcome").await;
    let ada_id = w["participantId"].as_str().expect("id").to_owned();
    assert_eq!(w["chat"]["enabled"], true, "{w}");
    assert_eq!(w["chat"]["history"].as_array().map(Vec::len), Some(0), "{w}");
    assert_eq!(w["limits"]["chatMessageBytes"], 4096, "{w}");
    assert!(w["resumeToken"].as_str().is_some_and(|t| t.len() >= 32), "{w}");
    let mut bo = connect(addr, &room, "name=Bo").await;
    next_of(&mut bo, "welcome").await;

    // Plain text goes to everyone, the sender included, as the server says who sent it.
    send(&mut ada, serde_json::json!({"type": "chat", "text": "<b>hi</b> https://example.com"})).await;
    for ws in [&mut ada, &mut bo] {
        let m = next_of(ws, "chat").await;
        assert_eq!(m["message"]["text"], "<b>hi</b> https://example.com", "{m}");
        assert_eq!(m["message"]["participantId"], ada_id.as_str());
        assert_eq!(m["message"]["name"], "Ada");
        // RFC 3339 with milliseconds: 2026-11-26T18:02:11.532Z
        assert!(m["message"]["sentAt"].as_str().is_some_and(|t| t.len() == 24 && t.as_bytes()[19] == b'.' && t.ends_with('Z')), "{m}");
    }

    // Limits: too long, empty, too fast; each a clear error to the sender only.
    send(&mut bo, serde_json::json!({"type": "chat", "text": "x".repeat(4097)})).await;
    assert_eq!(next_of(&mut bo, "error").await["code"], "chat_too_long");
    send(&mut bo, serde_json::json!({"type": "chat", "text": "   "})).await;
    assert_eq!(next_of(&mut bo, "error").await["code"], "bad_message");
    for i in 0..10 {
        send(&mut bo, serde_json::json!({"type": "chat", "text": format!("burst {i}")})).await;
    }
    send(&mut bo, serde_json::json!({"type": "chat", "text": "one too many"})).await;
    let e = next_of(&mut bo, "error").await;
    assert_eq!(e["code"], "chat_rate_limited", "{e}");
    assert!(e["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0 && ms <= 500), "{e}");

    // A late joiner finds the history, oldest first.
    let mut cy = connect(addr, &room, "name=Cy").await;
    let w = next_of(&mut cy, "welcome").await;
    let history: Vec<&str> = w["chat"]["history"].as_array().expect("history").iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(history.len(), 11, "{history:?}");
    assert_eq!(history[0], "<b>hi</b> https://example.com");
    assert_eq!(history[10], "burst 9");

    // The host (open mode: any caller) turns chat off: everyone is told, messages are refused.
    let (status, v) = common::http::request(addr, "PATCH", &format!("/api/v1/rooms/{room}"), Some(r#"{"chatEnabled":false}"#)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["chatEnabled"], false, "{v}");
    for ws in [&mut ada, &mut bo, &mut cy] {
        assert_eq!(next_of(ws, "chatChanged").await["enabled"], false);
    }
    send(&mut cy, serde_json::json!({"type": "chat", "text": "hello?"})).await;
    assert_eq!(next_of(&mut cy, "error").await["code"], "chat_disabled");
    let (_, v) = common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}"), None).await;
    assert_eq!(v["chatEnabled"], false, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_shared_with_members_only_and_leave_nothing_behind() {
    let _turn = common::one_call_at_a_time().await;
    let dir = std::env::temp_dir().join(format!("tessera-files-test-{}", std::process::id()));
    let server = TestServer::start_with(tessera::config::Config {
        files_dir: Some(dir.clone()),
        max_file_bytes: 300_000,
        room_file_quota_bytes: 500_000,
        ..test_config()
    })
    .await;
    let addr = server.addr();
    let (room, host) = room_with_token(addr).await;
    let mut ada = connect(addr, &room, &format!("token={host}")).await;
    assert_eq!(next_of(&mut ada, "welcome").await["limits"]["fileBytes"], 300_000);
    let bo_token = common::http::participant_token(addr, &room, "bo").await;
    let mut bo = connect(addr, &room, &format!("token={bo_token}")).await;
    next_of(&mut bo, "welcome").await;

    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1/rooms/{room}/files");
    let bytes: Vec<u8> = (0..250_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let r = http
        .post(format!("{base}?name=..%2Fr%C3%A9sum%C3%A9.bin"))
        .bearer_auth(&host)
        .header("content-type", "application/x-test")
        .body(bytes.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 201);
    let info = json(r).await;
    assert_eq!(info["name"], "résumé.bin", "{info}");
    assert_eq!(info["size"], 250_000);
    assert_eq!(info["contentType"], "application/x-test");

    // Announced in the chat to everyone, from the uploader.
    let m = next_of(&mut bo, "chat").await;
    assert_eq!(m["message"]["file"]["id"], info["id"], "{m}");
    assert_eq!(m["message"]["name"], next_of(&mut ada, "chat").await["message"]["name"]);
    let url = format!("http://{addr}{}", info["url"].as_str().expect("url"));

    // A member downloads it byte for byte, as an attachment that is never sniffed.
    let r = http.get(format!("{url}?token={bo_token}")).send().await.expect("download");
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let disposition = h["content-disposition"].to_str().expect("ascii");
    assert!(disposition.starts_with("attachment;") && disposition.contains("filename*=UTF-8''r%C3%A9sum%C3%A9.bin"), "{disposition}");
    assert_eq!(r.bytes().await.expect("body").as_ref(), bytes.as_slice());

    // Another room's member is refused.
    let (other_room, other_host) = room_with_token(addr).await;
    let r = http.get(format!("{url}?token={other_host}")).send().await.expect("download");
    assert_eq!(r.status(), 403, "{other_room}");

    // Too large: refused from the headers alone, before a byte of the body is sent or stored.
    // Over the quota: the same.
    let (status, body) = headers_only(addr, &format!("/api/v1/rooms/{room}/files?name=big"), &host, 300_001).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("file_too_large")), "{body}");
    let (status, body) = headers_only(addr, &format!("/api/v1/rooms/{room}/files?name=q"), &bo_token, 260_000).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("room_quota_exceeded")), "{body}");

    // An upload that breaks off leaves no file and gives its reservation back.
    {
        use tokio::io::AsyncWriteExt;
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST /api/v1/rooms/{room}/files?name=cut HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bo_token}\r\nContent-Length: 240000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.expect("head");
        s.write_all(&[7u8; 100_000]).await.expect("part");
        let part = common::eventually(Duration::from_secs(5), "the partial file exists", || async {
            let found = std::fs::read_dir(dir.join(&room))
                .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".part")))
                .unwrap_or(false);
            if found { Ok(()) } else { Err("no .part yet".to_string()) }
        });
        part.await;
    }
    common::eventually(Duration::from_secs(5), "the partial file is removed", || async {
        let parts: Vec<String> = std::fs::read_dir(dir.join(&room))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".part")).collect())
            .unwrap_or_default();
        if parts.is_empty() { Ok(()) } else { Err(format!("{parts:?}")) }
    })
    .await;
    // Its 240 000 bytes are free again: 250 000 + 240 000 fits the 500 000 quota.
    let r = http.post(format!("{base}?name=fits")).bearer_auth(&bo_token).body(vec![2u8; 240_000]).send().await.expect("upload");
    assert_eq!(r.status(), 201);

    // Someone not in the call cannot share; the API key (open mode) cannot either.
    let cy = common::http::participant_token(addr, &room, "cy").await;
    let r = http.post(format!("{base}?name=x")).bearer_auth(&cy).body(vec![1u8; 10]).send().await.expect("upload");
    assert_eq!(r.status(), 403);
    assert_eq!(json(r).await["code"], "not_in_room");

    // Ending the room deletes its files.
    let (status, _) = common::http::request(addr, "DELETE", &format!("/api/v1/rooms/{room}"), None).await;
    assert_eq!(status, 200);
    common::eventually(Duration::from_secs(5), "the room's files are deleted", || async {
        if dir.join(&room).exists() { Err("still there".to_string()) } else { Ok(()) }
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_resumes_the_same_session_and_a_late_one_leaves() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start_with(tessera::config::Config { resume_seconds: 3, ..test_config() }).await;
    let addr = server.addr();
    let (room, host) = room_with_token(addr).await;
    let mut watcher = connect(addr, &room, "name=Watcher").await;
    next_of(&mut watcher, "welcome").await;

    let mut ada = connect(addr, &room, &format!("token={host}")).await;
    let w = next_of(&mut ada, "welcome").await;
    let (id, resume) = (w["participantId"].as_str().expect("id").to_owned(), w["resumeToken"].as_str().expect("token").to_owned());
    assert_eq!(w["resumed"], false);
    next_of(&mut watcher, "participantJoined").await;

    // The network drops: the TCP connection ends without a WebSocket close.
    drop(ada);
    let u = next_of(&mut watcher, "participantUpdated").await;
    assert_eq!((u["participant"]["id"].as_str(), u["participant"]["connection"].as_str()), (Some(id.as_str()), Some("reconnecting")));

    // Back within the window: the same participant, and the others saw no leave or join.
    let mut ada = connect(addr, &room, &format!("token={host}&resume={resume}")).await;
    let w = next_of(&mut ada, "welcome").await;
    assert_eq!(w["resumed"], true, "{w}");
    assert_eq!(w["participantId"], id.as_str());
    assert_eq!(w["participants"][0]["name"], "Watcher", "{w}");
    let u = next_of(&mut watcher, "participantUpdated").await;
    assert_eq!(u["participant"]["connection"], "connected", "{u}");
    // The resumed socket works: a chat goes both ways.
    send(&mut ada, serde_json::json!({"type": "chat", "text": "back"})).await;
    assert_eq!(next_of(&mut watcher, "chat").await["message"]["participantId"], id.as_str());

    // A wrong resume token is an ordinary join (which replaces the session of the same identity).
    let mut other = connect(addr, &room, "name=Other&resume=not-a-token").await;
    let w = next_of(&mut other, "welcome").await;
    assert_eq!(w["resumed"], false);
    assert_ne!(w["participantId"], id.as_str());
    drop(other);

    // Gone longer than the window: the session ends and everyone is told it left.
    drop(ada);
    let started = std::time::Instant::now();
    loop {
        let left = next_of(&mut watcher, "participantLeft").await;
        if left["participantId"] == id.as_str() {
            assert_eq!(left["reason"], "disconnected", "{left}");
            break;
        }
    }
    assert!(started.elapsed() >= Duration::from_secs(2), "left after {:?}, before the 3 s window", started.elapsed());
    let mut late = connect(addr, &room, &format!("token={host}&resume={resume}")).await;
    let w = next_of(&mut late, "welcome").await;
    assert_eq!(w["resumed"], false, "too late: a fresh session");
    assert_ne!(w["participantId"], id.as_str());
}
