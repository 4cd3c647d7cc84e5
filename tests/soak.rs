//! A node that runs for weeks (`make soak`; ignored in `make test`): the real binary serves
//! join/leave cycles of synthetic participants across many rooms, and afterwards its file
//! descriptors, threads, tasks and pipelines are back where they started and its resident
//! memory is within +10 % of its level after the first 50 joins.
//!
//! `SOAK_JOINS` (default 1000) joins in rounds of 2 rooms × 4 participants; `SOAK_TRIM=0` runs
//! the server with `trim_memory = false`, to compare.

mod common;

use common::client::{Client, Opts};
use common::eventually;
use std::time::Duration;

/// (resident KiB, threads, open file descriptors) of process `pid`.
fn usage(pid: u32) -> (u64, u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server runs");
    let field =
        |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    (field("VmRSS:"), field("Threads:"), fds)
}

async fn health(addr: std::net::SocketAddr) -> serde_json::Value {
    common::http::request(addr, "GET", "/healthz", None).await.1
}

/// Waits until the server holds no room, participant, peer connection or pipeline.
async fn idle(addr: std::net::SocketAddr) {
    eventually(Duration::from_secs(60), "the server is idle", || async {
        let h = health(addr).await;
        let zero = ["rooms", "participantTasks", "peerConnections", "roomPipelines", "outputPipelines"].iter().all(|k| h[*k] == 0);
        if zero { Ok(()) } else { Err(h.to_string()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by `make soak`"]
async fn join_leave_cycles_leave_nothing_behind() {
    let joins: usize = std::env::var("SOAK_JOINS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let trim = std::env::var("SOAK_TRIM").map(|v| v != "0").unwrap_or(true);
    let rounds = joins.div_ceil(8);
    let extra = format!("trim_memory = {trim}\n[composite]\nwidth = 640\nheight = 360\nfps = 30\nbitrate_kbps = 600");
    let (dir, config, addr) = common::binary::loopback_config("soak", &extra);
    let server = common::binary::start(&config);
    common::binary::ready(addr).await;
    let pid = server.pid();
    let start = usage(pid);
    let mut after_warmup = None;
    eprintln!("soak: {rounds} rounds of 8 joins, trim_memory = {trim}; idle at start: {start:?} (KiB, threads, fds)");
    for round in 0..rounds {
        let mut rooms = Vec::new();
        let mut clients = Vec::new();
        for r in 0..2u8 {
            let (status, body) = common::http::request(addr, "POST", "/api/v1/rooms", Some("{}")).await;
            assert_eq!(status, 201, "{body}");
            let room = body["room"]["id"].as_str().expect("id").to_owned();
            for p in 0..4u8 {
                let opts = Opts {
                    name: format!("s{r}{p}"),
                    rgb: [40 * p, 200 - 40 * p, 60 * r],
                    tone_hz: 300.0 + 100.0 * f64::from(p),
                    ..Default::default()
                };
                clients.push(Client::join(addr, &room, opts).await);
            }
            rooms.push(room);
        }
        eventually(Duration::from_secs(30), "everyone receives the composite", || async {
            let low = clients.iter().map(Client::frames).min().unwrap_or(0);
            if low >= 5 { Ok(()) } else { Err(format!("the slowest has {low} frames")) }
        })
        .await;
        // Half leave with `leave`, half vanish; then the rooms end.
        for (i, c) in clients.into_iter().enumerate() {
            if i % 2 == 0 { c.leave().await } else { c.close().await }
        }
        for room in &rooms {
            let (status, _) = common::http::request(addr, "DELETE", &format!("/api/v1/rooms/{room}"), None).await;
            assert!(status < 300, "ending {room}: {status}");
        }
        idle(addr).await;
        let u = usage(pid);
        // The yardstick: the level after the first 50 join/leave cycles.
        if round + 1 == 50usize.div_ceil(8).min(rounds) {
            after_warmup = Some(u);
        }
        if round % 5 == 4 || round + 1 == rounds {
            eprintln!("soak: round {} ({} joins): {u:?}", round + 1, (round + 1) * 8);
        }
    }
    idle(addr).await;
    let warm = after_warmup.expect("a warm-up figure");
    // Let the trim after the last room run and idle blocking threads (10 s) exit, then compare.
    let end = eventually(Duration::from_secs(30), "threads, descriptors and memory back", || async {
        let u = usage(pid);
        let memory_ok = !trim || (u.0 as f64) <= warm.0 as f64 * 1.10;
        if u.1 == start.1 && u.2 == start.2 && memory_ok { Ok(u) } else { Err(format!("{u:?}; start {start:?}, after warm-up {warm:?}")) }
    })
    .await;
    eprintln!("soak: start {start:?}, after warm-up {warm:?}, end {end:?} (KiB, threads, fds)");
    let h = health(addr).await;
    assert_eq!(h["rooms"], 0, "ended rooms left the registry: {h}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
