//! Running a load: create rooms, join participants, send looped pre-encoded media paced by its
//! RTP timestamps, count what comes back, report.

use super::media_file::{self, Camera, MediaFileError, RtpFile};
use super::session::{Session, SessionError, SessionMedia, payload_type};
use super::stats::ReceiverStats;
use crate::media::VideoCodec;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Media(#[from] MediaFileError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("creating a room failed: {0}")]
    CreateRoom(String),
    #[error("the latency probe failed: {0}")]
    Probe(String),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub addr: SocketAddr,
    pub rooms: usize,
    /// Join this existing room instead of creating `rooms` (which must then be 1).
    pub room: Option<String>,
    pub participants: usize,
    pub video: Option<VideoCodec>,
    pub audio: bool,
    /// Time after the last join before measuring.
    pub warmup: Duration,
    pub duration: Duration,
    pub media_dir: PathBuf,
    /// The composite each room produces; `None` takes the server's default.
    pub composite: Option<crate::wire::CompositeSettings>,
    /// How the clients behave beyond the defaults.
    pub clients: ClientOptions,
}

/// Client behaviour beyond the defaults (the ordinary 640×360 clip, constraints ignored, every
/// receiver healthy).
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// The camera every participant sends (`None`: the ordinary clip).
    pub camera: Option<Camera>,
    /// Honour the server's `cameraConstraint` as the browser client does ([`super::camera`]).
    pub follow_constraints: bool,
    /// This many more participants per room act as weak receivers ([`super::weak`]), named
    /// `weak-{room}-{n}`; they send like the others.
    pub weak: usize,
    /// Audio-only participants: no video m-line at all (with `video: None`), so nobody in the
    /// room takes the composite and its canvas rests.
    pub audio_only: bool,
    /// The Opus RTP file every participant sends (`None`: the 440 Hz tone); e.g.
    /// [`media_file::prepare_speech`].
    pub audio_file: Option<std::path::PathBuf>,
}

/// One receiver's result.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub room: usize,
    pub name: String,
    pub stats: ReceiverStats,
    /// The camera it sent last, when it follows the server's constraints.
    pub camera: Option<Camera>,
}

/// What a room's media lost in the window, as the server counts it (`GET /rooms/{id}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomLosses {
    /// Composite and mixed packets that slow receivers could not take.
    pub packets_dropped: u64,
    pub audio_underruns: u64,
    pub audio_discarded_ms: u64,
}

impl RoomLosses {
    fn since(self, earlier: RoomLosses) -> RoomLosses {
        RoomLosses {
            packets_dropped: self.packets_dropped.saturating_sub(earlier.packets_dropped),
            audio_underruns: self.audio_underruns.saturating_sub(earlier.audio_underruns),
            audio_discarded_ms: self.audio_discarded_ms.saturating_sub(earlier.audio_discarded_ms),
        }
    }
}

/// The whole run's result.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub receivers: Vec<Receiver>,
    pub window: Duration,
    pub rooms: usize,
    /// Per room, what the server counted as lost in the window (`None`: it did not say).
    pub losses: Vec<Option<RoomLosses>>,
}

impl LoadReport {
    pub fn fps(&self, r: &Receiver) -> f64 {
        r.stats.window_frames as f64 / self.window.as_secs_f64()
    }

    /// The receiver with the lowest frame rate.
    pub fn worst(&self) -> Option<&Receiver> {
        self.receivers.iter().min_by(|a, b| self.fps(a).total_cmp(&self.fps(b)))
    }

    pub fn worst_fps(&self) -> f64 {
        self.worst().map(|r| self.fps(r)).unwrap_or(0.0)
    }

    pub fn worst_gap(&self) -> Duration {
        self.receivers.iter().map(|r| r.stats.max_gap).max().unwrap_or_default()
    }

    /// Every room's losses added up (rooms the server said nothing about count as none).
    pub fn total_losses(&self) -> RoomLosses {
        self.losses.iter().flatten().fold(RoomLosses::default(), |a, l| RoomLosses {
            packets_dropped: a.packets_dropped + l.packets_dropped,
            audio_underruns: a.audio_underruns + l.audio_underruns,
            audio_discarded_ms: a.audio_discarded_ms + l.audio_discarded_ms,
        })
    }

    /// A markdown table: one row per room, then the worst receiver.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from(
            "| room | receivers | min fps | mean fps | max freeze ms | keyframes | kbit/s per receiver | packets dropped | audio underruns | audio discarded ms |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
        );
        for room in 0..self.rooms {
            let rs: Vec<&Receiver> = self.receivers.iter().filter(|r| r.room == room).collect();
            if rs.is_empty() {
                continue;
            }
            let fps: Vec<f64> = rs.iter().map(|r| self.fps(r)).collect();
            let min = fps.iter().cloned().fold(f64::INFINITY, f64::min);
            let mean = fps.iter().sum::<f64>() / fps.len() as f64;
            let gap = rs.iter().map(|r| r.stats.max_gap).max().unwrap_or_default();
            let kf: u64 = rs.iter().map(|r| r.stats.keyframes).sum();
            let kbps =
                rs.iter().map(|r| r.stats.bytes as f64 * 8.0 / 1000.0).sum::<f64>() / rs.len() as f64 / (self.window.as_secs_f64() + 1e-9);
            let losses = match self.losses.get(room).copied().flatten() {
                Some(l) => format!("{} | {} | {}", l.packets_dropped, l.audio_underruns, l.audio_discarded_ms),
                None => "— | — | —".into(),
            };
            s.push_str(&format!("| {room} | {} | {min:.1} | {mean:.1} | {} | {kf} | {kbps:.0} | {losses} |\n", rs.len(), gap.as_millis()));
        }
        if let Some(w) = self.worst() {
            s.push_str(&format!(
                "\nWorst receiver: room {} {} at {:.1} fps, longest freeze {} ms.\n",
                w.room,
                w.name,
                self.fps(w),
                w.stats.max_gap.as_millis()
            ));
        }
        s
    }
}

pub(crate) async fn create_room(
    addr: SocketAddr,
    name: &str,
    composite: Option<&crate::wire::CompositeSettings>,
) -> Result<String, LoadError> {
    // The most a server allows by default (a room's own default is 16): benchmark E runs 25.
    let mut body = serde_json::json!({ "name": name, "maxParticipants": 25 });
    if let Some(c) = composite {
        body["composite"] = serde_json::json!(c);
    }
    let body = body.to_string();
    let (status, text) = super::http::raw(addr, "POST", "/api/v1/rooms", Some(body.as_bytes()), &[])
        .await
        .map_err(|e| LoadError::CreateRoom(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| LoadError::CreateRoom(e.to_string()))?;
    match (status, v["room"]["id"].as_str()) {
        (201, Some(id)) => Ok(id.to_owned()),
        _ => Err(LoadError::CreateRoom(format!("{status}: {text}"))),
    }
}

/// The server's loss counters for a room, or `None` when it cannot be asked.
async fn room_losses(addr: SocketAddr, id: &str) -> Option<RoomLosses> {
    let (status, text) = super::http::raw(addr, "GET", &format!("/api/v1/rooms/{id}"), None, &[]).await.ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok().filter(|_| status == 200)?;
    let m = &v["media"];
    Some(RoomLosses {
        packets_dropped: m["videoPacketsDropped"].as_u64()? + m["audioPacketsDropped"].as_u64()?,
        audio_underruns: m["audioUnderruns"].as_u64()?,
        audio_discarded_ms: m["audioDiscardedMs"].as_u64()?,
    })
}

async fn all_losses(addr: SocketAddr, rooms: &[String]) -> Vec<Option<RoomLosses>> {
    let mut out = Vec::with_capacity(rooms.len());
    for id in rooms {
        out.push(room_losses(addr, id).await);
    }
    out
}

/// Sends `file` forever, paced by its RTP timestamps, with fresh SSRC/sequence/timestamps.
pub(crate) async fn send_looped(track: Arc<TrackLocalStaticRTP>, ssrc: u32, pt: u8, file: Arc<RtpFile>, connected: watch::Receiver<bool>) {
    // A clip that never changes: the sender keeps its end of the channel until it stops.
    let (_keep, files) = watch::channel(file);
    super::camera::send(track, ssrc, pt, files, connected).await;
}

/// Counts what `track` brings into `stats`; a `weak` receiver also sends its weak feedback on
/// the composite.
async fn count(
    track: Arc<dyn TrackRemote>,
    stats: Arc<Mutex<ReceiverStats>>,
    window: Arc<OnceLock<Instant>>,
    far_future: Instant,
    weak: bool,
) {
    let kind = track.kind().await;
    let mut h264 = None;
    let mut feedback = None;
    while let Some(ev) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(p) = ev else { continue };
        match kind {
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video => {
                if h264.is_none() {
                    let mime = track.codec(p.header.ssrc).await.map(|c| c.mime_type).unwrap_or_default();
                    h264 = Some(mime.eq_ignore_ascii_case("video/H264"));
                }
                if weak && feedback.is_none() {
                    feedback = Some(AbortOnDrop(tokio::spawn(super::weak::feedback(track.clone(), p.header.ssrc))));
                }
                let window_start = window.get().copied().unwrap_or(far_future);
                stats.lock().on_video(h264 == Some(true), &p.payload, p.header.marker, Instant::now(), window_start);
            }
            _ => stats.lock().audio_packets += 1,
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts sending `video` (with its codec) and `audio` on the session's tracks, looped.
fn start_sending(s: &mut Session, video: Option<(&Arc<RtpFile>, VideoCodec)>, audio: Option<&Arc<RtpFile>>) {
    if let (Some((t, ssrc)), Some((file, codec))) = (s.video.clone(), video) {
        let task = tokio::spawn(send_looped(t, ssrc, payload_type(codec), file.clone(), s.connected.clone()));
        s.own(task);
    }
    if let (Some((t, ssrc)), Some(audio)) = (s.audio.clone(), audio) {
        let task = tokio::spawn(send_looped(t, ssrc, crate::rtc::PT_OPUS, audio.clone(), s.connected.clone()));
        s.own(task);
    }
}

/// Sends the load generator's ordinary clip (and tone, if `audio`) on `s` (made by
/// [`media_file::prepare`]).
pub(crate) fn send_ordinary(s: &mut Session, media_dir: &std::path::Path, codec: VideoCodec, audio: bool) -> Result<(), LoadError> {
    let video = Arc::new(RtpFile::load(&media_file::video_file(media_dir, codec), 90_000, 3000)?);
    let tone = if audio { Some(Arc::new(RtpFile::load(&media_file::audio_file(media_dir), 48_000, 960)?)) } else { None };
    start_sending(s, Some((&video, codec)), tone.as_ref());
    Ok(())
}

/// Runs the load and returns what every receiver saw in the measurement window.
pub async fn run(opts: &LoadOptions) -> Result<LoadReport, LoadError> {
    media_file::prepare(&opts.media_dir)?;
    let video = match opts.video {
        Some(c) => Some(Arc::new(RtpFile::load(&media_file::video_file(&opts.media_dir, c), 90_000, 3000)?)),
        None => None,
    };
    let video = match (opts.video, opts.clients.camera) {
        (Some(codec), Some(camera)) => {
            let dir = opts.media_dir.clone();
            let file = tokio::task::spawn_blocking(move || super::camera::load(&dir, codec, camera))
                .await
                .map_err(|e| MediaFileError::Encode(e.to_string()))??;
            Some(Arc::new(file))
        }
        _ => video,
    };
    let audio_path = opts.clients.audio_file.clone().unwrap_or_else(|| media_file::audio_file(&opts.media_dir));
    let audio = Arc::new(RtpFile::load(&audio_path, 48_000, 960)?);
    let mut sessions = Vec::new();
    let mut stats = Vec::new();
    // The window starts after every join and the warm-up; receivers read it per packet.
    let far_future = Instant::now() + Duration::from_secs(3600 * 24);
    let window_start: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let mut room_ids = Vec::new();
    for room in 0..opts.rooms {
        let room_id = match &opts.room {
            Some(id) => id.clone(),
            None => create_room(opts.addr, &format!("load-{room}"), opts.composite.as_ref()).await?,
        };
        room_ids.push(room_id.clone());
        for n in 0..opts.participants + opts.clients.weak {
            let weak = n >= opts.participants;
            let sent: Arc<Mutex<Option<Camera>>> = Arc::default();
            let name = if weak { format!("weak-{room}-{}", n - opts.participants) } else { format!("load-{room}-{n}") };
            let mut s = Session::join(
                opts.addr,
                &room_id,
                &name,
                SessionMedia { video: opts.video, audio: opts.audio, receive_video: !opts.clients.audio_only },
            )
            .await?;
            match (opts.clients.follow_constraints, opts.clients.camera, opts.video, &video) {
                (true, Some(camera), Some(codec), Some(file)) => {
                    let (files_tx, files) = watch::channel(file.clone());
                    sent.lock().replace(camera);
                    let events = std::mem::replace(&mut s.events, tokio::sync::mpsc::unbounded_channel().1);
                    s.own(tokio::spawn(super::camera::follow(events, camera, codec, opts.media_dir.clone(), files_tx, sent.clone())));
                    if let Some((t, ssrc)) = s.video.clone() {
                        let task = tokio::spawn(super::camera::send(t, ssrc, payload_type(codec), files, s.connected.clone()));
                        s.own(task);
                    }
                    start_sending(&mut s, None, Some(&audio));
                }
                _ => start_sending(&mut s, video.as_ref().zip(opts.video), Some(&audio)),
            }
            let st = Arc::new(Mutex::new(ReceiverStats::default()));
            let mut tracks = std::mem::replace(&mut s.tracks, tokio::sync::mpsc::unbounded_channel().1);
            let (st2, ws) = (st.clone(), window_start.clone());
            s.own(tokio::spawn(async move {
                while let Some(t) = tracks.recv().await {
                    tokio::spawn(count(t, st2.clone(), ws.clone(), far_future, weak));
                }
            }));
            stats.push((room, name, st, sent));
            sessions.push(s);
        }
    }
    tokio::time::sleep(opts.warmup).await;
    let start = Instant::now();
    let _ = window_start.set(start);
    let losses_before = all_losses(opts.addr, &room_ids).await;
    for (_, _, st, _) in &stats {
        let mut s = st.lock();
        s.bytes = 0;
        s.keyframes = 0;
    }
    tokio::time::sleep(opts.duration.saturating_sub(start.elapsed())).await;
    let window = start.elapsed();
    let losses =
        all_losses(opts.addr, &room_ids).await.into_iter().zip(losses_before).map(|(after, before)| Some(after?.since(before?))).collect();
    let receivers = stats
        .iter()
        .map(|(room, name, st, sent)| Receiver { room: *room, name: name.clone(), stats: st.lock().clone(), camera: *sent.lock() })
        .collect();
    for s in sessions {
        s.close(true).await;
    }
    Ok(LoadReport { receivers, window, rooms: opts.rooms, losses })
}
