//! The load generator against a real server: every receiver counts composite frames,
//! keyframes and bytes from RTP alone.

mod common;

use common::TestServer;
use std::time::Duration;
use tessera::loadgen::run::{LoadOptions, run};
use tessera::media::VideoCodec;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loadgen_reports_every_receiver() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let media_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/loadgen");
    let opts = LoadOptions {
        addr: server.addr(),
        room: None,
        rooms: 2,
        participants: 2,
        video: Some(VideoCodec::Vp8),
        audio: true,
        warmup: Duration::from_secs(2),
        duration: Duration::from_secs(3),
        media_dir,
        // A 640×360 composite keeps this test light: it is about the load generator's counting
        // (the room sizes are measured by `make bench`).
        composite: Some(tessera::wire::CompositeSettings { width: 640, height: 360, fps: 30, bitrate_kbps: 600, ladder: None }),
        clients: Default::default(),
    };
    let report = run(&opts).await.expect("load runs");
    eprintln!("{}", report.to_markdown());
    assert_eq!(report.receivers.len(), 4);
    for r in &report.receivers {
        assert!(
            report.fps(r) >= common::FLOWING_FPS,
            "{} receives the composite: {:.1} fps\n{}",
            r.name,
            report.fps(r),
            report.to_markdown()
        );
        assert!(r.stats.bytes > 10_000, "{}: {} bytes", r.name, r.stats.bytes);
        assert!(r.stats.audio_packets > 50, "{}: {} audio packets", r.name, r.stats.audio_packets);
    }
    assert!(report.losses.iter().all(Option::is_some), "the server's loss counters are read for every room: {:?}", report.losses);
    let md = report.to_markdown();
    assert!(md.contains("| 0 | 2 |") && md.contains("| 1 | 2 |"), "{md}");
    // Every session left: the server holds nothing afterwards.
    common::eventually(Duration::from_secs(10), "sessions released", || async {
        let h = server.health().await;
        if h["participantTasks"] == 0 && h["roomPipelines"] == 0 { Ok(()) } else { Err(h.to_string()) }
    })
    .await;
}

/// Senders that honour `cameraConstraint` end at their tile's size (a 1280×720 camera in a
/// 640×360 composite's 2-person grid: 320×180) and below their own bitrate, switching clips
/// without breaking the composite; a weak receiver is one more participant that still receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loadgen_senders_follow_the_camera_constraint() {
    use tessera::loadgen::media_file::Camera;
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let hd = Camera { width: 1280, height: 720, kbps: 1500 };
    let opts = LoadOptions {
        addr: server.addr(),
        room: None,
        rooms: 1,
        participants: 2,
        video: Some(VideoCodec::H264),
        audio: true,
        // The smaller tile is told after 2 s of being smaller, then its clip is encoded once.
        warmup: Duration::from_secs(8),
        duration: Duration::from_secs(3),
        media_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/loadgen"),
        composite: Some(tessera::wire::CompositeSettings { width: 640, height: 360, fps: 30, bitrate_kbps: 600, ladder: None }),
        clients: tessera::loadgen::run::ClientOptions {
            camera: Some(hd),
            follow_constraints: true,
            weak: 1,
            audio_only: false,
            audio_file: None,
        },
    };
    let report = run(&opts).await.expect("load runs");
    eprintln!("{}", report.to_markdown());
    let names: Vec<&str> = report.receivers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["load-0-0", "load-0-1", "weak-0-0"]);
    for r in &report.receivers {
        assert!(report.fps(r) >= common::FLOWING_FPS, "{} receives the composite: {:.1} fps", r.name, report.fps(r));
        // Three people in a 640×360 grid: 2×2 tiles of 320×180.
        let c = r.camera.unwrap_or_else(|| panic!("{} follows the constraints, so it noted its camera", r.name));
        assert_eq!((c.width, c.height), (320, 180), "{} sends at its tile's size", r.name);
        assert!(c.kbps < hd.kbps, "{} sends under its tile's bitrate: {} kbit/s", r.name, c.kbps);
    }
}

/// The latency probe sees its flashes in the composite and its beeps in the mix (the figures
/// themselves are `make bench`'s business, not a test's).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn latency_probe_sees_every_flash_and_beep() {
    let _turn = common::one_call_at_a_time().await;
    use tessera::loadgen::probe::{LatencyOptions, measure};
    let server = TestServer::start().await;
    let opts = LatencyOptions {
        addr: server.addr(),
        media_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/loadgen"),
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(4),
        composite: Some(tessera::wire::CompositeSettings { width: 640, height: 360, fps: 30, bitrate_kbps: 600, ladder: None }),
    };
    let report = measure(&opts).await.expect("probe runs");
    eprintln!("{report:?}");
    // Two flashes and two beeps a second for 4 s, with some slack.
    assert!(report.video_ms.len() >= 5, "flashes seen: {:?}", report.video_ms);
    assert!(report.audio_ms.len() >= 5, "beeps heard: {:?}", report.audio_ms);
}
