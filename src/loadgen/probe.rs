//! Server-added latency (issue 4, benchmark C), measured from outside over real WebRTC.
//!
//! A sender joins a room and sends a 640×360 H.264 picture that is black except for one white
//! frame every half second, and Opus that is silent except for a 1 kHz beep every half second.
//! A receiver in the same room decodes the composite (its own GStreamer decoder) and its
//! mix-minus audio (Opus). Each latency is the time from the sender writing the flash's (or
//! beep's) packet to the receiver getting the first composite frame (or mixed packet) that
//! shows (or sounds) it. Both ends are on loopback in this process, so the figure is the
//! server's work plus two loopback hops; the receiver's own decoding is not counted (frames
//! carry their arrival time through the decoder).

use super::media_file::{self, MediaFileError, RtpFile};
use super::run::LoadError;
use super::session::{Session, SessionMedia, payload_type};
use crate::layout;
use crate::media::VideoCodec;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// Frames (and audio packets) in one loop of the probe media: one flash per loop.
const VIDEO_LOOP: usize = 15; // 0.5 s at 30 fps
const AUDIO_LOOP: usize = 25; // 0.5 s of 20 ms packets
/// Luma above which the sender's tile counts as showing the flash (black 16, white 235).
const FLASH_LUMA: f64 = 128.0;
/// Sample amplitude above which the decoded audio counts as sounding the beep (its peak is
/// 16383; the others in the probe room send no audio, so the mix is otherwise silent).
const BEEP_PEAK: i16 = 4000;

/// What to measure.
#[derive(Debug, Clone)]
pub struct LatencyOptions {
    pub addr: SocketAddr,
    pub media_dir: PathBuf,
    /// Sending before measuring, counted from the receiver's first flash and beep (the server's
    /// audio jitter allowance settles within 5 s).
    pub warmup: Duration,
    /// How long to measure flashes and beeps (two of each per second).
    pub duration: Duration,
    pub composite: Option<crate::wire::CompositeSettings>,
}

/// Latencies seen, in milliseconds, one per flash or beep that arrived.
#[derive(Debug, Clone, Default)]
pub struct LatencyReport {
    pub video_ms: Vec<f64>,
    pub audio_ms: Vec<f64>,
}

/// The `p`-th percentile (0–100) by nearest rank; `None` when there are no samples.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v.get(rank - 1).copied()
}

pub fn flash_file(dir: &Path) -> PathBuf {
    dir.join("probe-flash-h264-640x360.rtp")
}

pub fn beep_file(dir: &Path) -> PathBuf {
    dir.join("probe-beep-opus.rtp")
}

/// Encodes the probe's media into `dir` unless it exists.
pub fn prepare(dir: &Path) -> Result<(), MediaFileError> {
    let (w, h) = (640usize, 360usize);
    if !flash_file(dir).exists() {
        let frames = (0..VIDEO_LOOP).map(|i| {
            let mut f = vec![128u8; w * h * 3 / 2];
            f[..w * h].fill(if i == 0 { 235 } else { 16 });
            f
        });
        media_file::encode_raw(
            &format!("video/x-raw,format=I420,width={w},height={h},framerate=30/1"),
            Duration::from_nanos(1_000_000_000 / 30),
            frames,
            &format!(
                "x264enc tune=zerolatency speed-preset=ultrafast bitrate=600 key-int-max={VIDEO_LOOP} ! video/x-h264,profile=constrained-baseline \
                 ! rtph264pay mtu=1200 config-interval=-1 aggregate-mode=zero-latency pt=102"
            ),
            &flash_file(dir),
        )?;
    }
    if !beep_file(dir).exists() {
        let frames = (0..AUDIO_LOOP).map(|i| {
            let mut f = vec![0u8; 960 * 2];
            if i < 5 {
                for (n, s) in f.chunks_exact_mut(2).enumerate() {
                    let t = (i * 960 + n) as f64 / 48_000.0;
                    let v = (0.5 * 32767.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16;
                    s.copy_from_slice(&v.to_le_bytes());
                }
            }
            f
        });
        media_file::encode_raw(
            "audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=1",
            Duration::from_millis(20),
            frames,
            "opusenc frame-size=20 ! rtpopuspay pt=111",
            &beep_file(dir),
        )?;
    }
    Ok(())
}

/// The beep file as one 0.5 s loop, like the flash video: the Opus encoder's flush at the end
/// of the file adds a 26th packet, which made the beeps come every 520 ms and drift 20 ms per
/// loop against the flashes.
fn load_beep(dir: &Path) -> Result<RtpFile, MediaFileError> {
    let mut beep = RtpFile::load(&beep_file(dir), 48_000, 960)?;
    beep.packets.truncate(AUDIO_LOOP);
    Ok(beep)
}

/// Where the beep starts in `file` as a receiver in steady state hears it: the first loud packet
/// of the second pass through the file, and the time into that packet of its first loud sample.
/// The first pass is decoded only to set the decoder's state: a fresh decoder hears the beep
/// 6.5 ms into packet 0 (after Opus' look-ahead), while one that has just played the silent end
/// of the loop hears it 1.5 ms into packet 1, 15 ms later (measured on the server's decoder).
/// Taking the fresh reading added those 15 ms to every audio latency.
fn beep_onset(file: &RtpFile) -> Option<(usize, Duration)> {
    onset_after_loops(file, 1)
}

/// The beep's packet and onset in the pass through `file` that follows `loops` whole passes.
fn onset_after_loops(file: &RtpFile, loops: usize) -> Option<(usize, Duration)> {
    let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).ok()?;
    let mut pcm = vec![0i16; 5760];
    for p in file.packets.iter().cycle().take(loops * file.packets.len()) {
        dec.decode(&p.payload, &mut pcm, false).ok()?;
    }
    file.packets.iter().enumerate().find_map(|(i, p)| {
        let n = dec.decode(&p.payload, &mut pcm, false).ok()?;
        onset(&pcm[..n]).map(|at| (i, at))
    })
}

/// Time into `pcm` (48 kHz) of its first loud sample.
fn onset(pcm: &[i16]) -> Option<Duration> {
    let i = pcm.iter().position(|s| s.saturating_abs() > BEEP_PEAK)?;
    Some(Duration::from_nanos(i as u64 * 1_000_000_000 / 48_000))
}

/// A probe sender at work: when each loop's flash frame and each beep's onset were sent.
pub struct Marks {
    pub flashes: Arc<Mutex<Vec<Instant>>>,
    pub beeps: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Marks {
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Starts sending the flash video and the beep audio on `session`'s tracks (H.264 and Opus),
/// each on a thread of its own: a flash every 0.5 s and a beep every 0.5 s.
fn send_marks(session: &Session, flash: Arc<RtpFile>, beep: Arc<RtpFile>, onset: (usize, Duration)) -> Result<Marks, LoadError> {
    let marks = Marks { flashes: Arc::default(), beeps: Arc::default(), stop: Arc::new(AtomicBool::new(false)), threads: Vec::new() };
    let (Some((vt, vs)), Some((at, asrc))) = (session.video.clone(), session.audio.clone()) else {
        return Err(LoadError::Probe("the sender has no video or audio track".into()));
    };
    let video = Marked { track: vt, ssrc: vs, pt: payload_type(VideoCodec::H264), file: flash, mark: 0, offset: Duration::ZERO };
    let audio = Marked { track: at, ssrc: asrc, pt: crate::rtc::PT_OPUS, file: beep, mark: onset.0, offset: onset.1 };
    let mut marks = marks;
    for (m, sent) in [(video, marks.flashes.clone()), (audio, marks.beeps.clone())] {
        marks.threads.push(send_marked(m, sent, marks.stop.clone()).map_err(|e| LoadError::Probe(e.to_string()))?);
    }
    Ok(marks)
}

/// Joins `room` as a probe sender that flashes its tile and beeps at the same instants, twice a
/// second (for A/V sync checks of what the server outputs). Returns its session (keep it) and
/// the send times.
pub async fn flash_and_beep(addr: SocketAddr, room: &str, media_dir: &Path) -> Result<(Session, Marks), LoadError> {
    gst::init().map_err(|e| LoadError::Probe(e.to_string()))?;
    prepare(media_dir)?;
    let flash = Arc::new(RtpFile::load(&flash_file(media_dir), 90_000, 3000)?);
    let beep = Arc::new(load_beep(media_dir)?);
    let onset = beep_onset(&beep).ok_or_else(|| LoadError::Probe("the beep file decodes to silence".into()))?;
    let session = Session::join(addr, room, "probe-sender", SessionMedia::call(Some(VideoCodec::H264))).await?;
    let mut c = session.connected.clone();
    let _ = tokio::time::timeout(Duration::from_secs(10), c.wait_for(|c| *c)).await;
    let marks = send_marks(&session, flash, beep, onset)?;
    Ok((session, marks))
}

/// What the probe sends on one track, and where the marked packet of each loop is.
struct Marked {
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pt: u8,
    file: Arc<RtpFile>,
    /// The packet whose sending is recorded (with, for video, the rest of its frame).
    mark: usize,
    /// Where in the marked packet's audio the beep starts.
    offset: Duration,
}

/// Sends `m.file` looped, paced by its timestamps, on a thread of its own until `stop`, and
/// records when each loop's marked packet has been written. A plain thread sleeping to each
/// packet's time keeps the sender's own timing out of the figure: paced by the busy async
/// runtime it shared with the receiver's decoding, it jittered by several milliseconds.
fn send_marked(m: Marked, sent: Arc<Mutex<Vec<Instant>>>, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let rt = tokio::runtime::Handle::current();
    std::thread::Builder::new().name("probe-sender".into()).spawn(move || {
        let start = Instant::now();
        let mark_ts = m.file.packets.get(m.mark).map(|p| p.header.timestamp);
        for due in m.file.looped(m.ssrc, m.pt) {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if let Some(wait) = (start + due.at).checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let is_mark =
                Some(m.file.packets[due.index].header.timestamp) == mark_ts && (due.packet.header.marker || m.file.clock_rate == 48_000);
            if rt.block_on(m.track.write_rtp(due.packet)).is_err() {
                return;
            }
            if is_mark {
                sent.lock().push(Instant::now() + m.offset);
            }
        }
    })
}

/// Matches each arrival to the latest send before it (within one loop) and returns the gaps.
fn match_up(sent: &[Instant], arrived: &[Instant], within: Duration) -> Vec<f64> {
    arrived
        .iter()
        .filter_map(|a| {
            let s = sent.iter().rev().find(|s| *s <= a)?;
            let d = a.duration_since(*s);
            (d < within).then_some(d.as_secs_f64() * 1000.0)
        })
        .collect()
}

/// A decoder for the composite the receiver gets: RTP in (stamped with its arrival), I420 out.
struct CompositeDecoder {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
}

impl CompositeDecoder {
    /// Calls `on_flash(arrival)` for each decoded frame where `region` turns bright.
    fn start(t0: Instant, region: layout::Rect, width: i32, flashes: Arc<Mutex<Vec<Instant>>>) -> Result<Self, LoadError> {
        let err = |e: String| LoadError::Probe(e);
        let desc = "appsrc name=src is-live=false format=time caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=102 \
                    ! rtph264depay ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! appsink name=sink sync=false";
        let pipeline = gst::parse::launch(desc)
            .map_err(|e| err(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| err("not a pipeline".into()))?;
        let by = |n: &str| pipeline.by_name(n).ok_or_else(|| err(format!("no {n}")));
        let src = by("src")?.downcast::<gst_app::AppSrc>().map_err(|_| err("appsrc".into()))?;
        let sink = by("sink")?.downcast::<gst_app::AppSink>().map_err(|_| err("appsink".into()))?;
        let mut bright = false;
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let (Some(buf), Some(pts)) = (sample.buffer(), sample.buffer().and_then(|b| b.pts())) else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let Ok(map) = buf.map_readable() else { return Ok(gst::FlowSuccess::Ok) };
                    let luma = mean_luma(map.as_slice(), width as usize, region);
                    let now_bright = luma > FLASH_LUMA;
                    if now_bright && !bright {
                        flashes.lock().push(t0 + Duration::from_nanos(pts.nseconds()));
                    }
                    bright = now_bright;
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        pipeline.set_state(gst::State::Playing).map_err(|e| err(e.to_string()))?;
        Ok(Self { pipeline, src })
    }

    fn push(&self, packet: &[u8], arrival: Duration) {
        let mut buf = gst::Buffer::from_slice(packet.to_vec());
        if let Some(b) = buf.get_mut() {
            b.set_pts(gst::ClockTime::from_nseconds(arrival.as_nanos() as u64));
        }
        let _ = self.src.push_buffer(buf);
    }
}

impl Drop for CompositeDecoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Mean luma of the middle half of `r` (the tile's picture, clear of its letterbox bars).
fn mean_luma(i420: &[u8], width: usize, r: layout::Rect) -> f64 {
    let (x0, x1) = ((r.x + r.w / 4) as usize, (r.x + 3 * r.w / 4) as usize);
    let (y0, y1) = ((r.y + r.h / 2 - r.h / 8) as usize, (r.y + r.h / 2 + r.h / 8) as usize);
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in y0..y1 {
        if let Some(row) = i420.get(y * width + x0..y * width + x1) {
            sum += row.iter().map(|&v| v as u64).sum::<u64>();
            n += row.len() as u64;
        }
    }
    if n == 0 { 0.0 } else { sum as f64 / n as f64 }
}

/// Receives the composite and the mix: video goes to `decoder`, audio is decoded here.
async fn receive(track: Arc<dyn TrackRemote>, t0: Instant, decoder: Arc<CompositeDecoder>, beeps: Arc<Mutex<Vec<Instant>>>) {
    use rtc::shared::marshal::Marshal;
    let kind = track.kind().await;
    let mut opus = opus::Decoder::new(48_000, opus::Channels::Mono).ok();
    let mut pcm = vec![0i16; 5760];
    let mut sounding = false;
    while let Some(ev) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(p) = ev else { continue };
        let now = Instant::now();
        match kind {
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video => {
                if let Ok(raw) = p.marshal() {
                    decoder.push(&raw, now.duration_since(t0));
                }
            }
            _ => {
                let Some(dec) = opus.as_mut() else { continue };
                let at = dec.decode(&p.payload, &mut pcm, false).ok().and_then(|n| onset(&pcm[..n]));
                if let Some(at) = at
                    && !sounding
                {
                    beeps.lock().push(now + at);
                }
                sounding = at.is_some();
            }
        }
    }
}

/// Runs the probe: one room of four, the sender (flashes and beeps), a receiver and two others
/// sending the load generator's ordinary media.
pub async fn measure(opts: &LatencyOptions) -> Result<LatencyReport, LoadError> {
    gst::init().map_err(|e| LoadError::Probe(e.to_string()))?;
    media_file::prepare(&opts.media_dir)?;
    prepare(&opts.media_dir)?;
    let flash = Arc::new(RtpFile::load(&flash_file(&opts.media_dir), 90_000, 3000)?);
    let beep = Arc::new(load_beep(&opts.media_dir)?);
    let (onset_packet, onset_at) = beep_onset(&beep).ok_or_else(|| LoadError::Probe("the beep file decodes to silence".into()))?;
    let room = super::run::create_room(opts.addr, "latency-probe", opts.composite.as_ref()).await?;
    let media = SessionMedia::call(Some(VideoCodec::H264));

    let mut sender = Session::join(opts.addr, &room, "probe-sender", media).await?;
    let mut receiver = Session::join(opts.addr, &room, "probe-receiver", media).await?;
    for s in [&mut sender, &mut receiver] {
        let mut c = s.connected.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), c.wait_for(|c| *c)).await;
    }
    let (w, h) = opts.composite.as_ref().map_or((1280, 720), |c| (c.width, c.height));
    // The sender joined first, so it has the first tile of the four.
    let region = layout::grid(4, w, h)[0];
    let t0 = Instant::now();
    let (flashes_seen, beeps_heard) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
    let decoder = Arc::new(CompositeDecoder::start(t0, region, w as i32, flashes_seen.clone())?);
    let mut tracks = std::mem::replace(&mut receiver.tracks, tokio::sync::mpsc::unbounded_channel().1);
    let (dec, heard) = (decoder.clone(), beeps_heard.clone());
    receiver.own(tokio::spawn(async move {
        while let Some(t) = tracks.recv().await {
            tokio::spawn(receive(t, t0, dec.clone(), heard.clone()));
        }
    }));
    // Everyone else sends video only, so the receiver's mix is the beep over silence.
    super::run::send_ordinary(&mut receiver, &opts.media_dir, VideoCodec::H264, false)?;
    // Two more ordinary participants make it benchmark A's room of four.
    let mut others = Vec::new();
    for n in 0..2 {
        let mut o = Session::join(opts.addr, &room, &format!("probe-other-{n}"), media).await?;
        super::run::send_ordinary(&mut o, &opts.media_dir, VideoCodec::H264, false)?;
        others.push(o);
    }
    let marks = send_marks(&sender, flash, beep, (onset_packet, onset_at))?;
    let (flashes_sent, beeps_sent) = (marks.flashes.clone(), marks.beeps.clone());
    // The window opens only once the receiver shows the first flash and sounds the first beep
    // (joining and the first keyframe take longer on a loaded machine than any fixed wait), then
    // after `warmup` more for the server's audio allowance to settle.
    let started = Instant::now();
    let seen_any = |m: &Arc<Mutex<Vec<Instant>>>| !m.lock().is_empty();
    while !(seen_any(&flashes_seen) && seen_any(&beeps_heard)) && started.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(opts.warmup).await;
    let from = Instant::now();
    tokio::time::sleep(opts.duration).await;
    let snapshot = |m: &Arc<Mutex<Vec<Instant>>>| -> Vec<Instant> { m.lock().iter().copied().filter(|t| *t >= from).collect() };
    let within = Duration::from_millis(500);
    let report = LatencyReport {
        video_ms: match_up(&snapshot(&flashes_sent), &snapshot(&flashes_seen), within),
        audio_ms: match_up(&snapshot(&beeps_sent), &snapshot(&beeps_heard), within),
    };
    marks.stop().await;
    sender.close(true).await;
    receiver.close(true).await;
    for o in others {
        o.close(true).await;
    }
    drop(decoder);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(10.0));
        assert_eq!(percentile(&v, 95.0), Some(19.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn arrivals_match_the_latest_earlier_send() {
        let t = Instant::now();
        let ms = |n| t + Duration::from_millis(n);
        let sent = [ms(0), ms(500), ms(1000)];
        let got = match_up(&sent, &[ms(40), ms(560), ms(1900)], Duration::from_millis(500));
        assert_eq!(got.len(), 2, "an arrival a whole loop late matches nothing: {got:?}");
        assert!((got[0] - 40.0).abs() < 0.5 && (got[1] - 60.0).abs() < 0.5, "{got:?}");
    }

    #[test]
    fn the_beep_reference_is_where_a_looping_decoder_hears_it() {
        gst::init().expect("gstreamer");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/loadgen");
        prepare(&dir).expect("probe media");
        let file = RtpFile::load(&beep_file(&dir), 48_000, 960).expect("beep file");
        let reference = beep_onset(&file).expect("the beep sounds");
        assert_eq!(onset_after_loops(&file, 4), Some(reference), "the reference is the steady state");
        assert_ne!(onset_after_loops(&file, 0), Some(reference), "a fresh decoder hears the beep elsewhere");
    }

    #[test]
    fn the_onset_is_the_first_loud_sample() {
        let mut pcm = vec![0i16; 960];
        pcm[480] = 9000;
        assert_eq!(onset(&pcm), Some(Duration::from_millis(10)));
        assert_eq!(onset(&[100i16; 960]), None);
    }

    #[test]
    fn luma_is_read_from_the_tile_middle() {
        let (w, h) = (64usize, 32usize);
        let mut f = vec![16u8; w * h * 3 / 2];
        for y in 0..h {
            f[y * w..y * w + w / 2].fill(235);
        }
        let left = layout::Rect { x: 0, y: 0, w: 32, h: 32 };
        let right = layout::Rect { x: 32, y: 0, w: 32, h: 32 };
        assert_eq!(mean_luma(&f, w, left), 235.0);
        assert_eq!(mean_luma(&f, w, right), 16.0);
    }
}
