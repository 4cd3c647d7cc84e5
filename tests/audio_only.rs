//! An audio-only room costs its audio only (issue 28): participants whose offers have no video
//! m-line hear each other (mix-minus) while the room's canvas rests; the first participant who
//! takes video starts it and gets the composite promptly; once it leaves, the canvas rests
//! again. Read from the server's `tessera_canvases_running` gauge (this file's process runs one
//! server at a time, so the gauge is this room's).

mod common;

use common::client::{Client, Opts};
use common::{TestServer, eventually};
use std::time::{Duration, Instant};

async fn canvases_running(server: &TestServer) -> f64 {
    let (status, text) = common::http::raw(server.addr(), "GET", "/metrics", None, &[]).await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .filter(|l| l.split(['{', ' ']).next() == Some("tessera_canvases_running"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_audio_only_room_rests_its_canvas_until_someone_takes_video() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let room = server.create_room().await;
    let tones = [440.0, 660.0, 880.0];
    let mut talkers = Vec::new();
    for (i, hz) in tones.iter().enumerate() {
        let opts = Opts { name: format!("voice{i}"), tone_hz: *hz, audio_only: true, no_video_in: true, ..Default::default() };
        talkers.push(Client::join(server.addr(), &room, opts).await);
    }
    eventually(Duration::from_secs(20), "every voice hears the two others, not itself", || async {
        for (c, own) in talkers.iter().zip(tones) {
            let others: Vec<f64> = tones.iter().copied().filter(|t| *t != own).collect();
            c.hears(own, &others)?;
        }
        Ok(())
    })
    .await;
    assert_eq!(canvases_running(&server).await, 0.0, "nobody takes video: the canvas rests");
    assert!(talkers.iter().all(|c| c.frames() == 0), "and no composite went out");

    // A participant who takes video: the canvas starts, its composite flows.
    let joined = Instant::now();
    let viewer = Client::join(server.addr(), &room, Opts { name: "viewer".into(), tone_hz: 330.0, ..Default::default() }).await;
    eventually(Duration::from_secs(15), "the viewer's first composite frames", || async {
        if viewer.frames() >= 5 { Ok(()) } else { Err(format!("{} frames", viewer.frames())) }
    })
    .await;
    eprintln!("join → 5 composite frames with the canvas started on demand: {:?}", joined.elapsed());
    assert_eq!(canvases_running(&server).await, 1.0, "a receiver of video runs the canvas");
    viewer.assert_flows_for("the viewer, on a canvas started for it", Duration::from_secs(3)).await;

    viewer.leave().await;
    eventually(Duration::from_secs(10), "the canvas to rest once the viewer left", || async {
        let n = canvases_running(&server).await;
        if n == 0.0 { Ok(()) } else { Err(format!("{n} running")) }
    })
    .await;
    let packets = |c: &Client| c.received.audio_packets.load(std::sync::atomic::Ordering::Relaxed);
    let before: Vec<u64> = talkers.iter().map(packets).collect();
    eventually(Duration::from_secs(10), "the voices still hear each other (1 s more of audio)", || async {
        for ((c, own), at) in talkers.iter().zip(tones).zip(before.iter().copied()) {
            if packets(c) < at + 50 {
                return Err(format!("{} audio packets since the viewer left", packets(c) - at));
            }
            let others: Vec<f64> = tones.iter().copied().filter(|t| *t != own).collect();
            c.hears(own, &others)?;
        }
        Ok(())
    })
    .await;
    for c in talkers {
        c.leave().await;
    }
}
