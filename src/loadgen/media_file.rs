//! Pre-encoded media for the load generator: RTP packets stored as `[u32 BE length][packet]`
//! records. [`prepare`] encodes them once with GStreamer; [`RtpFile::load`] reads them back.

use crate::media::VideoCodec;
use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use rtc::rtp;
use rtc::shared::marshal::Unmarshal;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MediaFileError {
    #[error("cannot read or write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no RTP packets")]
    Empty { path: PathBuf },
    #[error("encoding with GStreamer failed: {0}")]
    Encode(String),
}

/// A looped RTP stream held in memory, its timestamps regular: frame `k` (the `k`-th distinct
/// timestamp) is stamped `k × frame_ticks`.
pub struct RtpFile {
    pub packets: Vec<rtp::Packet>,
    pub clock_rate: u32,
    pub frame_ticks: u32,
}

pub fn video_file(dir: &Path, codec: VideoCodec) -> PathBuf {
    dir.join(match codec {
        VideoCodec::Vp8 => "video-vp8-640x360.rtp",
        VideoCodec::H264 => "video-h264-640x360.rtp",
    })
}

pub fn audio_file(dir: &Path) -> PathBuf {
    dir.join("audio-opus.rtp")
}

impl RtpFile {
    /// Reads `path`, whose frames last `frame_ticks` of `clock_rate`. The timestamps are made
    /// regular: Opus encoders stamp the first packet early by their look-ahead (6.5 ms), which
    /// paced as recorded is a 6.5 ms jolt on every loop.
    pub fn load(path: &Path, clock_rate: u32, frame_ticks: u32) -> Result<Self, MediaFileError> {
        let data = std::fs::read(path).map_err(|source| MediaFileError::Io { path: path.into(), source })?;
        let mut packets: Vec<rtp::Packet> = Vec::new();
        let mut i = 0;
        while i + 4 <= data.len() {
            let len = u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]) as usize;
            i += 4;
            if i + len > data.len() {
                break;
            }
            let mut b = Bytes::copy_from_slice(&data[i..i + len]);
            if let Ok(p) = rtp::Packet::unmarshal(&mut b) {
                packets.push(p);
            }
            i += len;
        }
        if packets.is_empty() {
            return Err(MediaFileError::Empty { path: path.into() });
        }
        Ok(Self::regular(packets, clock_rate, frame_ticks))
    }

    fn regular(mut packets: Vec<rtp::Packet>, clock_rate: u32, frame_ticks: u32) -> Self {
        let mut frame = 0u32;
        let mut prev = None;
        for p in &mut packets {
            if prev.is_some_and(|t| t != p.header.timestamp) {
                frame += 1;
            }
            prev = Some(p.header.timestamp);
            p.header.timestamp = frame.wrapping_mul(frame_ticks);
        }
        Self { packets, clock_rate, frame_ticks }
    }

    /// Length of one loop in clock ticks: one `frame_ticks` per frame.
    pub fn loop_ticks(&self) -> u32 {
        self.packets.last().map_or(0, |p| p.header.timestamp.wrapping_add(self.frame_ticks))
    }

    /// The file looped forever as one new stream: SSRC `ssrc`, payload type `pt`, sequence
    /// numbers and timestamps from random bases. Each packet comes with when it is due after
    /// the stream's start (by its timestamp) and its index in the file.
    pub fn looped(&self, ssrc: u32, pt: u8) -> impl Iterator<Item = Due> + '_ {
        self.looped_from(ssrc, pt, rand::random(), rand::random())
    }

    /// [`RtpFile::looped`] with its first sequence number `seq` and first timestamp `ts` (a
    /// stream that goes on from another file).
    pub fn looped_from(&self, ssrc: u32, pt: u8, seq: u16, ts: u32) -> impl Iterator<Item = Due> + '_ {
        let lap = self.loop_ticks() as u64;
        let laps = if self.packets.is_empty() { 0..0 } else { 0..u64::MAX };
        laps.flat_map(move |l| self.packets.iter().enumerate().map(move |(i, p)| (l, i, p))).enumerate().map(move |(n, (l, index, p))| {
            let ticks = l * lap + p.header.timestamp as u64;
            let mut packet = p.clone();
            packet.header.ssrc = ssrc;
            packet.header.payload_type = pt;
            packet.header.sequence_number = seq.wrapping_add(n as u16);
            packet.header.timestamp = ts.wrapping_add(ticks as u32);
            Due { at: std::time::Duration::from_secs_f64(ticks as f64 / self.clock_rate as f64), index, packet }
        })
    }
}

/// A packet of [`RtpFile::looped`].
pub struct Due {
    /// When it is due, after the stream's start.
    pub at: std::time::Duration,
    /// Its packet's index in the file.
    pub index: usize,
    pub packet: rtp::Packet,
}

fn encode(desc: &str, path: &Path) -> Result<(), MediaFileError> {
    let pipeline = launch(desc)?;
    write_packets(&pipeline, path)
}

fn launch(desc: &str) -> Result<gst::Pipeline, MediaFileError> {
    gst::init().map_err(|e| MediaFileError::Encode(e.to_string()))?;
    gst::parse::launch(desc)
        .map_err(|e| MediaFileError::Encode(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| MediaFileError::Encode("not a pipeline".into()))
}

/// Encodes raw `frames` (each `frame` long, described by `caps`) with `chain` (which ends in an
/// RTP payloader) into an RTP file at `path`.
pub(crate) fn encode_raw(
    caps: &str,
    frame: std::time::Duration,
    frames: impl Iterator<Item = Vec<u8>>,
    chain: &str,
    path: &Path,
) -> Result<(), MediaFileError> {
    let pipeline = launch(&format!("appsrc name=in format=time caps={caps} ! {chain} ! appsink name=out sync=false"))?;
    let src = pipeline
        .by_name("in")
        .and_then(|s| s.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| MediaFileError::Encode("no appsrc named in".into()))?;
    // Everything is queued before the pipeline runs; `write_packets` drains it to EOS.
    src.set_max_bytes(0);
    for (i, data) in frames.enumerate() {
        let mut buf = gst::Buffer::from_mut_slice(data);
        if let Some(b) = buf.get_mut() {
            b.set_pts(gst::ClockTime::from_nseconds(frame.as_nanos() as u64 * i as u64));
            b.set_duration(gst::ClockTime::from_nseconds(frame.as_nanos() as u64));
        }
        src.push_buffer(buf).map_err(|e| MediaFileError::Encode(e.to_string()))?;
    }
    let _ = src.end_of_stream();
    write_packets(&pipeline, path)
}

/// Plays `pipeline` and writes what its appsink `out` receives, until EOS.
fn write_packets(pipeline: &gst::Pipeline, path: &Path) -> Result<(), MediaFileError> {
    let sink = pipeline
        .by_name("out")
        .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| MediaFileError::Encode("no appsink named out".into()))?;
    pipeline.set_state(gst::State::Playing).map_err(|e| MediaFileError::Encode(e.to_string()))?;
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
            out.extend_from_slice(&(map.len() as u32).to_be_bytes());
            out.extend_from_slice(map.as_slice());
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| MediaFileError::Io { path: parent.into(), source })?;
    }
    // Written aside, then renamed: tests running at once may make the same file, and none may
    // read another's half-written copy.
    let tmp = path.with_extension(format!("tmp-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::write(&tmp, out).map_err(|source| MediaFileError::Io { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, path).map_err(|source| MediaFileError::Io { path: path.into(), source })
}

/// A camera picture of `width`×`height` at `kbps` (the load generator's moving ball).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Camera {
    pub width: u32,
    pub height: u32,
    pub kbps: u32,
}

/// Where [`prepare_camera`] keeps `camera`'s clip in `codec`.
pub fn camera_file(dir: &Path, codec: VideoCodec, c: Camera) -> PathBuf {
    let name = match codec {
        VideoCodec::Vp8 => "vp8",
        VideoCodec::H264 => "h264",
    };
    dir.join(format!("camera-{name}-{}x{}-{}k.rtp", c.width, c.height, c.kbps))
}

/// Encodes 10 s of `camera` in `codec` into `dir` unless it exists, as a browser sends a camera
/// (H.264 constrained baseline, VP8 real-time; a keyframe every 2 s), and returns its path.
pub fn prepare_camera(dir: &Path, codec: VideoCodec, c: Camera) -> Result<PathBuf, MediaFileError> {
    let path = camera_file(dir, codec, c);
    if path.exists() {
        return Ok(path);
    }
    let src =
        format!("videotestsrc pattern=ball num-buffers=300 ! video/x-raw,format=I420,width={},height={},framerate=30/1", c.width, c.height);
    let chain = match codec {
        VideoCodec::Vp8 => format!(
            "vp8enc deadline=1 cpu-used=8 end-usage=cbr target-bitrate={} keyframe-max-dist=60 ! rtpvp8pay mtu=1200 pt=96",
            c.kbps * 1000
        ),
        VideoCodec::H264 => format!(
            "x264enc tune=zerolatency speed-preset=ultrafast bitrate={} key-int-max=60 ! video/x-h264,profile=constrained-baseline ! rtph264pay mtu=1200 config-interval=-1 aggregate-mode=zero-latency pt=102",
            c.kbps
        ),
    };
    encode(&format!("{src} ! {chain} ! appsink name=out sync=false"), &path)?;
    Ok(path)
}

/// Encodes the load generator's inputs into `dir` unless they exist: 10 s of 640×360@30 moving
/// picture in VP8 and H.264 (keyframe every 2 s), and 10 s of Opus (20 ms frames).
pub fn prepare(dir: &Path) -> Result<(), MediaFileError> {
    let src = "videotestsrc pattern=ball num-buffers=300 ! video/x-raw,format=I420,width=640,height=360,framerate=30/1";
    let jobs = [
        (video_file(dir, VideoCodec::Vp8), format!("{src} ! vp8enc deadline=1 cpu-used=8 end-usage=cbr target-bitrate=600000 keyframe-max-dist=60 ! rtpvp8pay mtu=1200 pt=96 ! appsink name=out sync=false")),
        (video_file(dir, VideoCodec::H264), format!("{src} ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=600 key-int-max=60 ! video/x-h264,profile=constrained-baseline ! rtph264pay mtu=1200 config-interval=-1 aggregate-mode=zero-latency pt=102 ! appsink name=out sync=false")),
        (audio_file(dir), "audiotestsrc wave=sine freq=440 volume=0.2 num-buffers=500 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=1 ! opusenc frame-size=20 ! rtpopuspay pt=111 ! appsink name=out sync=false".to_owned()),
    ];
    for (path, desc) in jobs {
        if !path.exists() {
            encode(&desc, &path)?;
        }
    }
    Ok(())
}

/// Speech for the audio benchmarks (libopus may code a pure tone as music, more cheaply):
/// espeak-ng reading [`SPEECH`] at 140 words a minute, resampled to 48 kHz mono, Opus in 20 ms
/// frames. Made on first use; needs Debian's `espeak-ng` (`make bench` installs it).
pub fn prepare_speech(dir: &Path) -> Result<PathBuf, MediaFileError> {
    let path = dir.join("speech-opus.rtp");
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).map_err(|source| MediaFileError::Io { path: dir.into(), source })?;
    let wav = dir.join("speech.wav");
    let out = std::process::Command::new("espeak-ng")
        .args(["-s", "140", "-w"])
        .arg(&wav)
        .arg(SPEECH)
        .output()
        .map_err(|e| MediaFileError::Encode(format!("espeak-ng: {e}")))?;
    if !out.status.success() {
        return Err(MediaFileError::Encode(format!("espeak-ng: {}", String::from_utf8_lossy(&out.stderr))));
    }
    let desc = format!(
        "filesrc location={} ! wavparse ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 \
         ! opusenc frame-size=20 ! rtpopuspay pt=111 ! appsink name=out sync=false",
        wav.display()
    );
    encode(&desc, &path)?;
    Ok(path)
}

/// What the benchmarks' speech says (about 25 s read at 140 words a minute).
const SPEECH: &str = "Good morning everyone. Before we start, a quick word about the agenda. \
    We will look at last week's numbers first, then the plan for the release, and then questions. \
    The numbers are better than we expected. Sign ups went up by about twelve percent, \
    and most of that came from the new onboarding flow. Churn stayed flat. \
    For the release, the main risk is the migration, so we will run it twice on a copy first. \
    If anything looks wrong, we stop and roll back. Does anyone have questions so far?";

#[cfg(test)]
mod tests {
    use super::*;

    fn file(timestamps: &[u32], frame_ticks: u32) -> RtpFile {
        let packets = timestamps
            .iter()
            .map(|&t| rtp::Packet { header: rtp::header::Header { timestamp: t, ..Default::default() }, ..Default::default() })
            .collect();
        RtpFile::regular(packets, 48_000, frame_ticks)
    }

    #[test]
    fn timestamps_are_made_regular() {
        // Opus: the first packet is stamped 312 ticks (6.5 ms) early.
        let f = file(&[0, 648, 1608, 2568], 960);
        assert_eq!(f.packets.iter().map(|p| p.header.timestamp).collect::<Vec<_>>(), [0, 960, 1920, 2880]);
        assert_eq!(f.loop_ticks(), 4 * 960);
        // Video: several packets per frame keep sharing their frame's timestamp.
        let f = file(&[7, 7, 3007, 3007, 6007], 3000);
        assert_eq!(f.packets.iter().map(|p| p.header.timestamp).collect::<Vec<_>>(), [0, 0, 3000, 3000, 6000]);
        assert_eq!(f.loop_ticks(), 9000);
    }

    #[test]
    fn a_looped_stream_runs_on_without_gaps() {
        let f = file(&[0, 0, 3000], 3000);
        let due: Vec<Due> = f.looped(7, 102).take(6).collect();
        let ms: Vec<u128> = due.iter().map(|d| d.at.as_millis()).collect();
        assert_eq!(ms, [0, 0, 62, 125, 125, 187], "the second lap follows the first by one loop (6000 ticks at 48 kHz)");
        assert_eq!(due.iter().map(|d| d.index).collect::<Vec<_>>(), [0, 1, 2, 0, 1, 2]);
        let seq: Vec<u16> =
            due.iter().map(|d| d.packet.header.sequence_number.wrapping_sub(due[0].packet.header.sequence_number)).collect();
        assert_eq!(seq, [0, 1, 2, 3, 4, 5]);
        assert!(due.iter().all(|d| d.packet.header.ssrc == 7 && d.packet.header.payload_type == 102));
        assert_eq!(due[3].packet.header.timestamp.wrapping_sub(due[0].packet.header.timestamp), 6000);
    }
}
