//! K. What one weak receiver costs the others: keyframes per minute reaching the L0 receivers of
//! a room of 4 (H.264 640×360 in, 1280×720@30 out), without and with a fifth participant whose
//! link collapses ([`tessera::loadgen::weak`]: its REMB falls from 2 Mbit/s to 160 kbit/s, then it
//! sends a PLI every second). The server should move it to L2 and serve its PLIs from L2's
//! encoder only, so the L0 receivers keep L0's schedule (a keyframe every 2 s: 30 a minute).
//! Its rung is read from the REST API during the window.

use super::{Server, api, opts, secs};
use std::time::Duration;
use tessera::loadgen::run::{ClientOptions, LoadReport};
use tessera::media::VideoCodec;

/// One run: the L0 receivers' keyframes per minute (mean, highest), the weak one's (if any) and
/// its rung during the window.
struct Run {
    mean: f64,
    highest: f64,
    weak: Option<f64>,
    weak_rung: String,
}

fn per_minute(report: &LoadReport, keyframes: u64) -> f64 {
    keyframes as f64 * 60.0 / report.window.as_secs_f64()
}

fn run(rt: &tokio::runtime::Runtime, weak: usize) -> Run {
    let server = Server::start();
    let (warmup, window) = (secs(14), secs(30));
    let mut o = opts(server.addr, 1, 4, Some(VideoCodec::H264), warmup, window);
    o.clients = ClientOptions { weak, ..Default::default() };
    let addr = server.addr;
    let (report, rung) = rt.block_on(async move {
        let load = tokio::spawn(async move { tessera::loadgen::run::run(&o).await.expect("the load runs against a fresh server") });
        // Mid-window (joins take a few seconds): where the weak receiver is.
        tokio::time::sleep(warmup + Duration::from_secs(4) + window / 2).await;
        let mut rung = String::from("—");
        for room in super::open_room_ids(addr).await {
            let v = api(addr, "GET", &format!("/api/v1/rooms/{room}/participants"), None).await.1;
            for p in v["participants"].as_array().into_iter().flatten() {
                if p["name"].as_str().is_some_and(|n| n.starts_with("weak-")) {
                    rung = p["videoQuality"]["rung"].as_str().unwrap_or("—").to_owned();
                }
            }
        }
        (load.await.expect("the load task does not panic"), rung)
    });
    let l0: Vec<f64> =
        report.receivers.iter().filter(|r| r.name.starts_with("load-")).map(|r| per_minute(&report, r.stats.keyframes)).collect();
    let weak = report.receivers.iter().find(|r| r.name.starts_with("weak-")).map(|r| per_minute(&report, r.stats.keyframes));
    Run { mean: l0.iter().sum::<f64>() / l0.len().max(1) as f64, highest: l0.iter().copied().fold(0.0, f64::max), weak, weak_rung: rung }
}

/// The benchmark's row.
pub fn weak_receiver(rt: &tokio::runtime::Runtime) -> (String, String, String, String) {
    let alone = run(rt, 0);
    let with = run(rt, 1);
    (
        "K. Keyframes per minute reaching the L0 receivers of a room of 4, with one weak receiver (REMB 160 kbit/s, a PLI a second)".into(),
        format!(
            "{:.1} (highest {:.1}); the weak receiver on {} got {:.1}",
            with.mean,
            with.highest,
            with.weak_rung,
            with.weak.unwrap_or_default()
        ),
        format!("the same room without it: {:.1} (highest {:.1}); same window ({} s)", alone.mean, alone.highest, secs(30).as_secs()),
        format!("{:.2}× (goal: unchanged, 1.00)", with.mean / alone.mean.max(1e-6)),
    )
}
