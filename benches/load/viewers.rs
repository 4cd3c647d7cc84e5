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

pub fn viewer_costs(rt: &tokio::runtime::Runtime) -> (String, String, String, String) {
    let server = Server::start();
    let rounds = if quick() { 1 } else { 3 };
    let len = secs(8);
    let (with, without, pps) = rt.block_on(async {
        let (st, v) = api(server.addr, "POST", "/api/v1/rooms", Some("{}")).await;
        assert_eq!(st, 201, "{v}");
        let room = v["room"]["id"].as_str().expect("room id").to_owned();
        let mut o = opts(server.addr, 1, 4, Some(VideoCodec::H264), secs(2), Duration::from_secs(3600));
        o.room = Some(room.clone());
        let load = tokio::spawn(async move { run(&o).await });
        tokio::time::sleep(secs(6)).await;
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
