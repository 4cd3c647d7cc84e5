//! The room's encoder branches and who receives them: one branch per codec and [`Feed`] (a
//! canvas at a rung) in use, the receivers subscribed to them, the outputs' taps on the full
//! canvas's L0, and the small-screen canvas ([`super::super::small`]) started with its first
//! feed and stopped when its last feed is reaped.
//!
//! Invariants: a full-canvas L0 branch nobody receives or taps is stopped at once; every other
//! branch [`IDLE_RUNG`] after its last receiver left; the small canvas runs exactly while one
//! of its branches does (the `tessera_small_canvases` gauge counts it); a stopped branch's
//! keyframe gate is forgotten by every receiver.

use super::{RoomVideo, VideoSubscription};
use crate::media::encoder::{self, EncoderBranch, KeyframeGate};
use crate::media::ladder::{Canvas, Feed, IDLE_RUNG, Receiver, Rung, RungFeed};
use crate::media::pipelines::render;
use crate::media::small::SmallCanvas;
use crate::media::tap::EgressTap;
use crate::media::{MediaError, PacketSink, VideoCodec};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// A receiver of the composite: its switch, and the canvas and rung it was last told to take.
pub(super) struct Subscriber {
    pub receiver: Arc<Receiver>,
    pub canvas: Canvas,
    /// `None`: paused.
    pub rung: Option<Rung>,
}

const FULL: Feed = Feed { canvas: Canvas::Full, rung: Rung::L0 };

impl RoomVideo {
    /// Starts the small canvas if it is not running, and shows the room on it.
    fn small_canvas(&mut self) -> Result<&SmallCanvas, MediaError> {
        if self.small.is_none() {
            let cfg = Feed::of(Canvas::Small, Rung::L0).config(&self.cfg);
            let small = SmallCanvas::start(&self.canvas, &render(&self.pipelines.small, &cfg), (cfg.width, cfg.height))?;
            tracing::debug!(width = cfg.width, height = cfg.height, fps = cfg.fps, "small canvas started");
            crate::metrics::small_canvases(1.0);
            self.small = Some(small);
            self.show_small();
        }
        self.small.as_ref().ok_or_else(|| MediaError::Graph("the small canvas vanished".into()))
    }

    /// Stops the small canvas once none of its encoders is left.
    fn stop_small_if_unused(&mut self) {
        if self.encoders.keys().any(|(_, f)| f.canvas == Canvas::Small) {
            return;
        }
        if let Some(small) = self.small.take() {
            small.stop(&self.canvas);
            crate::metrics::small_canvases(-1.0);
            tracing::debug!("small canvas stopped");
            self.rest_canvas_if_unused();
        }
    }

    /// Whether the small canvas runs, and how many tiles it has linked.
    pub fn small_canvas_tiles(&self) -> Option<usize> {
        self.small.as_ref().map(SmallCanvas::linked)
    }

    /// The encoder branch of `codec` for `feed`, started (with its canvas) if none runs yet.
    fn encoder(&mut self, codec: VideoCodec, feed: Feed) -> Result<&EncoderBranch, MediaError> {
        let key = (codec, feed);
        if !self.encoders.contains_key(&key) {
            self.run_canvas()?;
            let encode = match codec {
                VideoCodec::H264 => &self.pipelines.encode_h264,
                VideoCodec::Vp8 => &self.pipelines.encode_vp8,
            };
            let cfg = feed.config(&self.cfg);
            // A feed at its canvas's own size is encoded as it is; a smaller one scaled first.
            let desc = match (feed.canvas, feed.rung) {
                (Canvas::Full, Rung::L0) | (Canvas::Small, Rung::L0 | Rung::L1) => render(encode, &cfg),
                _ => format!("{} ! {}", render(&self.pipelines.rung, &cfg), render(encode, &cfg)),
            };
            let (dropped, offset) = (self.dropped.clone(), self.timestamp_offset);
            let branch = match feed.canvas {
                Canvas::Full => encoder::build(&self.canvas, &self.tee, &desc, dropped, codec, offset)?,
                Canvas::Small => {
                    let (parent, tee) = self.small_canvas()?.encoder_parent();
                    encoder::build(parent, tee, &desc, dropped, codec, offset)
                }?,
            };
            tracing::debug!(?codec, feed = feed.name(), width = cfg.width, height = cfg.height, "encoder started");
            crate::metrics::rung_encoders(feed.name(), 1.0);
            self.encoders.insert(key, branch);
        }
        self.idle_since.remove(&key);
        self.encoders.get(&key).ok_or_else(|| MediaError::Graph("encoder vanished".into()))
    }

    /// Subscribes `id` to the composite in `codec` (its packets go to `sink`) on the full
    /// canvas's L0, starting that encoder if none runs yet, and forces a keyframe so the new
    /// receiver shows a picture promptly. The returned receiver moves between canvases and
    /// rungs with [`RoomVideo::set_feed`].
    pub fn subscribe(&mut self, id: &str, codec: VideoCodec, sink: Arc<dyn PacketSink>) -> Result<VideoSubscription, MediaError> {
        let receiver = Receiver::new(codec, sink, FULL);
        // A second subscription replaces the first, without stopping an encoder it shares.
        self.detach(id);
        self.receivers.insert(id.to_owned(), Subscriber { receiver: receiver.clone(), canvas: Canvas::Full, rung: Some(Rung::L0) });
        self.feed(id, &receiver, FULL)?;
        let rungs = Rung::ALL.map(|r| r.config(&self.cfg));
        let small = Rung::ALL.map(|r| Feed::of(Canvas::Small, r).config(&self.cfg));
        Ok(VideoSubscription {
            receiver,
            nominal_kbps: Rung::nominal_kbps(&self.cfg),
            sizes: rungs.map(|c| (c.width, c.height)),
            small_sizes: small.map(|c| (c.width, c.height)),
        })
    }

    /// Feeds `receiver` from `feed` (started if needed) and asks it for a keyframe.
    fn feed(&mut self, id: &str, receiver: &Arc<Receiver>, feed: Feed) -> Result<(), MediaError> {
        let branch = self.encoder(receiver.codec(), feed)?;
        branch.fanout.add(id, Arc::new(RungFeed { receiver: receiver.clone(), rung: feed }));
        receiver.set_gate(feed, branch.keyframes.clone());
        branch.keyframes.request(Duration::from_millis(100));
        Ok(())
    }

    /// `id` wants `rung` of `canvas` from now on (`None`: no video); it moves at that feed's
    /// next keyframe, asked for now (the small canvas starts if it is not running).
    pub fn set_feed(&mut self, id: &str, canvas: Canvas, rung: Option<Rung>) -> Result<(), MediaError> {
        let Some(sub) = self.receivers.get_mut(id) else { return Ok(()) };
        sub.canvas = canvas;
        sub.rung = rung;
        let receiver = sub.receiver.clone();
        let feed = rung.map(|r| Feed::of(canvas, r));
        receiver.want(feed);
        if let Some(feed) = feed {
            self.feed(id, &receiver, feed)?;
        }
        Ok(())
    }

    /// Whether an encoder may fall idle without an unsubscription saying so (a lower rung, the
    /// small canvas, or L0 after its receivers moved): the room then calls
    /// [`RoomVideo::reap_idle_rungs`] every few seconds.
    pub fn may_reap(&self) -> bool {
        self.small.is_some() || self.encoders.iter().any(|((_, f), b)| *f != FULL || (b.fanout.is_empty() && b.taps.is_empty()))
    }

    /// Stops the encoders nobody has received (and no output has taken) for [`IDLE_RUNG`], and
    /// the small canvas once none of its encoders is left.
    pub fn reap_idle_rungs(&mut self) {
        let now = std::time::Instant::now();
        let keys: Vec<(VideoCodec, Feed)> = self.encoders.keys().copied().collect();
        for key in keys {
            let idle = self.encoders.get(&key).is_some_and(|b| b.fanout.is_empty() && b.taps.is_empty());
            if !idle {
                self.idle_since.remove(&key);
                continue;
            }
            let since = *self.idle_since.entry(key).or_insert(now);
            if now.duration_since(since) >= IDLE_RUNG {
                self.stop_encoder(key);
            }
        }
        self.stop_small_if_unused();
    }

    /// Feeds the H.264 composite (the very access units H.264 receivers of the full canvas's
    /// L0 get) to `tap`, starting that encoder if no receiver uses it, and forces a keyframe
    /// for the tap to start on.
    pub fn add_tap(&mut self, id: &str, tap: Arc<dyn EgressTap>) -> Result<Arc<KeyframeGate>, MediaError> {
        let branch = self.encoder(VideoCodec::H264, FULL)?;
        branch.taps.add(id, tap);
        branch.keyframes.request(Duration::from_millis(100));
        Ok(branch.keyframes.clone())
    }

    /// Stops feeding `id`; the H.264 encoder stops too if nobody else uses it.
    pub fn remove_tap(&mut self, id: &str) {
        if let Some(b) = self.encoders.get(&(VideoCodec::H264, FULL)) {
            b.taps.remove(id);
        }
        self.remove_idle_encoders();
    }

    /// Drops `id`'s subscriptions; a full-canvas L0 encoder nobody receives any more is
    /// removed (other feeds wait for [`RoomVideo::reap_idle_rungs`]).
    pub fn unsubscribe(&mut self, id: &str) {
        self.detach(id);
        self.remove_idle_encoders();
    }

    pub(super) fn detach(&mut self, id: &str) {
        if let Some(sub) = self.receivers.remove(id) {
            sub.receiver.want(None);
        }
        for branch in self.encoders.values() {
            branch.fanout.remove(id);
        }
    }

    fn remove_idle_encoders(&mut self) {
        let idle: Vec<(VideoCodec, Feed)> = self
            .encoders
            .iter()
            .filter(|((_, feed), b)| *feed == FULL && b.fanout.is_empty() && b.taps.is_empty())
            .map(|(k, _)| *k)
            .collect();
        for key in idle {
            self.stop_encoder(key);
        }
    }

    fn stop_encoder(&mut self, key: (VideoCodec, Feed)) {
        self.idle_since.remove(&key);
        let Some(branch) = self.encoders.remove(&key) else { return };
        let tee = match key.1.canvas {
            Canvas::Full => Some(&self.tee),
            Canvas::Small => self.small.as_ref().map(|s| s.encoder_parent().1),
        };
        if let Some(tee) = tee {
            tee.release_request_pad(&branch.tee_pad);
        }
        let _ = branch.bin.set_state(gst::State::Null);
        if let Some(parent) = branch.bin.parent().and_downcast::<gst::Bin>() {
            let _ = parent.remove(&branch.bin);
        }
        for sub in self.receivers.values() {
            sub.receiver.clear_gate(key.1);
        }
        tracing::debug!(codec = ?key.0, feed = key.1.name(), "encoder stopped");
        crate::metrics::rung_encoders(key.1.name(), -1.0);
        self.rest_canvas_if_unused();
    }
}
