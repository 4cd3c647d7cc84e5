//! A synthetic participant: the documented signaling over a real WebSocket, a real webrtc-rs
//! peer connection, a GStreamer sender (solid colour VP8 + sine Opus) and receivers that
//! decode the composite to RGB and the mix to PCM.

use super::signal::Frame;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::shared::marshal::{Marshal, Unmarshal};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tessera::loadgen::session::{Session, SessionMedia, payload_type};
use tessera::media::VideoCodec;
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// What a synthetic participant sends and accepts.
#[derive(Clone, Default)]
pub struct Opts {
    /// Joins with this token when set (else anonymously as `name`, in open mode).
    pub token: Option<String>,
    pub name: String,
    pub rgb: [u8; 3],
    pub tone_hz: f64,
    /// Send and offer H.264 (else VP8 only). webrtc-rs offers only the codec of the track it
    /// sends, so the codec we send is also the one we can receive.
    pub h264: bool,
    /// Start with the tone off (see [`Client::set_tone`]).
    pub silent: bool,
    /// Send no video (microphone only).
    pub audio_only: bool,
    /// Receive no video either: with `audio_only`, the offer has no video m-line at all.
    pub no_video_in: bool,
    /// The first this many audio packets go out padding-only (empty payload, padding bit),
    /// as Firefox sends right after connecting.
    pub audio_padding_first: usize,
    /// The receiver's jitter buffer, ms (default 50). Under loss a browser waits for the
    /// retransmissions its NACKs ask for; a longer buffer does the same here.
    pub jitter_ms: Option<u32>,
}

/// Shared state the receivers fill.
#[derive(Default)]
pub struct Received {
    pub frame: Mutex<Option<Frame>>,
    pub frames: AtomicU64,
    pub audio: Mutex<VecDeque<i16>>,
    pub audio_packets: AtomicU64,
    pub video_codec: Mutex<Option<String>>,
    /// Composite keyframes received (their first packet).
    pub keyframes: AtomicU64,
    /// The composite's timeline as the server stamped it: the last frame's RTP timestamp and
    /// the longest step between consecutive frames (90 kHz ticks), whatever this process's own
    /// scheduling did to their arrival.
    pub video_timeline: Mutex<(Option<u32>, u32)>,
}

pub struct Client {
    pub id: String,
    pub welcome: serde_json::Value,
    pub received: Arc<Received>,
    /// Signaling messages other than answer/candidate, in order.
    pub events: mpsc::UnboundedReceiver<serde_json::Value>,
    session: Session,
    pipelines: Arc<Mutex<Vec<gst::Pipeline>>>,
}

const AUDIO_KEEP: usize = 48_000;

/// Watches every client's composite over the same `window` and asserts that each kept flowing
/// ([`super::assert_flowing`]); `what(i)` names the i-th.
pub async fn all_flow_for(clients: &[Client], what: impl Fn(usize) -> String, window: std::time::Duration) {
    let start: Vec<u64> = clients
        .iter()
        .map(|c| {
            c.take_longest_video_step();
            c.frames()
        })
        .collect();
    let t0 = std::time::Instant::now();
    tokio::time::sleep(window).await;
    let elapsed = t0.elapsed();
    for (i, (c, n0)) in clients.iter().zip(start).enumerate() {
        super::assert_flowing(&what(i), c.frames() - n0, elapsed, c.take_longest_video_step());
    }
}

/// Starts `desc` (ending in an appsink named `out`) and sends each RTP buffer to `tx`, the
/// first `padding_first` of them emptied to padding-only packets.
pub fn rtp_source(desc: &str, tx: mpsc::Sender<rtp::Packet>, padding_first: usize) -> gst::Pipeline {
    let sent = AtomicU64::new(0);
    let p = gst::parse::launch(desc).expect("sender pipeline parses").downcast::<gst::Pipeline>().expect("a pipeline");
    let sink = p.by_name("out").expect("appsink out").downcast::<gst_app::AppSink>().expect("appsink");
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                    let mut bytes = bytes::Bytes::copy_from_slice(map.as_slice());
                    if let Ok(mut pkt) = rtp::Packet::unmarshal(&mut bytes) {
                        if (sent.fetch_add(1, Ordering::Relaxed) as usize) < padding_first {
                            pkt.payload = bytes::Bytes::new();
                            pkt.header.padding = true;
                        }
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
        Self::try_join(addr, room, opts).await.expect("joins")
    }

    /// [`Client::join`], returning why the join failed instead of panicking.
    pub async fn try_join(addr: std::net::SocketAddr, room: &str, opts: Opts) -> Result<Client, String> {
        gst::init().expect("gstreamer");
        let vcodec = if opts.h264 { VideoCodec::H264 } else { VideoCodec::Vp8 };
        let query = match &opts.token {
            Some(t) => format!("token={t}"),
            None => format!("name={}", opts.name),
        };
        let video = if opts.audio_only { None } else { Some(vcodec) };
        let mut session = Session::join_with(addr, room, &query, SessionMedia { video, audio: true, receive_video: !opts.no_video_in })
            .await
            .map_err(|e| e.to_string())?;
        let received = Arc::new(Received::default());
        let pipelines = Arc::new(Mutex::new(Vec::new()));

        let (vtx, vrx) = mpsc::channel(256);
        let (atx, arx) = mpsc::channel(256);
        let [r, g, b] = opts.rgb;
        let color = 0xff00_0000u32 | (r as u32) << 16 | (g as u32) << 8 | b as u32;
        let encode = if opts.h264 {
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! video/x-h264,profile=constrained-baseline ! rtph264pay mtu=1200 config-interval=-1 aggregate-mode=zero-latency"
        } else {
            "vp8enc deadline=1 cpu-used=8 keyframe-max-dist=10 ! rtpvp8pay mtu=1200"
        };
        if !opts.audio_only {
            pipelines.lock().expect("not poisoned").push(rtp_source(
                &format!("videotestsrc is-live=true pattern=solid-color foreground-color={color} ! video/x-raw,format=I420,width=320,height=240,framerate=15/1 ! {encode} ! appsink name=out sync=false"),
                vtx,
                0,
            ));
            let (vtrack, vssrc) = session.video.clone().expect("video track");
            session.own(tokio::spawn(tessera::rtc::forward_rtp(vtrack, vssrc, payload_type(vcodec), vrx, session.connected.clone())));
        }
        let volume = if opts.silent { 0.0 } else { 0.25 };
        pipelines.lock().expect("not poisoned").push(rtp_source(
            &format!("audiotestsrc name=tone is-live=true wave=sine freq={} volume={volume} ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! opusenc frame-size=20 bitrate=64000 ! rtpopuspay ! appsink name=out sync=false", opts.tone_hz),
            atx,
            opts.audio_padding_first,
        ));
        let (atrack, assrc) = session.audio.clone().expect("audio track");
        session.own(tokio::spawn(tessera::rtc::forward_rtp(atrack, assrc, tessera::rtc::PT_OPUS, arx, session.connected.clone())));
        let mut tracks = std::mem::replace(&mut session.tracks, mpsc::unbounded_channel().1);
        let (r2, p2) = (received.clone(), pipelines.clone());
        let jitter_ms = opts.jitter_ms.unwrap_or(50);
        session.own(tokio::spawn(async move {
            while let Some(t) = tracks.recv().await {
                tokio::spawn(receive(t, r2.clone(), p2.clone(), jitter_ms));
            }
        }));
        let events = std::mem::replace(&mut session.events, mpsc::unbounded_channel().1);
        Ok(Client { id: session.id.clone(), welcome: session.welcome.clone(), received, events, session, pipelines })
    }

    /// Stops the camera sender (the first pipeline) without telling anyone: a stalled input.
    pub fn stall_video(&self) {
        if let Some(p) = self.pipelines.lock().ok().and_then(|v| v.first().cloned()) {
            let _ = p.set_state(gst::State::Null);
        }
    }

    /// Turns the sent tone on (volume 0.25) or off (digital silence).
    pub fn set_tone(&self, on: bool) {
        let pipelines = self.pipelines.lock().expect("not poisoned");
        for p in pipelines.iter() {
            if let Some(t) = p.by_name("tone") {
                t.set_property("volume", if on { 0.25f64 } else { 0.0 });
            }
        }
    }

    /// Drops the signaling socket without a close frame, as a network drop does; the peer
    /// connection and the media go on.
    pub fn cut_signaling(&self) {
        self.session.cut_signaling();
    }

    /// Sends a raw text frame on the signaling socket.
    pub fn send_text(&self, text: &str) {
        self.session.send_text(text);
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

    /// The longest step between consecutive composite frames' timestamps since the last call.
    pub fn take_longest_video_step(&self) -> std::time::Duration {
        let mut t = self.received.video_timeline.lock().expect("not poisoned");
        std::time::Duration::from_micros(u64::from(std::mem::take(&mut t.1)) * 1000 / 90)
    }

    pub fn frames(&self) -> u64 {
        self.received.frames.load(Ordering::Relaxed)
    }

    /// Watches the composite for `window` (a measurement window, not a wait for an event) and
    /// asserts that it kept flowing ([`super::assert_flowing`]).
    pub async fn assert_flows_for(&self, what: &str, window: std::time::Duration) {
        all_flow_for(std::slice::from_ref(self), |_| what.to_owned(), window).await;
    }

    /// Mix-minus: the last 0.5 s `self` heard holds each of `others`' tones at least 20 dB
    /// above its own tone `own`.
    pub fn hears(&self, own: f64, others: &[f64]) -> Result<(), String> {
        use super::signal::{db, tone_power};
        let s = self.audio_tail(24_000).ok_or("less than 0.5 s of audio received")?;
        let p_own = tone_power(&s, own);
        for &o in others {
            let margin = db(tone_power(&s, o) / p_own);
            if margin < 20.0 {
                return Err(format!("tone {o} Hz is only {margin:.1} dB above own {own} Hz"));
            }
        }
        Ok(())
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
        self.stop_media();
        self.session.close(true).await;
    }

    /// Tears down without saying anything (a vanished client).
    pub async fn close(self) {
        self.stop_media();
        self.session.close(false).await;
    }

    /// Stops sending (and decoding) media without telling anyone; the peer connection stays
    /// up.
    pub fn stop_media(&self) {
        for p in self.pipelines.lock().map(|v| v.clone()).unwrap_or_default() {
            let _ = p.set_state(gst::State::Null);
        }
    }
}

async fn receive(track: Arc<dyn TrackRemote>, received: Arc<Received>, pipelines: Arc<Mutex<Vec<gst::Pipeline>>>, jitter_ms: u32) {
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
            let mut codec = tessera::media::VideoCodec::Vp8;
            while let Some(ev) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(p) = ev else { continue };
                if appsrc.is_some() && tessera::media::ladder::starts_keyframe(codec, &p.payload) {
                    received.keyframes.fetch_add(1, Ordering::Relaxed);
                }
                if appsrc.is_none() {
                    let mime = track.codec(p.header.ssrc).await.map(|c| c.mime_type).unwrap_or_default();
                    *received.video_codec.lock().expect("not poisoned") = Some(mime.clone());
                    let h264 = mime.eq_ignore_ascii_case("video/H264");
                    if h264 {
                        codec = tessera::media::VideoCodec::H264;
                    }
                    let (name, chain) = if h264 { ("H264", "rtph264depay ! avdec_h264") } else { ("VP8", "rtpvp8depay ! vp8dec") };
                    let desc = format!(
                        "appsrc name=in is-live=true format=time do-timestamp=true caps=application/x-rtp,media=video,clock-rate=90000,encoding-name={name},payload={} ! rtpjitterbuffer latency={jitter_ms} ! {chain} ! videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false",
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
                if p.header.marker {
                    let mut t = received.video_timeline.lock().expect("not poisoned");
                    if let Some(last) = t.0 {
                        let step = p.header.timestamp.wrapping_sub(last);
                        // Forward steps only (a late or repeated packet is not a freeze).
                        if step < 1 << 31 {
                            t.1 = t.1.max(step);
                        }
                    }
                    t.0 = Some(p.header.timestamp);
                }
                if let (Some(src), Ok(b)) = (&appsrc, p.marshal()) {
                    let _ = src.push_buffer(gst::Buffer::from_slice(b.freeze()));
                }
            }
        }
        _ => {}
    }
}
