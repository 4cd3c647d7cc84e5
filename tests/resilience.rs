//! A stalled input never stalls the room, and joining then leaving frees every element.

mod common;

use common::client::{Client, Opts};
use common::signal::distance;
use common::{TestServer, eventually};
use std::time::Duration;

fn opts(name: &str, rgb: [u8; 3], tone_hz: f64, h264: bool) -> Opts {
    Opts { name: name.into(), rgb, tone_hz, h264, token: None, ..Default::default() }
}

async fn media(addr: std::net::SocketAddr, room: &str) -> serde_json::Value {
    common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}"), None).await.1["media"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_input_keeps_its_last_frame_and_the_room_keeps_going() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let addr = server.addr();
    let room = server.create_room().await;
    let a = Client::join(addr, &room, opts("A", [220, 40, 40], 500.0, true)).await;
    let b = Client::join(addr, &room, opts("B", [40, 200, 60], 800.0, true)).await;
    let green_tile = (960, 360);
    eventually(Duration::from_secs(20), "A sees B's tile", || async {
        let f = a.latest_frame().ok_or("no frame")?;
        let got = f.mean(green_tile.0, green_tile.1, 8);
        if distance(got, [40, 200, 60]) < 60.0 { Ok(()) } else { Err(format!("{got:?}")) }
    })
    .await;

    b.stall_video();
    // Over the next two seconds A keeps receiving the composite (a stalled room would deliver
    // none), and B's tile keeps its last picture.
    a.assert_flows_for("the composite with B's input stalled", Duration::from_secs(2)).await;
    let f = a.latest_frame().expect("frame");
    assert!(distance(f.mean(green_tile.0, green_tile.1, 8), [40, 200, 60]) < 60.0, "B's tile shows its last frame");
    a.leave().await;
    b.leave().await;
}

async fn settled(addr: std::net::SocketAddr, room: &str, want_tiles: u64) -> serde_json::Value {
    eventually(Duration::from_secs(20), "media settles", || async {
        let m = media(addr, room).await;
        let ok = m["tiles"] == want_tiles && m["audioInputs"] == want_tiles && m["audioOutputs"] == want_tiles && m["encoders"] == 1;
        if ok { Ok(m) } else { Err(m.to_string()) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_then_leave_frees_every_element() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let addr = server.addr();
    let room = server.create_room().await;
    let a = Client::join(addr, &room, opts("A", [220, 40, 40], 500.0, true)).await;
    let b = Client::join(addr, &room, opts("B", [40, 200, 60], 800.0, true)).await;
    // Both inputs decoding (not placeholders) before counting.
    eventually(Duration::from_secs(20), "both tiles live", || async {
        let f = a.latest_frame().ok_or("no frame")?;
        let (l, r) = (f.mean(320, 360, 8), f.mean(960, 360, 8));
        if distance(l, [220, 40, 40]) < 60.0 && distance(r, [40, 200, 60]) < 60.0 { Ok(()) } else { Err(format!("{l:?} {r:?}")) }
    })
    .await;
    let before = settled(addr, &room, 2).await;

    let c = Client::join(addr, &room, opts("C", [40, 60, 220], 1300.0, true)).await;
    eventually(Duration::from_secs(20), "C's tile live", || async {
        let f = a.latest_frame().ok_or("no frame")?;
        let got = f.mean(320, 540, 8);
        if distance(got, [40, 60, 220]) < 60.0 { Ok(()) } else { Err(format!("{got:?}")) }
    })
    .await;
    let during = settled(addr, &room, 3).await;
    assert!(during["elements"].as_u64() > before["elements"].as_u64(), "{during} vs {before}");
    c.leave().await;
    let after = settled(addr, &room, 2).await;
    assert_eq!(after["elements"], before["elements"], "C's elements are all gone: {after} vs {before}");
    let h = server.health().await;
    assert_eq!(h["participantTasks"], 2, "{h}");
    assert_eq!(h["peerConnections"], 2, "{h}");
    a.leave().await;
    b.leave().await;
}

/// Firefox sends padding-only audio packets right after connecting; each must be skipped, not
/// decoded into 120 ms of invented audio that the input queue then throws away.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn padding_only_audio_packets_invent_no_audio() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let addr = server.addr();
    let room = server.create_room().await;
    // 150 packets (3 s) go out padding-only: those after the connection reach the server.
    let pad = Opts { audio_padding_first: 150, audio_only: true, ..opts("Pad", [0, 0, 0], 700.0, false) };
    let _a = Client::join(addr, &room, pad).await;
    let b = Client::join(addr, &room, Opts { silent: true, ..opts("B", [40, 200, 60], 300.0, false) }).await;
    // Once the real audio flows, B hears A's 700 Hz tone.
    eventually(Duration::from_secs(20), "B hears A's tone after the padding", || async {
        let tail = b.audio_tail(9600).ok_or("not enough audio yet")?;
        let (tone, off) = (common::signal::tone_power(&tail, 700.0), common::signal::tone_power(&tail, 1100.0));
        if common::signal::db(tone / off.max(1e-9)) > 20.0 { Ok(()) } else { Err(format!("tone {tone:.1} off {off:.1}")) }
    })
    .await;
    let m = media(addr, &room).await;
    let discarded = m["audioDiscardedMs"].as_u64().expect("reported");
    // Before the fix: 120 ms per padding packet (18 s in all here); now only the queue's own
    // trimming of a start-up burst may count: a second leaves a busy machine its margin and
    // still tells the two apart.
    assert!(discarded < 1000, "{discarded} ms of input audio discarded: {m}");
}
