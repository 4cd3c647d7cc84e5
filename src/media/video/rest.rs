//! The canvas runs only while it is needed: while an encoder branch takes the composite (a
//! receiver of video, a recording or live output's tap, the small canvas's feeds) or a camera
//! or screen is decoded into a tile. Otherwise (an audio-only room, everyone on "Audio only",
//! a room whose last viewer left) the pipeline rests in `PAUSED`: its live sources stop, the
//! compositor stops blending, and the room costs its audio only.
//!
//! Invariants: elements are added to a pipeline that has finished its state change (the
//! caller [`RoomVideo::run_canvas`]es first, which waits); the `tessera_canvases_running`
//! gauge counts the canvases in `PLAYING`. Only sources are in a resting pipeline (no ingest:
//! an `appsrc` would queue stale packets), so resuming starts from fresh frames.

use super::{RoomVideo, Source};
use crate::media::MediaError;
use gstreamer as gst;
use gstreamer::prelude::*;

/// Longest wait for the pipeline to finish a state change (it has no sink to preroll, so it
/// is done at once in practice).
const STATE_WAIT: gst::ClockTime = gst::ClockTime::from_seconds(5);

impl RoomVideo {
    /// Whether something takes or feeds the composite.
    fn canvas_needed(&self) -> bool {
        !self.encoders.is_empty() || self.small.is_some() || self.tiles.iter().any(|t| matches!(t.source, Source::Video(_)))
    }

    /// Whether the canvas is running (`PLAYING`), not resting.
    pub fn canvas_running(&self) -> bool {
        self.pipeline.current_state() == gst::State::Playing
    }

    /// Starts the canvas if it rests; returns once it plays.
    pub(super) fn run_canvas(&self) -> Result<(), MediaError> {
        if self.canvas_running() {
            return Ok(());
        }
        self.settle(gst::State::Playing)?;
        crate::metrics::canvases_running(1.0);
        tracing::debug!("canvas running");
        Ok(())
    }

    /// Rests the canvas if nothing needs it any more.
    pub(super) fn rest_canvas_if_unused(&self) {
        if self.canvas_needed() || !self.canvas_running() {
            return;
        }
        match self.settle(gst::State::Paused) {
            Ok(()) => {
                crate::metrics::canvases_running(-1.0);
                tracing::debug!("canvas resting");
            }
            Err(e) => tracing::warn!(error = %e, "the canvas could not rest"),
        }
    }

    /// Takes the pipeline to `to` and waits until it is there (a live pipeline changes state
    /// asynchronously; elements added mid-transition could be left behind in `PAUSED`).
    pub(super) fn settle(&self, to: gst::State) -> Result<(), MediaError> {
        self.pipeline.set_state(to)?;
        let (done, state, _) = self.pipeline.state(STATE_WAIT);
        done?;
        if state != to {
            return Err(MediaError::Graph(format!("the room pipeline is {state:?}, not {to:?}")));
        }
        Ok(())
    }
}
