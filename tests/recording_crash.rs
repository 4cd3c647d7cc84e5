//! A recording survives `kill -9` of the real server binary. With 10 s parts and the kill at
//! ~13 s: the first part is a finished MP4 of ~10 s, the open second part is an ordinary MP4 that
//! decodes and seeks (in GStreamer and in FFmpeg) (the first compacted when the second opened,
//! the second still with its header reserve), and together they are at most 2 s short of
//! the time recorded; after a restart the recording is `interrupted` with both parts, each
//! downloads, and the room can record again.

mod common;

use common::client::{Client, Opts};
use common::decode::{decode, seek_and_decode};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

async fn call(addr: SocketAddr, method: &str, path: &str) -> Result<(u16, Value), String> {
    let (st, text) = tessera::loadgen::http::raw(addr, method, path, None, &[]).await.map_err(|e| e.to_string())?;
    Ok((st, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recording_cut_by_kill_9_plays_seeks_and_is_marked_interrupted() {
    let _turn = common::one_call_at_a_time().await;
    let dir = std::env::temp_dir().join(format!("tessera-crash-{}", tessera::ids::random_id(8)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let config = dir.join("tessera.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{addr}\"\ndatabase = \"{}\"\nrecordings_dir = \"{}\"\nrecording_part_seconds = 10\n",
            dir.join("t.db").display(),
            dir.join("recordings").display()
        ),
    )
    .expect("config written");

    let server = common::binary::start(&config);
    common::binary::ready(addr).await;
    let (st, v) = tessera::loadgen::http::raw(addr, "POST", "/api/v1/rooms", Some(br#"{"name":"crash"}"#), &[]).await.expect("create");
    assert_eq!(st, 201, "{v}");
    let room = serde_json::from_str::<Value>(&v).expect("json")["room"]["id"].as_str().expect("id").to_owned();
    let a = Client::join(
        addr,
        &room,
        Opts { name: "A".into(), rgb: [220, 40, 40], tone_hz: 500.0, h264: true, token: None, ..Default::default() },
    )
    .await;
    common::eventually(Duration::from_secs(30), "A decodes the composite", || async {
        a.latest_frame().map(|_| ()).ok_or("no frame".to_string())
    })
    .await;
    let (st, rec) = call(addr, "POST", &format!("/api/v1/rooms/{room}/recordings")).await.expect("start");
    assert_eq!(st, 201, "{rec}");
    let started = Instant::now();
    let id = rec["id"].as_str().expect("id").to_owned();
    tokio::time::sleep(Duration::from_millis(13_300)).await;
    drop(server); // SIGKILL mid-recording: nothing is flushed or finalized.
    let recorded = started.elapsed();
    drop(a);

    let folder = dir.join("recordings").join(&id);
    let part = |n: u32| folder.join(format!("part-{n:04}.mp4"));
    let decode_file = |path: std::path::PathBuf| async move {
        let uri = format!("file://{}", path.display());
        tokio::task::spawn_blocking(move || decode(&uri, &[], None, None)).await.expect("joins")
    };
    let first = decode_file(part(1)).await.expect("the finished first part decodes");
    let first_ms = first.video_end_ms as i64;
    assert!(
        (8_500..=10_100).contains(&first_ms),
        "the first part holds {first_ms} ms (at most 10 s, cut before the keyframe that would pass it)"
    );
    assert_eq!(tessera::egress::mp4::moov_before_mdat(&part(1)), Some(true));
    // The first part was compacted when the second opened (~3 s before the kill); the open one
    // keeps its reserve (what makes it playable now).
    assert_eq!(tessera::egress::compact::is_compact(&part(1)), Some(true), "the finished part gave its reserve back");
    let file = part(2);
    assert!(file.exists(), "the open part is on disk");
    assert_eq!(tessera::egress::compact::is_compact(&file), Some(false), "the open part keeps its reserve");
    let uri = format!("file://{}", file.display());
    let decoded = decode_file(file.clone()).await.expect("the cut part decodes");
    let got = decoded.video_end_ms as i64;
    let want = recorded.as_millis() as i64;
    assert!(
        first_ms + got >= want - 2000 && first_ms + got <= want + 500,
        "the parts hold {first_ms} + {got} ms of {want} ms recorded (at most 2 s may be lost)"
    );
    assert!(decoded.audio.len() as i64 >= (got - 100) * 48, "and its audio: {} samples", decoded.audio.len());
    let header = tessera::egress::mp4::duration_ms(&file).expect("a movie header with a duration") as i64;
    assert!((header - got).abs() <= 1000, "the header says {header} ms, the media lasts {got} ms");
    let mid = (got / 2) as u64;
    let landed = tokio::task::spawn_blocking(move || seek_and_decode(&uri, mid)).await.expect("joins").expect("the cut part seeks");
    assert!(landed.abs_diff(mid) <= 100, "a seek to {mid} ms lands at {landed} ms");
    // FFmpeg (its own MP4 demuxer) reads both parts to the end without an error, seeks into
    // the cut one, and finds the same length.
    for (path, ms) in [(part(1), first_ms), (file.clone(), got)] {
        let ff = tokio::task::spawn_blocking(move || common::ffmpeg::check(&path, ms as u64 / 2))
            .await
            .expect("joins")
            .unwrap_or_else(|e| panic!("FFmpeg reads the part: {e}"));
        assert_eq!(ff.codecs, ["h264", "aac"], "{ff:?}");
        assert!((ff.duration_ms as i64 - ms).abs() <= 1000, "FFmpeg says {} ms, the media lasts {ms} ms", ff.duration_ms);
    }

    let _server = common::binary::start(&config);
    common::binary::ready(addr).await;
    let (st, v) = call(addr, "GET", &format!("/api/v1/recordings/{id}")).await.expect("get");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "interrupted", "{v}");
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    assert_eq!(v["parts"].as_array().map(Vec::len), Some(2), "{v}");
    assert!(v["durationMs"].as_u64().is_some_and(|d| d as i64 >= want - 2000), "{v}");
    let (st, v) = call(addr, "GET", &format!("/api/v1/recordings/{id}/file")).await.expect("download");
    assert_eq!((st, v["code"].as_str()), (409, Some("multiple_parts")), "{v}");
    for n in [1, 2] {
        let (st, body) =
            tessera::loadgen::http::raw(addr, "GET", &format!("/api/v1/recordings/{id}/parts/{n}"), None, &[("Range", "bytes=0-7")])
                .await
                .expect("download");
        assert_eq!(st, 206, "part {n} of the interrupted recording downloads");
        assert!(body.contains("ftyp"), "part {n} starts with the MP4 file type box");
    }
    let (st, again) = call(addr, "POST", &format!("/api/v1/rooms/{room}/recordings")).await.expect("start again");
    assert_eq!((st, again["state"].as_str()), (201, Some("recording")), "a new recording can start: {again}");
    let new_id = again["id"].as_str().expect("id").to_owned();
    let (st, _) = call(addr, "POST", &format!("/api/v1/recordings/{new_id}/stop")).await.expect("stop");
    assert_eq!(st, 200);
    common::eventually(Duration::from_secs(20), "the new recording completes", || async {
        let (_, v) = call(addr, "GET", &format!("/api/v1/recordings/{new_id}")).await?;
        if v["state"] == "complete" { Ok(()) } else { Err(v.to_string()) }
    })
    .await;
    let _ = std::fs::remove_dir_all(dir);
}
