//! Recording end to end: a room of synthetic participants (distinct colours and tones) is
//! recorded through the REST API; the MP4 is decoded with GStreamer and must show every colour
//! in its tile, hold every tone (the full mix) and last as long as the wall clock says; the
//! FFmpeg reads it as well; the download honours `Range`; everything is released afterwards. A
//! recording that cannot be written fails alone, with the host told and a webhook.

mod common;

use common::client::{Client, Opts};
use common::decode::{decode, seek_and_decode};
use common::signal::{db, distance, tone_power};
use common::{TestServer, eventually, test_config};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const RED: [u8; 3] = [220, 40, 40];
const GREEN: [u8; 3] = [40, 200, 60];
const BLUE: [u8; 3] = [40, 60, 220];

fn opts(name: &str, rgb: [u8; 3], tone_hz: f64) -> Opts {
    // VP8 only: no receiver takes H.264, so the recording alone must start the H.264 branch.
    Opts { name: name.into(), rgb, tone_hz, h264: false, token: None, ..Default::default() }
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-{tag}-{}", tessera::ids::random_id(8)));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The file's top-level MP4 boxes: type and size.
fn top_level_boxes(path: &std::path::Path) -> Vec<(String, u64)> {
    let bytes = std::fs::read(path).expect("the recording reads");
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= bytes.len() {
        let size32 = u32::from_be_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes"));
        let size = match size32 {
            0 => (bytes.len() - pos) as u64,
            1 => u64::from_be_bytes(bytes[pos + 8..pos + 16].try_into().expect("8 bytes")),
            n => u64::from(n),
        };
        out.push((String::from_utf8_lossy(&bytes[pos + 4..pos + 8]).into_owned(), size));
        assert!(size >= 8, "a box of {size} bytes at {pos}: {out:?}");
        pos += size as usize;
    }
    assert_eq!(pos, bytes.len(), "the boxes end with the file: {out:?}");
    out
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    common::http::request(addr, "GET", path, None).await
}

async fn recording_state(addr: std::net::SocketAddr, id: &str) -> Result<Value, String> {
    let (st, v) = get(addr, &format!("/api/v1/recordings/{id}")).await;
    if st != 200 {
        return Err(format!("{st} {v}"));
    }
    Ok(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recorded_room_decodes_with_every_tile_and_tone_and_serves_ranges() {
    let _turn = common::one_call_at_a_time().await;
    let dir = temp_dir("rec");
    let mut cfg = test_config();
    cfg.recordings_dir = dir.join("recordings");
    let server = TestServer::start_with(cfg).await;
    let addr = server.addr();
    let room = server.create_room().await;
    let before = server.health().await;

    let a = Client::join(addr, &room, opts("A", RED, 500.0)).await;
    let _b = Client::join(addr, &room, opts("B", GREEN, 800.0)).await;
    let _c = Client::join(addr, &room, opts("C", BLUE, 1300.0)).await;
    let grid = [(320usize, 180usize), (960, 180), (640, 540)];
    eventually(Duration::from_secs(30), "A sees the three tiles", || async {
        let f = a.latest_frame().ok_or("no frame")?;
        for (&(x, y), want) in grid.iter().zip([RED, GREEN, BLUE]) {
            if distance(f.mean(x, y, 8), want) > 60.0 {
                return Err(format!("({x},{y}) is {:?}", f.mean(x, y, 8)));
            }
        }
        Ok(())
    })
    .await;
    let (_, info) = get(addr, &format!("/api/v1/rooms/{room}")).await;
    assert_eq!(info["media"]["encoders"], 1, "only VP8 before recording: {info}");

    let (st, rec) = common::http::request(addr, "POST", &format!("/api/v1/rooms/{room}/recordings"), None).await;
    let started = Instant::now();
    assert_eq!(st, 201, "{rec}");
    assert_eq!(rec["state"], "recording", "{rec}");
    let id = rec["id"].as_str().expect("id").to_owned();
    let (st, again) = common::http::request(addr, "POST", &format!("/api/v1/rooms/{room}/recordings"), None).await;
    assert_eq!((st, again["code"].as_str()), (409, Some("recording_running")), "{again}");
    let (_, info) = get(addr, &format!("/api/v1/rooms/{room}")).await;
    assert_eq!(info["media"]["encoders"], 2, "the recording runs the H.264 branch: {info}");

    tokio::time::sleep(Duration::from_secs(6)).await;
    let (st, stopped) = common::http::request(addr, "POST", &format!("/api/v1/recordings/{id}/stop"), None).await;
    let wall = started.elapsed();
    assert_eq!(st, 200, "{stopped}");
    assert!(matches!(stopped["state"].as_str(), Some("finalizing" | "complete")), "{stopped}");
    let done = eventually(Duration::from_secs(20), "the recording completes", || async {
        let v = recording_state(addr, &id).await?;
        if v["state"] == "complete" { Ok(v) } else { Err(v.to_string()) }
    })
    .await;
    assert_eq!(done["parts"].as_array().map(Vec::len), Some(1), "{done}");
    let (_, info) = get(addr, &format!("/api/v1/rooms/{room}")).await;
    assert_eq!(info["media"]["encoders"], 1, "the H.264 branch stops with the recording: {info}");

    let file = dir.join("recordings").join(&id).join("part-0001.mp4");
    assert_eq!(done["bytes"].as_u64(), Some(std::fs::metadata(&file).expect("file on disk").len()));
    assert_eq!(tessera::egress::mp4::moov_before_mdat(&file), Some(true), "the header is at the front (plays while downloading)");
    // Compacted when finished: the hour's header reserve (~8.7 MB) given back, so the file is its
    // media plus ftyp, moov and the mdat header: at most 32 KiB besides the media for these ~7 s.
    let boxes = top_level_boxes(&file);
    let kinds: Vec<&str> = boxes.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["ftyp", "moov", "mdat"], "nothing reserved is left");
    let media = boxes[2].1 - 8;
    let len = std::fs::metadata(&file).expect("file on disk").len();
    eprintln!("the recording: {len} bytes, {media} of them media");
    assert!(len <= media + 32 * 1024, "{len} bytes for {media} bytes of media");
    assert!(!dir.join("recordings").join(&id).join(".part-0001.mp4.compact").exists(), "no compaction copy left");
    let uri = format!("file://{}", file.display());
    let decoded = tokio::task::spawn_blocking(move || decode(&uri, &[3000], None, None)).await.expect("joins").expect("decodes");
    let dur_ms = decoded.video_end_ms as f64;
    let wall_ms = wall.as_millis() as f64;
    assert!((dur_ms - wall_ms).abs() <= 1000.0, "duration {dur_ms} ms vs wall clock {wall_ms} ms");
    assert_eq!((decoded.width, decoded.height), (1280, 720));
    let (_, frame) = decoded.frames.first().expect("a frame at 3 s");
    for (&(x, y), want) in grid.iter().zip([RED, GREEN, BLUE]) {
        let got = frame.mean(x, y, 8);
        assert!(distance(got, want) < 60.0, "tile ({x},{y}) in the recording is {got:?}, want {want:?}");
    }
    let audio = &decoded.audio[decoded.audio.len().saturating_sub(96_000)..];
    let floor = tone_power(audio, 2000.0);
    for hz in [500.0, 800.0, 1300.0] {
        let margin = db(tone_power(audio, hz) / floor);
        assert!(margin > 20.0, "the full mix holds {hz} Hz ({margin:.1} dB over the floor)");
    }
    let file_uri = format!("file://{}", file.display());
    let landed = tokio::task::spawn_blocking(move || seek_and_decode(&file_uri, 3000)).await.expect("joins").expect("seeks");
    assert!(landed.abs_diff(3000) <= 100, "a seek to 3 s lands at {landed} ms");
    // FFmpeg reads it too (its own MP4 demuxer): H.264 + AAC, the same length, decodes to the
    // end without an error, and seeks.
    let path = file.clone();
    let ff =
        tokio::task::spawn_blocking(move || common::ffmpeg::check(&path, 3000)).await.expect("joins").expect("FFmpeg reads the recording");
    assert_eq!(ff.codecs, ["h264", "aac"], "{ff:?}");
    assert!((ff.duration_ms as f64 - dur_ms).abs() <= 500.0, "FFmpeg says {} ms, GStreamer {dur_ms} ms", ff.duration_ms);

    // Downloads: the whole file, and a range.
    let bytes = std::fs::read(&file).expect("read");
    let url = format!("http://{addr}/api/v1/recordings/{id}/file");
    let http = reqwest::Client::new();
    let whole = http.get(&url).send().await.expect("GET");
    assert_eq!(whole.status().as_u16(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.bytes().await.expect("body").as_ref(), bytes.as_slice());
    let part = http.get(&url).header("range", "bytes=1000-1999").send().await.expect("GET range");
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 1000-1999/{}", bytes.len()).as_str());
    assert_eq!(part.bytes().await.expect("body").as_ref(), &bytes[1000..2000]);
    let tail = http.get(&url).header("range", "bytes=-500").send().await.expect("GET suffix");
    assert_eq!(tail.bytes().await.expect("body").as_ref(), &bytes[bytes.len() - 500..]);
    let past = http.get(&url).header("range", format!("bytes={}-", bytes.len())).send().await.expect("GET past");
    assert_eq!(past.status().as_u16(), 416);
    let (st, _) = get(addr, &format!("/api/v1/recordings/{id}/parts/1")).await;
    assert_eq!(st, 200);
    let (st, v) = get(addr, &format!("/api/v1/recordings/{id}/parts/2")).await;
    assert_eq!((st, v["code"].as_str()), (404, Some("part_not_found")));

    let (st, list) = get(addr, &format!("/api/v1/recordings?roomId={room}&state=complete")).await;
    assert_eq!(st, 200);
    assert_eq!(list["total"], 1, "{list}");
    let (st, v) = get(addr, "/api/v1/recordings?state=paused").await;
    assert_eq!((st, v["code"].as_str()), (400, Some("bad_request")));

    // Deleting removes the files and the entry.
    let (st, _) = common::http::request(addr, "DELETE", &format!("/api/v1/recordings/{id}"), None).await;
    assert_eq!(st, 204);
    assert!(!file.exists(), "the file is gone");
    let (st, v) = get(addr, &format!("/api/v1/recordings/{id}")).await;
    assert_eq!((st, v["code"].as_str()), (404, Some("recording_not_found")));

    // Nothing is left running.
    let h = server.health().await;
    for k in ["recordings", "outputPipelines"] {
        assert_eq!(h[k], before[k], "{k}: {h}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recording_that_cannot_be_written_fails_alone_and_the_call_goes_on() {
    let _turn = common::one_call_at_a_time().await;
    let dir = temp_dir("recfail");
    // A file where the recordings folder should be: no recording folder can be made in it.
    let blocked = dir.join("not-a-folder");
    std::fs::write(&blocked, b"x").expect("write");
    let (hook_addr, mut hooks) = common::webhook::receiver().await;
    let mut cfg = test_config();
    cfg.recordings_dir = blocked;
    cfg.webhook = Some(tessera::config::WebhookConfig {
        url: format!("http://{hook_addr}/hooks"),
        secret: "recording-failed-secret-0123456789".into(),
        max_attempts: 5,
        initial_backoff_ms: 100,
    });
    let server = TestServer::start_with(cfg).await;
    let addr = server.addr();
    let room = server.create_room().await;
    let mut a = Client::join(addr, &room, opts("A", RED, 500.0)).await;
    eventually(Duration::from_secs(30), "A decodes the composite", || async { a.latest_frame().map(|_| ()).ok_or("no frame".to_string()) })
        .await;

    let (st, rec) = common::http::request(addr, "POST", &format!("/api/v1/rooms/{room}/recordings"), None).await;
    assert_eq!(st, 201, "{rec}");
    assert_eq!(rec["state"], "failed", "{rec}");
    let reason = rec["reason"].as_str().expect("a reason");
    assert!(reason.contains("cannot create the recording folder"), "{reason}");
    let told = tokio::time::timeout(Duration::from_secs(5), a.next_event("recordingStopped")).await.expect("the participant is told");
    assert_eq!(told["state"], "failed");
    assert_eq!(told["reason"], reason);
    let failed = loop {
        let (_, body) = tokio::time::timeout(Duration::from_secs(10), hooks.recv()).await.expect("webhooks within 10 s").expect("open");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
        if v["event"] == "recordingFailed" {
            break v;
        }
    };
    assert_eq!((failed["reason"].as_str(), failed["recording"]["state"].as_str()), (Some(reason), Some("failed")), "{failed}");
    assert_eq!(failed["room"]["id"].as_str(), Some(room.as_str()), "{failed}");

    // The call goes on (its frame rate after a failed output is `make bench`'s, H).
    a.assert_flows_for("the composite after the failed recording", Duration::from_secs(3)).await;
    let (st, again) = common::http::request(addr, "POST", &format!("/api/v1/rooms/{room}/recordings"), None).await;
    assert_eq!((st, again["state"].as_str()), (201, Some("failed")), "a failed recording does not block the next attempt: {again}");
    // The failed attempt's pipeline is torn down from the room's actor, just after the answer.
    eventually(Duration::from_secs(5), "no output pipeline is left", || async {
        let h = server.health().await;
        if h["outputPipelines"] == 0 { Ok(()) } else { Err(h.to_string()) }
    })
    .await;
    let _ = std::fs::remove_dir_all(dir);
}
