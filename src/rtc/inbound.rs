//! A track the client sends ([`InboundTrack`]: camera, microphone or shared screen), read into
//! the media graph. The caller (the participant) decides where a track goes and attaches it to
//! the room; this module only moves packets: audio payloads into an [`AudioInput`], video RTP
//! into a [`VideoIngest`], with the PLIs a video sender needs (one at the start, then at most
//! one per `SENDER_PLI_GAP` when the decoder asks) and the RTP metrics.
//!
//! Padding-only packets (bandwidth probes, empty payloads) never reach a video ingest: they
//! carry no picture.
//!
//! Every packet read (padding included) stamps the peer connection's [`MediaPulse`]: whether
//! the client's media still arrives is what keeps its session while its signaling socket is
//! away. A video track's reader also sends the sender the connection's cap as REMB (see
//! `remb.rs`), once a second and at every change.

use super::limit::IngestMeter;
use crate::config::IngestLimitConfig;
use crate::media::audio::AudioInput;
use crate::media::{VideoCodec, VideoIngest};
use crate::metrics::{Kind, Rtp};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::shared::marshal::Marshal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// Why [`InboundTrack::pump_video`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpEnd {
    /// The track ended.
    Ended,
    /// The track goes on, but its ingest left the room's graph.
    Detached,
}

/// Shortest gap between two PLIs we send a sender.
const SENDER_PLI_GAP: Duration = Duration::from_millis(500);

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Video,
}

/// When media from the client last arrived, over all the tracks of one peer connection. Each
/// packet read stamps it (one clock read and one relaxed store); the participant reads it.
#[derive(Debug, Clone)]
pub struct MediaPulse {
    origin: tokio::time::Instant,
    /// Milliseconds from `origin` to the last packet, plus one; 0: none yet.
    last: Arc<AtomicU64>,
}

impl MediaPulse {
    pub fn new() -> Self {
        Self { origin: tokio::time::Instant::now(), last: Arc::new(AtomicU64::new(0)) }
    }

    /// A packet arrived now.
    fn beat(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last.store(ms + 1, Ordering::Relaxed);
    }

    /// When the last packet arrived (to the millisecond), if any did.
    pub fn last(&self) -> Option<tokio::time::Instant> {
        match self.last.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.origin + Duration::from_millis(ms - 1)),
        }
    }
}

impl Default for MediaPulse {
    fn default() -> Self {
        Self::new()
    }
}

/// A remote track, as the peer connection reported it, the pulse its packets stamp, the cap
/// (bits/s) its sender is asked to keep and the limits it is held to (`limit.rs`).
pub struct InboundTrack {
    track: Arc<dyn TrackRemote>,
    pulse: MediaPulse,
    cap: watch::Receiver<Option<u64>>,
    limits: IngestLimitConfig,
}

/// A video track's first packet with a picture: it tells the payload type and codec the sender
/// really uses. [`InboundTrack::pump_video`] feeds it first.
pub struct FirstVideo {
    packet: rtc::rtp::Packet,
    mime: String,
}

impl FirstVideo {
    /// The payload type the sender uses.
    pub fn payload_type(&self) -> u8 {
        self.packet.header.payload_type
    }

    /// The video codec, or the MIME type the sender uses when it is neither VP8 nor H.264.
    pub fn codec(&self) -> Result<VideoCodec, &str> {
        codec_of(&self.mime).ok_or(self.mime.as_str())
    }
}

fn codec_of(mime: &str) -> Option<VideoCodec> {
    if mime.eq_ignore_ascii_case("video/VP8") {
        Some(VideoCodec::Vp8)
    } else if mime.eq_ignore_ascii_case("video/H264") {
        Some(VideoCodec::H264)
    } else {
        None
    }
}

impl InboundTrack {
    pub(super) fn new(
        track: Arc<dyn TrackRemote>,
        pulse: MediaPulse,
        cap: watch::Receiver<Option<u64>>,
        limits: IngestLimitConfig,
    ) -> Self {
        Self { track, pulse, cap, limits }
    }

    /// The webrtc-rs track, for client-side tools (the load generator) that read it themselves.
    pub fn into_remote(self) -> Arc<dyn TrackRemote> {
        self.track
    }

    /// The track's next event; an RTP packet stamps the pulse.
    async fn poll(&self) -> Option<TrackRemoteEvent> {
        let ev = self.track.poll().await;
        if let Some(TrackRemoteEvent::OnRtpPacket(_)) = &ev {
            self.pulse.beat();
        }
        ev
    }

    /// Audio or video (`None`: neither, which a negotiated track never is).
    pub async fn kind(&self) -> Option<MediaKind> {
        match self.track.kind().await {
            RtpCodecKind::Audio => Some(MediaKind::Audio),
            RtpCodecKind::Video => Some(MediaKind::Video),
            _ => None,
        }
    }

    /// Whether the track's id or its stream's id is `id`.
    pub async fn is_named(&self, id: &str) -> bool {
        self.track.track_id().await == id || self.track.stream_id().await == id
    }

    /// Decodes the track's audio into `input` until the track ends (what is over the track's
    /// limits is dropped undecoded).
    pub async fn pump_audio(&self, input: &mut AudioInput) {
        let received = Rtp::received(Kind::Audio);
        let mut meter = IngestMeter::new(&self.limits, Kind::Audio, Instant::now());
        while let Some(ev) = self.poll().await {
            match ev {
                TrackRemoteEvent::OnRtpPacket(p) => {
                    received.count(p.payload.len());
                    if meter.admit(p.payload.len(), Instant::now()) {
                        input.push_rtp(p.header.timestamp, &p.payload);
                    }
                }
                TrackRemoteEvent::OnEnded => break,
                _ => {}
            }
        }
    }

    /// Waits for the first video packet with a picture (`None`: the track ended first).
    pub async fn first_video(&self) -> Option<FirstVideo> {
        let packet = loop {
            match self.poll().await {
                // Padding-only packets (bandwidth probes) carry no picture.
                Some(TrackRemoteEvent::OnRtpPacket(p)) if p.payload.is_empty() => {}
                Some(TrackRemoteEvent::OnRtpPacket(p)) => break p,
                Some(TrackRemoteEvent::OnEnded) | None => return None,
                Some(_) => {}
            }
        };
        let mime = self.track.codec(packet.header.ssrc).await.map(|c| c.mime_type).unwrap_or_default();
        Some(FirstVideo { packet, mime })
    }

    /// Reads the track until it ends, counting into `frames` the packets that end a frame (the
    /// RTP marker of a video track); nothing is decoded.
    pub async fn count_frames(&self, frames: &std::sync::atomic::AtomicU64) {
        while let Some(ev) = self.poll().await {
            match ev {
                TrackRemoteEvent::OnRtpPacket(p) if p.header.marker => {
                    frames.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                TrackRemoteEvent::OnEnded => return,
                _ => {}
            }
        }
    }

    /// Reads the track, dropping what arrives, until it ends (its media still stamps the
    /// connection's pulse).
    pub async fn drain(&self) {
        while let Some(ev) = self.poll().await {
            if matches!(ev, TrackRemoteEvent::OnEnded) {
                return;
            }
        }
    }

    /// Sends the sender of `media_ssrc` the cap `bps` (nothing while there is none).
    async fn remb(&self, bps: Option<u64>, media_ssrc: u32) {
        if let Some(bps) = bps {
            let _ = self.track.write_rtcp(vec![Box::new(super::remb::packet(bps, media_ssrc))]).await;
        }
    }

    /// Feeds the track's video into `ingest`, `first` first, until the track ends or the room
    /// takes the ingest out of its graph (see [`PumpEnd`]). Asks the sender for a keyframe at
    /// once (the decoder starts from nothing), then whenever the ingest asks, at most once per
    /// `SENDER_PLI_GAP` (500 ms); sends it the cap as REMB. What is over the track's limits is
    /// dropped before the ingest sees it.
    pub async fn pump_video(&self, first: FirstVideo, ingest: &mut VideoIngest) -> PumpEnd {
        let first = first.packet;
        let media_ssrc = first.header.ssrc;
        let received = Rtp::received(Kind::Video);
        let mut meter = IngestMeter::new(&self.limits, Kind::Video, Instant::now());
        received.count(first.payload.len());
        let plis = crate::metrics::plis_sent();
        let pli = || {
            let t = self.track.clone();
            plis.increment(1);
            async move {
                let _ = t.write_rtcp(vec![Box::new(PictureLossIndication { sender_ssrc: 0, media_ssrc })]).await;
            }
        };
        pli().await;
        let mut last_pli = Instant::now();
        if let Ok(b) = first.marshal() {
            ingest.push_rtp(b.freeze());
        }
        let mut cap = self.cap.clone();
        let mut remb_tick = tokio::time::interval(super::remb::EVERY);
        remb_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // The first tick is at once.
                _ = remb_tick.tick() => {
                    let bps = *cap.borrow();
                    self.remb(bps, media_ssrc).await;
                }
                Ok(()) = cap.changed() => {
                    let bps = *cap.borrow_and_update();
                    self.remb(bps, media_ssrc).await;
                }
                ev = self.poll() => match ev {
                    Some(TrackRemoteEvent::OnRtpPacket(p)) if p.payload.is_empty() => {}
                    Some(TrackRemoteEvent::OnRtpPacket(p)) => {
                        received.count(p.payload.len());
                        if meter.admit(p.payload.len(), Instant::now())
                            && let Ok(b) = p.marshal()
                        {
                            ingest.push_rtp(b.freeze());
                        }
                    }
                    Some(TrackRemoteEvent::OnEnded) | None => return PumpEnd::Ended,
                    Some(_) => {}
                },
                _ = &mut ingest.detached => return PumpEnd::Detached,
                Some(()) = ingest.keyframe_requests.recv() => {
                    if last_pli.elapsed() >= SENDER_PLI_GAP {
                        last_pli = Instant::now();
                        pli().await;
                    }
                }
            }
        }
    }
}
