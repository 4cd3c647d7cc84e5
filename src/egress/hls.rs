//! HLS for a room (`pipelines/hls.pipeline`: the composite's H.264 as it is plus the full mix as
//! AAC, in MPEG-TS segments written by `hlssink2`): `index.m3u8` and ~2 s segments that start
//! on keyframes (the H.264 composite has one every 2 s at most) in a sliding window, older segments
//! deleted. The API serves them at `/live/{roomId}/…`.
//!
//! Invariants: the room's folder holds only the current window; it is removed when HLS stops
//! (by request, on failure, or because the room ended).

use super::{EgressContext, EgressEvent, OutputPipeline, PipelineGuard, Relay, count_guard};
use crate::media::KeyframeGate;
use futures::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// The playlist's file name.
pub const PLAYLIST: &str = "index.m3u8";

/// The room's handle on its HLS output.
pub struct HlsHandle {
    pub id: String,
    stop: Option<oneshot::Sender<()>>,
}

impl HlsHandle {
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The folder of `room`'s HLS outputs; each output writes in a sub-folder of its own (named
/// after its id), so one being removed never takes the files of the next.
pub fn room_dir(hls_dir: &Path, room: &str) -> PathBuf {
    hls_dir.join(room)
}

/// The folder of the room's current HLS output: the newest with a playlist.
pub fn current_dir(hls_dir: &Path, room: &str) -> Option<PathBuf> {
    std::fs::read_dir(room_dir(hls_dir, room))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter_map(|p| Some((std::fs::metadata(p.join(PLAYLIST)).ok()?.modified().ok()?, p)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
}

/// Removes an output's folder, and the room's folder once it is empty.
fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
}

/// A file name the HLS route may serve: the playlist or a segment, nothing with a path in it.
pub fn servable(name: &str) -> bool {
    name == PLAYLIST
        || (name.starts_with("segment")
            && name.ends_with(".ts")
            && name.len() < 32
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
}

pub fn start(
    ctx: &EgressContext,
    id: &str,
    room: &str,
    relay: Arc<Relay>,
    keyframes: Arc<KeyframeGate>,
    events: mpsc::UnboundedSender<EgressEvent>,
) -> Result<HlsHandle, String> {
    let dir = room_dir(&ctx.hls_dir, room).join(id);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create the HLS folder {}: {e}", dir.display()))?;
    let started = (|| {
        let OutputPipeline { guard, sink, feed } = super::build_output(ctx, &ctx.pipelines.hls, "hls.pipeline", "an hlssink2")?;
        super::set_checked(&sink, "location", dir.join("segment%05d.ts").to_string_lossy().to_string())?;
        super::set_checked(&sink, "playlist-location", dir.join(PLAYLIST).to_string_lossy().to_string())?;
        guard.0.set_state(gst::State::Playing).map_err(|e| format!("the HLS pipeline did not start: {e}"))?;
        Ok::<_, String>((guard, feed))
    })();
    let (guard, feed) = match started {
        Ok(s) => s,
        Err(e) => {
            remove(&dir);
            return Err(e);
        }
    };
    relay.set(Some(feed.clone()));
    keyframes.request(Duration::from_millis(100));
    let (tx, rx) = oneshot::channel();
    let span = tracing::info_span!(parent: None, "hls", id = %id, room = %room);
    span.in_scope(|| tracing::info!(dir = %dir.display(), "hls output started"));
    let task = follow(ctx.clone(), id.to_owned(), dir, guard, relay, rx, events);
    tokio::spawn(task.instrument(span));
    Ok(HlsHandle { id: id.to_owned(), stop: Some(tx) })
}

async fn follow(
    ctx: EgressContext,
    id: String,
    dir: PathBuf,
    guard: PipelineGuard,
    relay: Arc<Relay>,
    mut stop: oneshot::Receiver<()>,
    events: mpsc::UnboundedSender<EgressEvent>,
) {
    let _count = count_guard(&ctx.counts.hls);
    let Some(bus) = guard.0.bus() else { return };
    let mut messages = bus.stream();
    let failed = loop {
        tokio::select! {
            _ = &mut stop => break false,
            msg = messages.next() => match msg {
                None => break true,
                Some(m) => if let gst::MessageView::Error(e) = m.view() {
                    tracing::warn!(error = %e.error(), "hls output failed");
                    break true;
                },
            },
        }
    };
    relay.close();
    // Stopped before its folder goes: a pipeline still writing could put files back.
    guard.stop().await;
    remove(&dir);
    tracing::info!("hls output stopped; files removed");
    if failed {
        let _ = events.send(EgressEvent::OutputEnded { id });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_playlist_and_segments_are_servable() {
        assert!(servable("index.m3u8"));
        assert!(servable("segment00012.ts"));
        for bad in ["../index.m3u8", "segment/../../x.ts", "segment1.ts.tmp", "other.ts", "", "segment%2f.ts"] {
            assert!(!servable(bad), "{bad:?}");
        }
    }
}
