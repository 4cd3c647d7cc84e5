//! A synthetic participant: the documented signaling over a real WebSocket, a real webrtc-rs
//! peer connection, a GStreamer sender (solid colour VP8 + sine Opus) and receivers that
//! decode the composite to RGB and the mix to PCM.

use super::signal::Frame;
use futures::{SinkExt, StreamExt};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodecParameters, RtpCodecKind};
use rtc::shared::marshal::{Marshal, Unmarshal};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tessera::media::VideoCodec;
use tessera::rtc::{PeerEvent, PeerEventForwarder};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, RTCPeerConnectionState};

/// What a synthetic participant sends and accepts.
#[derive(Clone)]
pub struct Opts {
    pub name: String,
    pub rgb: [u8; 3],
    pub tone_hz: f64,
    /// Send and offer H.264 (else VP8 only). webrtc-rs offers only the codec of the track it
    /// sends, so the codec we send is also the one we can receive.
    pub h264: bool,
}

/// Shared state the receivers fill.
#[derive(Default)]
pub struct Received {
    pub frame: Mutex<Option<Frame>>,
    pub frames: AtomicU64,
    pub audio: Mutex<VecDeque<i16>>,
    pub audio_packets: AtomicU64,
    pub video_codec: Mutex<Option<String>>,
}

pub struct Client {
    pub id: String,
    pub welcome: serde_json::Value,
    pub received: Arc<Received>,
    /// Signaling messages other than answer/candidate, in order.
    pub events: mpsc::UnboundedReceiver<serde_json::Value>,
    ws_out: mpsc::UnboundedSender<Message>,
    pc: Arc<dyn PeerConnection>,
    pipelines: Arc<Mutex<Vec<gst::Pipeline>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

const AUDIO_KEEP: usize = 48_000;

fn media_engine(h264: bool) -> MediaEngine {
    let mut m = MediaEngine::default();
    let reg = |m: &mut MediaEngine, codec, pt, kind| {
        m.register_codec(RTCRtpCodecParameters { rtp_codec: codec, payload_type: pt, ..Default::default() }, kind).expect("codec registers");
    };
    reg(&mut m, tessera::rtc::audio_codec(), 111, RtpCodecKind::Audio);
    reg(&mut m, tessera::rtc::video_codec(VideoCodec::Vp8), 96, RtpCodecKind::Video);
    if h264 {
        reg(&mut m, tessera::rtc::video_codec(VideoCodec::H264), 102, RtpCodecKind::Video);
    }
    m
}

fn local_track(kind: RtpCodecKind, codec: rtc::rtp_transceiver::rtp_sender::RTCRtpCodec, ssrc: u32, label: &str) -> Arc<TrackLocalStaticRTP> {
    tessera::rtc::local_rtp_track("synthetic".into(), label.into(), kind, codec, ssrc)
}

/// Starts `desc` (ending in an appsink named `out`) and sends each RTP buffer to `tx`.
fn rtp_source(desc: &str, tx: mpsc::Sender<rtp::Packet>) -> gst::Pipeline {
    let p = gst::parse::launch(desc).expect("sender pipeline parses").downcast::<gst::Pipeline>().expect("a pipeline");
    let sink = p.by_name("out").expect("appsink out").downcast::<gst_app::AppSink>().expect("appsink");
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                    let mut bytes = bytes::Bytes::copy_from_slice(map.as_slice());
                    if let Ok(pkt) = rtp::Packet::unmarshal(&mut bytes) {
                        let _ = tx.try_send(pkt);
                    }
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    p.set_state(gst::State::Playing).expect("sender plays");
    p
}

impl Client {
    /// Joins `room` on `addr` and starts sending once connected.
    pub async fn join(addr: std::net::SocketAddr, room: &str, opts: Opts) -> Client {
        gst::init().expect("gstreamer");
        let url = format!("ws://{addr}/api/v1/rooms/{room}/ws?name={}", opts.name);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        let (mut ws_tx, mut ws_rx) = ws.split();
        let welcome: serde_json::Value = match ws_rx.next().await {
            Some(Ok(Message::Text(t))) => serde_json::from_str(&t).expect("welcome is JSON"),
            other => panic!("expected welcome, got {other:?}"),
        };
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let id = welcome["participantId"].as_str().expect("participantId").to_owned();

        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if ws_tx.send(m).await.is_err() {
                    break;
                }
            }
            let _ = ws_tx.close().await;
        });

        let (forwarder, mut peer_events) = PeerEventForwarder::new();
        let mut media = media_engine(opts.h264);
        let registry = register_default_interceptors(Registry::new(), &mut media).expect("interceptors");
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .with_include_loopback_candidate(true)
            .build();
        let pc: Arc<dyn PeerConnection> = Arc::new(
            PeerConnectionBuilder::new()
                .with_configuration(RTCConfigurationBuilder::new().build())
                .with_media_engine(media)
                .with_setting_engine(settings)
                .with_interceptor_registry(registry)
                .with_handler(forwarder)
                .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
                .build()
                .await
                .expect("peer connection"),
        );
        let (vssrc, assrc) = (rand::random::<u32>(), rand::random::<u32>());
        let vcodec = if opts.h264 { VideoCodec::H264 } else { VideoCodec::Vp8 };
        let vpt = if opts.h264 { 102 } else { 96 };
        let vtrack = local_track(RtpCodecKind::Video, tessera::rtc::video_codec(vcodec), vssrc, "cam");
        let atrack = local_track(RtpCodecKind::Audio, tessera::rtc::audio_codec(), assrc, "mic");
        pc.add_track(vtrack.clone()).await.expect("video track");
        pc.add_track(atrack.clone()).await.expect("audio track");
        let offer = pc.create_offer(None).await.expect("offer");
        pc.set_local_description(offer).await.expect("local description");
        let sdp = pc.local_description().await.expect("local description").sdp;
        out_tx.send(Message::text(serde_json::json!({"type": "offer", "sdp": sdp}).to_string())).expect("send offer");

        let received = Arc::new(Received::default());
        let pipelines = Arc::new(Mutex::new(Vec::new()));
        let (events_tx, events) = mpsc::unbounded_channel();
        let (connected_tx, connected_rx) = tokio::sync::watch::channel(false);

        // Signaling and peer events.
        let driver = {
            let (pc, out_tx, received, pipelines) = (pc.clone(), out_tx.clone(), received.clone(), pipelines.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        frame = ws_rx.next() => {
                            let Some(Ok(frame)) = frame else { let _ = events_tx.send(serde_json::json!({"type": "socketClosed"})); break };
                            let Message::Text(t) = frame else {
                                if let Message::Close(c) = frame { let _ = events_tx.send(serde_json::json!({"type": "socketClosed", "code": c.map(|c| u16::from(c.code))})); }
                                continue;
                            };
                            let msg: serde_json::Value = serde_json::from_str(&t).expect("server sends JSON");
                            match msg["type"].as_str() {
                                Some("answer") => {
                                    let desc = RTCSessionDescription::answer(msg["sdp"].as_str().unwrap_or_default().to_owned()).expect("answer");
                                    pc.set_remote_description(desc).await.expect("remote description");
                                }
                                Some("candidate") => {
                                    let init = RTCIceCandidateInit {
                                        candidate: msg["candidate"].as_str().unwrap_or_default().to_owned(),
                                        sdp_mid: msg["sdpMid"].as_str().map(str::to_owned),
                                        sdp_mline_index: msg["sdpMLineIndex"].as_u64().map(|v| v as u16),
                                        ..Default::default()
                                    };
                                    let _ = pc.add_ice_candidate(init).await;
                                }
                                _ => { let _ = events_tx.send(msg); }
                            }
                        }
                        Some(ev) = peer_events.recv() => match ev {
                            PeerEvent::LocalCandidate(c) => {
                                let m = serde_json::json!({"type": "candidate", "candidate": c.candidate, "sdpMid": c.sdp_mid, "sdpMLineIndex": c.sdp_mline_index});
                                let _ = out_tx.send(Message::text(m.to_string()));
                            }
                            PeerEvent::State(s) => { connected_tx.send_replace(s == RTCPeerConnectionState::Connected); }
                            PeerEvent::Track(t) => { tokio::spawn(receive(t, received.clone(), pipelines.clone())); }
                        },
                    }
                }
            })
        };

        // Senders.
        let (vtx, vrx) = mpsc::channel(256);
        let (atx, arx) = mpsc::channel(256);
        let [r, g, b] = opts.rgb;
        let color = 0xff00_0000u32 | (r as u32) << 16 | (g as u32) << 8 | b as u32;
        let encode = if opts.h264 {
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! video/x-h264,profile=constrained-baseline ! rtph264pay mtu=1200 pt=102 config-interval=-1 aggregate-mode=zero-latency"
        } else {
            "vp8enc deadline=1 cpu-used=8 keyframe-max-dist=10 ! rtpvp8pay mtu=1200 pt=96"
        };
        pipelines.lock().expect("not poisoned").push(rtp_source(
            &format!("videotestsrc is-live=true pattern=solid-color foreground-color={color} ! video/x-raw,format=I420,width=320,height=240,framerate=15/1 ! {encode} ! appsink name=out sync=false"),
            vtx,
        ));
        pipelines.lock().expect("not poisoned").push(rtp_source(
            &format!("audiotestsrc is-live=true wave=sine freq={} volume=0.25 ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! opusenc frame-size=20 bitrate=64000 ! rtpopuspay pt=111 ! appsink name=out sync=false", opts.tone_hz),
            atx,
        ));
        let vsend = tokio::spawn(pump(vtrack, vssrc, vpt, vrx, connected_rx.clone()));
        let asend = tokio::spawn(pump(atrack, assrc, 111, arx, connected_rx));
        Client { id, welcome, received, events, ws_out: out_tx, pc, pipelines, tasks: vec![writer, driver, vsend, asend] }
    }

    /// Stops the camera sender (the first pipeline) without telling anyone: a stalled input.
    pub fn stall_video(&self) {
        if let Some(p) = self.pipelines.lock().ok().and_then(|v| v.first().cloned()) {
            let _ = p.set_state(gst::State::Null);
        }
    }

    /// Sends a raw text frame on the signaling socket.
    pub fn send_text(&self, text: &str) {
        let _ = self.ws_out.send(Message::text(text.to_owned()));
    }

    /// Waits for the next signaling event of `kind`, skipping others.
    pub async fn next_event(&mut self, kind: &str) -> serde_json::Value {
        loop {
            let ev = self.events.recv().await.expect("signaling still open");
            if ev["type"] == kind {
                return ev;
            }
        }
    }

    pub fn latest_frame(&self) -> Option<Frame> {
        self.received.frame.lock().ok()?.clone()
    }

    pub fn frames(&self) -> u64 {
        self.received.frames.load(Ordering::Relaxed)
    }

    /// The last `n` received audio samples, once that many arrived.
    pub fn audio_tail(&self, n: usize) -> Option<Vec<i16>> {
        let a = self.received.audio.lock().ok()?;
        (a.len() >= n).then(|| a.iter().skip(a.len() - n).copied().collect())
    }

    pub fn clear_audio(&self) {
        if let Ok(mut a) = self.received.audio.lock() {
            a.clear();
        }
    }

    /// Leaves with the protocol's `leave` and tears everything down.
    pub async fn leave(self) {
        self.send_text(r#"{"type":"leave"}"#);
        self.close().await;
    }

    /// Tears down without saying anything (a vanished client) — the socket closes with it.
    pub async fn close(self) {
        for p in self.pipelines.lock().map(|v| v.clone()).unwrap_or_default() {
            let _ = p.set_state(gst::State::Null);
        }
        let _ = self.pc.close().await;
        // Let the writer flush (e.g. a `leave`) before its socket goes.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        for t in self.tasks {
            t.abort();
        }
    }
}

async fn pump(track: Arc<TrackLocalStaticRTP>, ssrc: u32, pt: u8, mut rx: mpsc::Receiver<rtp::Packet>, mut connected: tokio::sync::watch::Receiver<bool>) {
    if connected.wait_for(|c| *c).await.is_err() {
        return;
    }
    while let Some(mut p) = rx.recv().await {
        p.header.ssrc = ssrc;
        p.header.payload_type = pt;
        let _ = track.write_rtp(p).await;
    }
}

async fn receive(track: Arc<dyn TrackRemote>, received: Arc<Received>, pipelines: Arc<Mutex<Vec<gst::Pipeline>>>) {
    match track.kind().await {
        RtpCodecKind::Audio => {
            let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).expect("decoder");
            let mut pcm = vec![0i16; 5760];
            while let Some(ev) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = ev
                    && let Ok(n) = dec.decode(&p.payload, &mut pcm, false)
                {
                    received.audio_packets.fetch_add(1, Ordering::Relaxed);
                    let mut a = received.audio.lock().expect("not poisoned");
                    a.extend(&pcm[..n]);
                    while a.len() > AUDIO_KEEP {
                        a.pop_front();
                    }
                }
            }
        }
        RtpCodecKind::Video => {
            let mut appsrc: Option<gst_app::AppSrc> = None;
            while let Some(ev) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(p) = ev else { continue };
                if appsrc.is_none() {
                    let mime = track.codec(p.header.ssrc).await.map(|c| c.mime_type).unwrap_or_default();
                    *received.video_codec.lock().expect("not poisoned") = Some(mime.clone());
                    let (name, chain) = if mime.eq_ignore_ascii_case("video/H264") { ("H264", "rtph264depay ! avdec_h264") } else { ("VP8", "rtpvp8depay ! vp8dec") };
                    let desc = format!(
                        "appsrc name=in is-live=true format=time do-timestamp=true caps=application/x-rtp,media=video,clock-rate=90000,encoding-name={name},payload={} ! rtpjitterbuffer latency=50 ! {chain} ! videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false",
                        p.header.payload_type
                    );
                    let pipe = gst::parse::launch(&desc).expect("receiver parses").downcast::<gst::Pipeline>().expect("a pipeline");
                    let sink = pipe.by_name("out").expect("out").downcast::<gst_app::AppSink>().expect("appsink");
                    let r = received.clone();
                    sink.set_callbacks(
                        gst_app::AppSinkCallbacks::builder()
                            .new_sample(move |s| {
                                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                                let info = sample.caps().and_then(|c| gstreamer_video::VideoInfo::from_caps(c).ok());
                                if let (Some(info), Some(buf)) = (info, sample.buffer())
                                    && let Ok(map) = buf.map_readable()
                                {
                                    let (w, h, stride) = (info.width() as usize, info.height() as usize, info.stride()[0] as usize);
                                    let mut rgb = Vec::with_capacity(w * h * 3);
                                    for row in 0..h {
                                        rgb.extend_from_slice(&map[row * stride..row * stride + w * 3]);
                                    }
                                    *r.frame.lock().expect("not poisoned") = Some(Frame { width: w, height: h, rgb });
                                    r.frames.fetch_add(1, Ordering::Relaxed);
                                }
                                Ok(gst::FlowSuccess::Ok)
                            })
                            .build(),
                    );
                    pipe.set_state(gst::State::Playing).expect("receiver plays");
                    appsrc = Some(pipe.by_name("in").expect("in").downcast::<gst_app::AppSrc>().expect("appsrc"));
                    pipelines.lock().expect("not poisoned").push(pipe);
                }
                if let (Some(src), Ok(b)) = (&appsrc, p.marshal()) {
                    let _ = src.push_buffer(gst::Buffer::from_slice(b.freeze()));
                }
            }
        }
        _ => {}
    }
}
