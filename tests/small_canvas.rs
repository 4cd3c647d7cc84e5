//! The small-screen canvas end to end (issue 23 §1b): a receiver asking for it
//! (`videoPreference` `canvas: "small"`) decodes a 360×640 picture with the dominant speaker's
//! tile large on top, the others small below and names drawn on it, while the others keep the
//! full composite; the large tile follows the dominant speaker; H.264 and VP8 receivers both
//! take it; back to `full`, the canvas stops after its idle time and leaves no element behind.

mod common;

use common::client::{Client, Opts};
use common::http::request;
use common::signal::distance;
use common::{TestServer, eventually};
use std::time::Duration;

const RED: [u8; 3] = [220, 40, 40];
const GREEN: [u8; 3] = [40, 200, 60];
const BLUE: [u8; 3] = [40, 60, 220];
const TOLERANCE: f64 = 60.0;

fn opts(name: &str, rgb: [u8; 3], silent: bool, h264: bool) -> Opts {
    Opts { name: name.into(), rgb, tone_hz: 600.0, silent, h264, token: None, ..Default::default() }
}

/// `c`'s latest picture is the small canvas (360×640) with `large` in the top square and
/// `small` side by side below it (the clients send 4:3 pictures: fitted in their places, their
/// centres are these points), and a name drawn at the bottom-left of the large place.
fn shows_small(c: &Client, large: [u8; 3], small: [[u8; 3]; 2]) -> Result<(), String> {
    let f = c.latest_frame().ok_or("no frame yet")?;
    if (f.width, f.height) != (360, 640) {
        return Err(format!("picture is {}x{}, want the small canvas 360x640", f.width, f.height));
    }
    for ((x, y), want) in [((180, 180), large), ((90, 500), small[0]), ((270, 500), small[1])] {
        let got = f.mean(x, y, 4);
        if distance(got, want) > TOLERANCE {
            return Err(format!("({x},{y}) is {got:?}, want {want:?}"));
        }
    }
    // The large tile's name: white text on its shaded band, at the place's bottom-left
    // (Sans Bold 22: ~15 px tall, above the 6 px padding).
    let bright =
        (8..120).flat_map(|x| (330..354).map(move |y| (x, y))).filter(|&(x, y)| f.mean(x, y, 0).iter().all(|v| *v > 200.0)).count();
    if let Some(path) = std::env::var_os("SMALL_CANVAS_DUMP") {
        // A look at what was checked (a PPM), when asked for.
        let mut ppm = format!("P6 {} {} 255\n", f.width, f.height).into_bytes();
        ppm.extend_from_slice(&f.rgb);
        let _ = std::fs::write(path, ppm);
    }
    if bright < 40 {
        return Err(format!("no name drawn on the large tile ({bright} white pixels)"));
    }
    Ok(())
}

fn shows_full(c: &Client) -> Result<(), String> {
    let f = c.latest_frame().ok_or("no frame yet")?;
    if (f.width, f.height) != (1280, 720) { Err(format!("picture is {}x{}, want 1280x720", f.width, f.height)) } else { Ok(()) }
}

async fn room_media(addr: std::net::SocketAddr, room: &str) -> serde_json::Value {
    request(addr, "GET", &format!("/api/v1/rooms/{room}"), None).await.1["media"].clone()
}

async fn small_canvases(addr: std::net::SocketAddr) -> f64 {
    let (_, text) = common::http::raw(addr, "GET", "/metrics", None, &[]).await;
    text.lines()
        .find(|l| l.starts_with("tessera_small_canvases"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The small canvas runs at 15 fps: at least 12 decoded per second over 2 s, no step over 500 ms.
async fn flows_at_15(what: &str, c: &Client) {
    c.take_longest_video_step();
    let (n0, t0) = (c.frames(), std::time::Instant::now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let fps = (c.frames() - n0) as f64 / t0.elapsed().as_secs_f64();
    let longest = c.take_longest_video_step();
    eprintln!("{what}: {fps:.1} fps, longest step {longest:?}");
    assert!(fps >= 12.0, "{what}: {fps:.1} fps");
    assert!(longest <= Duration::from_millis(500), "{what}: a {longest:?} freeze");
}

/// The RTP timestamp of the last frame `c` received.
fn last_timestamp(c: &Client) -> u32 {
    c.received.video_timeline.lock().expect("not poisoned").0.expect("frames were received")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_phone_gets_the_small_canvas_with_the_speaker_large_and_others_keep_the_full_one() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let room = server.create_room().await;
    let addr = server.addr();
    // A talks (the dominant speaker); B receives VP8; C is the phone.
    let a = Client::join(addr, &room, opts("Ada", RED, false, true)).await;
    let mut b = Client::join(addr, &room, opts("Bob", GREEN, true, false)).await;
    let mut c = Client::join(addr, &room, opts("Cy", BLUE, true, true)).await;
    for (who, cl) in [("A", &a), ("B", &b), ("C", &c)] {
        eventually(Duration::from_secs(30), &format!("{who} sees the full composite"), || async { shows_full(cl) }).await;
    }
    let before = room_media(addr, &room).await;
    assert_eq!(small_canvases(addr).await, 0.0, "no small canvas before anyone asks");

    c.take_longest_video_step();
    let (ts_before, at) = (last_timestamp(&c), std::time::Instant::now());
    c.send_text(r#"{"type":"videoPreference","canvas":"small"}"#);
    let q = c.next_event("videoQuality").await;
    assert_eq!(
        (q["canvas"].as_str(), q["rung"].as_str(), q["width"].as_u64(), q["height"].as_u64()),
        (Some("small"), Some("L0"), Some(360), Some(640)),
        "{q}"
    );
    eventually(Duration::from_secs(20), "C decodes the small canvas, Ada large", || async { shows_small(&c, RED, [GREEN, BLUE]) }).await;
    // One timeline across the switch: the small canvas's frames carry the room's RTP clock.
    let ts_step = last_timestamp(&c).wrapping_sub(ts_before);
    let wall = at.elapsed().as_secs_f64() * 90_000.0;
    assert!(f64::from(ts_step) <= wall + 45_000.0, "RTP timestamps jumped {ts_step} ticks in {wall:.0}");
    let step = c.take_longest_video_step();
    assert!(step <= Duration::from_millis(500), "a {step:?} gap in C's timeline across the switch");
    flows_at_15("C on the small canvas", &c).await;
    assert_eq!(small_canvases(addr).await, 1.0);
    let (_, people) = request(addr, "GET", &format!("/api/v1/rooms/{room}/participants"), None).await;
    let seen = people["participants"].as_array().into_iter().flatten().find(|p| p["id"] == c.id.as_str()).cloned().unwrap_or_default();
    assert_eq!(seen["videoQuality"]["canvas"], "small", "the REST view shows C's canvas: {seen}");
    // The others keep the full composite.
    shows_full(&a).expect("A keeps the full composite");
    shows_full(&b).expect("B keeps the full composite");

    // The floor moves to Bob: the small canvas shows him large.
    a.set_tone(false);
    b.set_tone(true);
    eventually(Duration::from_secs(20), "Bob takes the large place", || async { shows_small(&c, GREEN, [RED, BLUE]) }).await;

    // A VP8 receiver takes it too (its own encoder on the same small canvas).
    b.send_text(r#"{"type":"videoPreference","canvas":"small"}"#);
    assert_eq!(b.next_event("videoQuality").await["canvas"], "small");
    eventually(Duration::from_secs(20), "B decodes the small canvas", || async { shows_small(&b, GREEN, [RED, BLUE]) }).await;
    assert_eq!(small_canvases(addr).await, 1.0, "one small canvas per room, whoever takes it");
    flows_at_15("B on the small canvas", &b).await;

    // Back to the full canvas; an unknown canvas is refused and changes nothing.
    c.send_text(r#"{"type":"videoPreference","canvas":"tiny"}"#);
    assert_eq!(c.next_event("error").await["code"], "bad_message");
    for (who, cl) in [("B", &mut b), ("C", &mut c)] {
        cl.send_text(r#"{"type":"videoPreference","canvas":"full"}"#);
        assert_eq!(cl.next_event("videoQuality").await["canvas"], "full", "{who}");
        let cl: &Client = cl;
        eventually(Duration::from_secs(20), &format!("{who} is back on the full composite"), || async { shows_full(cl) }).await;
    }
    // Nobody takes it now: it stops within its idle time (10 s), leaving nothing behind.
    eventually(Duration::from_secs(30), "the small canvas stops", || async {
        match small_canvases(addr).await {
            0.0 => Ok(()),
            n => Err(format!("{n} small canvases")),
        }
    })
    .await;
    let after = room_media(addr, &room).await;
    assert_eq!(after["elements"], before["elements"], "every element of the small canvas is gone");
    assert_eq!(after["encoders"], before["encoders"]);
    for (who, cl) in [("A", &a), ("B", &b), ("C", &c)] {
        cl.assert_flows_for(&format!("{who} after the small canvas stopped"), Duration::from_secs(2)).await;
    }
    a.leave().await;
    b.leave().await;
    c.leave().await;
}
