//! A hostile participant cannot stall a room (issue 27 §1): the real server binary, with tight
//! `[ingest_limit]`s, holds a room of four. Three well-behaved synthetic participants (a colour
//! and a tone each) measure what they receive while the fourth, a webrtc-rs client of its own
//! (the load generator's session), sends on its negotiated tracks:
//!
//! - a video flood: ~3000 packets/s of 1100 random bytes (~26 Mbit/s, over 8× the limit);
//! - garbage video at a normal rate: random payloads of random sizes, sequence numbers jumping
//!   back and forth and timestamps jumping hours (the VP8 decoder gets nonsense);
//! - an audio flood: ~2000 packets/s of random "Opus";
//! - a real VP8 stream whose resolution changes every second: 1920×1080, 160×90, 641×359 and
//!   3840×2160 in turn;
//! - 1000 PLIs a second on the composite it receives (on the others' rung);
//! - RTCP abuse on it: the PLIs again, NACKs asking for every packet, REMB of 0 and of 10 Gbit/s
//!   in turn, receiver reports of 100 % loss.
//!
//! (Packets with SSRCs nobody negotiated cannot be sent this way: webrtc-rs's sender refuses
//! them; on the server's side webrtc-rs binds an undeclared SSRC only in a session with a single
//! media section whose receiver has none yet, so such packets open no new track.)
//!
//! During each, the three get at most two composite keyframes more in 3 s than at rest (one
//! PLI-flooding receiver is served once per 2 s), keep a flowing composite (at least 20 fps decoded, no step between
//! frames over 500 ms: `common::assert_flowing`) and keep hearing each other (each other's tone
//! 20 dB over their own, except while the hostile one's own noise is in the mix: then their
//! audio must keep coming); the server keeps answering, its resident memory grows by less than
//! [`RSS_GROWTH_MIB`], and the floods are counted in `tessera_ingest_limited_packets_total`.

mod common;

use common::binary;
use common::client::{Client, Opts, all_flow_for};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tessera::loadgen::session::{Session, SessionMedia, payload_type};
use tessera::media::VideoCodec;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// How much the server's resident memory may grow over all the cases.
const RSS_GROWTH_MIB: u64 = 256;

const LIMITS: &str =
    "[ingest_limit]\nvideo_kbps = 3000\nvideo_packets_per_second = 400\naudio_kbps = 200\naudio_packets_per_second = 100\n";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    VideoFlood,
    GarbageVideo,
    AudioFlood,
    Resolutions,
    PliFlood,
    RtcpAbuse,
}

/// The real binary on loopback with `extra` configuration, and a room in it; its folder goes
/// when it is dropped (the process is killed first).
struct Server {
    binary: Option<binary::Binary>,
    dir: std::path::PathBuf,
}

impl Server {
    async fn start(name: &str, extra: &str) -> (Server, SocketAddr, String) {
        let (dir, config, addr) = binary::loopback_config(name, extra);
        let binary = binary::start(&config);
        binary::ready(addr).await;
        let (_, v) = common::http::request(addr, "POST", "/api/v1/rooms", Some("{}")).await;
        let room = v["room"]["id"].as_str().expect("a room").to_owned();
        (Server { binary: Some(binary), dir }, addr, room)
    }

    fn pid(&self) -> u32 {
        self.binary.as_ref().map_or(0, binary::Binary::pid)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.binary.take()); // killed first
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

async fn metric(addr: SocketAddr, name: &str, label: &str) -> f64 {
    let (_, text) = common::http::raw(addr, "GET", "/metrics", None, &[]).await;
    text.lines().filter(|l| l.starts_with(name) && l.contains(label)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

fn random_payload(len: usize) -> bytes::Bytes {
    (0..len).map(|_| rand::random::<u8>()).collect::<Vec<u8>>().into()
}

fn packet(ssrc: u32, pt: u8, seq: u16, ts: u32, marker: bool, payload: bytes::Bytes) -> rtc::rtp::Packet {
    rtc::rtp::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            marker,
            ..Default::default()
        },
        payload,
    }
}

/// Sends `per_tick` packets every 10 ms on `track` until `stop`, each made by `make(i)`.
async fn flood(
    track: Arc<TrackLocalStaticRTP>,
    per_tick: usize,
    stop: tokio::time::Instant,
    mut make: impl FnMut(u32) -> rtc::rtp::Packet,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut i = 0u32;
    while tokio::time::Instant::now() < stop {
        tick.tick().await;
        for _ in 0..per_tick {
            let _ = track.write_rtp(make(i)).await;
            i = i.wrapping_add(1);
        }
    }
}

/// RTCP abuse on the composite `track` (SSRC `ssrc`) until `stop`: 10 PLIs every 10 ms, and
/// unless `plis_only`, every 20 ms a NACK for 1700 packets, a REMB of 0 or 10 Gbit/s, a report
/// of 100 % loss.
async fn rtcp_abuse(track: Arc<dyn TrackRemote>, ssrc: u32, stop: tokio::time::Instant, plis_only: bool) {
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut i = 0u32;
    while tokio::time::Instant::now() < stop {
        tick.tick().await;
        let mut packets: Vec<Box<dyn rtc::rtcp::Packet>> =
            (0..10).map(|_| Box::new(PictureLossIndication { sender_ssrc: 1, media_ssrc: ssrc }) as Box<dyn rtc::rtcp::Packet>).collect();
        if !plis_only && i.is_multiple_of(2) {
            let nacks = (0..100u16).map(|k| NackPair { packet_id: k.wrapping_mul(17), lost_packets: 0xffff }).collect();
            packets.push(Box::new(TransportLayerNack { sender_ssrc: 1, media_ssrc: ssrc, nacks }));
            let bitrate = if i.is_multiple_of(4) { 0.0 } else { 10e9 };
            packets.push(Box::new(ReceiverEstimatedMaximumBitrate { sender_ssrc: 1, bitrate, ssrcs: vec![ssrc] }));
            let block = ReceptionReport { ssrc, fraction_lost: 255, total_lost: 0x7f_ffff, ..Default::default() };
            packets.push(Box::new(ReceiverReport { ssrc: 1, reports: vec![block], ..Default::default() }));
        }
        if track.write_rtcp(packets).await.is_err() {
            return;
        }
        i += 1;
    }
}

/// A VP8 stream (a moving ball) whose resolution changes every second, until `stop`.
async fn resolutions(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    connected: tokio::sync::watch::Receiver<bool>,
    stop: tokio::time::Instant,
) {
    use gstreamer::prelude::*;
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let pipeline = common::client::rtp_source(
        "videotestsrc is-live=true pattern=ball ! capsfilter name=caps caps=video/x-raw,width=1920,height=1080,framerate=10/1 ! \
         videoconvert ! vp8enc deadline=1 cpu-used=16 keyframe-max-dist=30 ! rtpvp8pay pt=96 mtu=1150 ! appsink name=out sync=false",
        tx,
        0,
    );
    let forward = tokio::spawn(tessera::rtc::forward_rtp(track, ssrc, payload_type(VideoCodec::Vp8), rx, connected));
    let caps = pipeline.by_name("caps").expect("the capsfilter");
    for (i, (w, h, fps)) in [(160, 90, 30), (641, 359, 30), (3840, 2160, 1), (1920, 1080, 10)].into_iter().cycle().enumerate() {
        if tokio::time::Instant::now() >= stop || i > 20 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let c = gstreamer::Caps::builder("video/x-raw")
            .field("width", w)
            .field("height", h)
            .field("framerate", gstreamer::Fraction::new(fps, 1))
            .build();
        caps.set_property("caps", &c);
    }
    let _ = pipeline.set_state(gstreamer::State::Null);
    forward.abort();
}

/// The hostile participant: joined, connected, its composite track and that track's SSRC.
struct Hostile {
    session: Session,
    composite: Arc<dyn TrackRemote>,
    composite_ssrc: u32,
}

async fn hostile(addr: SocketAddr, room: &str) -> Hostile {
    let mut session =
        Session::join(addr, room, "hostile", SessionMedia::call(Some(VideoCodec::Vp8))).await.expect("the hostile client joins");
    let mut connected = session.connected.clone();
    tokio::time::timeout(Duration::from_secs(20), connected.wait_for(|c| *c)).await.expect("connects in time").expect("connects");
    let (composite, composite_ssrc) = loop {
        let track = tokio::time::timeout(Duration::from_secs(20), session.tracks.recv()).await.expect("a track in time").expect("a track");
        if track.kind().await != rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video {
            session.own(tokio::spawn(async move { while track.poll().await.is_some() {} }));
            continue;
        }
        let ssrc = loop {
            match tokio::time::timeout(Duration::from_secs(20), track.poll()).await.expect("composite in time") {
                Some(TrackRemoteEvent::OnRtpPacket(p)) => break p.header.ssrc,
                Some(_) => {}
                None => panic!("the composite track ended"),
            }
        };
        break (track, ssrc);
    };
    let reader = composite.clone();
    session.own(tokio::spawn(async move { while reader.poll().await.is_some() {} }));
    Hostile { session, composite, composite_ssrc }
}

fn keyframes(clients: &[Client]) -> Vec<u64> {
    clients.iter().map(|c| c.received.keyframes.load(std::sync::atomic::Ordering::Relaxed)).collect()
}

/// Runs `case` for 5 s; the three measure from its second 1 to 4, and get at most two more
/// composite keyframes in those 3 s than `base` (the keyframes each got in 3 s at rest).
async fn run_case(case: Case, h: &Hostile, clients: &[Client], tones: &[f64], base: &[u64]) {
    let stop = tokio::time::Instant::now() + Duration::from_secs(5);
    let (video, vssrc) = h.session.video.clone().expect("the hostile client sends video");
    let (audio, assrc) = h.session.audio.clone().expect("the hostile client sends audio");
    let vpt = payload_type(VideoCodec::Vp8);
    let task = match case {
        Case::VideoFlood => tokio::spawn(flood(video, 30, stop, move |i| {
            packet(vssrc, vpt, i as u16, (i / 100) * 3000, i % 100 == 99, random_payload(1100))
        })),
        Case::GarbageVideo => tokio::spawn(flood(video, 2, stop, move |i| {
            let seq = if i % 7 == 3 { (i as u16).wrapping_add(30_000) } else { i as u16 };
            let ts = if i % 11 == 5 { i.wrapping_mul(3000).wrapping_add(3600 * 90_000) } else { i.wrapping_mul(3000) };
            packet(vssrc, vpt, seq, ts, i % 3 == 2, random_payload(1 + rand::random::<u32>() as usize % 1200))
        })),
        Case::AudioFlood => tokio::spawn(flood(audio, 20, stop, move |i| {
            packet(assrc, tessera::rtc::PT_OPUS, i as u16, i.wrapping_mul(960), false, random_payload(200))
        })),
        Case::Resolutions => tokio::spawn(resolutions(video, vssrc, h.session.connected.clone(), stop)),
        // The PLIs alone first: the REMB of 0 below moves the hostile receiver off the others'
        // rung, where its PLIs no longer reach their encoder.
        Case::PliFlood => tokio::spawn(rtcp_abuse(h.composite.clone(), h.composite_ssrc, stop, true)),
        Case::RtcpAbuse => tokio::spawn(rtcp_abuse(h.composite.clone(), h.composite_ssrc, stop, false)),
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    for c in clients {
        c.clear_audio();
    }
    let packets0: Vec<u64> = clients.iter().map(|c| c.received.audio_packets.load(std::sync::atomic::Ordering::Relaxed)).collect();
    let k0 = keyframes(clients);
    all_flow_for(clients, |i| format!("{case:?}: well-behaved client {i}"), Duration::from_secs(3)).await;
    for (i, (k, k0)) in keyframes(clients).iter().zip(k0).enumerate() {
        eprintln!("{case:?}: client {i} got {} composite keyframes in 3 s ({} at rest)", k - k0, base[i]);
        assert!(k - k0 <= base[i] + 2, "{case:?}: client {i} got {} keyframes in 3 s, {} at rest", k - k0, base[i]);
    }
    for (i, c) in clients.iter().enumerate() {
        let packets = c.received.audio_packets.load(std::sync::atomic::Ordering::Relaxed) - packets0[i];
        assert!(packets >= 100, "{case:?}: client {i} received only {packets} audio packets in 3 s");
        let others: Vec<f64> = tones.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, t)| *t).collect();
        let heard = c.hears(tones[i], &others);
        if case != Case::AudioFlood {
            heard.unwrap_or_else(|e| panic!("{case:?}: client {i}: {e}"));
        } else {
            eprintln!("{case:?}: client {i} with the hostile noise in the mix: {heard:?}");
        }
    }
    task.await.expect("the hostile task does not panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_participant_spoils_only_its_own_tile() {
    let _turn = common::one_call_at_a_time().await;
    let (server, addr, room) = Server::start("hostile", LIMITS).await;
    let tones = [440.0, 660.0, 990.0];
    let colours = [[220, 40, 40], [40, 200, 40], [40, 40, 220]];
    let mut clients = Vec::new();
    for (i, (tone, rgb)) in tones.iter().zip(colours).enumerate() {
        clients.push(Client::join(addr, &room, Opts { name: format!("good{i}"), rgb, tone_hz: *tone, ..Default::default() }).await);
    }
    let h = hostile(addr, &room).await;
    // The keyframes at rest, once everyone (the hostile one last) is past joining.
    all_flow_for(&clients, |i| format!("settling: well-behaved client {i}"), Duration::from_secs(3)).await;
    let k0 = keyframes(&clients);
    all_flow_for(&clients, |i| format!("before: well-behaved client {i}"), Duration::from_secs(3)).await;
    let base: Vec<u64> = keyframes(&clients).iter().zip(k0).map(|(k, k0)| k - k0).collect();
    let rss0 = rss_kib(server.pid());

    for case in [Case::VideoFlood, Case::GarbageVideo, Case::AudioFlood, Case::Resolutions, Case::PliFlood, Case::RtcpAbuse] {
        run_case(case, &h, &clients, &tones, &base).await;
        let rss = rss_kib(server.pid());
        eprintln!("{case:?}: server RSS {} MiB (before the cases {} MiB)", rss / 1024, rss0 / 1024);
        assert!(rss < rss0 + RSS_GROWTH_MIB * 1024, "{case:?}: the server grew from {rss0} to {rss} KiB");
        let (st, _) = common::http::request(addr, "GET", "/healthz", None).await;
        assert_eq!(st, 200, "{case:?}: the server still answers");
    }
    let (video_limited, audio_limited) = (
        metric(addr, "tessera_ingest_limited_packets_total", "kind=\"video\"").await,
        metric(addr, "tessera_ingest_limited_packets_total", "kind=\"audio\"").await,
    );
    eprintln!("limited: {video_limited} video packets, {audio_limited} audio packets");
    assert!(video_limited > 1000.0, "the video flood was held to the limit: {video_limited} packets dropped");
    assert!(audio_limited > 1000.0, "the audio flood was held to the limit: {audio_limited} packets dropped");

    // The room carries on after it: the hostile one leaves, the three still flow.
    h.session.close(true).await;
    all_flow_for(&clients, |i| format!("after: well-behaved client {i}"), Duration::from_secs(2)).await;
    for c in clients {
        c.leave().await;
    }
    drop(server);
}

/// A signaling flood: 2000 messages a second for 3 s on one socket (chat, candidates, bogus
/// offers, state changes, nonsense). The server drops what is over the connection's limits
/// unread (50 a second, bursts of 200; offers 30 a minute, bursts of 10), tells the flooder once
/// per spell (`signaling_rate_limited` with `retryAfterMs`), and the two well-behaved
/// participants keep their composite and get at most the chat burst of the flooder's chat.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signaling_flood_is_dropped_unread() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let _turn = common::one_call_at_a_time().await;
    let (server, addr, room) = Server::start("flood", "").await;
    let mut clients = Vec::new();
    for (i, (tone, rgb)) in [(440.0, [220, 40, 40]), (660.0, [40, 200, 40])].into_iter().enumerate() {
        clients.push(Client::join(addr, &room, Opts { name: format!("good{i}"), rgb, tone_hz: tone, ..Default::default() }).await);
    }
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/rooms/{room}/ws?name=flooder")).await.expect("connects");
    let (mut tx, mut rx) = ws.split();
    let (first_limited, mut limited_now) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        let (mut answers, mut limited, mut first_limited) = (0usize, Vec::new(), Some(first_limited));
        while let Some(Ok(m)) = rx.next().await {
            if let Message::Text(t) = m {
                let v: serde_json::Value = serde_json::from_str(&t).expect("the server sends JSON");
                answers += 1;
                if v["code"] == "signaling_rate_limited" {
                    limited.push(v["retryAfterMs"].as_u64().expect("with when to try again"));
                    if let Some(tx) = first_limited.take() {
                        let _ = tx.send(());
                    }
                }
            }
        }
        (answers, limited)
    });
    let messages = [
        r#"{"type":"chat","text":"spam"}"#,
        r#"{"type":"candidate","candidate":"candidate:1 1 udp 1 10.0.0.1 9 typ host","sdpMid":"0"}"#,
        r#"{"type":"offer","sdp":"v=0\r\n"}"#,
        r#"{"type":"setState","handRaised":true}"#,
        r#"{"nonsense":1}"#,
    ];
    let flood = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut sent = 0usize;
        for _ in 0..300 {
            tick.tick().await;
            for _ in 0..20 {
                if tx.send(Message::text(messages[sent % messages.len()])).await.is_err() {
                    return (sent, tx);
                }
                sent += 1;
            }
        }
        (sent, tx)
    });
    // Measured once the flood is over the limit.
    tokio::time::timeout(Duration::from_secs(10), &mut limited_now).await.expect("told in time").expect("told");
    all_flow_for(&clients, |i| format!("during the signaling flood: well-behaved client {i}"), Duration::from_secs(2)).await;
    let (sent, mut tx) = flood.await.expect("the flood task");
    assert!(sent >= 5000, "the flood went out: {sent} messages");
    let _ = tx.close().await;
    let (answers, limited) = tokio::time::timeout(Duration::from_secs(20), reader).await.expect("the socket closes").expect("reader");
    eprintln!("flood: {sent} sent, {answers} answers, told {} times ({limited:?} ms)", limited.len());
    assert!(!limited.is_empty() && limited.len() <= 10, "told once per spell: {limited:?}");
    assert!(answers < 1000, "most of the flood went unanswered (dropped unread): {answers} answers to {sent}");
    let signaling = metric(addr, "tessera_rate_limited_total", "limit=\"signaling\"").await;
    let offers = metric(addr, "tessera_rate_limited_total", "limit=\"offers\"").await;
    assert!(signaling >= (sent - 600) as f64, "{signaling} messages counted as dropped of {sent}");
    assert!(offers > 0.0, "offers over their own limit are counted: {offers}");
    for (i, c) in clients.iter_mut().enumerate() {
        let mut chats = 0;
        while let Ok(ev) = c.events.try_recv() {
            chats += usize::from(ev["type"] == "chatMessage");
        }
        assert!(chats <= 30, "client {i} got {chats} of the flooder's chat messages");
    }
    all_flow_for(&clients, |i| format!("after the signaling flood: well-behaved client {i}"), Duration::from_secs(1)).await;
    for c in clients {
        c.leave().await;
    }
    drop(server);
}

/// A client that stops reading its socket: it makes the server answer 600 messages of 20 KB
/// each (its `bad_message` errors quote the unknown type it sent) into a receive buffer of a
/// few KiB, then neither reads nor writes. The server's writer gives the socket up after 10 s
/// on one frame, so the session is not stuck behind a full queue: it takes the silent socket
/// for lost and ends after its resume window, and the others see it leave; meanwhile their
/// composite flows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_never_reads_is_let_go() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let _turn = common::one_call_at_a_time().await;
    let (server, addr, room) = Server::start("slowreader", "resume_seconds = 1\nmax_message_bytes = 65536\n").await;
    let mut good = Client::join(addr, &room, Opts { name: "good".into(), rgb: [220, 40, 40], tone_hz: 440.0, ..Default::default() }).await;

    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(2048).expect("a small receive buffer");
    let stream = socket.connect(addr).await.expect("connects");
    let url = format!("ws://{addr}/api/v1/rooms/{room}/ws?name=slow");
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await.expect("upgrades");
    let (mut tx, mut rx) = ws.split();
    let welcome = loop {
        match rx.next().await.expect("a frame").expect("readable") {
            Message::Text(t) => break serde_json::from_str::<serde_json::Value>(&t).expect("JSON"),
            _ => continue,
        }
    };
    let slow_id = welcome["participantId"].as_str().expect("an id").to_owned();
    // Each is answered with a `bad_message` error quoting the 20 KB type: 200 at once, then 50 a
    // second for 8 s (the connection's limits), 600 answers in all, more than the socket's
    // buffers and the session's queue (256) hold.
    let big = format!(r#"{{"type":"{}"}}"#, "y".repeat(20_000));
    let sender = tokio::spawn(async move {
        for i in 0..600 {
            if i >= 200 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tx.send(Message::text(big.clone())).await.expect("the server reads what we send");
        }
        tx
    });
    let started = std::time::Instant::now();
    all_flow_for(std::slice::from_ref(&good), |_| "beside a client that never reads".into(), Duration::from_secs(3)).await;
    // From here on nothing is read or written: `rx` and `tx` are kept, untouched.
    let tx = sender.await.expect("the sender");
    let left = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let ev = good.next_event("participantLeft").await;
            if ev["participantId"] == slow_id.as_str() {
                break ev;
            }
        }
    })
    .await
    .expect("the client that never reads is let go of within a minute");
    eprintln!("the client that never reads left after {:?}: {left}", started.elapsed());
    let (st, _) = common::http::request(addr, "GET", "/healthz", None).await;
    assert_eq!(st, 200);
    good.assert_flows_for("after it left", Duration::from_secs(1)).await;
    drop((tx, rx));
    good.leave().await;
    drop(server);
}

/// Open files of process `pid`.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// 2000 connections that open and never send a request (from 20 addresses): the server, started
/// with a soft open-file limit of 1024, takes them all (it raises its own limit), keeps serving
/// the call, the API and a newcomer, and closes every one of them after
/// `http_read_timeout_seconds`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_idle_connections_hold_nothing() {
    let _turn = common::one_call_at_a_time().await;
    // The server starts with a stock soft limit of 1024 (it inherits this process's), which it
    // must raise itself; this process then takes the hard limit for its own 2000 sockets.
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit with a valid pointer to a local rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    if lim.rlim_max < 4096 {
        eprintln!("skipped: the hard limit on open files is {}, under the 4096 this test needs", lim.rlim_max);
        return;
    }
    let set_soft = |soft: libc::rlim_t| {
        let l = libc::rlimit { rlim_cur: soft, rlim_max: lim.rlim_max };
        // SAFETY: setrlimit with a valid pointer to a local rlimit, the soft limit within the hard.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) }, 0, "the soft limit is set");
    };
    set_soft(1024);
    let (server, addr, room) = Server::start("idle", "http_read_timeout_seconds = 20\n").await;
    set_soft(lim.rlim_max);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).expect("the server's limits");
    let soft: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .expect("its open file limit");
    assert!(soft >= 4096, "the server raised its soft open file limit from 1024: {soft}");
    let good = Client::join(addr, &room, Opts { name: "good".into(), rgb: [220, 40, 40], tone_hz: 440.0, ..Default::default() }).await;
    good.assert_flows_for("before", Duration::from_secs(1)).await;
    let files0 = open_files(server.pid());
    let mut idle = Vec::new();
    let opened = std::time::Instant::now();
    for i in 0..2000u32 {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.bind(SocketAddr::from(([127, 0, 1, (i % 20) as u8 + 1], 0))).expect("a loopback address");
        idle.push(socket.connect(addr).await.expect("the server accepts"));
    }
    eventually_open(server.pid(), |n| n >= files0 + 1900, "the server holds the idle connections").await;
    eprintln!("open files: {files0} before, {} with 2000 idle connections (opened in {:?})", open_files(server.pid()), opened.elapsed());
    let (st, _) = common::http::request(addr, "GET", "/healthz", None).await;
    assert_eq!(st, 200, "the API answers beside them");
    let newcomer = Client::join(addr, &room, Opts { name: "new".into(), rgb: [40, 200, 40], tone_hz: 660.0, ..Default::default() }).await;
    all_flow_for(&[good, newcomer], |i| format!("beside 2000 idle connections: client {i}"), Duration::from_secs(2)).await;
    eventually_open(server.pid(), |n| n <= files0 + 60, "the idle connections are closed after the read timeout").await;
    eprintln!("open files after the timeout: {}", open_files(server.pid()));
    drop(idle);
    drop(server);
}

/// Waits (30 s at most) until the open files of `pid` satisfy `ok`.
async fn eventually_open(pid: u32, ok: impl Fn(usize) -> bool, what: &str) {
    common::eventually(Duration::from_secs(30), what, || async {
        let n = open_files(pid);
        if ok(n) { Ok(()) } else { Err(format!("{n} open files")) }
    })
    .await;
}
