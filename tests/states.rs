//! A participant's own states (`setState`): everyone is told, the REST view shows them, and the
//! composite and the mix follow: a red "muted" mark on the tile and the voice out of the mix,
//! a yellow hand on the tile, the name tile instead of the picture while the camera is off.

mod common;

use common::client::{Client, Opts};
use common::signal::{db, distance, tone_power};
use common::{TestServer, eventually};
use std::time::Duration;

const BLUE: [u8; 3] = [40, 60, 220];
const GREEN: [u8; 3] = [40, 200, 60];
/// The marks' colours (`media::tile`): "muted" white on red, the hand black on yellow.
const MUTED: [u8; 3] = [0xc5, 0x22, 0x1f];
const HAND: [u8; 3] = [0xfb, 0xbc, 0x04];
/// Colour distance accepted after YUV conversion and two lossy encodes (small marks: a little
/// more than for whole tiles).
const TOLERANCE: f64 = 70.0;

/// The two cells side by side (640×640 each, from y 40), without their outer 8 pixels where
/// a talking participant's border is painted (yellow, like the hand's mark).
const LEFT: (std::ops::Range<usize>, std::ops::Range<usize>) = (8..632, 48..672);
const RIGHT: (std::ops::Range<usize>, std::ops::Range<usize>) = (648..1272, 48..672);
const ALL: (std::ops::Range<usize>, std::ops::Range<usize>) = (0..1280, 0..720);

/// How many pixels of `colour` the composite shows within `(xs, ys)` (every second pixel).
fn count(c: &Client, (xs, ys): (std::ops::Range<usize>, std::ops::Range<usize>), colour: [u8; 3]) -> Result<usize, String> {
    let f = c.latest_frame().ok_or("no frame decoded yet")?;
    let mut n = 0;
    for y in ys.step_by(2) {
        for x in xs.clone().step_by(2) {
            if x < f.width && distance(f.mean(x, y, 0), colour) < TOLERANCE {
                n += 1;
            }
        }
    }
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn own_states_are_told_and_drawn_and_a_muted_voice_leaves_the_mix() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start().await;
    let room = server.create_room().await;
    let addr = server.addr();
    let mut a = Client::join(addr, &room, Opts { name: "A".into(), rgb: BLUE, tone_hz: 500.0, ..Default::default() }).await;
    let mut b = Client::join(addr, &room, Opts { name: "B".into(), rgb: GREEN, tone_hz: 800.0, ..Default::default() }).await;
    let b_id = b.id.clone();
    // Side by side: A left, B right.
    eventually(Duration::from_secs(30), "A sees B's green tile and hears B", || async {
        let f = a.latest_frame().ok_or("no frame")?;
        let got = f.mean(960, 360, 8);
        if distance(got, GREEN) > 60.0 {
            return Err(format!("B's tile is {got:?}"));
        }
        let s = a.audio_tail(24_000).ok_or("no audio yet")?;
        (tone_power(&s, 800.0) > 100.0 * tone_power(&s, 1900.0)).then_some(()).ok_or_else(|| "B's tone not heard".to_string())
    })
    .await;
    assert_eq!(count(&a, RIGHT, MUTED).expect("frame"), 0, "no muted mark yet");
    assert_eq!(count(&a, RIGHT, HAND).expect("frame"), 0, "no hand yet");
    let heard = tone_power(&a.audio_tail(24_000).expect("audio"), 800.0);

    // B turns its microphone off and raises its hand.
    b.send_text(r#"{"type":"setState","micOff":true,"handRaised":true}"#);
    for (who, c) in [("A", &mut a), ("B", &mut b)] {
        let ev = tokio::time::timeout(Duration::from_secs(5), c.next_event("participantUpdated")).await.expect("told within 5 s");
        let p = &ev["participant"];
        assert_eq!(
            (p["id"].as_str(), p["micOff"].as_bool(), p["handRaised"].as_bool()),
            (Some(b_id.as_str()), Some(true), Some(true)),
            "{who}: {ev}"
        );
        assert_eq!(p["cameraOff"], false, "{who}: a state not given stays: {ev}");
        assert_eq!(p["audioMuted"], false, "{who}: the host's mute is another thing: {ev}");
    }
    let list = common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}/participants"), None).await.1;
    let listed = list["participants"].as_array().and_then(|ps| ps.iter().find(|p| p["id"] == b_id.as_str())).cloned().expect("B listed");
    assert_eq!((listed["micOff"].as_bool(), listed["handRaised"].as_bool()), (Some(true), Some(true)), "{list}");
    eventually(Duration::from_secs(10), "B's tile shows the muted mark and the hand", || async {
        if let (Ok(path), Some(f)) = (std::env::var("STATES_DUMP"), a.latest_frame()) {
            let mut out = format!("P6\n{} {}\n255\n", f.width, f.height).into_bytes();
            out.extend_from_slice(&f.rgb);
            std::fs::write(path, out).expect("dump");
        }
        let (m, h) = (count(&a, RIGHT, MUTED)?, count(&a, RIGHT, HAND)?);
        (m >= 40 && h >= 10).then_some(()).ok_or_else(|| format!("{m} muted-red and {h} hand-yellow pixels"))
    })
    .await;
    assert_eq!(count(&a, LEFT, MUTED).expect("frame"), 0, "A's own tile has no mark");
    a.clear_audio();
    eventually(Duration::from_secs(10), "B's voice leaves the mix", || async {
        let s = a.audio_tail(24_000).ok_or("no audio yet")?;
        let drop = db(tone_power(&s, 800.0) / heard);
        (drop < -30.0).then_some(()).ok_or_else(|| format!("B's tone only {drop:.1} dB down"))
    })
    .await;

    // Camera off: B's picture gives way to its name tile (the mark stays on it).
    b.send_text(r#"{"type":"setState","cameraOff":true}"#);
    let ev = tokio::time::timeout(Duration::from_secs(5), a.next_event("participantUpdated")).await.expect("told");
    assert_eq!((ev["participant"]["cameraOff"].as_bool(), ev["participant"]["micOff"].as_bool()), (Some(true), Some(true)), "{ev}");
    eventually(Duration::from_secs(10), "B's green picture is gone, its mark is still drawn", || async {
        let (g, m) = (count(&a, ALL, GREEN)?, count(&a, ALL, MUTED)?);
        (g < 20 && m >= 20).then_some(()).ok_or_else(|| format!("{g} green and {m} muted-red pixels"))
    })
    .await;

    // All back: the picture, the voice, no marks.
    b.send_text(r#"{"type":"setState","micOff":false,"cameraOff":false,"handRaised":false}"#);
    a.clear_audio();
    eventually(Duration::from_secs(15), "B's picture and voice are back, unmarked", || async {
        let f = a.latest_frame().ok_or("no frame")?;
        let got = f.mean(960, 360, 8);
        if distance(got, GREEN) > 60.0 {
            return Err(format!("B's tile is {got:?}"));
        }
        let (m, h) = (count(&a, ALL, MUTED)?, count(&a, LEFT, HAND)? + count(&a, RIGHT, HAND)?);
        if m > 0 || h > 0 {
            return Err(format!("{m} muted-red and {h} hand-yellow pixels left"));
        }
        let s = a.audio_tail(24_000).ok_or("no audio yet")?;
        let back = db(tone_power(&s, 800.0) / heard);
        (back > -6.0).then_some(()).ok_or_else(|| format!("B's tone {back:.1} dB under what it was"))
    })
    .await;

    // Bad states are refused with an error and change nothing.
    b.send_text(r#"{"type":"setState","micOff":"yes"}"#);
    let err = tokio::time::timeout(Duration::from_secs(5), b.next_event("error")).await.expect("an error");
    assert_eq!(err["code"], "bad_message", "{err}");
    let list = common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}/participants"), None).await.1;
    let listed = list["participants"].as_array().and_then(|ps| ps.iter().find(|p| p["id"] == b_id.as_str())).cloned().expect("B listed");
    assert_eq!(listed["micOff"], false, "{list}");

    // A flood of state changes is cut to a burst of 10, then 5 a second: refused with a
    // retry time, and A's composite keeps coming.
    for k in 0..40 {
        b.send_text(&format!(r#"{{"type":"setState","handRaised":{}}}"#, k % 2 == 0));
    }
    let err = tokio::time::timeout(Duration::from_secs(5), b.next_event("error")).await.expect("refused");
    assert_eq!(err["code"], "state_rate_limited", "{err}");
    assert!(err["retryAfterMs"].as_u64().is_some_and(|ms| (1..=1000).contains(&ms)), "{err}");
    a.assert_flows_for("A's composite after B's flood", Duration::from_secs(2)).await;
    a.close().await;
    b.close().await;
    drop(server);
}
