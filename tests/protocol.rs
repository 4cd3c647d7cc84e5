//! Every signaling error case of docs/signaling.md, while a well-behaved participant in the
//! same room keeps receiving the composite throughout.

mod common;

use common::client::{Client, Opts};
use common::{TestServer, eventually};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn raw(addr: std::net::SocketAddr, room: &str, name: &str) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/rooms/{room}/ws?name={name}")).await.expect("connects").0
}

/// Next JSON text message, skipping ICE candidates and room notifications (joins, leaves, who
/// talks, the layout).
async fn next_json(ws: &mut Ws) -> serde_json::Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a message within 10 s");
        match m {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t).expect("JSON");
                if !matches!(
                    v["type"].as_str(),
                    Some("candidate" | "participantJoined" | "participantLeft" | "activeSpeakers" | "layoutChanged" | "cameraConstraint")
                ) {
                    return v;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
}

async fn expect_error(ws: &mut Ws, send: Message, code: &str) -> serde_json::Value {
    ws.send(send).await.expect("send");
    let v = next_json(ws).await;
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    v
}

/// A real offer from a webrtc-rs peer (audio + video, receive only).
async fn real_offer() -> String {
    use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
    use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
    let (fwd, _rx) = tessera::rtc::PeerEventForwarder::new(tessera::config::IngestLimitConfig::default());
    let pc = tessera::rtc::RtcFactory::with_ip("127.0.0.1".parse().expect("ip")).peer(fwd, Default::default()).await.expect("pc");
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
        pc.add_transceiver_from_kind(kind, Some(init)).await.expect("transceiver");
    }
    let offer = pc.create_offer(None).await.expect("offer");
    let sdp = offer.sdp.clone();
    pc.close().await.expect("close");
    sdp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn protocol_errors_never_disturb_the_room() {
    let _turn = common::one_call_at_a_time().await;
    // A vanished client keeps its session for a resume: 2 s here.
    let server = TestServer::start_with(tessera::config::Config { resume_seconds: 2, ..common::test_config() }).await;
    let addr = server.addr();
    let room = server.create_room().await;
    let mut good = Client::join(
        addr,
        &room,
        Opts { name: "Good".into(), rgb: [220, 40, 40], tone_hz: 500.0, h264: true, token: None, ..Default::default() },
    )
    .await;
    eventually(Duration::from_secs(20), "the good client receives video", || async {
        if good.frames() > 5 { Ok(()) } else { Err(format!("{} frames", good.frames())) }
    })
    .await;
    let frames_before = good.frames();

    // Unknown room: an error, then close code 4404.
    let mut ws = raw(addr, "NoSuchRoom123", "x").await;
    let v = next_json(&mut ws).await;
    assert_eq!(v["code"], "room_not_found", "{v}");
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("close within 5 s") {
        Some(Ok(Message::Close(Some(c)))) => assert_eq!(c.code, CloseCode::from(4404), "{c:?}"),
        other => panic!("expected close 4404, got {other:?}"),
    }

    // A participant sending junk: each gets an error and the socket stays usable.
    let mut bad = raw(addr, &room, "Bad").await;
    let welcome = next_json(&mut bad).await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["participants"][0]["name"], "Good", "{welcome}");
    assert!(welcome["iceServers"][0]["urls"][0].as_str().is_some_and(|u| u.starts_with("stun:")), "{welcome}");
    let bad_id = welcome["participantId"].as_str().expect("id").to_owned();
    assert_eq!(good.next_event("participantJoined").await["participant"]["id"], bad_id.as_str());

    expect_error(&mut bad, Message::text("{not json"), "bad_message").await;
    expect_error(&mut bad, Message::text(r#"["offer"]"#), "bad_message").await;
    expect_error(&mut bad, Message::text(r#"{"type":"dance"}"#), "bad_message").await;
    expect_error(&mut bad, Message::text(r#"{"type":"offer"}"#), "bad_message").await;
    expect_error(&mut bad, Message::text(r#"{"type":"offer","sdp":42}"#), "bad_message").await;
    expect_error(&mut bad, Message::text(r#"{"type":"candidate","sdpMid":"0"}"#), "bad_message").await;
    expect_error(&mut bad, Message::binary(vec![1u8, 2, 3]), "bad_message").await;
    expect_error(&mut bad, Message::text(r#"{"type":"offer","sdp":"hello"}"#), "bad_sdp").await;
    expect_error(
        &mut bad,
        Message::text(r#"{"type":"offer","sdp":"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 VP9/90000\r\n"}"#),
        "bad_sdp",
    )
    .await;

    // A broken candidate before any offer is refused at once (not queued).
    expect_error(
        &mut bad,
        Message::text(r#"{"type":"candidate","candidate":"candidate:garbage","sdpMid":"0","sdpMLineIndex":0}"#),
        "bad_candidate",
    )
    .await;

    // A real offer is answered on the same socket, then a broken candidate is refused.
    let offer = real_offer().await;
    bad.send(Message::text(serde_json::json!({"type": "offer", "sdp": offer}).to_string())).await.expect("send");
    let answer = next_json(&mut bad).await;
    assert_eq!(answer["type"], "answer", "{answer}");
    assert!(answer["sdp"].as_str().is_some_and(|s| s.starts_with("v=0")));
    expect_error(
        &mut bad,
        Message::text(r#"{"type":"candidate","candidate":"candidate:this is not one","sdpMid":"0","sdpMLineIndex":0}"#),
        "bad_candidate",
    )
    .await;

    // `leave` ends it; the good participant is told.
    bad.send(Message::text(r#"{"type":"leave"}"#)).await.expect("send");
    let left = good.next_event("participantLeft").await;
    assert_eq!(left["participantId"], bad_id.as_str());
    assert_eq!(left["reason"], "left");

    // An oversized frame is refused by closing that socket only.
    let mut huge = raw(addr, &room, "Huge").await;
    let huge_id = next_json(&mut huge).await["participantId"].as_str().expect("id").to_owned();
    let big = format!(r#"{{"type":"offer","sdp":"{}"}}"#, "a".repeat(200 * 1024));
    let _ = huge.send(Message::text(big)).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match huge.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the oversized sender's socket is closed");
    loop {
        let ev = good.next_event("participantLeft").await;
        if ev["participantId"] == huge_id.as_str() {
            // Left at once, not `disconnected` after the resume window: an oversized frame is
            // the client breaking the protocol, not its network dropping.
            assert_eq!(ev["reason"], "left", "the oversized sender is not kept for a resume");
            break;
        }
    }

    // A client that vanishes without a word is removed too, once its resume window is over.
    let ghost = raw(addr, &room, "Ghost").await;
    drop(ghost);
    let ev = good.next_event("participantLeft").await;
    assert!(ev["participantId"].as_str().is_some());

    // Through all of it, the good participant kept receiving the composite.
    eventually(Duration::from_secs(5), "the good client keeps receiving", || async {
        let now = good.frames();
        if now > frames_before + 30 { Ok(()) } else { Err(format!("{frames_before} → {now} frames")) }
    })
    .await;
    let info = common::http::request(addr, "GET", &format!("/api/v1/rooms/{room}"), None).await.1;
    assert_eq!(info["participants"].as_array().map(Vec::len), Some(1), "{info}");
    assert_eq!(info["media"]["tiles"], 1, "{info}");
    good.leave().await;
}
