//! Persistence across a real restart: the `tessera` binary is started, given a scheduled room,
//! killed (no graceful shutdown), and started again on the same database. The room is still
//! there, still scheduled, and opens at its time; a room that was open reopens.

mod common;

use futures::StreamExt;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value), String> {
    let body = body.map(|b| b.to_string());
    let (st, text) =
        tessera::loadgen::http::raw(addr, method, path, body.as_deref().map(str::as_bytes), &[]).await.map_err(|e| e.to_string())?;
    Ok((st, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn room_state(addr: SocketAddr, id: &str) -> Result<String, String> {
    let (st, v) = call(addr, "GET", &format!("/api/v1/rooms/{id}"), None).await?;
    if st != 200 {
        return Err(format!("{st} {v}"));
    }
    Ok(v["state"].as_str().unwrap_or_default().to_owned())
}

/// Joins anonymously (open mode) and returns the first message.
async fn join(addr: SocketAddr, id: &str) -> Value {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/rooms/{id}/ws?name=P")).await.expect("connects");
    loop {
        if let Some(Ok(Message::Text(t))) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a message") {
            return serde_json::from_str(&t).expect("JSON");
        }
    }
}

#[tokio::test]
async fn scheduled_room_survives_a_restart_and_opens_on_time() {
    let _turn = common::one_call_at_a_time().await;
    let dir = std::env::temp_dir().join(format!("tessera-persist-{}", tessera::ids::random_id(8)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let config = dir.join("tessera.toml");
    // No early-join window, so "not started" holds right up to startsAt.
    std::fs::write(&config, format!("listen = \"{addr}\"\ndatabase = \"{}\"\nearly_join_seconds = 0\n", dir.join("t.db").display()))
        .expect("config written");

    let server = common::binary::start(&config);
    common::binary::ready(addr).await;
    let starts_at = tessera::time::now_unix() + 8;
    let (st, v) = call(addr, "POST", "/api/v1/rooms", Some(json!({"name": "Later", "startsAt": tessera::time::format_unix(starts_at)})))
        .await
        .expect("create");
    assert_eq!(st, 201, "{v}");
    let scheduled = v["room"]["id"].as_str().expect("id").to_owned();
    let (_, v) = call(addr, "POST", "/api/v1/rooms", Some(json!({"name": "Now"}))).await.expect("create");
    let open = v["room"]["id"].as_str().expect("id").to_owned();
    assert_eq!(join(addr, &scheduled).await["code"], "room_not_started");
    drop(server); // SIGKILL: nothing is flushed on the way out.

    let server = common::binary::start(&config);
    common::binary::ready(addr).await;
    assert_eq!(room_state(addr, &scheduled).await.expect("still there"), "scheduled");
    assert_eq!(room_state(addr, &open).await.expect("still there"), "open", "a room open at the stop reopens");
    assert_eq!(join(addr, &open).await["type"], "welcome");
    assert_eq!(join(addr, &scheduled).await["code"], "room_not_started", "still not started after the restart");

    common::eventually(Duration::from_secs(20), "the scheduled room opens at its time", || async {
        match room_state(addr, &scheduled).await? {
            s if s == "open" => Ok(()),
            s => Err(s),
        }
    })
    .await;
    assert!(tessera::time::now_unix() >= starts_at, "opened no earlier than startsAt");
    assert_eq!(join(addr, &scheduled).await["type"], "welcome");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
