//! The media core end to end: three synthetic WebRTC participants, each sending its own colour
//! and tone, each receiving the composite and the mix-minus audio.

mod common;

use common::client::{Client, Opts};
use common::signal::distance;
use common::{TestServer, eventually};
use std::time::Duration;

const RED: [u8; 3] = [220, 40, 40];
const GREEN: [u8; 3] = [40, 200, 60];
const BLUE: [u8; 3] = [40, 60, 220];
/// Colour distance accepted after YUV conversion and two lossy encodes.
const TOLERANCE: f64 = 60.0;

fn opts(name: &str, rgb: [u8; 3], tone_hz: f64, h264: bool) -> Opts {
    Opts { name: name.into(), rgb, tone_hz, h264, token: None, ..Default::default() }
}

/// Checks that the tile centres at `points` show `colours`, and that nothing in a coarse scan
/// shows `absent`.
fn check_tiles(c: &Client, points: &[(usize, usize)], colours: &[[u8; 3]], absent: Option<[u8; 3]>) -> Result<(), String> {
    let f = c.latest_frame().ok_or("no frame decoded yet")?;
    if (f.width, f.height) != (1280, 720) {
        return Err(format!("composite is {}x{}", f.width, f.height));
    }
    for (&(x, y), &want) in points.iter().zip(colours) {
        let got = f.mean(x, y, 8);
        if distance(got, want) > TOLERANCE {
            return Err(format!("tile at ({x},{y}) is {got:?}, want {want:?}"));
        }
    }
    if let Some(gone) = absent {
        for y in (20..720).step_by(40) {
            for x in (20..1280).step_by(40) {
                if distance(f.mean(x, y, 2), gone) < TOLERANCE {
                    return Err(format!("colour {gone:?} still visible at ({x},{y})"));
                }
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_participants_get_grid_and_mix_minus_then_one_leaves() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let room = server.create_room().await;
    let addr = server.addr();

    // Join in order: tiles follow join order. B takes VP8 only, so both encoders run.
    let mut a = Client::join(addr, &room, opts("A", RED, 500.0, true)).await;
    let mut b = Client::join(addr, &room, opts("B", GREEN, 800.0, false)).await;
    let c = Client::join(addr, &room, opts("C", BLUE, 1300.0, true)).await;
    assert_eq!(b.welcome["participants"].as_array().map(Vec::len), Some(1), "B sees A already in the room");
    assert_eq!(a.next_event("participantJoined").await["participant"]["name"], "B");

    // Grid of 3 on 1280×720: two 640×360 tiles, the third centred under them; tile centres.
    let grid = [(320, 180), (960, 180), (640, 540)];
    for (who, cl) in [("A", &a), ("B", &b), ("C", &c)] {
        eventually(Duration::from_secs(30), &format!("{who} sees the grid of three"), || async {
            check_tiles(cl, &grid, &[RED, GREEN, BLUE], None)
        })
        .await;
    }
    for x in [160, 1120] {
        let empty = a.latest_frame().expect("frame").mean(x, 540, 8);
        assert!(empty.iter().all(|&v| v < 40.0), "beside the centred last tile is black, got {empty:?} at x {x}");
    }
    assert_eq!(b.received.video_codec.lock().unwrap().as_deref(), Some("video/VP8"), "VP8-only receiver gets VP8");
    assert_eq!(a.received.video_codec.lock().unwrap().as_deref().map(str::to_ascii_uppercase).as_deref(), Some("VIDEO/H264"));

    for (who, cl, own, others) in [("A", &a, 500.0, [800.0, 1300.0]), ("B", &b, 800.0, [500.0, 1300.0]), ("C", &c, 1300.0, [500.0, 800.0])]
    {
        cl.clear_audio();
        eventually(Duration::from_secs(20), &format!("{who} hears the others but not itself"), || async { cl.hears(own, &others) }).await;
    }

    let info = common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}"), None).await.1;
    assert_eq!(info["media"]["tiles"], 3, "{info}");
    assert_eq!(info["media"]["encoders"], 2, "one H.264 and one VP8 encoder for three receivers: {info}");
    assert_eq!(info["media"]["audioInputs"], 3, "{info}");
    for loss in ["videoPacketsDropped", "audioPacketsDropped", "audioUnderruns", "audioDiscardedMs"] {
        assert!(info["media"][loss].is_u64(), "{loss} is reported: {info}");
    }

    // C leaves: within 5 s the others are told and see exactly the two remaining colours.
    let c_id = c.id.clone();
    c.leave().await;
    let left = tokio::time::timeout(Duration::from_secs(5), a.next_event("participantLeft")).await.expect("A told within 5 s");
    assert_eq!(left["participantId"], c_id.as_str());
    assert_eq!(left["reason"], "left");
    let left = tokio::time::timeout(Duration::from_secs(5), b.next_event("participantLeft")).await.expect("B told within 5 s");
    assert_eq!(left["participantId"], c_id.as_str());
    let side_by_side = [(320, 360), (960, 360)];
    for (who, cl) in [("A", &a), ("B", &b)] {
        eventually(Duration::from_secs(5), &format!("{who} sees two tiles side by side"), || async {
            check_tiles(cl, &side_by_side, &[RED, GREEN], Some(BLUE))
        })
        .await;
    }
    let info = common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}"), None).await.1;
    assert_eq!(info["media"]["tiles"], 2, "{info}");
    assert_eq!(info["media"]["audioInputs"], 2, "{info}");
    assert_eq!(info["media"]["audioOutputs"], 2, "{info}");

    // Everyone leaves: pipeline, tasks and peer connections are all released.
    a.leave().await;
    b.close().await;
    eventually(Duration::from_secs(10), "everything released", || async {
        let h = server.health().await;
        let zero = |k: &str| h[k].as_u64() == Some(0);
        if zero("participantTasks") && zero("peerConnections") && zero("roomPipelines") { Ok(()) } else { Err(h.to_string()) }
    })
    .await;
    let info = common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}"), None).await.1;
    assert!(info["media"].is_null(), "media torn down: {info}");
    assert_eq!(info["participants"].as_array().map(Vec::len), Some(0));
}
