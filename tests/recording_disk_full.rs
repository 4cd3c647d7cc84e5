//! A disk that fills up mid-recording fails that recording alone: the real binary records into
//! a 768 KiB tmpfs (its own mount namespace, so nothing outside sees it); when the disk is full the
//! recording is `failed` with a reason that says so, the participant is told, the call goes on
//! at full rate, what was written downloads and decodes, and deleting the failed recording frees
//! the space for the next one.

mod common;

use common::client::{Client, Opts};
use common::decode::decode;
use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

async fn call(addr: SocketAddr, method: &str, path: &str) -> (u16, Value) {
    let (st, text) = tessera::loadgen::http::raw(addr, method, path, None, &[]).await.expect("HTTP");
    (st, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The binary in a mount namespace of its own with a small tmpfs as its recordings folder.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_fails_the_recording_alone_and_keeps_what_was_written() {
    let _turn = common::one_call_at_a_time().await;
    if !Command::new("unshare").args(["-m", "true"]).status().is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: a mount namespace needs root (the suite runs as root in CI)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tessera-full-{}", tessera::ids::random_id(8)));
    let recordings = dir.join("recordings");
    std::fs::create_dir_all(&recordings).expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let config = dir.join("tessera.toml");
    // Short parts: the reserved MP4 header is sized for a part's length.
    let toml = format!(
        "listen = \"{addr}\"\ndatabase = \"{}\"\nrecordings_dir = \"{}\"\nrecording_part_seconds = 60\n",
        dir.join("t.db").display(),
        recordings.display()
    );
    std::fs::write(&config, toml).expect("config written");
    let script = format!(
        "mount -t tmpfs -o size=768k tmpfs '{}' && exec '{}' serve --config '{}'",
        recordings.display(),
        env!("CARGO_BIN_EXE_tessera"),
        config.display()
    );
    let child = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server starts");
    let _server = Server(child);
    common::binary::ready(addr).await;

    let (st, v) = tessera::loadgen::http::raw(addr, "POST", "/api/v1/rooms", Some(br#"{"name":"full"}"#), &[]).await.expect("create");
    assert_eq!(st, 201, "{v}");
    let room = serde_json::from_str::<Value>(&v).expect("json")["room"]["id"].as_str().expect("id").to_owned();
    let mut a =
        Client::join(addr, &room, Opts { name: "A".into(), rgb: [220, 40, 40], tone_hz: 500.0, h264: true, ..Default::default() }).await;
    common::eventually(Duration::from_secs(30), "A decodes the composite", || async {
        a.latest_frame().map(|_| ()).ok_or("no frame".to_string())
    })
    .await;

    let (st, rec) = call(addr, "POST", &format!("/api/v1/rooms/{room}/recordings")).await;
    assert_eq!(st, 201, "{rec}");
    let id = rec["id"].as_str().expect("id").to_owned();
    // 768 KiB fills within the first 60 s part (at about 40 s): one red picture encodes at ~150 kbit/s, and the
    // part's reserve is ~0.2 MB. (With 3 MiB it filled only in the third part, after 162 s:
    // each finished part gives its reserve back now, see egress/compact.rs.)
    let failed = common::eventually(Duration::from_secs(180), "the recording fails on the full disk", || async {
        let (_, v) = call(addr, "GET", &format!("/api/v1/recordings/{id}")).await;
        match v["state"].as_str() {
            Some("failed") => Ok(v),
            Some("recording") => Err(format!("still recording, {} bytes", v["bytes"])),
            _ => panic!("unexpected state: {v}"),
        }
    })
    .await;
    eprintln!("failed recording: {failed}");
    let reason = failed["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("No space left") && reason.contains("disk") && reason.contains("full"),
        "the reason says the disk is full: {reason}"
    );
    let told = tokio::time::timeout(Duration::from_secs(5), a.next_event("recordingStopped")).await.expect("the participant is told");
    assert_eq!(told["state"], "failed");

    // The call goes on (its frame rate after a failed output is `make bench`'s, H).
    a.assert_flows_for("the composite after the disk filled", Duration::from_secs(3)).await;

    // What was written until the disk filled downloads and decodes: the first part (the failed
    // recording may list a second, opened as the disk filled; `/file` then answers 409
    // `multiple_parts`, as documented).
    let parts = failed["parts"].as_array().map(Vec::len).unwrap_or(0);
    assert!(parts >= 1, "the failed recording lists its parts: {failed}");
    let got = reqwest::get(format!("http://{addr}/api/v1/recordings/{id}/parts/1")).await.expect("download");
    assert_eq!(got.status().as_u16(), 200);
    let local = dir.join("downloaded.mp4");
    std::fs::write(&local, got.bytes().await.expect("body")).expect("saved");
    let uri = format!("file://{}", local.display());
    let d = tokio::task::spawn_blocking(move || decode(&uri, &[], None, None)).await.expect("joins");
    let d = d.expect("what was written before the disk filled decodes");
    assert!(d.video_end_ms >= 2_000, "the file holds {} ms", d.video_end_ms);

    // Deleting the failed recording frees the space: the next one records.
    let (st, _) = call(addr, "DELETE", &format!("/api/v1/recordings/{id}")).await;
    assert!(st == 200 || st == 204, "delete: {st}");
    let (st, again) = call(addr, "POST", &format!("/api/v1/rooms/{room}/recordings")).await;
    assert_eq!((st, again["state"].as_str()), (201, Some("recording")), "{again}");
    let again_id = again["id"].as_str().expect("id").to_owned();
    common::eventually(Duration::from_secs(10), "the new recording writes", || async {
        let (_, v) = call(addr, "GET", &format!("/api/v1/recordings/{again_id}")).await;
        if v["bytes"].as_u64().unwrap_or(0) > 0 && v["state"] == "recording" { Ok(()) } else { Err(v.to_string()) }
    })
    .await;
    drop(a);
    let _ = std::fs::remove_dir_all(dir);
}
