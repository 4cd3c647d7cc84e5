//! G. What outputs cost, on one server and one load (a room of 4, H.264 in and out, as A), in
//! windows: no output, a recording, then the recording + HLS + an RTMP push to nginx-rtmp on
//! loopback. The windows are interleaved over rounds (this machine's speed drifts ±10 % per
//! minute) and the median difference is reported. The thread table compares the last round's
//! "none" and "all" windows by thread name (GStreamer names a streaming thread after its element,
//! and reuses pooled threads, so names, not thread ids, tell whose work it is); the encoder's
//! row shows that nothing is encoded twice.

use super::{Roles, Server, cpu_by_role, opts, quick, secs};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tessera::loadgen::http::raw;
use tessera::loadgen::rtmp_server::RtmpServer;
use tessera::media::VideoCodec;

/// A config file for a server that writes its recordings and HLS under `dir`.
pub fn config_file(dir: &Path) -> String {
    let _ = std::fs::create_dir_all(dir);
    let path = dir.join("tessera.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndatabase = \":memory:\"\nrecordings_dir = \"{}\"\nhls_dir = \"{}\"\n",
        dir.join("recordings").display(),
        dir.join("live").display()
    );
    std::fs::write(&path, text).expect("bench config written");
    path.to_string_lossy().into_owned()
}

async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<String>) -> serde_json::Value {
    let (_, text) = raw(addr, method, path, body.as_deref().map(str::as_bytes), &[]).await.expect("HTTP");
    serde_json::from_str(&text).unwrap_or_default()
}

/// The ids of the open rooms, once `n` exist.
async fn open_rooms(addr: SocketAddr, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = call(addr, "GET", "/api/v1/rooms?state=open&limit=200", None).await;
        let ids: Vec<String> = v["rooms"].as_array().into_iter().flatten().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect();
        if ids.len() >= n || Instant::now() > deadline {
            return ids;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts a recording in each of the `n` rooms the load generator opens (B with recordings).
pub async fn record_every_room(addr: SocketAddr, n: usize) {
    for id in open_rooms(addr, n).await {
        let v = call(addr, "POST", &format!("/api/v1/rooms/{id}/recordings"), None).await;
        assert_eq!(v["state"], "recording", "the benchmark's recording started: {v}");
    }
}

struct Window {
    cores: f64,
    roles: Roles,
}

async fn window(server: &Server, len: Duration) -> Window {
    let pid = server.pid();
    let (c0, r0, t0) = (server.cpu(), cpu_by_role(pid), Instant::now());
    tokio::time::sleep(len).await;
    let el = t0.elapsed().as_secs_f64();
    let (c1, r1) = (server.cpu(), cpu_by_role(pid));
    Window { cores: (c1 - c0) / el, roles: super::cores_by_role(&r0, r1, el) }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

type Row = (String, String, String, String);

/// Runs G; returns its table rows and the thread table.
pub fn costs(rt: &tokio::runtime::Runtime) -> (Vec<Row>, String) {
    let dir = std::env::temp_dir().join(format!("tessera-bench-g-{}", std::process::id()));
    let config = config_file(&dir);
    let nginx = RtmpServer::start().expect("nginx-rtmp starts (make deps installs it)");
    let server = Server::start_with(&["--config", &config]);
    let rounds = if quick() { 1 } else { 3 };
    let len = secs(8);
    let settle = Duration::from_secs(2);
    let total = secs(6) + (len + settle * 2) * 3 * rounds as u32 + Duration::from_secs(10);
    let addr = server.addr;
    let (mut none, mut rec, mut all) = (Vec::new(), Vec::new(), Vec::new());
    let (mut last_none, mut last_all) = (None, None);
    rt.block_on(async {
        let o = opts(addr, 1, 4, Some(VideoCodec::H264), secs(6), total);
        let load = tokio::spawn(async move { tessera::loadgen::run::run(&o).await.expect("load runs") });
        let room = open_rooms(addr, 1).await.into_iter().next().expect("the load's room");
        tokio::time::sleep(secs(6) + Duration::from_secs(1)).await;
        for _ in 0..rounds {
            let w0 = window(&server, len).await;
            let r = call(addr, "POST", &format!("/api/v1/rooms/{room}/recordings"), None).await;
            let rid = r["id"].as_str().expect("recording id").to_owned();
            tokio::time::sleep(settle).await;
            let w1 = window(&server, len).await;
            call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), Some(r#"{"hls":true}"#.into())).await;
            let s =
                call(addr, "POST", &format!("/api/v1/rooms/{room}/streams"), Some(format!(r#"{{"url":"{}"}}"#, nginx.url("bench")))).await;
            let sid = s["id"].as_str().expect("stream id").to_owned();
            tokio::time::sleep(settle).await;
            let st = call(addr, "GET", &format!("/api/v1/rooms/{room}/streams/{sid}"), None).await;
            assert_eq!(st["state"], "live", "the benchmark's RTMP output is live: {st}");
            let w2 = window(&server, len).await;
            call(addr, "DELETE", &format!("/api/v1/rooms/{room}/streams/{sid}"), None).await;
            call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), Some(r#"{"hls":false}"#.into())).await;
            call(addr, "POST", &format!("/api/v1/recordings/{rid}/stop"), None).await;
            tokio::time::sleep(settle).await;
            none.push(w0.cores);
            rec.push(w1.cores);
            all.push(w2.cores);
            (last_none, last_all) = (Some(w0), Some(w2));
        }
        load.abort();
    });
    let _ = std::fs::remove_dir_all(&dir);
    let rec_cost = median(rec.iter().zip(&none).map(|(r, n)| r - n).collect());
    let extra = median(all.iter().zip(&rec).map(|(a, r)| (a - r) / 2.0).collect());
    let each = |v: &[f64]| v.iter().map(|c| format!("{c:.3}")).collect::<Vec<_>>().join(", ");
    let (w0, w2) = (last_none.expect("a round"), last_all.expect("a round"));
    let rows = vec![
        (
            "G. Cost of a recording (room of 4, 720p H.264 + AAC to MP4)".into(),
            format!("+{rec_cost:.3} cores, median of {rounds} rounds"),
            format!("same room without outputs: {} cores; with the recording: {}", each(&none), each(&rec)),
            "goal ≤ 0.02".into(),
        ),
        (
            "G. Cost of each further output (HLS, RTMP push to nginx-rtmp)".into(),
            format!("+{extra:.3} cores each, median of {rounds} rounds"),
            format!("recording + HLS + RTMP: {} cores", each(&all)),
            "goal ≤ 0.01".into(),
        ),
    ];
    let mut md = format!(
        "\nG, where the cores went in the last round: no output ({:.3}) and recording + HLS + RTMP ({:.3}), by thread; \
         the video encoder's row shows the composite is not encoded again:\n\n| threads | no output | three outputs |\n|---|---|---|\n",
        w0.cores, w2.cores
    );
    for (role, cores) in w2.roles.iter().filter(|(_, c)| **c >= 0.001) {
        md.push_str(&format!("| {role} | {:.3} | {cores:.3} |\n", w0.roles.get(role).copied().unwrap_or(0.0)));
    }
    (rows, md)
}
