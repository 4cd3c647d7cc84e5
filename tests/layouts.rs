//! Layouts end to end with synthetic participants of distinct colours (4:3 pictures): each
//! layout puts each colour in its slot, the grid's cells filled (the picture cropped to the
//! cell, never stretched) and its last row centred, five people covering at least 85 % of the
//! canvas, people without video as name tiles under it; the other layouts keep the picture's
//! aspect (black bars beside it); the floor follows whoever talks for a second, not a click; changing the layout
//! twice a second never stalls the composite; only the host (or an API key) may change it. Each
//! camera is told the size of its tile (`cameraConstraint`).

mod common;

use common::client::{Client, Opts};
use common::signal::distance;
use common::{TestServer, eventually};
use serde_json::Value;
use std::time::{Duration, Instant};

const RED: [u8; 3] = [220, 40, 40];
const GREEN: [u8; 3] = [40, 200, 60];
const BLUE: [u8; 3] = [40, 60, 220];
const BLACK: [u8; 3] = [0, 0, 0];
/// The placeholder of a participant without video.
const GREY: [u8; 3] = [0x30, 0x33, 0x38];
const TOLERANCE: f64 = 60.0;

fn opts(name: &str, rgb: [u8; 3], tone_hz: f64) -> Opts {
    Opts { name: name.into(), rgb, tone_hz, silent: true, ..Default::default() }
}

/// Every `(point, colour)` holds in `c`'s latest composite frame.
fn shows(c: &Client, points: &[((usize, usize), [u8; 3])]) -> Result<(), String> {
    let f = c.latest_frame().ok_or("no frame decoded yet")?;
    for &((x, y), want) in points {
        let got = f.mean(x, y, 6);
        if distance(got, want) > TOLERANCE {
            return Err(format!("({x},{y}) is {got:?}, want {want:?}"));
        }
    }
    Ok(())
}

async fn patch(addr: std::net::SocketAddr, room: &str, body: &str) -> (u16, Value) {
    common::http::request(addr, "PATCH", &format!("/api/v1/rooms/{room}"), Some(body)).await
}

/// The first `cameraConstraint` `c` gets (from the start of its session, within 10 s) that is
/// `width`×`height`; the constraints before it are skipped.
async fn constraint_of(c: &mut Client, width: u64, height: u64) -> Value {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let ev = c.next_event("cameraConstraint").await;
            if ev["width"] == width && ev["height"] == height {
                return ev;
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no cameraConstraint {width}x{height} within 10 s"))
}

/// The next event of `kind` within `limit`, skipping others.
async fn next_of(c: &mut Client, kind: &str, limit: Duration) -> Option<Value> {
    tokio::time::timeout(limit, c.next_event(kind)).await.ok()
}

async fn three(addr: std::net::SocketAddr, room: &str) -> (Client, Client, Client) {
    let r = Client::join(addr, room, opts("Red", RED, 440.0)).await;
    let g = Client::join(addr, room, opts("Green", GREEN, 660.0)).await;
    let b = Client::join(addr, room, opts("Blue", BLUE, 880.0)).await;
    (r, g, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_layout_puts_each_colour_in_its_slot_and_keeps_the_aspect() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let addr = server.addr();
    let room = server.create_room().await;
    let (mut r, mut g, mut b) = three(addr, &room).await;
    assert_eq!(r.welcome["layout"], serde_json::json!({"layout": "grid", "pinnedParticipantId": null, "screenParticipantId": null}));
    // Each camera is told its tile: a 640×360 cell of the 2×2 grid (docs/signaling.md).
    let c = constraint_of(&mut b, 640, 360).await;
    assert_eq!((c["maxBitrateKbps"].as_u64(), c["shown"].as_bool()), (Some(750), Some(true)), "{c}");

    // Grid of 3: two 640×360 cells, the third centred under them (x 320..960); each 4:3
    // picture cropped to fill its cell (no bars: (40, 180) is Red's).
    eventually(Duration::from_secs(30), "the grid", || async {
        shows(
            &r,
            &[((320, 180), RED), ((960, 180), GREEN), ((640, 540), BLUE), ((40, 180), RED), ((160, 540), BLACK), ((1120, 540), BLACK)],
        )
    })
    .await;

    // Pinned: Blue large (1280×540 slot: 720×540 picture at x 280..1000), the others in a
    // centred row of 320×180 cells below.
    let (st, v) = patch(addr, &room, &format!(r#"{{"layout":"pinned","pin":"{}"}}"#, b.id)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["layout"], "pinned");
    assert_eq!(v["pinnedParticipantId"], b.id.as_str());
    let ev = next_of(&mut r, "layoutChanged", Duration::from_secs(5)).await.expect("layoutChanged");
    assert_eq!(ev["layout"], "pinned");
    let c = constraint_of(&mut b, 1280, 540).await;
    assert_eq!(c["maxBitrateKbps"], 1687, "the pinned slot: {c}");
    assert_eq!(ev["pinnedParticipantId"], b.id.as_str());
    assert!(ev["screenParticipantId"].is_null());
    eventually(Duration::from_secs(10), "the pinned layout", || async {
        shows(
            &r,
            &[
                ((640, 270), BLUE),
                ((140, 270), BLACK),
                ((1140, 270), BLACK),
                ((480, 630), RED),
                ((800, 630), GREEN),
                ((340, 630), BLACK),
                ((100, 630), BLACK),
            ],
        )
    })
    .await;

    // Presentation without a screen: the pinned participant takes the screen slot (1024×720,
    // picture 960×720 at x 32..992); the others in a column of 256×144 cells on the right.
    let (st, _) = patch(addr, &room, r#"{"layout":"presentation"}"#).await;
    assert_eq!(st, 200);
    eventually(Duration::from_secs(10), "the presentation layout", || async {
        shows(&r, &[((512, 360), BLUE), ((10, 360), BLACK), ((1152, 288), RED), ((1152, 432), GREEN), ((1152, 100), BLACK)])
    })
    .await;

    // Someone without video gets a compact name tile: the three with video share 1280×648
    // (576×324 cells, 2 + 1, centred), Dee's name a 288×68 grey tile centred below (x 496..784,
    // y 650..718); `hideAudioOnly` leaves them off.
    let (st, _) = patch(addr, &room, r#"{"layout":"grid","pin":null}"#).await;
    assert_eq!(st, 200);
    let _d = Client::join(addr, &room, Opts { audio_only: true, ..opts("Dee", [0, 0, 0], 300.0) }).await;
    eventually(Duration::from_secs(10), "a name tile for the audio-only participant", || async {
        shows(
            &r,
            &[((352, 162), RED), ((928, 162), GREEN), ((640, 486), BLUE), ((520, 684), GREY), ((300, 684), BLACK), ((640, 600), BLUE)],
        )
    })
    .await;
    let (st, v) = patch(addr, &room, r#"{"hideAudioOnly":true}"#).await;
    assert_eq!(st, 200);
    assert_eq!(v["hideAudioOnly"], true);
    eventually(Duration::from_secs(10), "the audio-only participant off the canvas", || async {
        shows(&r, &[((320, 180), RED), ((960, 180), GREEN), ((640, 540), BLUE), ((640, 700), BLUE), ((1120, 540), BLACK)])
    })
    .await;

    let (_, v) = common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}"), None).await;
    assert_eq!(v["layout"], "grid");
    assert_eq!(v["participants"].as_array().map(Vec::len), Some(4), "still in the call: {v}");

    // Green's video muted by the host: its tile shows the placeholder, so its camera is asked
    // for a thumbnail at the least bitrate (after the 2 s a shrink is held).
    let mute = format!("/api/v1/rooms/{room}/participants/{}/mute", g.id);
    let (st, v) = common::http::request(addr, "POST", &mute, Some(r#"{"video":true}"#)).await;
    assert_eq!(st, 200, "{v}");
    let c = constraint_of(&mut g, 160, 90).await;
    assert_eq!((c["maxBitrateKbps"].as_u64(), c["shown"].as_bool()), (Some(100), Some(false)), "{c}");
}

/// The share of `f` (sampled every 4 pixels) within [`TOLERANCE`] of one of `colours`.
fn share_showing(f: &common::signal::Frame, colours: &[[u8; 3]]) -> f64 {
    let (mut hit, mut all) = (0u32, 0u32);
    for y in (2..f.height).step_by(4) {
        for x in (2..f.width).step_by(4) {
            all += 1;
            let px = f.mean(x, y, 0);
            hit += u32::from(colours.iter().any(|&c| distance(px, c) <= TOLERANCE));
        }
    }
    f64::from(hit) / f64::from(all)
}

/// The first and last x on row `y` of `f` within [`TOLERANCE`] of `colour`.
fn extent(f: &common::signal::Frame, y: usize, colour: [u8; 3]) -> Option<(usize, usize)> {
    let xs: Vec<usize> = (0..f.width).filter(|&x| distance(f.mean(x, y, 0), colour) <= TOLERANCE).collect();
    Some((*xs.first()?, *xs.last()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_people_fill_the_canvas_in_rows_of_three_and_two_centred() {
    const YELLOW: [u8; 3] = [220, 200, 40];
    const MAGENTA: [u8; 3] = [200, 40, 200];
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let addr = server.addr();
    let room = server.create_room().await;
    let (r, _g, _b) = three(addr, &room).await;
    let _y = Client::join(addr, &room, opts("Yellow", YELLOW, 1100.0)).await;
    let _m = Client::join(addr, &room, opts("Magenta", MAGENTA, 1300.0)).await;
    let colours = [RED, GREEN, BLUE, YELLOW, MAGENTA];
    // 3 + 2: 426×360 cells above, 640×360 below, each 4:3 picture cropped to its cell. The old
    // 3×3 grid showed five in 5/9 of the canvas (56 %); what may miss is the names' labels and
    // the encode's edges between cells. The last row is centred: as far from the left edge as
    // from the right (it spans the width here; the old grid left-aligned it and left a third of
    // the row black), and the top row spans the canvas too.
    let (covered, last_row) = eventually(Duration::from_secs(30), "five in rows of three and two", || async {
        shows(&r, &[((213, 180), RED), ((640, 180), GREEN), ((1066, 180), BLUE), ((320, 540), YELLOW), ((960, 540), MAGENTA)])?;
        let f = r.latest_frame().ok_or("no frame")?;
        let covered = share_showing(&f, &colours);
        if covered < 0.85 {
            return Err(format!("the tiles cover {:.1} % of the canvas", covered * 100.0));
        }
        let (y0, _) = extent(&f, 450, YELLOW).ok_or("no Yellow on the last row")?;
        let (_, m1) = extent(&f, 450, MAGENTA).ok_or("no Magenta on the last row")?;
        let right = f.width - 1 - m1;
        if y0.abs_diff(right) > 8 {
            return Err(format!("the last row: {y0} px from the left, {right} from the right"));
        }
        let (r0, _) = extent(&f, 90, RED).ok_or("no Red on the top row")?;
        let (_, b1) = extent(&f, 90, BLUE).ok_or("no Blue on the top row")?;
        if r0 > 8 || b1 + 8 < f.width - 1 {
            return Err(format!("the top row spans x {r0}..{b1}"));
        }
        Ok((covered, (y0, m1)))
    })
    .await;
    eprintln!("five people cover {:.1} % of the decoded composite; the last row spans x {}..{}", covered * 100.0, last_row.0, last_row.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_floor_follows_who_talks_for_a_second_not_a_click() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let addr = server.addr();
    let room = server.create_room().await;
    let (mut r, g, b) = three(addr, &room).await;
    let (st, _) = patch(addr, &room, r#"{"layout":"speaker"}"#).await;
    assert_eq!(st, 200);
    // Nobody has talked: the first to join holds the floor (1280×540 slot).
    eventually(Duration::from_secs(30), "the speaker layout", || async {
        shows(&r, &[((640, 270), RED), ((480, 630), GREEN), ((800, 630), BLUE)])
    })
    .await;

    // Green talks: it becomes the dominant speaker (the server asks for about a second of
    // speech; 3 s leaves a loaded machine's audio path its margin), announced after (or with)
    // being heard.
    g.set_tone(true);
    let t0 = Instant::now();
    let mut heard = false;
    loop {
        let ev = next_of(&mut r, "activeSpeakers", Duration::from_secs(4)).await.expect("activeSpeakers while Green talks");
        let ids: Vec<&str> = ev["speakers"].as_array().expect("speakers").iter().filter_map(|s| s["participantId"].as_str()).collect();
        heard |= ids.contains(&g.id.as_str());
        if ev["dominantParticipantId"] == g.id.as_str() {
            assert!(heard, "Green took the floor before it was listed as talking: {ev}");
            break;
        }
    }
    let took = t0.elapsed();
    eprintln!("the floor moved to Green {took:?} after it started talking");
    assert!(took <= Duration::from_secs(3), "the floor moved to Green after {took:?}");
    eventually(Duration::from_secs(3), "Green on the floor", || async {
        shows(&r, &[((640, 270), GREEN), ((480, 630), RED), ((800, 630), BLUE)])
    })
    .await;
    g.set_tone(false);

    // Blue clicks for 200 ms: listed as talking perhaps, but the floor stays with Green.
    tokio::time::sleep(Duration::from_millis(600)).await; // Green's tone drains first
    b.set_tone(true);
    tokio::time::sleep(Duration::from_millis(200)).await; // the click's length (the stimulus)
    b.set_tone(false);
    let until = Instant::now() + Duration::from_secs(2);
    while let Some(ev) = next_of(&mut r, "activeSpeakers", until.saturating_duration_since(Instant::now())).await {
        assert_ne!(ev["dominantParticipantId"], b.id.as_str(), "a 200 ms click took the floor: {ev}");
    }
    shows(&r, &[((640, 270), GREEN)]).expect("Green keeps the floor after the click");

    // Red is muted by the host and talks for 2 s: never heard, never on the floor.
    let (st, v) =
        common::http::request(addr, "POST", &format!("/api/v1/rooms/{room}/participants/{}/mute", r.id), Some(r#"{"audio":true}"#)).await;
    assert_eq!(st, 200, "{v}");
    r.set_tone(true);
    let until = Instant::now() + Duration::from_secs(2);
    while let Some(ev) = next_of(&mut r, "activeSpeakers", until.saturating_duration_since(Instant::now())).await {
        assert_ne!(ev["dominantParticipantId"], r.id.as_str(), "a muted participant took the floor: {ev}");
        let talking = ev["speakers"].as_array().expect("speakers").iter().any(|s| s["participantId"] == r.id.as_str());
        assert!(!talking, "a muted participant is listed as talking: {ev}");
    }
    r.set_tone(false);
    shows(&r, &[((640, 270), GREEN)]).expect("Green keeps the floor while the muted Red talks");

    // Blue talks: the floor moves within 3 s.
    b.set_tone(true);
    let t0 = Instant::now();
    loop {
        let ev = next_of(&mut r, "activeSpeakers", Duration::from_secs(4)).await.expect("activeSpeakers while Blue talks");
        if ev["dominantParticipantId"] == b.id.as_str() {
            break;
        }
    }
    assert!(t0.elapsed() <= Duration::from_secs(3), "the floor moved to Blue after {:?}", t0.elapsed());
    eventually(Duration::from_secs(3), "Blue on the floor, with a border", || async {
        shows(&r, &[((640, 270), BLUE)])?;
        // The talking tile's border (bright yellow) along the floor slot's top edge.
        let f = r.latest_frame().ok_or("no frame")?;
        let edge = f.mean(640, 1, 1);
        if edge[0] > 150.0 && edge[1] > 150.0 && edge[2] < 120.0 { Ok(()) } else { Err(format!("no border: {edge:?}")) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changing_the_layout_twice_a_second_never_stalls_the_composite() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let addr = server.addr();
    let room = server.create_room().await;
    let (r, g, _b) = three(addr, &room).await;
    eventually(Duration::from_secs(30), "the composite", || async { shows(&r, &[((320, 180), RED), ((960, 180), GREEN)]) }).await;
    let layouts = ["speaker", "pinned", "presentation", "grid"];
    let start = r.frames();
    let t0 = Instant::now();
    let mut next_change = Instant::now();
    let mut i = 0;
    r.take_longest_video_step();
    while t0.elapsed() < Duration::from_secs(10) {
        let body = format!(r#"{{"layout":"{}","pin":"{}"}}"#, layouts[i % 4], g.id);
        let (st, v) = patch(addr, &room, &body).await;
        assert_eq!(st, 200, "{v}");
        i += 1;
        next_change += Duration::from_millis(500);
        tokio::time::sleep_until(next_change.into()).await; // the pace of the changes (the stimulus)
    }
    // A freeze is a step in the composite's own timeline (the server's frame times), so the
    // test process's scheduling of its decoders cannot fake one; the frame rate counts what
    // arrived and was decoded here.
    // The frame rate itself under layout changes is `make bench`'s (H); here it must flow.
    let longest = r.take_longest_video_step();
    assert!(i >= 19, "only {i} layout changes");
    common::assert_flowing(&format!("{i} layout changes in 10 s"), r.frames() - start, t0.elapsed(), longest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_host_changes_the_layout_and_bad_values_are_refused() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let addr = server.addr();
    let room = server.create_room().await;
    let token = |role: &'static str| {
        let room = room.clone();
        async move {
            let (st, v) = common::http::request(
                addr,
                "POST",
                &format!("/api/v1/rooms/{room}/tokens"),
                Some(&format!(r#"{{"name":"x","role":"{role}"}}"#)),
            )
            .await;
            assert_eq!(st, 201, "{v}");
            v["token"].as_str().expect("token").to_owned()
        }
    };
    let (participant, host) = (token("participant").await, token("host").await);
    let call = |tok: String, body: &'static str| {
        let room = room.clone();
        async move {
            let auth = format!("Bearer {tok}");
            let (st, text) =
                common::http::raw(addr, "PATCH", &format!("/api/v1/rooms/{room}"), Some(body.as_bytes()), &[("authorization", &auth)])
                    .await;
            (st, serde_json::from_str::<Value>(&text).unwrap_or(Value::Null))
        }
    };
    let (st, v) = call(participant.clone(), r#"{"layout":"speaker"}"#).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    let (st, v) = call(host.clone(), r#"{"layout":"speaker"}"#).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["layout"], "speaker");
    // The host may not change what only an API key may.
    let (st, _) = call(host.clone(), r#"{"layout":"grid","maxParticipants":3}"#).await;
    assert_eq!(st, 403);
    let (st, v) = call(host.clone(), r#"{"layout":"mosaic"}"#).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("bad_request")), "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("speaker")), "{v}");
    let (st, v) = call(host.clone(), r#"{"pin":"p_nobody"}"#).await;
    assert_eq!((st, v["code"].as_str()), (404, Some("participant_not_found")), "{v}");
    let (st, v) = call(host, r#"{"layout":42}"#).await;
    assert_eq!(st, 400, "{v}");
    // The stored layout survives in the room record.
    let (_, v) = common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}"), None).await;
    assert_eq!(v["layout"], "speaker");
    // Creating a room with an unknown layout is refused; a known one is kept.
    let (st, v) = common::http::request(addr, "POST", "/api/v1/rooms", Some(r#"{"layout":"nope"}"#)).await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = common::http::request(addr, "POST", "/api/v1/rooms", Some(r#"{"layout":"presentation","hideAudioOnly":true}"#)).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["room"]["layout"], "presentation");
    assert_eq!(v["room"]["hideAudioOnly"], true);
}
