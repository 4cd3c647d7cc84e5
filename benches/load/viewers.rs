//! W. What WHEP viewers cost (issue 26 §2; goal ≤ 0.05 core per 100 viewers on this machine,
//! fan-out and encryption, not encoding). A room of 4 (H.264 senders from the load generator)
//! runs throughout; in interleaved rounds the server's CPU is measured with no viewer and
//! with `VIEWERS` WHEP viewers (webrtc-rs clients in this process, which take the composite as
//! H.264 at the rung their link carries and the whole mix, and read it without decoding).
//! Cost per 100 viewers = the median round's difference, scaled; with the spread of rounds.
//! The viewers' own client work runs on the same two cores, so it competes with the server.

use super::{Server, api, median, opts, quick, secs};
use std::time::{Duration, Instant};
use tessera::loadgen::run::run;
use tessera::loadgen::whep::Viewer;
use tessera::media::VideoCodec;

const VIEWERS: usize = 50;

/// Server cores over `len`, from now.
async fn window(server: &Server, len: Duration) -> f64 {
    let (c0, t0) = (server.cpu(), Instant::now());
    tokio::time::sleep(len).await;
    (server.cpu() - c0) / t0.elapsed().as_secs_f64()
}

/// The video packets the server has sent (all receivers).
async fn video_sent(server: &Server) -> f64 {
    let text = tessera::loadgen::http::raw(server.addr, "GET", "/metrics", None, &[]).await.map(|r| r.1).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("tessera_rtp_sent_packets_total") && l.contains("kind=\"video\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A new room on `server` where the load generator's four H.264 senders run (until the task is
/// aborted), six seconds after they started.
async fn room_of_four(
    server: &Server,
) -> (String, tokio::task::JoinHandle<Result<tessera::loadgen::run::LoadReport, tessera::loadgen::run::LoadError>>) {
    let (st, v) = api(server.addr, "POST", "/api/v1/rooms", Some("{}")).await;
    assert_eq!(st, 201, "{v}");
    let room = v["room"]["id"].as_str().expect("room id").to_owned();
    let mut o = opts(server.addr, 1, 4, Some(VideoCodec::H264), secs(2), Duration::from_secs(3600));
    o.room = Some(room.clone());
    let load = tokio::spawn(async move { run(&o).await });
    tokio::time::sleep(secs(6)).await;
    (room, load)
}

pub fn viewer_costs(rt: &tokio::runtime::Runtime) -> (String, String, String, String) {
    let server = Server::start();
    let rounds = if quick() { 1 } else { 3 };
    let len = secs(8);
    let (with, without, pps) = rt.block_on(async {
        let (room, load) = room_of_four(&server).await;
        let (mut with, mut without, mut pps) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            without.push(window(&server, len).await);
            let mut viewers = Vec::new();
            for _ in 0..VIEWERS {
                viewers.push(Viewer::watch(server.addr, &room, None, VideoCodec::H264).await.expect("a viewer starts"));
            }
            for v in &mut viewers {
                assert!(v.connected(Duration::from_secs(20)).await, "every viewer connects");
            }
            tokio::time::sleep(secs(3)).await;
            let sent0 = video_sent(&server).await;
            let t0 = Instant::now();
            with.push(window(&server, len).await);
            pps.push((video_sent(&server).await - sent0) / t0.elapsed().as_secs_f64() / VIEWERS as f64);
            for v in viewers {
                v.stop().await;
            }
            tokio::time::sleep(secs(2)).await;
        }
        load.abort();
        (with, without, pps)
    });
    let per100: Vec<f64> = with.iter().zip(&without).map(|(w, o)| (w - o) * 100.0 / VIEWERS as f64).collect();
    let each = per100.iter().map(|c| format!("{c:.3}")).collect::<Vec<_>>().join(", ");
    let cost = median(per100.clone());
    (
        format!("W. Server CPU per 100 WHEP viewers of a room of 4 (measured with {VIEWERS}, scaled)"),
        format!("{cost:.3} cores per 100 viewers, median of {rounds} rounds ({each}); each viewer got {:.0} video packets/s", median(pps)),
        format!("the same room without viewers {:.3} cores (with {VIEWERS}: {:.3})", median(without), median(with)),
        "goal ≤ 0.05 per 100".into(),
    )
}

/// Viewers added per step of [`viewers_held`].
const STEP: usize = 50;
/// The most viewers [`viewers_held`] tries.
const MOST: usize = 1000;
/// A step holds when nine viewers in ten received at least this frame rate (the composite is
/// 30 fps) and the video packets per viewer stay within 10 % of the first step's (the same rung:
/// a rung controller that moved loaded viewers down would keep the frame rate on less picture).
const FULL_RATE: f64 = 28.0;

/// W2. How many WHEP viewers one node holds at full rate: a room of 4 runs, viewers join in
/// steps of [`STEP`] (no viewer limit in this server's configuration), and after each step
/// every viewer's received frame rate and the video packets sent per viewer are measured over a
/// window; the last step at which nine in ten got at least [`FULL_RATE`] fps of the first step's
/// picture is the figure. The viewers' clients run in this
/// process on the same two cores (their cost is printed beside the server's), so this is a
/// lower bound for a node whose viewers are elsewhere.
pub fn viewers_held(rt: &tokio::runtime::Runtime) -> (String, String, String, String) {
    raise_file_limit();
    let dir = std::env::temp_dir().join(format!("tessera-bench-viewers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the temporary folder is writable");
    let config = dir.join("tessera.toml");
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:0\"\ndatabase = \":memory:\"\nmax_viewers_per_room = {MOST}\nmax_viewers = {MOST}\n"),
    )
    .expect("the benchmark's own new folder is writable");
    let server = Server::start_with(&["--config", &config.to_string_lossy()]);
    let (held, steps, end) = rt.block_on(async {
        let (room, load) = room_of_four(&server).await;
        let (mut viewers, mut held, mut steps, mut end) = (Vec::<Viewer>::new(), 0, Vec::new(), String::new());
        let mut first_pps = None;
        while viewers.len() < MOST {
            let joined = futures::future::join_all((0..STEP).map(|_| Viewer::watch(server.addr, &room, None, VideoCodec::H264))).await;
            let mut refused = None;
            for v in joined {
                match v {
                    Ok(v) => viewers.push(v),
                    Err(e) => refused = Some(e.to_string()),
                }
            }
            if let Some(e) = refused {
                end = format!("a viewer was refused at {}: {e}", viewers.len());
                break;
            }
            let from = viewers.len() - STEP;
            let mut up = 0;
            for v in &mut viewers[from..] {
                up += usize::from(v.connected(Duration::from_secs(20)).await);
            }
            if up < STEP {
                end = format!("only {up} of the last {STEP} viewers connected");
                break;
            }
            tokio::time::sleep(secs(3)).await;
            let (f0, sent0, server0, own0, t0) =
                (frame_counts(&viewers), video_sent(&server).await, server.cpu(), own_cpu(), Instant::now());
            tokio::time::sleep(secs(6)).await;
            let dt = t0.elapsed().as_secs_f64();
            let pps = (video_sent(&server).await - sent0) / dt / viewers.len() as f64;
            let reference = *first_pps.get_or_insert(pps);
            let mut rates: Vec<f64> = frame_counts(&viewers).iter().zip(&f0).map(|(a, b)| (a - b) as f64 / dt).collect();
            rates.sort_by(f64::total_cmp);
            let (p10, med) = (rates[rates.len() / 10], rates[rates.len() / 2]);
            steps.push(format!(
                "{}: {med:.1} fps median, {p10:.1} at the 10th percentile, {:.1} lowest, {pps:.0} video packets/s each; server {:.2} cores, viewers' clients {:.2}",
                viewers.len(),
                rates[0],
                (server.cpu() - server0) / dt,
                (own_cpu() - own0) / dt
            ));
            if p10 < FULL_RATE {
                end = format!("at {} one viewer in ten got under {FULL_RATE} fps", viewers.len());
                break;
            }
            if pps < reference * 0.9 {
                end = format!("at {} the viewers got {pps:.0} video packets/s each, against {reference:.0} at first", viewers.len());
                break;
            }
            held = viewers.len();
        }
        futures::future::join_all(viewers.into_iter().map(Viewer::stop)).await;
        load.abort();
        (held, steps, end)
    });
    let _ = std::fs::remove_dir_all(&dir);
    (
        format!("W2. WHEP viewers one node holds at full rate (steps of {STEP}, nine in ten at ≥ {FULL_RATE} fps)"),
        format!("{held} viewers ({})", if end.is_empty() { format!("the most tried, {MOST}") } else { end }),
        steps.join("; "),
        "figure asked for by issue 26; the viewers' clients share the two cores".into(),
    )
}

fn frame_counts(viewers: &[Viewer]) -> Vec<u64> {
    viewers.iter().map(Viewer::frames).collect()
}

/// This process's CPU seconds (the viewers' clients).
fn own_cpu() -> f64 {
    super::cpu_seconds(std::path::Path::new("/proc/self/stat"))
}

/// A thousand viewers are a thousand sockets here and in the server (which inherits the
/// limit): the soft limit on open files goes up to the hard one.
fn raise_file_limit() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
