//! Room lifecycle with real WebRTC clients over loopback: the host ends the room, kick, mute
//! (the muted tone leaves the others' mix, the muted tile shows the placeholder), the empty
//! timeout, joins refused (early, ended, full, bad tokens), and signed webhooks received by a
//! local receiver that fails the first delivery.

mod common;

use common::client::{Client, Opts};
use common::signal::{db, distance, tone_power};
use common::sock::{KEY, call, create, first_and_close, first_message, keyed_config, token, ws};
use common::{TestServer, eventually};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tessera::config::Config;

const HOOK_SECRET: &str = "hook-secret-0123456789";
const RED: [u8; 3] = [220, 40, 40];
const GREEN: [u8; 3] = [40, 200, 60];
const BLUE: [u8; 3] = [40, 60, 220];

async fn join(addr: SocketAddr, room: &str, name: &str, rgb: [u8; 3], tone_hz: f64) -> Client {
    let t = token(addr, room, name, None).await;
    Client::join(addr, room, Opts { token: Some(t), name: name.into(), rgb, tone_hz, h264: true, ..Default::default() }).await
}

/// Waits for the signaling socket to close and returns its close code.
async fn close_code(c: &mut Client) -> Option<u64> {
    tokio::time::timeout(Duration::from_secs(10), c.next_event("socketClosed")).await.expect("socket closes")["code"].as_u64()
}

async fn all_released(server: &TestServer) {
    eventually(Duration::from_secs(10), "every task, peer connection and pipeline released", || async {
        let h = server.health().await;
        let zero = |k: &str| h[k].as_u64() == Some(0);
        if zero("participantTasks") && zero("peerConnections") && zero("roomPipelines") { Ok(()) } else { Err(h.to_string()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn host_ends_the_room_for_everyone_and_webhooks_arrive_signed() {
    let _turn = common::one_call_at_a_time().await;
    let (hook_addr, mut hooks) = common::webhook::receiver().await;
    let webhook = tessera::config::WebhookConfig {
        url: format!("http://{hook_addr}/hooks"),
        secret: HOOK_SECRET.into(),
        max_attempts: 5,
        initial_backoff_ms: 100,
    };
    let server = TestServer::start_with(Config { webhook: Some(webhook), ..keyed_config() }).await;
    let addr = server.addr();
    let (room, host) = create(addr, json!({"name": "Board"})).await;
    let mut a = join(addr, &room, "A", RED, 440.0).await;
    let mut b = join(addr, &room, "B", GREEN, 660.0).await;
    for c in [&a, &b] {
        eventually(Duration::from_secs(30), "composite arrives", || async { if c.frames() > 0 { Ok(()) } else { Err("no frame".into()) } })
            .await;
    }

    let (st, v) = call(addr, "DELETE", &format!("/api/v1/rooms/{room}"), &host, None).await;
    assert_eq!((st, v["state"].as_str()), (200, Some("ended")), "{v}");
    for c in [&mut a, &mut b] {
        let ended = tokio::time::timeout(Duration::from_secs(5), c.next_event("roomEnded")).await.expect("roomEnded within 5 s");
        assert_eq!(ended["reason"], "deleted", "{ended}");
        assert_eq!(close_code(c).await, Some(4410));
    }
    all_released(&server).await;

    // roomStarted, 2 × participantJoined, 2 × participantLeft, roomEnded, plus one retry of
    // whichever was refused first.
    let mut seen: Vec<(String, Value)> = Vec::new();
    let mut deliveries = std::collections::HashMap::<String, usize>::new();
    while seen.len() < 7 {
        let (headers, body) =
            tokio::time::timeout(Duration::from_secs(10), hooks.recv()).await.expect("webhook within 10 s").expect("open");
        let get = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        assert!(
            common::webhook::verify_signature(HOOK_SECRET, &get("tessera-signature"), &body),
            "bad signature {:?}",
            get("tessera-signature")
        );
        let v: Value = serde_json::from_slice(&body).expect("JSON body");
        assert_eq!(v["room"]["id"], room.as_str());
        assert_eq!(get("tessera-event"), v["event"].as_str().unwrap_or_default());
        *deliveries.entry(get("tessera-delivery")).or_default() += 1;
        seen.push((v["event"].as_str().unwrap_or_default().to_owned(), v));
    }
    assert!(deliveries.values().any(|&n| n == 2), "the refused delivery was retried with the same id: {deliveries:?}");
    let count = |e: &str| seen.iter().filter(|(n, _)| n == e).count();
    let distinct = |e: &str| {
        seen.iter()
            .filter(|(n, _)| n == e)
            .map(|(_, v)| v["id"].as_str().unwrap_or_default().to_owned())
            .collect::<std::collections::HashSet<_>>()
            .len()
    };
    assert_eq!(distinct("roomStarted"), 1);
    assert_eq!(distinct("participantJoined"), 2);
    assert_eq!(distinct("participantLeft"), 2);
    assert_eq!(distinct("roomEnded"), 1);
    assert_eq!(count("roomStarted") + count("participantJoined") + count("participantLeft") + count("roomEnded"), 7);
    let ended = seen.iter().find(|(n, _)| n == "roomEnded").expect("roomEnded");
    assert_eq!(ended.1["reason"], "deleted");
}

/// What `c` hears: `muted` at least 20 dB below `other`.
fn check_silenced(c: &Client, muted: f64, other: f64) -> Result<(), String> {
    let s = c.audio_tail(24_000).ok_or("less than 0.5 s of audio")?;
    let margin = db(tone_power(&s, other) / tone_power(&s, muted));
    if margin < 20.0 { Err(format!("muted {muted} Hz only {margin:.1} dB below {other} Hz")) } else { Ok(()) }
}

fn tile_is(c: &Client, at: (usize, usize), rgb: [u8; 3], want: bool) -> Result<(), String> {
    let f = c.latest_frame().ok_or("no frame")?;
    let got = f.mean(at.0, at.1, 8);
    let same = distance(got, rgb) < 60.0;
    if same == want { Ok(()) } else { Err(format!("tile at {at:?} is {got:?}; expected {} {rgb:?}", if want { "" } else { "not" })) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn host_mutes_and_kicks() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start_with(keyed_config()).await;
    let addr = server.addr();
    let (room, host) = create(addr, json!({})).await;
    let mut a = join(addr, &room, "A", RED, 440.0).await;
    let mut b = join(addr, &room, "B", GREEN, 660.0).await;
    let mut c = join(addr, &room, "C", BLUE, 880.0).await;
    let a_tile = (320, 180);
    eventually(Duration::from_secs(30), "B hears A and sees A's tile", || async {
        tile_is(&b, a_tile, RED, true)?;
        let s = b.audio_tail(24_000).ok_or("no audio")?;
        if db(tone_power(&s, 440.0) / tone_power(&s, 1000.0)) > 20.0 { Ok(()) } else { Err("A not audible".into()) }
    })
    .await;

    let mute = format!("/api/v1/rooms/{room}/participants/{}/mute", a.id);
    let (st, v) = call(addr, "POST", &mute, &host, Some(json!({"audio": true, "video": true}))).await;
    assert_eq!((st, v["audioMuted"].as_bool(), v["videoMuted"].as_bool()), (200, Some(true), Some(true)), "{v}");
    let a_id = a.id.clone();
    for cl in [&mut a, &mut b, &mut c] {
        let ev = cl.next_event("participantUpdated").await;
        assert_eq!((ev["participant"]["id"].as_str(), ev["participant"]["audioMuted"].as_bool()), (Some(a_id.as_str()), Some(true)));
    }
    b.clear_audio();
    eventually(Duration::from_secs(10), "A's tone leaves B's mix and A's tile shows the placeholder", || async {
        check_silenced(&b, 440.0, 880.0)?;
        tile_is(&b, a_tile, RED, false)
    })
    .await;
    let (st, _) = call(addr, "POST", &mute, &host, Some(json!({"video": false}))).await;
    assert_eq!(st, 200);
    eventually(Duration::from_secs(10), "unmuted video shows A again", || async { tile_is(&b, a_tile, RED, true) }).await;

    // Kick B with the host token: the others are told why, B is told and disconnected.
    let (st, _) = call(addr, "DELETE", &format!("/api/v1/rooms/{room}/participants/{}", b.id), &host, None).await;
    assert_eq!(st, 204);
    for cl in [&mut a, &mut c] {
        let left = cl.next_event("participantLeft").await;
        assert_eq!((left["participantId"].as_str(), left["reason"].as_str()), (Some(b.id.as_str()), Some("kicked")));
    }
    assert_eq!(b.next_event("removed").await["reason"], "kicked");
    assert_eq!(close_code(&mut b).await, Some(4001));
    let (_, list) = call(addr, "GET", &format!("/api/v1/rooms/{room}/participants"), &host, None).await;
    assert_eq!(list["participants"].as_array().map(Vec::len), Some(2), "{list}");
    // A participant token cannot kick.
    let p = token(addr, &room, "P", None).await;
    let (st, v) = call(addr, "DELETE", &format!("/api/v1/rooms/{room}/participants/{}", c.id), &p, None).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")));
    a.close().await;
    b.close().await;
    c.close().await;
    all_released(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_refused_early_ended_full_and_with_bad_tokens() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start_with(keyed_config()).await;
    let addr = server.addr();
    let now = tessera::time::now_unix();
    let refused = |(msg, close): (Value, Option<u16>), code: &str, want_close: u16| {
        assert_eq!((msg["type"].as_str(), msg["code"].as_str(), close), (Some("error"), Some(code), Some(want_close)), "{msg}");
        msg
    };

    let starts = tessera::time::format_unix(now + 3600);
    let (early, _) = create(addr, json!({"startsAt": starts})).await;
    let t = token(addr, &early, "E", None).await;
    let msg = refused(first_and_close(ws(addr, &early, &format!("token={t}")).await).await, "room_not_started", 4425);
    assert_eq!(msg["startsAt"], starts.as_str());

    // Inside the early-join window (10 minutes by default) a scheduled room can be joined.
    let (soon, _) = create(addr, json!({"startsAt": tessera::time::format_unix(now + 120)})).await;
    let t = token(addr, &soon, "S", None).await;
    let mut w = ws(addr, &soon, &format!("token={t}")).await;
    assert_eq!(first_message(&mut w).await["type"], "welcome");
    drop(w);

    let (full, _) = create(addr, json!({"maxParticipants": 1})).await;
    let t1 = token(addr, &full, "one", Some("same-person")).await;
    let mut first = ws(addr, &full, &format!("token={t1}")).await;
    let welcome = first_message(&mut first).await;
    assert_eq!((welcome["type"].as_str(), welcome["you"]["role"].as_str()), (Some("welcome"), Some("participant")));
    let t2 = token(addr, &full, "two", None).await;
    refused(first_and_close(ws(addr, &full, &format!("token={t2}")).await).await, "room_full", 4409);
    // The same identity again replaces the first session (a reload), even in a full room.
    let t1b = token(addr, &full, "one again", Some("same-person")).await;
    let mut again = ws(addr, &full, &format!("token={t1b}")).await;
    assert_eq!(first_message(&mut again).await["type"], "welcome");
    let (removed, close) = first_and_close(first).await;
    assert_eq!((removed["type"].as_str(), removed["reason"].as_str(), close), (Some("removed"), Some("replaced"), Some(4001)), "{removed}");

    let (ended, ended_host) = create(addr, json!({})).await;
    let t = token(addr, &ended, "late", None).await;
    assert_eq!(call(addr, "DELETE", &format!("/api/v1/rooms/{ended}"), &ended_host, None).await.0, 200);
    refused(first_and_close(ws(addr, &ended, &format!("token={t}")).await).await, "room_ended", 4410);

    let auth = tessera::auth::Auth::new(vec![], b"forged-secret-forged-secret-forged!!");
    let (forged, _) = auth.issue(&full, "x", "x", tessera::auth::Role::Host, now, 600).expect("token");
    refused(first_and_close(ws(addr, &full, "name=anon").await).await, "unauthorized", 4401);
    refused(first_and_close(ws(addr, &full, &format!("token={forged}")).await).await, "invalid_credentials", 4401);
    refused(first_and_close(ws(addr, &full, &format!("token={t}")).await).await, "wrong_room", 4403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_room_ends_after_its_timeout() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start_with(keyed_config()).await;
    let addr = server.addr();
    let (room, _) = create(addr, json!({"emptyTimeoutSeconds": 1})).await;
    let t = token(addr, &room, "brief", None).await;
    let mut w = ws(addr, &room, &format!("token={t}")).await;
    assert_eq!(first_message(&mut w).await["type"], "welcome");
    // While someone is in, the room stays open past its timeout.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(call(addr, "GET", &format!("/api/v1/rooms/{room}"), KEY, None).await.1["state"], "open");
    drop(w);
    eventually(Duration::from_secs(6), "the empty room ends", || async {
        let v = call(addr, "GET", &format!("/api/v1/rooms/{room}"), KEY, None).await.1;
        if v["state"] == "ended" && v["endReason"] == "emptyTimeout" { Ok(()) } else { Err(v.to_string()) }
    })
    .await;
    all_released(&server).await;

    // A room with endsAt ends then, with people in it: they are told why.
    let (timed, _) = create(addr, json!({"endsAt": tessera::time::format_unix(tessera::time::now_unix() + 2)})).await;
    let t = token(addr, &timed, "stayer", None).await;
    let mut w = ws(addr, &timed, &format!("token={t}")).await;
    assert_eq!(first_message(&mut w).await["type"], "welcome");
    let (ended, close) = first_and_close(w).await;
    assert_eq!((ended["type"].as_str(), ended["reason"].as_str(), close), (Some("roomEnded"), Some("timeLimit"), Some(4410)), "{ended}");
    assert_eq!(call(addr, "GET", &format!("/api/v1/rooms/{timed}"), KEY, None).await.1["endReason"], "timeLimit");
}
