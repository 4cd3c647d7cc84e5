//! Which size of the composite the participant receives: its rung controller's moves (in
//! `rtc::PeerSession`) and its own `videoPreference` (a cap on the rung, and which canvas: the
//! room's or the small-screen one) are applied here: the room moves the receiver, the client
//! is told (`videoQuality`), and the metrics follow. The controller knows nothing of canvases:
//! the small canvas's sizes stand in for the rungs whose budget they fit (`media::ladder`).
//!
//! Invariant: the `tessera_video_receivers` gauge counts this receiver once, on the rung it was
//! last moved to, from its subscription until [`VideoOut`] is dropped (every exit path).

use super::Participant;
use crate::media::ladder::{Canvas, Receiver, Rung};
use crate::media::video::VideoSubscription;
use crate::protocol::{ServerMessage, VideoCanvas, VideoMode, VideoQuality};
use crate::rtc;
use std::sync::Arc;

/// Tallest `maxHeight` a client may ask for.
pub const MAX_HEIGHT: u32 = 4320;

/// The participant's receiver of the composite.
pub(super) struct VideoOut {
    pub receiver: Arc<Receiver>,
    /// Each rung's size, on the full canvas and on the small one.
    sizes: [(u32, u32); 3],
    small_sizes: [(u32, u32); 3],
    /// The rung it was last moved to (`None`: paused).
    rung: Option<Rung>,
    /// The canvas it receives.
    canvas: VideoCanvas,
}

/// The media layer's name for a canvas.
fn media_canvas(c: VideoCanvas) -> Canvas {
    match c {
        VideoCanvas::Full => Canvas::Full,
        VideoCanvas::Small => Canvas::Small,
    }
}

fn label(rung: Option<Rung>) -> &'static str {
    rung.map_or("paused", Rung::name)
}

impl VideoOut {
    pub fn new(sub: &VideoSubscription) -> Self {
        crate::metrics::receiver_moved(None, Some(label(Some(Rung::L0))));
        Self {
            receiver: sub.receiver.clone(),
            sizes: sub.sizes,
            small_sizes: sub.small_sizes,
            rung: Some(Rung::L0),
            canvas: VideoCanvas::Full,
        }
    }

    /// Each rung's size on the canvas received.
    fn sizes(&self) -> &[(u32, u32); 3] {
        match self.canvas {
            VideoCanvas::Full => &self.sizes,
            VideoCanvas::Small => &self.small_sizes,
        }
    }

    /// What the client is told about `rung`.
    pub fn quality(&self, rung: Option<Rung>, reason: &str, estimate_bps: Option<u64>) -> VideoQuality {
        let (width, height) = rung.map_or((0, 0), |r| self.sizes()[r.index()]);
        VideoQuality {
            rung: label(rung).to_owned(),
            width,
            height,
            reason: reason.to_owned(),
            estimate_kbps: estimate_bps.map(|b| u32::try_from(b / 1000).unwrap_or(u32::MAX)),
            canvas: self.canvas,
        }
    }

    /// The client's cap: the smallest rung at least `max_height` tall on the canvas received
    /// (L0 if none is), then the data-saver mode.
    fn cap(&self, max_height: Option<u32>, mode: VideoMode) -> Option<Rung> {
        let by_height = match max_height {
            Some(h) => Rung::ALL.into_iter().rev().find(|r| self.sizes()[r.index()].1 >= h).unwrap_or(Rung::L0),
            None => Rung::L0,
        };
        match mode {
            VideoMode::Auto => Some(by_height),
            VideoMode::Low => Some(by_height.max(Rung::L1)),
            VideoMode::Off => None,
        }
    }
}

impl Drop for VideoOut {
    fn drop(&mut self) {
        crate::metrics::receiver_moved(Some(label(self.rung)), None);
    }
}

impl Participant {
    /// The rung controller moved the receiver.
    pub(super) async fn on_video_quality(&mut self, d: rtc::Decision) {
        let Some(video) = &mut self.video else { return };
        let from = video.rung;
        if from == d.rung {
            if d.answers_preference {
                let quality = video.quality(d.rung, d.reason.as_str(), d.estimate_bps);
                self.send(ServerMessage::VideoQuality { quality }).await;
            }
            return;
        }
        crate::metrics::receiver_moved(Some(label(from)), Some(label(d.rung)));
        let up = match (from, d.rung) {
            (Some(a), Some(b)) => b < a,
            (None, Some(_)) => true,
            _ => false,
        };
        crate::metrics::rung_switch(up);
        video.rung = d.rung;
        let quality = video.quality(d.rung, d.reason.as_str(), d.estimate_bps);
        tracing::info!(from = label(from), to = label(d.rung), reason = d.reason.as_str(), estimate_bps = ?d.estimate_bps, "composite rung");
        self.room.set_video_rung(&self.id, media_canvas(video.canvas), d.rung, quality.clone()).await;
        self.send(ServerMessage::VideoQuality { quality }).await;
    }

    /// The client's `videoPreference`: kept, and applied now or when the composite starts
    /// (a preference may come before the first answer).
    pub(super) async fn on_video_preference(&mut self, max_height: Option<u32>, mode: VideoMode, canvas: VideoCanvas) {
        if max_height.is_some_and(|h| h == 0 || h > MAX_HEIGHT) {
            let msg = format!("maxHeight must be 1 to {MAX_HEIGHT} pixels, or null for no limit");
            self.send(ServerMessage::error("bad_video_preference", msg)).await;
            return;
        }
        self.video_preference = Some(VideoPreference { max_height, mode, canvas });
        if self.video.is_some() {
            self.apply_video_canvas().await;
            self.apply_video_preference();
        } else if self.sending {
            self.send(ServerMessage::error("no_video", "this session receives no composite video")).await;
        }
    }

    /// Hands the kept preference's cap to the rung controller (its answer comes as a
    /// `videoQuality`).
    pub(super) fn apply_video_preference(&self) {
        if let (Some(video), Some(p)) = (&self.video, self.video_preference) {
            self.peer.set_video_cap(video.cap(p.max_height, p.mode));
        }
    }

    /// Moves the receiver to the kept preference's canvas, at the rung it is on (the controller's
    /// answer to the preference tells the client; the room's view of it changes now).
    pub(super) async fn apply_video_canvas(&mut self) {
        let (Some(video), Some(p)) = (&mut self.video, self.video_preference) else { return };
        if video.canvas == p.canvas {
            return;
        }
        video.canvas = p.canvas;
        let quality = video.quality(video.rung, "limit", None);
        tracing::info!(canvas = ?p.canvas, "composite canvas");
        let rung = video.rung;
        self.room.set_video_rung(&self.id, media_canvas(p.canvas), rung, quality).await;
    }
}

/// What the client last asked of the composite (`videoPreference`).
#[derive(Debug, Clone, Copy)]
pub(super) struct VideoPreference {
    pub max_height: Option<u32>,
    pub mode: VideoMode,
    pub canvas: VideoCanvas,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_follow_height_and_mode() {
        let mut v = VideoOut {
            receiver: dummy(),
            sizes: [(1280, 720), (640, 360), (320, 180)],
            small_sizes: [(360, 640), (360, 640), (180, 320)],
            rung: Some(Rung::L0),
            canvas: VideoCanvas::Full,
        };
        assert_eq!(v.cap(None, VideoMode::Auto), Some(Rung::L0));
        assert_eq!(v.cap(Some(220), VideoMode::Auto), Some(Rung::L1), "220 lines: the 360 rung is the smallest that covers it");
        assert_eq!(v.cap(Some(180), VideoMode::Auto), Some(Rung::L2));
        assert_eq!(v.cap(Some(1080), VideoMode::Auto), Some(Rung::L0), "taller than every rung: the largest");
        assert_eq!(v.cap(None, VideoMode::Low), Some(Rung::L1));
        assert_eq!(v.cap(Some(100), VideoMode::Low), Some(Rung::L2));
        assert_eq!(v.cap(None, VideoMode::Off), None);
        let q = v.quality(None, "bandwidth", Some(80_000));
        assert_eq!((q.rung.as_str(), q.width, q.estimate_kbps), ("paused", 0, Some(80)));
        v.canvas = VideoCanvas::Small;
        assert_eq!(v.cap(Some(640), VideoMode::Auto), Some(Rung::L1), "the small canvas's full size stands for L1");
        assert_eq!(v.cap(Some(300), VideoMode::Auto), Some(Rung::L2));
        let q = v.quality(Some(Rung::L0), "limit", None);
        assert_eq!((q.width, q.height, q.canvas), (360, 640, VideoCanvas::Small));
    }

    fn dummy() -> Arc<Receiver> {
        let (tx, _rx) = tokio::sync::mpsc::channel::<rtc_rtp::Packet>(1);
        Receiver::new(crate::media::VideoCodec::H264, Arc::new(tx), crate::media::ladder::Feed::of(Canvas::Full, Rung::L0))
    }
}
