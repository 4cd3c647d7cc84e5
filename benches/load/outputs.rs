//! G. What outputs cost: a recording, then HLS and an RTMP push on top, in a room of 4 (H.264
//! in and out, as A). Two servers run the same room under the same load and are measured over
//! the same windows, one with the outputs and one without, then the other way round (see
//! [`costs`]); the median round is reported. The thread table compares the two servers in the
//! last round's two windows by thread name (GStreamer names a streaming thread after its element, and reuses
//! pooled threads, so names, not thread ids, tell whose work it is); the encoder's row shows
//! that nothing is encoded twice.

use super::{Roles, Server, cpu_by_role, median, opts, quick, secs};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
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
    super::api(addr, method, path, body.as_deref()).await.1
}

/// The ids of the open rooms, once `n` exist.
async fn open_rooms(addr: SocketAddr, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ids = super::open_room_ids(addr).await;
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

/// Both servers' CPU over the same `len`: (cores, roles) for each. The `loads` on them must
/// still be running.
async fn window<T>(servers: [&Server; 2], loads: &[tokio::task::JoinHandle<T>], len: Duration) -> [(f64, Roles); 2] {
    assert!(loads.iter().all(|l| !l.is_finished()), "the loads run through every window");
    let before = servers.map(|s| (s.cpu(), cpu_by_role(s.pid())));
    let t0 = Instant::now();
    tokio::time::sleep(len).await;
    let el = t0.elapsed().as_secs_f64();
    std::array::from_fn(|i| {
        let (s, (c0, r0)) = (servers[i], &before[i]);
        ((s.cpu() - c0) / el, super::cores_by_role(r0, cpu_by_role(s.pid()), el))
    })
}

type Row = (String, String, String, String);

/// One server's outputs, started and stopped through its REST API.
struct Outputs<'a> {
    addr: SocketAddr,
    room: String,
    nginx: &'a RtmpServer,
    recording: Option<String>,
    stream: Option<String>,
}

impl Outputs<'_> {
    async fn record(&mut self) {
        let r = call(self.addr, "POST", &format!("/api/v1/rooms/{}/recordings", self.room), None).await;
        assert_eq!(r["state"], "recording", "the benchmark's recording started: {r}");
        self.recording = r["id"].as_str().map(str::to_owned);
    }

    async fn hls_and_rtmp(&mut self) {
        let (addr, room) = (self.addr, &self.room);
        call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), Some(r#"{"hls":true}"#.into())).await;
        let url = self.nginx.url(&format!("bench-{}", addr.port()));
        let s = call(addr, "POST", &format!("/api/v1/rooms/{room}/streams"), Some(format!(r#"{{"url":"{url}"}}"#))).await;
        self.stream = s["id"].as_str().map(str::to_owned);
    }

    async fn assert_live(&self) {
        let sid = self.stream.as_deref().expect("a stream");
        let st = call(self.addr, "GET", &format!("/api/v1/rooms/{}/streams/{sid}", self.room), None).await;
        assert_eq!(st["state"], "live", "the benchmark's RTMP output is live: {st}");
        let h = call(self.addr, "GET", "/healthz", None).await;
        assert_eq!(h["hlsOutputs"], 1, "the benchmark's HLS output runs: {h}");
    }

    async fn stop(&mut self) {
        let (addr, room) = (self.addr, &self.room);
        if let Some(sid) = self.stream.take() {
            call(addr, "DELETE", &format!("/api/v1/rooms/{room}/streams/{sid}"), None).await;
            call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), Some(r#"{"hls":false}"#.into())).await;
        }
        if let Some(rid) = self.recording.take() {
            call(addr, "POST", &format!("/api/v1/recordings/{rid}/stop"), None).await;
        }
    }
}

/// Runs G; returns its table rows and the thread table.
///
/// Two servers, each with a room of 4 under the same load, are measured over the same windows:
/// one runs the outputs, the other none, then the other way round. This machine's speed drifts
/// by ±10 % from minute to minute, more than the cost measured; both servers see the same
/// drift in a window, and swapping them cancels any difference between the two processes.
pub fn costs(rt: &tokio::runtime::Runtime) -> (Vec<Row>, String) {
    let dirs = [0, 1].map(|i| std::env::temp_dir().join(format!("tessera-bench-g{i}-{}", std::process::id())));
    let nginx = RtmpServer::start().expect("nginx-rtmp starts (make deps installs it)");
    let servers = [0, 1].map(|i| Server::start_with(&["--config", &config_file(&dirs[i])]));
    let rounds = if quick() { 1 } else { 5 };
    let len = secs(8);
    let settle = Duration::from_secs(2);
    let per_round = (len + settle * 2) * 4;
    // The loads outlast the rounds with room to spare (REST calls take time too); every window
    // checks that they still run.
    let total = secs(6) + per_round * rounds as u32 + Duration::from_secs(40);
    let (mut rec, mut all) = (Vec::new(), Vec::new());
    let (mut rec_windows, mut all_windows) = (Vec::new(), Vec::new());
    let (mut last_rec, mut last_all) = (None, None);
    rt.block_on(async {
        let loads: Vec<_> = servers
            .iter()
            .map(|s| {
                let o = opts(s.addr, 1, 4, Some(VideoCodec::H264), secs(6), total);
                tokio::spawn(async move { tessera::loadgen::run::run(&o).await.expect("load runs") })
            })
            .collect();
        let mut outputs = Vec::new();
        for s in &servers {
            let room = open_rooms(s.addr, 1).await.into_iter().next().expect("the load's room");
            outputs.push(Outputs { addr: s.addr, room, nginx: &nginx, recording: None, stream: None });
        }
        tokio::time::sleep(secs(6) + Duration::from_secs(1)).await;
        for _ in 0..rounds {
            let (mut r, mut a) = (0.0, 0.0);
            for on in [0, 1] {
                let off = 1 - on;
                let pair = [&servers[on], &servers[off]];
                outputs[on].record().await;
                tokio::time::sleep(settle).await;
                let w = window(pair, &loads, len).await;
                last_rec = Some(w.clone());
                rec_windows.push(format!("{:.3}/{:.3}", w[0].0, w[1].0));
                r += (w[0].0 - w[1].0) / 2.0;
                outputs[on].hls_and_rtmp().await;
                tokio::time::sleep(settle).await;
                outputs[on].assert_live().await;
                let w = window(pair, &loads, len).await;
                all_windows.push(format!("{:.3}/{:.3}", w[0].0, w[1].0));
                a += (w[0].0 - w[1].0) / 2.0;
                outputs[on].stop().await;
                tokio::time::sleep(settle).await;
                last_all = Some(w);
            }
            rec.push(r);
            all.push(a);
        }
        for l in loads {
            l.abort();
        }
    });
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    let rec_cost = median(rec.clone());
    let extra = median(all.iter().zip(&rec).map(|(a, r)| (a - r) / 2.0).collect());
    let each = |v: &[f64]| v.iter().map(|c| format!("{c:+.3}")).collect::<Vec<_>>().join(", ");
    let ([(rec_cores, rec_roles), (none1_cores, none1_roles)], [(all_cores, all_roles), (none2_cores, none2_roles)]) =
        (last_rec.expect("a round"), last_all.expect("a round"));
    let rows = vec![
        (
            "G. Cost of a recording (room of 4, 720p H.264 + AAC to MP4)".into(),
            format!("{rec_cost:+.3} cores, median of {rounds} rounds"),
            format!(
                "the same room on a second server without outputs, same windows, roles swapped each round; rounds {}; windows (recording/none) {}",
                each(&rec),
                rec_windows.join(", ")
            ),
            "goal ≤ 0.02".into(),
        ),
        (
            "G. Cost of each further output (HLS, RTMP push to nginx-rtmp)".into(),
            format!("{extra:+.3} cores each, median of {rounds} rounds"),
            format!("all three outputs against none: rounds {}; windows {}", each(&all), all_windows.join(", ")),
            "goal ≤ 0.01".into(),
        ),
    ];
    let mut md = format!(
        "\nG, where the cores went in the last round's two windows, the same room on two servers at once: without outputs \
         ({none1_cores:.3}) beside the recording alone ({rec_cores:.3}), then without outputs ({none2_cores:.3}) beside recording \
         + HLS + RTMP ({all_cores:.3}), by thread. The video encoder's row shows the composite is not encoded again:\n\n\
         | threads | no output | recording | no output | three outputs |\n|---|---|---|---|---|\n",
    );
    let mut names: Vec<&str> = [&rec_roles, &none1_roles, &all_roles, &none2_roles].iter().flat_map(|r| r.keys().copied()).collect();
    names.sort();
    names.dedup();
    let get = |r: &Roles, k: &str| r.get(k).copied().unwrap_or(0.0);
    for role in names {
        let v = [get(&none1_roles, role), get(&rec_roles, role), get(&none2_roles, role), get(&all_roles, role)];
        if v.iter().any(|c| *c >= 0.001) {
            md.push_str(&format!("| {role} | {:.3} | {:.3} | {:.3} | {:.3} |\n", v[0], v[1], v[2], v[3]));
        }
    }
    md.push('\n');
    (rows, md)
}
