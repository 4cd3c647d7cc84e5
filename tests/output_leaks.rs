//! No leaks from outputs: a call with a recording, HLS and an RTMP push (to nginx-rtmp on
//! loopback) is run to its end twice; after the second, the process holds no more file handles,
//! threads and async tasks than after the first (the first warms GStreamer's and the runtime's
//! one-time state), and every media and output counter is back to zero.

mod common;

use common::client::{Client, Opts};
use common::{TestServer, eventually, test_config};
use serde_json::json;
use std::time::Duration;
use tessera::loadgen::rtmp_server::RtmpServer;

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

async fn one_call(server: &TestServer, n: usize, rtmp: &RtmpServer) {
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
    let body = json!({"url": rtmp.url(&format!("leak{n}"))}).to_string();
    let (st, s) = common::http::request(addr, "POST", &format!("/api/v1/rooms/{room}/streams"), Some(&body)).await;
    assert_eq!(st, 201, "{s}");
    let stream = format!("/api/v1/rooms/{room}/streams/{}", s["id"].as_str().expect("id"));
    eventually(Duration::from_secs(20), "the recording and HLS are written and the push is live", || async {
        let (_, r) = common::http::request(addr, "GET", &format!("/api/v1/recordings/{id}"), None).await;
        let (st, _) = common::http::request(addr, "GET", &format!("/live/{room}/index.m3u8"), None).await;
        let (_, s) = common::http::request(addr, "GET", &stream, None).await;
        if r["bytes"].as_u64().unwrap_or(0) > 0 && st == 200 && s["state"] == "live" {
            Ok(())
        } else {
            Err(format!("{r} hls {st} rtmp {s}"))
        }
    })
    .await;
    // Ending the room stops and finalizes the recording, removes HLS and stops the push.
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
async fn recordings_hls_and_rtmp_leave_no_files_threads_tasks_or_elements_behind() {
    let _turn = common::one_call_at_a_time().await;
    let rtmp = tokio::task::spawn_blocking(RtmpServer::start).await.expect("joins").expect("nginx-rtmp starts");
    let dir = std::env::temp_dir().join(format!("tessera-leak-{}", tessera::ids::random_id(8)));
    let mut cfg = test_config();
    cfg.recordings_dir = dir.join("recordings");
    cfg.hls_dir = dir.join("live");
    let server = TestServer::start_with(cfg).await;
    one_call(&server, 1, &rtmp).await;
    let (files, tasks, threads_then) = eventually(Duration::from_secs(20), "the first call's leftovers settle", || async {
        let now = (open_files(), alive_tasks(), threads());
        tokio::time::sleep(Duration::from_millis(200)).await;
        if (open_files(), alive_tasks(), threads()) == now { Ok(now) } else { Err(format!("{now:?} files, tasks, threads")) }
    })
    .await;
    one_call(&server, 2, &rtmp).await;
    eventually(Duration::from_secs(20), "the second call leaves no more file handles, tasks and threads", || async {
        let (f, t, th) = (open_files(), alive_tasks(), threads());
        if f <= files && t <= tasks && th <= threads_then {
            Ok(())
        } else {
            Err(format!("{f} files (was {files}), {t} tasks (was {tasks}), {th} threads (was {threads_then})"))
        }
    })
    .await;
    assert!(!dir.join("live").read_dir().map(|mut d| d.next().is_some()).unwrap_or(false), "no HLS files are left");
    let _ = std::fs::remove_dir_all(dir);
}
