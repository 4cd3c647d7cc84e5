//! Egress: what leaves a room besides the call itself. A recording ([`recording`]: MP4 parts
//! that survive `kill -9`), live RTMP pushes ([`rtmp`]) and HLS ([`hls`]). Each output is its
//! own GStreamer pipeline fed through a [`Relay`] tap with the room's **already encoded** H.264
//! composite and its full audio mix, so an output costs an AAC encode and a muxer, never a
//! second video encode.
//!
//! The room actor owns one [`RoomEgress`] and only calls into it; outputs report their ends
//! through [`EgressEvent`]s the actor reads. Invariants: an output's failure (full disk, RTMP
//! server gone, muxer error) ends or retries that output only, never the room (each output has
//! its own pipeline and bus, and its feed drops data rather than wait); every output pipeline
//! is set to `Null` by its [`PipelineGuard`] on every exit path; the counts in [`Counts`] go
//! back to zero when every output has ended (leak tests read them in `/healthz`).

pub mod audio;
pub mod compact;
pub mod feed;
pub mod hls;
pub mod mp4;
pub mod recording;
pub mod rtmp;

use crate::media::audio::AudioMixer;
use crate::media::pipelines::Pipelines;
use crate::media::tap::{EgressTap, TapStatus};
use crate::media::video::RoomVideo;
use crate::media::{KeyframeGate, MediaError};
use crate::records::CompositeConfig;
use crate::records::recording::{RecordingRecord, RecordingState};
use crate::store::Store;
use crate::webhook::Webhooks;
use feed::Feed;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use parking_lot::Mutex;
use recording::{RecordError, RecordingHandle};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Live outputs, for `/healthz` and leak tests.
#[derive(Debug, Default)]
pub struct Counts {
    pub recordings: AtomicUsize,
    pub streams: AtomicUsize,
    pub hls: AtomicUsize,
    /// Output pipelines in existence (each is set to `Null` and freed when its output ends).
    pub pipelines: AtomicUsize,
}

/// Counts one live thing in `c` until dropped.
pub(crate) struct CountGuard<'a>(&'a AtomicUsize);

pub(crate) fn count_guard(c: &AtomicUsize) -> CountGuard<'_> {
    c.fetch_add(1, Ordering::SeqCst);
    CountGuard(c)
}

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What every room's egress is built with.
#[derive(Clone)]
pub struct EgressContext {
    pub store: Store,
    pub webhooks: Webhooks,
    pub pipelines: Arc<Pipelines>,
    pub composite: CompositeConfig,
    pub recordings_dir: PathBuf,
    pub hls_dir: PathBuf,
    /// Recordings running at once on this server.
    pub max_recordings: usize,
    /// RTMP outputs at once per room.
    pub max_streams_per_room: usize,
    /// Length of a recording part before the next one starts.
    pub part_duration: Duration,
    pub counts: Arc<Counts>,
}

/// An output's end or change, reported to its room's actor.
#[derive(Debug, Clone)]
pub enum EgressEvent {
    RecordingEnded {
        id: String,
        state: RecordingState,
        reason: Option<String>,
    },
    /// An output stopped for good by itself (RTMP given up, HLS failed).
    OutputEnded {
        id: String,
    },
}

/// Sets its pipeline to `Null` when dropped (every exit path of an output), and counts it in
/// [`Counts::pipelines`] while it exists.
pub struct PipelineGuard(pub gst::Pipeline, Arc<Counts>);

impl PipelineGuard {
    pub fn new(pipeline: gst::Pipeline, counts: &Arc<Counts>) -> Self {
        counts.pipelines.fetch_add(1, Ordering::SeqCst);
        Self(pipeline, counts.clone())
    }

    /// Stops the pipeline (on a blocking thread) and waits until it has: its files are closed
    /// and nothing writes any more.
    pub async fn stop(self) {
        let p = self.0.clone();
        let _ = tokio::task::spawn_blocking(move || p.set_state(gst::State::Null)).await;
    }
}

impl Drop for PipelineGuard {
    /// Stopping can block (rtmp2sink joins its connection thread), so it runs on a thread of its
    /// own, never on an async worker or a room actor. Not on the runtime's blocking pool: a
    /// runtime shutting down drops blocking tasks that have not started, and the pipeline was
    /// then disposed of while still playing.
    fn drop(&mut self) {
        fn stop(pipeline: gst::Pipeline, counts: Arc<Counts>) {
            let _ = pipeline.set_state(gst::State::Null);
            counts.pipelines.fetch_sub(1, Ordering::SeqCst);
        }
        // Already stopped (`stop`): setting `Null` again cannot block.
        if self.0.current_state() == gst::State::Null {
            return stop(self.0.clone(), self.1.clone());
        }
        let (pipeline, counts) = (self.0.clone(), self.1.clone());
        // A thread refused (the system is out of them) drops the closure unrun: stop here then.
        if let Err(e) = std::thread::Builder::new().name("output-stop".into()).spawn(move || stop(pipeline, counts)) {
            tracing::warn!(error = %e, "no thread to stop an output pipeline on; stopping it here");
            stop(self.0.clone(), self.1.clone());
        }
    }
}

/// A pipeline of `desc` (the file `file` of `pipelines/`), counted in [`Counts::pipelines`],
/// not started, and the bin holding its elements.
pub(crate) fn build_pipeline(ctx: &EgressContext, desc: &str, file: &str) -> Result<(PipelineGuard, gst::Bin), String> {
    let desc = crate::media::pipelines::render(desc, &ctx.composite.l0());
    let bin = gst::parse::bin_from_description(&desc, false).map_err(|e| format!("{file} does not parse: {e}"))?;
    let pipeline = gst::Pipeline::new();
    pipeline.add(&bin).map_err(|e| format!("{file}: {e}"))?;
    Ok((PipelineGuard::new(pipeline, &ctx.counts), bin))
}

/// Sets property `name` of `element` if it has one of the value's type. The pipeline files can
/// be edited, and a property of another type would panic in `set_property`; here it is an error
/// that fails that output only.
pub(crate) fn set_checked(element: &gst::Element, name: &str, value: impl Into<gst::glib::Value>) -> Result<(), String> {
    let value = value.into();
    let kind = element.factory().map(|f| f.name().to_string()).unwrap_or_default();
    match element.find_property(name) {
        Some(p) if value.type_().is_a(p.value_type()) => {
            element.set_property_from_value(name, &value);
            Ok(())
        }
        Some(p) => Err(format!("`{}` ({kind}): property {name} is a {}, not a {}", element.name(), p.value_type(), value.type_())),
        None => Err(format!("`{}` ({kind}) has no property {name}", element.name())),
    }
}

/// An output's pipeline, built from its description in `pipelines/`.
pub(crate) struct OutputPipeline {
    pub guard: PipelineGuard,
    /// The element named `sink`.
    pub sink: gst::Element,
    /// The pipeline's inputs (`video` and `audio` appsrcs), fed by [`Feed`].
    pub feed: Arc<Feed>,
}

/// Builds `desc` (the file `file`, whose `sink` is `kind`) into a pipeline counted in
/// [`Counts::pipelines`]; not started. The error is the reason shown to people.
pub(crate) fn build_output(ctx: &EgressContext, desc: &str, file: &str, kind: &str) -> Result<OutputPipeline, String> {
    let (guard, bin) = build_pipeline(ctx, desc, file)?;
    let appsrc = |name: &str| {
        bin.by_name(name)
            .ok_or_else(|| format!("{file} has no element named `{name}`"))?
            .dynamic_cast::<gst_app::AppSrc>()
            .map_err(|_| format!("`{name}` in {file} is not an appsrc"))
    };
    let feed = Arc::new(Feed::new(appsrc("video")?, appsrc("audio")?));
    let sink = bin.by_name("sink").ok_or_else(|| format!("{file} has no element named `sink` ({kind})"))?;
    Ok(OutputPipeline { guard, sink, feed })
}

/// The tap an output is attached to the room with. The output's current [`Feed`] can change
/// (an RTMP output rebuilds its pipeline on each retry) while the tap stays attached.
#[derive(Default)]
pub struct Relay {
    feed: Mutex<Option<Arc<Feed>>>,
    closed: std::sync::atomic::AtomicBool,
}

impl Relay {
    pub fn set(&self, feed: Option<Arc<Feed>>) {
        *self.feed.lock() = feed;
    }

    /// Detaches for good: the room's media drops the tap at its next frame.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.set(None);
    }

    fn current(&self) -> Option<Arc<Feed>> {
        self.feed.lock().clone()
    }
}

impl EgressTap for Relay {
    fn video(&self, au: &gst::Buffer, caps: &gst::Caps, at: gst::ClockTime) -> TapStatus {
        if self.closed.load(Ordering::Relaxed) {
            return TapStatus::Closed;
        }
        if let Some(f) = self.current() {
            f.video(au, caps, at);
        }
        TapStatus::Open
    }

    /// Outputs get the mix encoded once per room, through [`Relay::encoded_audio`].
    fn audio(&self, _pcm: &[i16], _at: gst::ClockTime) -> TapStatus {
        TapStatus::Open
    }
}

impl Relay {
    /// One AAC frame of the room's full mix (from [`audio::AudioEncoder`]).
    pub fn encoded_audio(&self, frame: &gst::Buffer, caps: &gst::Caps, at: gst::ClockTime) {
        if let Some(f) = self.current().filter(|_| !self.closed.load(Ordering::Relaxed)) {
            f.encoded_audio(frame, caps, at);
        }
    }
}

/// A room's media as the egress needs it.
pub struct MediaRefs<'a> {
    pub video: &'a mut RoomVideo,
    pub audio: &'a AudioMixer,
}

/// The mixer tap of the room's shared audio encoder.
const AUDIO_TAP: &str = "egress-audio";

impl RoomEgress {
    /// Feeds a new output `id`: the composite's access units through a tap on the H.264
    /// encoder, the mix through the room's audio encoder (started with the first output).
    fn attach(&mut self, media: &mut MediaRefs<'_>, id: &str) -> Result<(Arc<Relay>, Arc<KeyframeGate>), OutputError> {
        let encoder = match &self.audio {
            Some(e) => e.clone(),
            None => {
                let e = audio::AudioEncoder::start(&self.ctx).map_err(OutputError::Unavailable)?;
                media.audio.add_tap(AUDIO_TAP, e.clone());
                self.audio = Some(e.clone());
                e
            }
        };
        let relay = Arc::new(Relay::default());
        encoder.add(id, relay.clone());
        match media.video.add_tap(id, relay.clone()) {
            Ok(gate) => Ok((relay, gate)),
            Err(e) => {
                self.detach(Some(media), id);
                Err(e.into())
            }
        }
    }

    /// Stops feeding output `id`; the audio encoder stops with the last output.
    fn detach(&mut self, media: Option<&mut MediaRefs<'_>>, id: &str) {
        let left = self.audio.as_ref().map(|e| e.remove(id)).unwrap_or(0);
        if let Some(m) = media {
            m.video.remove_tap(id);
            if left == 0 {
                m.audio.remove_tap(AUDIO_TAP);
            }
        }
        if left == 0 {
            self.audio = None;
        }
    }
}

/// Errors of output requests.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("no running output {0:?} in this room")]
    NotFound(String),
    #[error("the room already has its maximum of {0} streams")]
    TooManyStreams(usize),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotOpen(String),
    /// The server could not feed the output (its encoder or media failed to start).
    #[error("{0}")]
    Unavailable(String),
    #[error("the room's media could not feed the output: {0}")]
    Media(#[from] MediaError),
}

/// A room's outputs, owned by its actor.
pub struct RoomEgress {
    room_id: String,
    ctx: EgressContext,
    tx: mpsc::UnboundedSender<EgressEvent>,
    recording: Option<RecordingHandle>,
    streams: Vec<rtmp::StreamHandle>,
    hls: Option<hls::HlsHandle>,
    /// The mix encoded once for every output (while any runs).
    audio: Option<Arc<audio::AudioEncoder>>,
}

impl RoomEgress {
    pub fn new(room_id: &str, ctx: EgressContext) -> (Self, mpsc::UnboundedReceiver<EgressEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { room_id: room_id.to_owned(), ctx, tx, recording: None, streams: Vec::new(), hls: None, audio: None }, rx)
    }

    /// Whether any output runs (the room keeps its media while one does, even when empty).
    pub fn is_active(&self) -> bool {
        self.recording.is_some() || !self.streams.is_empty() || self.hls.is_some()
    }

    /// The running recording: id and start (Unix ms).
    pub fn recording(&self) -> Option<(String, i64)> {
        self.recording.as_ref().map(|r| (r.id.clone(), r.started_at))
    }

    pub async fn start_recording(
        &mut self,
        mut media: MediaRefs<'_>,
        room_json: serde_json::Value,
    ) -> Result<RecordingRecord, OutputError> {
        if let Some(r) = &self.recording {
            return Err(RecordError::AlreadyRunning(r.id.clone()).into());
        }
        // Refused before anything is started for it (the place is taken in `recording::start`).
        if self.ctx.counts.recordings.load(Ordering::SeqCst) >= self.ctx.max_recordings {
            return Err(RecordError::TooMany(self.ctx.max_recordings).into());
        }
        let id = format!("rec_{}", crate::ids::random_id(16));
        let (relay, gate) = self.attach(&mut media, &id)?;
        match recording::start(&self.ctx, &id, &self.room_id, room_json, relay, gate, self.tx.clone()).await {
            Ok((rec, Some(handle))) => {
                self.recording = Some(handle);
                Ok(rec)
            }
            Ok((rec, None)) => {
                self.detach(Some(&mut media), &id);
                Ok(rec)
            }
            Err(e) => {
                self.detach(Some(&mut media), &id);
                Err(e.into())
            }
        }
    }

    /// Stops the running recording `id` (it finalizes in the background).
    pub fn stop_recording(&mut self, id: &str, mut media: Option<MediaRefs<'_>>) -> Result<(), OutputError> {
        match self.recording.take() {
            Some(mut r) if r.id == id => {
                r.stop();
                self.detach(media.as_mut(), id);
                Ok(())
            }
            other => {
                self.recording = other;
                Err(OutputError::NotFound(id.into()))
            }
        }
    }

    pub fn start_stream(&mut self, mut media: MediaRefs<'_>, url: &str) -> Result<crate::records::StreamView, OutputError> {
        let live = self.streams.iter().filter(|s| !s.is_stopped()).count();
        if live >= self.ctx.max_streams_per_room {
            return Err(OutputError::TooManyStreams(self.ctx.max_streams_per_room));
        }
        let target = rtmp::RtmpUrl::parse(url).map_err(OutputError::Invalid)?;
        let id = format!("str_{}", crate::ids::random_id(12));
        let (relay, gate) = self.attach(&mut media, &id)?;
        let handle = rtmp::start(&self.ctx, &id, target, relay, gate, self.tx.clone());
        let view = handle.view();
        self.streams.push(handle);
        Ok(view)
    }

    pub fn streams(&self) -> Vec<crate::records::StreamView> {
        self.streams.iter().map(rtmp::StreamHandle::view).collect()
    }

    pub fn stop_stream(&mut self, id: &str, mut media: Option<MediaRefs<'_>>) -> Result<crate::records::StreamView, OutputError> {
        let idx = self.streams.iter().position(|s| s.id == id).ok_or_else(|| OutputError::NotFound(id.into()))?;
        let mut s = self.streams.remove(idx);
        s.stop();
        self.detach(media.as_mut(), id);
        Ok(s.view())
    }

    /// Starts HLS if it is not running.
    pub fn start_hls(&mut self, mut media: MediaRefs<'_>) -> Result<(), OutputError> {
        if self.hls.is_some() {
            return Ok(());
        }
        let id = format!("hls_{}", crate::ids::random_id(12));
        let (relay, gate) = self.attach(&mut media, &id)?;
        match hls::start(&self.ctx, &id, &self.room_id, relay, gate, self.tx.clone()) {
            Ok(h) => {
                self.hls = Some(h);
                Ok(())
            }
            Err(reason) => {
                self.detach(Some(&mut media), &id);
                Err(OutputError::Unavailable(reason))
            }
        }
    }

    pub fn stop_hls(&mut self, mut media: Option<MediaRefs<'_>>) {
        if let Some(mut h) = self.hls.take() {
            h.stop();
            self.detach(media.as_mut(), &h.id);
        }
    }

    pub fn hls_running(&self) -> bool {
        self.hls.is_some()
    }

    /// An output ended by itself: forget it and detach its tap. Returns the recording's end
    /// when it was the recording.
    pub fn on_event(&mut self, ev: &EgressEvent, mut media: Option<MediaRefs<'_>>) {
        let id = match ev {
            EgressEvent::RecordingEnded { id, .. } => {
                if self.recording.as_ref().is_some_and(|r| &r.id == id) {
                    self.recording = None;
                }
                id
            }
            EgressEvent::OutputEnded { id } => {
                self.streams.retain(|s| &s.id != id);
                if self.hls.as_ref().is_some_and(|h| &h.id == id) {
                    self.hls = None;
                }
                id
            }
        };
        self.detach(media.as_mut(), id);
    }

    /// Stops every output (the room ends or its media goes): recordings finalize, streams end,
    /// HLS files are removed.
    pub fn stop_all(&mut self, mut media: Option<MediaRefs<'_>>) {
        if let Some(id) = self.recording.as_ref().map(|r| r.id.clone()) {
            let _ = self.stop_recording(&id, media.as_mut().map(|m| MediaRefs { video: m.video, audio: m.audio }));
        }
        for id in self.streams.iter().map(|s| s.id.clone()).collect::<Vec<_>>() {
            let _ = self.stop_stream(&id, media.as_mut().map(|m| MediaRefs { video: m.video, audio: m.audio }));
        }
        self.stop_hls(media);
    }
}

impl Drop for RoomEgress {
    fn drop(&mut self) {
        self.stop_all(None);
    }
}
