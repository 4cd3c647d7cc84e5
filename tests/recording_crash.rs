//! A recording survives `kill -9` of the real server binary: the open part is an ordinary MP4
//! that decodes, seeks and is at most 2 s short of the time recorded; after a restart the
//! recording is `interrupted`, its file downloads, and the room can record again.

mod common;

use common::client::{Client, Opts};
use common::decode::{decode, seek_and_decode};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

fn start(config: &std::path::Path) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tessera binary starts");
    Server { child }
}

async fn call(addr: SocketAddr, method: &str, path: &str) -> Result<(u16, Value), String> {
    let (st, text) = tessera::loadgen::http::raw(addr, method, path, None, &[]).await.map_err(|e| e.to_string())?;
    Ok((st, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn ready(addr: SocketAddr) {
    common::eventually(Duration::from_secs(20), "the server answers", || async { call(addr, "GET", "/healthz").await.map(|_| ()) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recording_cut_by_kill_9_plays_seeks_and_is_marked_interrupted() {
    let dir = std::env::temp_dir().join(format!("tessera-crash-{}", tessera::ids::random_id(8)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let config = dir.join("tessera.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{addr}\"\ndatabase = \"{}\"\nrecordings_dir = \"{}\"\n",
            dir.join("t.db").display(),
            dir.join("recordings").display()
        ),
    )
    .expect("config written");

    let server = start(&config);
    ready(addr).await;
    let (st, v) = tessera::loadgen::http::raw(addr, "POST", "/api/v1/rooms", Some(br#"{"name":"crash"}"#), &[]).await.expect("create");
    assert_eq!(st, 201, "{v}");
    let room = serde_json::from_str::<Value>(&v).expect("json")["room"]["id"].as_str().expect("id").to_owned();
    let a = Client::join(addr, &room, Opts { name: "A".into(), rgb: [220, 40, 40], tone_hz: 500.0, h264: true, token: None }).await;
    common::eventually(Duration::from_secs(30), "A decodes the composite", || async {
        a.latest_frame().map(|_| ()).ok_or("no frame".to_string())
    })
    .await;
    let (st, rec) = call(addr, "POST", &format!("/api/v1/rooms/{room}/recordings")).await.expect("start");
    assert_eq!(st, 201, "{rec}");
    let started = Instant::now();
    let id = rec["id"].as_str().expect("id").to_owned();
    tokio::time::sleep(Duration::from_millis(7300)).await;
    drop(server); // SIGKILL mid-recording: nothing is flushed or finalized.
    let recorded = started.elapsed();
    drop(a);

    let file = dir.join("recordings").join(&id).join("part-0001.mp4");
    assert!(file.exists(), "the open part is on disk");
    let uri = format!("file://{}", file.display());
    let u = uri.clone();
    let decoded = tokio::task::spawn_blocking(move || decode(&u, &[], None, None)).await.expect("joins").expect("the cut file decodes");
    let got = decoded.video_end_ms as i64;
    let want = recorded.as_millis() as i64;
    assert!(got >= want - 2000 && got <= want + 500, "the cut file holds {got} ms of {want} ms recorded (at most 2 s may be lost)");
    assert!(decoded.audio.len() as i64 >= (want - 2000) * 48, "and its audio: {} samples", decoded.audio.len());
    let header = tessera::egress::mp4::duration_ms(&file).expect("a movie header with a duration") as i64;
    assert!((header - got).abs() <= 1500, "the header says {header} ms, the media lasts {got} ms");
    let mid = (got / 2) as u64;
    let landed = tokio::task::spawn_blocking(move || seek_and_decode(&uri, mid)).await.expect("joins").expect("the cut file seeks");
    assert!(landed.abs_diff(mid) <= 100, "a seek to {mid} ms lands at {landed} ms");

    let _server = start(&config);
    ready(addr).await;
    let (st, v) = call(addr, "GET", &format!("/api/v1/recordings/{id}")).await.expect("get");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "interrupted", "{v}");
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    assert_eq!(v["parts"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(v["durationMs"].as_u64().is_some_and(|d| d as i64 >= want - 2000), "{v}");
    let (st, body) = tessera::loadgen::http::raw(addr, "GET", &format!("/api/v1/recordings/{id}/file"), None, &[("Range", "bytes=0-7")])
        .await
        .expect("download");
    assert_eq!(st, 206, "the interrupted recording downloads");
    assert!(body.contains("ftyp"), "it starts with the MP4 file type box");
    let (st, again) = call(addr, "POST", &format!("/api/v1/rooms/{room}/recordings")).await.expect("start again");
    assert_eq!((st, again["state"].as_str()), (201, Some("recording")), "a new recording can start: {again}");
    let new_id = again["id"].as_str().expect("id").to_owned();
    let (st, _) = call(addr, "POST", &format!("/api/v1/recordings/{new_id}/stop")).await.expect("stop");
    assert_eq!(st, 200);
    common::eventually(Duration::from_secs(20), "the new recording completes", || async {
        let (_, v) = call(addr, "GET", &format!("/api/v1/recordings/{new_id}")).await?;
        if v["state"] == "complete" { Ok(()) } else { Err(v.to_string()) }
    })
    .await;
    let _ = std::fs::remove_dir_all(dir);
}
