//! No leaks from outputs: a call with a recording and HLS is run to its end twice; after the
//! second, the process holds exactly the file handles and async tasks it held after the first
//! (the first warms GStreamer's and the runtime's one-time state), and every media and output
//! counter is back to zero.

mod common;

use common::client::{Client, Opts};
use common::{TestServer, eventually, test_config};
use serde_json::json;
use std::time::Duration;

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

async fn one_call(server: &TestServer, n: usize) {
    let addr = server.addr();
    let body = json!({"name": format!("leak {n}"), "hls": true}).to_string();
    let (st, v) = common::http::request(addr, "POST", "/api/v1/rooms", Some(&body)).await;
    assert_eq!(st, 201, "{v}");
    let room = v["room"]["id"].as_str().expect("id").to_owned();
    let a = Client::join(
        addr,
        &room,
        Opts { name: "A".into(), rgb: [200, 30, 30], tone_hz: 600.0, h264: false, token: None, ..Default::default() },
    )
    .await;
    eventually(Duration::from_secs(30), "A decodes the composite", || async { a.latest_frame().map(|_| ()).ok_or("no frame".to_string()) })
        .await;
    let (st, rec) = common::http::request(addr, "POST", &format!("/api/v1/rooms/{room}/recordings"), None).await;
    assert_eq!(st, 201, "{rec}");
    let id = rec["id"].as_str().expect("id").to_owned();
    eventually(Duration::from_secs(20), "the recording and HLS are written", || async {
        let (_, r) = common::http::request(addr, "GET", &format!("/api/v1/recordings/{id}"), None).await;
        let (st, _) = common::http::request(addr, "GET", &format!("/live/{room}/index.m3u8"), None).await;
        if r["bytes"].as_u64().unwrap_or(0) > 0 && st == 200 { Ok(()) } else { Err(format!("{r} hls {st}")) }
    })
    .await;
    // Ending the room stops and finalizes the recording and removes HLS.
    let (st, _) = common::http::request(addr, "DELETE", &format!("/api/v1/rooms/{room}"), None).await;
    assert_eq!(st, 200);
    a.close().await;
    eventually(Duration::from_secs(20), "the recording completes", || async {
        let (_, r) = common::http::request(addr, "GET", &format!("/api/v1/recordings/{id}"), None).await;
        if r["state"] == "complete" { Ok(()) } else { Err(r.to_string()) }
    })
    .await;
    eventually(Duration::from_secs(20), "everything is released", || async {
        let h = server.health().await;
        let zero =
            ["rooms", "participantTasks", "peerConnections", "roomPipelines", "recordings", "streams", "hlsOutputs", "outputPipelines"];
        if zero.iter().all(|k| h[*k] == 0) { Ok(()) } else { Err(h.to_string()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recordings_and_hls_leave_no_files_tasks_or_elements_behind() {
    let dir = std::env::temp_dir().join(format!("tessera-leak-{}", tessera::ids::random_id(8)));
    let mut cfg = test_config();
    cfg.recordings_dir = dir.join("recordings");
    cfg.hls_dir = dir.join("live");
    let server = TestServer::start_with(cfg).await;
    one_call(&server, 1).await;
    let (files, tasks) = eventually(Duration::from_secs(20), "the first call's leftovers settle", || async {
        let (f, t) = (open_files(), alive_tasks());
        tokio::time::sleep(Duration::from_millis(200)).await;
        if (open_files(), alive_tasks()) == (f, t) { Ok((f, t)) } else { Err(format!("{f} files, {t} tasks")) }
    })
    .await;
    one_call(&server, 2).await;
    eventually(Duration::from_secs(20), "the second call leaves the same file handles and tasks", || async {
        let (f, t) = (open_files(), alive_tasks());
        if f <= files && t <= tasks { Ok(()) } else { Err(format!("{f} files (was {files}), {t} tasks (was {tasks})")) }
    })
    .await;
    assert!(!dir.join("live").read_dir().map(|mut d| d.next().is_some()).unwrap_or(false), "no HLS files are left");
    let _ = std::fs::remove_dir_all(dir);
}
