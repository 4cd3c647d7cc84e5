//! One recording: its pipeline (`pipelines/record.pipeline`: the composite's H.264 as it is,
//! the full mix encoded to AAC, MP4 parts written by `splitmuxsink` with robust muxing), its
//! record in the store, and the task that follows it to the end.
//!
//! Crash safety: each part is an MP4 whose header sits at the front in space reserved for the
//! part's whole length and is rewritten every 0.5 s (`reserved-moov-update-period`), so after a
//! `kill -9` the open part is an ordinary, seekable MP4 missing at most the last ~1.5 s. A part
//! closes before its reserve runs out (`max-size-time`); the next one opens on a keyframe.
//!
//! Once a part is finished cleanly (the next one has opened, or the recording ended with
//! end-of-stream) the reserve is given back: the part is rewritten header-first without it
//! (`compact.rs`: a copy beside it, synced, then renamed over it), so a finished part is its
//! media's size plus a header. The open part keeps its reserve; a failed recording's last part
//! is left as it was written.
//!
//! Invariants: the record is stored (state `recording`) before the first byte is written and on
//! every change of state; the pipeline is set to `Null` on every exit path (guard); the server-
//! wide count of running recordings is released exactly once, when the task ends.

use super::feed::Feed;
use super::{Counts, EgressContext, EgressEvent, OutputPipeline, PipelineGuard, Relay};
use crate::media::KeyframeGate;
use crate::records::recording::{PART_PATTERN, RecordingRecord, RecordingState};
use crate::time::now_ms;
use crate::webhook::WebhookEvent;
use futures::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// How long a stopped recording may take to close its open part before it counts as failed.
const FINALIZE_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a running recording asks the composite's encoder for a keyframe.
const KEYFRAME_EVERY: Duration = Duration::from_secs(1);
/// The part header is rewritten this often. What a crash loses is this plus the keyframe
/// interval that splitmuxsink holds back (1 s in `encode-h264.pipeline`): at most ~1.5 s
/// (measured with `kill -9` at every phase of the keyframe interval).
const MOOV_UPDATE: Duration = Duration::from_millis(500);

/// Why a recording could not start.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("a recording of this room is already running ({0})")]
    AlreadyRunning(String),
    #[error("the server already runs its maximum of {0} recordings")]
    TooMany(usize),
    #[error("the recording could not be stored")]
    Store(#[from] crate::store::StoreError),
}

/// The room's handle on a running recording.
pub struct RecordingHandle {
    pub id: String,
    pub started_at: i64,
    stop: Option<oneshot::Sender<()>>,
}

impl RecordingHandle {
    /// Asks the recording to close its open part and finish (asynchronously: its task reports
    /// the end through the room's egress events).
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// One of the server's `max_recordings` places, held by a running recording.
pub(crate) struct Slot(Arc<Counts>);

impl Slot {
    /// Takes a place if fewer than `max` recordings run.
    pub(crate) fn reserve(counts: &Arc<Counts>, max: usize) -> Option<Self> {
        counts.recordings.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1)).ok()?;
        Some(Self(counts.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.recordings.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Starts recording `room_id`. The record is stored first; if the pipeline cannot start (no
/// folder, no space, a bad pipeline file) the recording is returned already `failed`, with the
/// reason, and nothing else is affected.
pub async fn start(
    ctx: &EgressContext,
    id: &str,
    room_id: &str,
    room_json: serde_json::Value,
    relay: Arc<Relay>,
    keyframes: Arc<KeyframeGate>,
    events: mpsc::UnboundedSender<EgressEvent>,
) -> Result<(RecordingRecord, Option<RecordingHandle>), RecordError> {
    // Reserved now, not when the task runs: rooms starting at once cannot pass the limit together.
    let slot = Slot::reserve(&ctx.counts, ctx.max_recordings).ok_or(RecordError::TooMany(ctx.max_recordings))?;
    let id = id.to_owned();
    let mut rec = RecordingRecord {
        id: id.clone(),
        room_id: room_id.to_owned(),
        state: RecordingState::Recording,
        reason: None,
        started_at: now_ms(),
        ended_at: None,
        duration_ms: None,
        bytes: 0,
        parts: Vec::new(),
        dir: ctx.recordings_dir.join(&id),
    };
    ctx.store.put_recording(&rec).await?;
    let span = tracing::info_span!(parent: None, "recording", id = %id, room = %room_id);
    let built = span.in_scope(|| build(ctx, &rec));
    match built {
        Ok((guard, feed)) => {
            relay.set(Some(feed.clone()));
            keyframes.request(Duration::from_millis(100));
            let (stop_tx, stop_rx) = oneshot::channel();
            let handle = RecordingHandle { id: id.clone(), started_at: rec.started_at, stop: Some(stop_tx) };
            span.in_scope(|| tracing::info!(dir = %rec.dir.display(), "recording started"));
            webhook(ctx, "recordingStarted", &room_json, &rec);
            let task = follow(ctx.clone(), rec.clone(), (guard, slot), (relay, feed, keyframes), stop_rx, room_json, events);
            tokio::spawn(task.instrument(span));
            Ok((rec, Some(handle)))
        }
        Err(reason) => {
            span.in_scope(|| tracing::warn!(%reason, "recording failed to start"));
            rec.state = RecordingState::Failed;
            rec.reason = Some(reason);
            rec.ended_at = Some(now_ms());
            super::mp4::refresh_from_disk(&mut rec);
            ctx.store.put_recording(&rec).await?;
            webhook(ctx, "recordingFailed", &room_json, &rec);
            Ok((rec, None))
        }
    }
}

/// Builds and starts the pipeline; the error is the reason shown to people.
fn build(ctx: &EgressContext, rec: &RecordingRecord) -> Result<(PipelineGuard, Arc<Feed>), String> {
    std::fs::create_dir_all(&rec.dir).map_err(|e| format!("cannot create the recording folder {}: {e}", rec.dir.display()))?;
    let OutputPipeline { guard, sink, feed } = super::build_output(ctx, &ctx.pipelines.record, "record.pipeline", "a splitmuxsink")?;
    let part = ctx.part_duration;
    super::set_checked(&sink, "location", rec.dir.join(PART_PATTERN).to_string_lossy().to_string())?;
    super::set_checked(&sink, "start-index", 1i32)?;
    super::set_checked(&sink, "max-size-time", part.as_nanos() as u64)?;
    // The header reserve covers the part plus the wait for the next keyframe, with room to spare;
    // splitmuxsink also starts a new part early should the reserve run low (robust muxing).
    let reserve = part + part / 10 + Duration::from_secs(30);
    // The muxer splitmuxsink made when the bin was parsed: properties must go on it (a muxer
    // set through `muxer` after the pads are linked is ignored, and `muxer-properties` only
    // applies with async-finalize; both leave a header that is never updated).
    let mux = sink
        .dynamic_cast_ref::<gst::ChildProxy>()
        .and_then(|c| c.child_by_name("muxer"))
        .and_then(|o| o.downcast::<gst::Element>().ok())
        .ok_or("record.pipeline: the splitmuxsink has no muxer (async-finalize must be false)")?;
    super::set_checked(&sink, "use-robust-muxing", true)?;
    super::set_checked(&mux, "reserved-max-duration", reserve.as_nanos() as u64)?;
    super::set_checked(&mux, "reserved-moov-update-period", MOOV_UPDATE.as_nanos() as u64)?;
    guard.0.set_state(gst::State::Playing).map_err(|e| format!("the recording pipeline did not start: {e}"))?;
    Ok((guard, feed))
}

fn webhook(ctx: &EgressContext, event: &'static str, room: &serde_json::Value, rec: &RecordingRecord) {
    let mut ev = WebhookEvent::new(event, room.clone());
    ev.recording = serde_json::to_value(crate::wire::RecordingView::new(rec)).ok();
    ev.reason = rec.reason.clone();
    ctx.webhooks.send(ev);
}

/// Follows the recording to its end: parts as they open, an error (failed), the stop request
/// (finalizing, then end-of-stream: complete), and reports the end to the room.
async fn follow(
    ctx: EgressContext,
    mut rec: RecordingRecord,
    (guard, _slot): (PipelineGuard, Slot),
    (relay, feed, keyframes): (Arc<Relay>, Arc<Feed>, Arc<KeyframeGate>),
    mut stop: oneshot::Receiver<()>,
    room_json: serde_json::Value,
    events: mpsc::UnboundedSender<EgressEvent>,
) {
    let Some(bus) = guard.0.bus() else { return };
    let mut messages = bus.stream();
    let mut deadline: Option<tokio::time::Instant> = None;
    // A keyframe every second while recording (the composite has one every 2 s otherwise): a
    // part holds back one keyframe interval, and this keeps what a crash loses under 2 s.
    let mut every_second = tokio::time::interval(KEYFRAME_EVERY);
    // Parts closed while recording, compacting in the background; the highest index handed over.
    let mut compacting: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let mut compacted_up_to = 0u32;
    let outcome: Result<(), String> = loop {
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut stop, if deadline.is_none() => {
                let _ = r;
                rec.state = RecordingState::Finalizing;
                let _ = ctx.store.put_recording(&rec).await;
                feed.finish();
                deadline = Some(tokio::time::Instant::now() + FINALIZE_TIMEOUT);
                tracing::info!("recording stopping: closing the open part");
            }
            _ = timeout => break Err(format!("the open part did not close within {} s", FINALIZE_TIMEOUT.as_secs())),
            _ = every_second.tick(), if deadline.is_none() => {
                keyframes.request(KEYFRAME_EVERY - Duration::from_millis(100));
            }
            msg = messages.next() => {
                let Some(msg) = msg else { break Err("the recording pipeline's bus closed".into()) };
                match msg.view() {
                    gst::MessageView::Eos(_) => break Ok(()),
                    gst::MessageView::Error(e) => {
                        let src = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                        let full = e.error().matches(gst::ResourceError::NoSpaceLeft);
                        let why = if full { " (the disk holding the recordings is full)" } else { "" };
                        break Err(format!("{src}: {}{why}", e.error()));
                    }
                    gst::MessageView::Element(e) => {
                        if let Some(s) = e.structure()
                            && s.name() == "splitmuxsink-fragment-opened"
                        {
                            rec.parts = super::mp4::scan_parts(&rec.dir);
                            tracing::info!(part = rec.parts.len(), "recording part opened");
                            let _ = ctx.store.put_recording(&rec).await;
                            // Every part before the one just opened is closed: give its reserve back.
                            let open = rec.parts.iter().map(|p| p.index).max().unwrap_or(0);
                            let closed: Vec<PathBuf> = rec.parts.iter().filter(|p| p.index > compacted_up_to && p.index < open).map(|p| rec.dir.join(&p.file)).collect();
                            compacted_up_to = compacted_up_to.max(open.saturating_sub(1));
                            if !closed.is_empty() {
                                compacting.push(tokio::task::spawn_blocking(move || closed.iter().for_each(|p| compact_part(p))));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    };
    relay.close();
    feed.close();
    guard.stop().await;
    for task in compacting {
        let _ = task.await;
    }
    if outcome.is_ok() {
        // The pipeline is stopped: every part is closed, the last one included.
        let left: Vec<PathBuf> =
            super::mp4::scan_parts(&rec.dir).into_iter().filter(|p| p.index > compacted_up_to).map(|p| rec.dir.join(p.file)).collect();
        let _ = tokio::task::spawn_blocking(move || left.iter().for_each(|p| compact_part(p))).await;
    }
    let (video, audio) = (feed.video_frames.load(Ordering::Relaxed), feed.audio_frames.load(Ordering::Relaxed));
    tracing::debug!(video, audio, "frames handed to the recording");
    rec.ended_at = Some(now_ms());
    super::mp4::refresh_from_disk(&mut rec);
    match outcome {
        Ok(()) => {
            rec.state = RecordingState::Complete;
            tracing::info!(duration_ms = rec.duration_ms, bytes = rec.bytes, parts = rec.parts.len(), "recording complete");
        }
        Err(reason) => {
            tracing::warn!(%reason, "recording failed");
            rec.state = RecordingState::Failed;
            rec.reason = Some(reason);
        }
    }
    if let Err(e) = ctx.store.put_recording(&rec).await {
        tracing::error!(error = %e, "could not store the recording's end");
    }
    let event = if rec.state == RecordingState::Complete { "recordingFinished" } else { "recordingFailed" };
    webhook(&ctx, event, &room_json, &rec);
    let _ = events.send(EgressEvent::RecordingEnded { id: rec.id.clone(), state: rec.state, reason: rec.reason.clone() });
}

/// Gives a closed part's reserve back ([`super::compact`]); a part that cannot be compacted is
/// left as it was (still a whole, playable file), with a warning.
fn compact_part(path: &std::path::Path) {
    let started = std::time::Instant::now();
    match super::compact::compact(path) {
        Ok(Some(c)) => {
            tracing::info!(part = %path.display(), before = c.before, after = c.after, ms = started.elapsed().as_millis() as u64, "recording part compacted")
        }
        Ok(None) => tracing::debug!(part = %path.display(), "recording part already compact"),
        Err(e) => tracing::warn!(part = %path.display(), error = %e, "recording part left uncompacted"),
    }
}

/// Cluster mode: recordings the dead node `node` was writing become `interrupted`. Their files
/// are on that node's disk, so their parts and size are the last ones it stored.
pub async fn interrupt_orphans(ctx: &EgressContext, node: &str) -> Result<usize, crate::store::StoreError> {
    let cut = ctx.store.active_recordings_on(node).await?;
    for rec in cut.iter().cloned() {
        tracing::warn!(recording = %rec.id, room = %rec.room_id, %node, "recording was interrupted by its node's death");
        let reason = format!("the node {node} recording it stopped; its files hold what was written until then");
        interrupt(ctx, rec, reason, now_ms()).await?;
    }
    Ok(cut.len())
}

/// Stores `rec` as `interrupted` (ended at `ended_at`, Unix ms) and tells the webhook.
async fn interrupt(ctx: &EgressContext, mut rec: RecordingRecord, reason: String, ended_at: i64) -> Result<(), crate::store::StoreError> {
    rec.state = RecordingState::Interrupted;
    rec.reason = Some(reason);
    rec.ended_at = Some(ended_at);
    ctx.store.put_recording(&rec).await?;
    webhook(ctx, "recordingFinished", &serde_json::json!({ "id": rec.room_id }), &rec);
    Ok(())
}

/// At start-up: every recording still marked `recording` or `finalizing` was cut short by the
/// stop. It becomes `interrupted`, with its parts, size and duration read from the files.
pub async fn recover(ctx: &EgressContext) -> Result<usize, crate::store::StoreError> {
    let cut = ctx.store.active_recordings().await?;
    for mut rec in cut.iter().cloned() {
        // A compaction cut short leaves its copy behind; the part itself is whole.
        super::compact::remove_leftovers(&rec.dir);
        super::mp4::refresh_from_disk(&mut rec);
        let last_write = rec
            .parts
            .last()
            .and_then(|p| std::fs::metadata(rec.dir.join(&p.file)).ok())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64);
        let ended_at = last_write.unwrap_or(rec.started_at + rec.duration_ms.unwrap_or(0) as i64);
        tracing::warn!(recording = %rec.id, room = %rec.room_id, duration_ms = rec.duration_ms, "recording was interrupted by a stop");
        let reason = "the server stopped while recording; the files hold what was written until then".to_owned();
        interrupt(ctx, rec, reason, ended_at).await?;
    }
    Ok(cut.len())
}
