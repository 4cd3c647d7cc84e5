//! Live outputs against real servers and players: an RTMP push to nginx-rtmp on loopback is
//! pulled back and decoded, runs beside a second push (a third is over the room's limit),
//! survives the RTMP server being killed and restarted, and never shows its stream key, in
//! answers or in the server's log; HLS is fetched over HTTP with a viewer token, decoded, and
//! refused without one unless the room is public. Afterwards nothing is left running.

mod common;

use common::client::{Client, Opts};
use common::decode::decode;
use common::signal::{db, distance, tone_power};
use common::{TestServer, eventually, test_config};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tessera::loadgen::rtmp_server::RtmpServer;

const RED: [u8; 3] = [220, 40, 40];
const KEY: &str = "0123456789abcdef";

async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>, bearer: Option<&str>) -> (u16, Value, String) {
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("Authorization", a)]).unwrap_or_default();
    let body = body.map(|b| b.to_string());
    let (st, text) = common::http::raw(addr, method, path, body.as_deref().map(str::as_bytes), &headers).await;
    (st, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

/// The decoded stream shows the red participant and sounds its tone.
fn check_red_and_tone(d: &common::decode::Decoded, what: &str) {
    let (_, f) = d.frames.first().unwrap_or_else(|| panic!("{what}: no frame decoded"));
    let got = f.mean(f.width / 2, f.height / 2, 8);
    assert!(distance(got, RED) < 60.0, "{what}: the composite shows {got:?}, want red");
    assert!(d.audio.len() >= 24_000, "{what}: {} audio samples", d.audio.len());
    let s = &d.audio[d.audio.len() - 24_000..];
    let margin = db(tone_power(s, 500.0) / tone_power(s, 2000.0));
    assert!(margin > 20.0, "{what}: the tone is only {margin:.1} dB over the floor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rtmp_output_goes_live_retries_when_the_server_dies_and_comes_back() {
    let _turn = common::one_call_at_a_time().await;
    let log = capture_logs();
    let mut nginx = tokio::task::spawn_blocking(RtmpServer::start).await.expect("joins").expect("nginx-rtmp starts");
    let server = TestServer::start_with(tessera::config::Config { max_streams_per_room: 2, ..test_config() }).await;
    let addr = server.addr();
    let before = server.health().await;
    let room = server.create_room().await;
    let a = Client::join(addr, &room, Opts { name: "A".into(), rgb: RED, tone_hz: 500.0, h264: false, token: None, ..Default::default() })
        .await;
    eventually(Duration::from_secs(30), "A decodes the composite", || async { a.latest_frame().map(|_| ()).ok_or("no frame".to_string()) })
        .await;

    let secret = "sk-live-7f3a9c";
    let target = nginx.url(secret);
    let (st, s, text) = call(addr, "POST", &format!("/api/v1/rooms/{room}/streams"), Some(json!({"url": target})), None).await;
    assert_eq!(st, 201, "{text}");
    assert!(!text.contains(secret), "the stream key is masked in the answer: {text}");
    assert_eq!(s["url"], format!("rtmp://127.0.0.1:{}/live/****", nginx.port));
    let sid = s["id"].as_str().expect("id").to_owned();
    let stream_path = format!("/api/v1/rooms/{room}/streams/{sid}");
    let state = |want: &'static str| {
        let p = stream_path.clone();
        move || {
            let p = p.clone();
            async move {
                let (_, v, text) = call(addr, "GET", &p, None, None).await;
                if text.contains("sk-live") {
                    return Err(format!("key leaked: {text}"));
                }
                if v["state"] == want { Ok(v) } else { Err(text) }
            }
        }
    };
    eventually(Duration::from_secs(15), "the stream goes live", state("live")).await;

    let pull = target.clone();
    let d = tokio::task::spawn_blocking(move || decode(&pull, &[1500], None, Some(3000)))
        .await
        .expect("joins")
        .expect("the pushed stream is pulled back and decoded");
    check_red_and_tone(&d, "RTMP");

    // Several at once: a second push goes live beside the first and is pulled back too; a third
    // is over the room's limit (max_streams_per_room = 2).
    let second = nginx.url("sk-live-second");
    let (st, s2, text) = call(addr, "POST", &format!("/api/v1/rooms/{room}/streams"), Some(json!({"url": second})), None).await;
    assert_eq!(st, 201, "{text}");
    let second_path = format!("/api/v1/rooms/{room}/streams/{}", s2["id"].as_str().expect("id"));
    eventually(Duration::from_secs(15), "both streams are live", || async {
        let (_, v, text) = call(addr, "GET", &format!("/api/v1/rooms/{room}/streams"), None, None).await;
        let live = v["streams"].as_array().map(|a| a.iter().filter(|s| s["state"] == "live").count());
        if live == Some(2) { Ok(()) } else { Err(text) }
    })
    .await;
    let d = tokio::task::spawn_blocking(move || decode(&second, &[1500], None, Some(3000)))
        .await
        .expect("joins")
        .expect("the second push is pulled back and decoded");
    check_red_and_tone(&d, "the second RTMP push");
    let (st, over, _) = call(addr, "POST", &format!("/api/v1/rooms/{room}/streams"), Some(json!({"url": nginx.url("third")})), None).await;
    assert_eq!((st, over["code"].as_str()), (429, Some("too_many_streams")), "{over}");
    let (st, _, _) = call(addr, "DELETE", &second_path, None, None).await;
    assert_eq!(st, 200);

    nginx.kill();
    let retrying = eventually(Duration::from_secs(20), "the stream says it is retrying", state("retrying")).await;
    assert!(retrying["lastError"].as_str().is_some_and(|e| !e.is_empty()), "{retrying}");
    // The room is untouched.
    let n0 = a.frames();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(a.frames() > n0 + 20, "the call goes on while the output retries");

    tokio::task::block_in_place(|| nginx.restart()).expect("nginx-rtmp restarts");
    let live = eventually(Duration::from_secs(40), "the stream is live again", state("live")).await;
    assert!(live["retries"].as_u64().is_some_and(|r| r >= 1), "{live}");
    let pull = target.clone();
    let d = tokio::task::spawn_blocking(move || decode(&pull, &[1500], None, Some(3000)))
        .await
        .expect("joins")
        .expect("pulled again after the restart");
    check_red_and_tone(&d, "RTMP after the restart");

    let (st, list, _) = call(addr, "GET", &format!("/api/v1/rooms/{room}/streams"), None, None).await;
    assert_eq!((st, list["streams"].as_array().map(Vec::len)), (200, Some(1)));
    let (st, bad, _) = call(addr, "POST", &format!("/api/v1/rooms/{room}/streams"), Some(json!({"url": "http://x/y/z"})), None).await;
    assert_eq!((st, bad["code"].as_str()), (400, Some("bad_request")), "{bad}");
    let (st, stopped, _) = call(addr, "DELETE", &stream_path, None, None).await;
    assert_eq!((st, stopped["state"].as_str()), (200, Some("stopped")), "{stopped}");
    let (st, _, _) = call(addr, "GET", &stream_path, None, None).await;
    assert_eq!(st, 404);
    eventually(Duration::from_secs(10), "the output is released", || async {
        let h = server.health().await;
        if h["streams"] == before["streams"] && h["outputPipelines"] == before["outputPipelines"] { Ok(()) } else { Err(h.to_string()) }
    })
    .await;
    // The server's own log (every level, the RTMP error included) names the streams only masked.
    let log = String::from_utf8_lossy(&log.lock().expect("log")).into_owned();
    let from = log.char_indices().map(|(i, _)| i).find(|i| *i + 4000 >= log.len()).unwrap_or(0);
    let tail = &log[from..];
    assert!(log.contains("rtmp output failed; retrying") && log.contains("live/****"), "the log was captured; its end: {tail}");
    assert!(!log.contains("sk-live"), "a stream key is in the log");
}

/// What the server logs in this test binary (its own events down to debug), kept for
/// inspection. Both tests call it before starting a server, so this subscriber is installed
/// before the server's own (which then finds one and does nothing).
fn capture_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static LOG: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    #[derive(Clone)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    LOG.get_or_init(|| {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Sink(buf.clone());
        // The server's own events down to debug (its RTMP errors are warnings), other crates'
        // warnings: their debug output would only slow the calls down.
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,tessera=debug"))
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .try_init()
            .expect("installed before any other subscriber of this test binary");
        buf
    })
    .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hls_is_served_to_viewers_with_a_token_and_refused_without() {
    let _turn = common::one_call_at_a_time().await;
    let _log = capture_logs();
    let dir = std::env::temp_dir().join(format!("tessera-hls-{}", tessera::ids::random_id(8)));
    let mut cfg = test_config();
    cfg.hls_dir = dir.clone();
    cfg.api_keys = vec![tessera::auth::ApiKey { id: "test".into(), secret: KEY.into() }];
    let api = format!("test:{KEY}");
    let server = TestServer::start_with(cfg).await;
    let addr = server.addr();
    let (st, created, text) = call(addr, "POST", "/api/v1/rooms", Some(json!({"name": "hls", "hls": true})), Some(&api)).await;
    assert_eq!(st, 201, "{text}");
    assert_eq!(created["room"]["hls"], true);
    let room = created["room"]["id"].as_str().expect("id").to_owned();
    let token = |role: &'static str, room: String| {
        let api = api.clone();
        async move {
            let (st, t, text) =
                call(addr, "POST", &format!("/api/v1/rooms/{room}/tokens"), Some(json!({"name": "T", "role": role})), Some(&api)).await;
            assert_eq!(st, 201, "{text}");
            t["token"].as_str().expect("token").to_owned()
        }
    };
    let participant = token("participant", room.clone()).await;
    let viewer = token("viewer", room.clone()).await;
    let (_, other, _) = call(addr, "POST", "/api/v1/rooms", Some(json!({"name": "other"})), Some(&api)).await;
    let foreign = token("viewer", other["room"]["id"].as_str().expect("id").to_owned()).await;

    // A viewer token cannot join the call.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/rooms/{room}/ws?token={viewer}")).await.expect("connects");
    use futures::StreamExt;
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("an answer").expect("a frame").expect("ok");
    let first: Value = serde_json::from_str(first.to_text().expect("text")).expect("json");
    assert_eq!((first["type"].as_str(), first["code"].as_str()), (Some("error"), Some("forbidden")), "{first}");

    let _a = Client::join(
        addr,
        &room,
        Opts { name: "A".into(), rgb: RED, tone_hz: 500.0, h264: true, token: Some(participant), ..Default::default() },
    )
    .await;
    let playlist = format!("/live/{room}/index.m3u8");
    let (st, v, _) = call(addr, "GET", &playlist, None, None).await;
    assert_eq!((st, v["code"].as_str()), (401, Some("unauthorized")), "no token: {v}");
    let (st, v, _) = call(addr, "GET", &format!("{playlist}?token={foreign}"), None, None).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("wrong_room")), "another room's token: {v}");
    let text = eventually(Duration::from_secs(30), "the playlist lists three segments", || {
        let p = format!("{playlist}?token={viewer}");
        async move {
            let (st, _, text) = call(addr, "GET", &p, None, None).await;
            if st == 200 && text.matches("#EXTINF").count() >= 3 { Ok(text) } else { Err(format!("{st} {text}")) }
        }
    })
    .await;
    assert!(text.starts_with("#EXTM3U"), "{text}");
    // A public room's playlist needs no token; made private again, it does.
    for (public, want) in [(true, 200), (false, 401)] {
        let (st, _, t) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), Some(json!({ "public": public })), Some(&api)).await;
        assert_eq!(st, 200, "{t}");
        let (st, _, t) = call(addr, "GET", &playlist, None, None).await;
        assert_eq!(st, want, "public {public}, no token: {t}");
    }
    // The first segment may be short: it runs from the keyframe the output asked for at its
    // start to the encoder's next regular one.
    let first_listed = text.contains("#EXT-X-MEDIA-SEQUENCE:0\n");
    for d in text.lines().filter_map(|l| l.strip_prefix("#EXTINF:")).skip(usize::from(first_listed)) {
        let secs: f64 = d.trim_end_matches(',').split(',').next().and_then(|x| x.parse().ok()).expect("a duration");
        assert!((1.0..=3.0).contains(&secs), "segments after the first last about 2 s: {text}");
    }
    let first = text.lines().find(|l| !l.is_empty() && !l.starts_with('#')).expect("a segment");
    assert!(first.ends_with(&format!("?token={viewer}")), "segment links carry the viewer's token: {first}");
    // The newest segment shows the participant's picture (the first ones may still show its
    // placeholder, from before its video arrived).
    let seg_path = dir.join("fetched.ts");
    let d = eventually(Duration::from_secs(30), "the newest segment shows the participant", || {
        let (p, seg_path) = (format!("{playlist}?token={viewer}"), seg_path.clone());
        let room = room.clone();
        async move {
            let (_, _, text) = call(addr, "GET", &p, None, None).await;
            let seg = text.lines().rfind(|l| !l.is_empty() && !l.starts_with('#')).ok_or("no segment")?.to_owned();
            let bytes = reqwest::get(format!("http://{addr}/live/{room}/{seg}"))
                .await
                .map_err(|e| e.to_string())?
                .bytes()
                .await
                .map_err(|e| e.to_string())?;
            if bytes.len() < 10_000 || bytes[0] != 0x47 {
                return Err(format!("not an MPEG-TS segment ({} bytes)", bytes.len()));
            }
            std::fs::write(&seg_path, &bytes).map_err(|e| e.to_string())?;
            let uri = format!("file://{}", seg_path.display());
            let d = tokio::task::spawn_blocking(move || decode(&uri, &[0], None, None)).await.map_err(|e| e.to_string())??;
            let (_, f) = d.frames.first().ok_or("no frame")?;
            let got = f.mean(f.width / 2, f.height / 2, 8);
            if distance(got, RED) < 60.0 { Ok(d) } else { Err(format!("{seg} shows {got:?}")) }
        }
    })
    .await;
    check_red_and_tone(&d, "HLS");
    let (st, _, _) = call(addr, "GET", &format!("/live/{room}/../t.db?token={viewer}"), None, None).await;
    assert_eq!(st, 404, "nothing but the playlist and segments is served");

    // A sliding window: once the room has made more segments than the playlist lists (6), the
    // oldest leave the playlist; at most 8 finished ones are kept on disk, the oldest deleted.
    let oldest = first.split('?').next().expect("a name").to_owned();
    let text = eventually(Duration::from_secs(40), "the window slides", || {
        let p = format!("{playlist}?token={viewer}");
        async move {
            let (_, _, text) = call(addr, "GET", &p, None, None).await;
            let sequence: u64 =
                text.lines().find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            if sequence >= 5 { Ok(text) } else { Err(text) }
        }
    })
    .await;
    assert!(text.matches("#EXTINF").count() <= 6, "{text}");
    assert!(!text.contains(&oldest), "{oldest} left the playlist: {text}");
    // Segments live in a folder per HLS run inside the room's folder.
    let on_disk = std::fs::read_dir(dir.join(&room))
        .expect("the room's HLS folder")
        .flatten()
        .filter_map(|run| std::fs::read_dir(run.path()).ok())
        .flat_map(|files| files.flatten())
        .filter(|e| e.path().extension().is_some_and(|x| x == "ts"))
        .count();
    assert!((1..=9).contains(&on_disk), "{on_disk} segments on disk (8 finished and the one being written)");
    // It is deleted a segment or two after leaving the playlist.
    eventually(Duration::from_secs(10), "the oldest segment is deleted", || {
        let p = format!("/live/{room}/{oldest}?token={viewer}");
        async move {
            let (st, _, _) = call(addr, "GET", &p, None, None).await;
            if st == 404 { Ok(()) } else { Err(format!("{p}: {st}")) }
        }
    })
    .await;

    // Switching HLS off removes its files.
    let (st, v, _) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), Some(json!({"hls": false})), Some(&api)).await;
    assert_eq!((st, v["hls"].as_bool()), (200, Some(false)), "{v}");
    eventually(Duration::from_secs(10), "the HLS files are removed", || async {
        let (st, v, _) = call(addr, "GET", &format!("{playlist}?token={viewer}"), None, None).await;
        if st == 404 && v["code"] == "hls_not_running" && !dir.join(&room).exists() { Ok(()) } else { Err(format!("{st} {v}")) }
    })
    .await;
    let h = server.health().await;
    assert_eq!((h["hlsOutputs"].as_u64(), h["outputPipelines"].as_u64()), (Some(0), Some(0)), "{h}");
    let _ = std::fs::remove_dir_all(dir);
}
