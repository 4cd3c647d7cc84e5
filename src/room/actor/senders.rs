//! What each participant's camera should send: the size its tile is drawn at in the composite
//! and a bitrate that follows that size (`cameraConstraint`, docs/signaling.md "Sender
//! constraints"). A phone in a 3×3 grid sends ~330 kbit/s of 426×240 instead of its 720p, and
//! the room decodes fewer pixels.
//!
//! After every turn of the actor's loop the room compares each member's camera tile (from
//! [`crate::media::video::RoomVideo::camera_tiles`]) with what that member was last told. A
//! change under 10 % in width, height and bitrate is not worth a message; a bigger tile is told
//! at once (the picture grows now); a smaller one only once it has stayed smaller for
//! [`SHRINK_HOLD`], so a speaker layout's floor moving back and forth does not make the senders
//! go down and up again.
//!
//! Invariant: a member gets its first constraint right after it joins (the join re-tiles the
//! room; its participant task tells the client once its camera arrives), and nothing is held
//! for someone who left.

use super::Room;
use crate::protocol::CameraConstraint;
use crate::records::CompositeConfig;
use crate::room::RoomEvent;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// A camera sends at least this (below it VP8 and H.264 pictures fall apart at 30 fps).
pub const MIN_KBPS: u32 = 100;
/// And at most this: what browsers send a 720p camera by default, so the largest tile never asks
/// for more than a camera sends anyway.
pub const MAX_KBPS: u32 = 2500;
/// A camera's bits for its tile's share of the canvas, against the composite's bits for the same
/// area: its picture is encoded again in the composite, so it must be clearly better than the
/// composite's share (each generation adds artefacts), and a small picture encoded on its own
/// costs more per pixel than the same area inside a large one. ×2 gives a 640×360 tile of a
/// 1500 kbit/s 720p composite 750 kbit/s (what browsers give 360p themselves) and 426×240 333.
pub const SHARE_FACTOR: f64 = 2.0;
/// What a camera whose tile is not drawn is asked for: a thumbnail at [`MIN_KBPS`].
pub const HIDDEN: (u32, u32) = (160, 90);
/// A change smaller than this share of width, height and bitrate is not sent.
pub const MIN_CHANGE: f64 = 0.10;
/// How long a tile must stay smaller before its sender is told to go down.
pub const SHRINK_HOLD: Duration = Duration::from_secs(2);

/// The constraint for a camera tile drawn at `tile` (`None`: not drawn) on `composite`'s canvas.
/// The bitrate follows the area of a 16:9 picture fitted in the tile (cameras are mostly 16:9,
/// and the compositor keeps the aspect ratio): the composite's bitrate × the tile's share of the
/// canvas × [`SHARE_FACTOR`], within [`MIN_KBPS`]..=[`MAX_KBPS`].
pub fn constraint(tile: Option<(u32, u32)>, composite: &CompositeConfig) -> CameraConstraint {
    let Some((width, height)) = tile else {
        return CameraConstraint { width: HIDDEN.0, height: HIDDEN.1, max_bitrate_kbps: MIN_KBPS, shown: false };
    };
    let (w, h) = (f64::from(width), f64::from(height));
    let picture = w.min(h * 16.0 / 9.0) * h.min(w * 9.0 / 16.0);
    let canvas = (f64::from(composite.width) * f64::from(composite.height)).max(1.0);
    let kbps = f64::from(composite.bitrate_kbps) * picture / canvas * SHARE_FACTOR;
    let max_bitrate_kbps = (kbps as u32).clamp(MIN_KBPS, MAX_KBPS);
    CameraConstraint { width, height, max_bitrate_kbps, shown: true }
}

/// Whether `to` differs enough from `from` to be worth telling.
fn differs(from: &CameraConstraint, to: &CameraConstraint) -> bool {
    let apart = |a: u32, b: u32| f64::from(a.abs_diff(b)) >= MIN_CHANGE * f64::from(a.max(1));
    from.shown != to.shown
        || apart(from.width, to.width)
        || apart(from.height, to.height)
        || apart(from.max_bitrate_kbps, to.max_bitrate_kbps)
}

/// Whether `to` asks for less than `from` (held back for [`SHRINK_HOLD`]).
fn shrinks(from: &CameraConstraint, to: &CameraConstraint) -> bool {
    (from.shown && !to.shown)
        || (from.shown == to.shown && u64::from(to.width) * u64::from(to.height) < u64::from(from.width) * u64::from(from.height))
}

/// What one member was told and what waits to be told.
#[derive(Debug, Default)]
pub struct Tracker {
    sent: Option<CameraConstraint>,
    /// A smaller constraint, and since when the tile has been smaller.
    pending: Option<(CameraConstraint, Instant)>,
}

impl Tracker {
    /// The tile's constraint is `target` at `now`: what to tell the member now, if anything.
    pub fn update(&mut self, target: CameraConstraint, now: Instant) -> Option<CameraConstraint> {
        let Some(sent) = self.sent else {
            self.sent = Some(target);
            return Some(target);
        };
        if !differs(&sent, &target) {
            // Back to (about) what the member has: nothing to tell.
            self.pending = None;
            return None;
        }
        if shrinks(&sent, &target) {
            // Smaller since the first shrink seen, even if it shrank again meanwhile.
            let since = self.pending.map_or(now, |(_, since)| since);
            if now < since + SHRINK_HOLD {
                self.pending = Some((target, since));
                return None;
            }
        }
        self.pending = None;
        self.sent = Some(target);
        Some(target)
    }

    /// When a held-back constraint is due.
    pub fn due(&self) -> Option<Instant> {
        self.pending.map(|(_, since)| since + SHRINK_HOLD)
    }
}

/// Every member's tracker.
#[derive(Debug, Default)]
pub struct Senders(HashMap<String, Tracker>);

impl Senders {
    /// When the next held-back constraint is due.
    pub fn due(&self) -> Option<Instant> {
        self.0.values().filter_map(Tracker::due).min()
    }
}

impl Room {
    /// Tells every member whose camera tile changed enough its new constraint (see the module
    /// documentation); called after every turn of the actor's loop.
    pub(super) fn sync_senders(&mut self) {
        if self.ended {
            return;
        }
        let Some(media) = &self.media else {
            self.senders.0.clear();
            return;
        };
        let now = Instant::now();
        let composite = &self.spec.settings.composite;
        for (id, tile) in media.video.camera_tiles() {
            let Some(member) = self.members.iter().find(|m| m.info.id == id) else { continue };
            let tracker = self.senders.0.entry(id.to_owned()).or_default();
            if let Some(c) = tracker.update(constraint(tile, composite), now) {
                tracing::debug!(participant = %id, width = c.width, height = c.height, kbps = c.max_bitrate_kbps, shown = c.shown, "camera constraint");
                let _ = member.events.send(RoomEvent::CameraConstraint(c));
            }
        }
        let members = &self.members;
        self.senders.0.retain(|id, _| members.iter().any(|m| &m.info.id == id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(width: u32, height: u32) -> CameraConstraint {
        constraint(Some((width, height)), &CompositeConfig::default())
    }

    #[test]
    fn bitrate_follows_the_tile_within_bounds() {
        // The default composite: 1280×720 at 1500 kbit/s.
        let full = c(1280, 720);
        assert_eq!((full.width, full.height, full.max_bitrate_kbps, full.shown), (1280, 720, MAX_KBPS, true), "3000 clamped");
        assert_eq!(c(640, 360).max_bitrate_kbps, 750, "2×2");
        assert_eq!(c(426, 240).max_bitrate_kbps, 332, "3×3");
        assert_eq!(c(320, 180).max_bitrate_kbps, 187, "4×4");
        assert_eq!(c(212, 120).max_bitrate_kbps, MIN_KBPS, "6×6: 82 raised to the floor");
        // A wide slot (pinned, above seven tiles: 1280×432) counts the 16:9 picture in it, 768×432.
        assert_eq!(c(1280, 432).max_bitrate_kbps, 1080);
        // A tall cell (two side by side: 640×720) too: 640×360.
        assert_eq!(c(640, 720).max_bitrate_kbps, 750);
        let hidden = constraint(None, &CompositeConfig::default());
        assert_eq!((hidden.width, hidden.height, hidden.max_bitrate_kbps, hidden.shown), (160, 90, MIN_KBPS, false));
        // A richer composite gives more, still within the bounds.
        let rich = CompositeConfig { bitrate_kbps: 4000, ..CompositeConfig::default() };
        assert_eq!(constraint(Some((426, 240)), &rich).max_bitrate_kbps, 886);
        assert_eq!(constraint(Some((1280, 540)), &rich).max_bitrate_kbps, MAX_KBPS, "4500 clamped");
    }

    #[test]
    fn the_first_is_told_at_once_and_small_changes_never() {
        let t0 = Instant::now();
        let mut t = Tracker::default();
        assert_eq!(t.update(c(640, 360), t0), Some(c(640, 360)));
        assert_eq!(t.update(c(640, 360), t0), None, "no change");
        // 620×350 (3 % narrower) and back: below the threshold either way, even after the hold.
        assert_eq!(t.update(c(620, 350), t0), None);
        assert_eq!(t.update(c(620, 350), t0 + SHRINK_HOLD * 2), None);
        assert_eq!(t.update(c(660, 370), t0 + SHRINK_HOLD * 3), None);
        assert_eq!(t.due(), None);
    }

    #[test]
    fn growth_is_told_at_once_and_shrinking_after_the_hold() {
        let t0 = Instant::now();
        let mut t = Tracker::default();
        t.update(c(426, 240), t0);
        // Pinned: larger, told now.
        assert_eq!(t.update(c(1280, 540), t0), Some(c(1280, 540)));
        // Back into the grid: held for SHRINK_HOLD, then told.
        let back = t0 + Duration::from_secs(10);
        assert_eq!(t.update(c(426, 240), back), None);
        assert_eq!(t.due(), Some(back + SHRINK_HOLD));
        assert_eq!(t.update(c(426, 240), back + SHRINK_HOLD - Duration::from_millis(1)), None);
        assert_eq!(t.update(c(426, 240), back + SHRINK_HOLD), Some(c(426, 240)));
        assert_eq!(t.due(), None);
    }

    #[test]
    fn a_floor_that_comes_back_within_the_hold_says_nothing() {
        // The speaker layout's floor leaves a participant and comes back 1 s later: no message.
        let t0 = Instant::now();
        let mut t = Tracker::default();
        t.update(c(1280, 540), t0);
        assert_eq!(t.update(c(320, 180), t0 + Duration::from_secs(1)), None);
        assert_eq!(t.update(c(1280, 540), t0 + Duration::from_secs(2)), None, "back to what it has: nothing to tell");
        assert_eq!(t.due(), None, "nothing held any more");
        assert_eq!(t.update(c(1280, 540), t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn shrinking_twice_waits_from_the_first_shrink() {
        let t0 = Instant::now();
        let mut t = Tracker::default();
        t.update(c(640, 360), t0);
        // 2×2 → 3×3 → 4×4 as people join, one second apart: one message, 2 s after the first.
        assert_eq!(t.update(c(426, 240), t0 + Duration::from_secs(1)), None);
        assert_eq!(t.update(c(320, 180), t0 + Duration::from_secs(2)), None);
        assert_eq!(t.due(), Some(t0 + Duration::from_secs(1) + SHRINK_HOLD));
        assert_eq!(t.update(c(320, 180), t0 + Duration::from_secs(3)), Some(c(320, 180)));
    }

    #[test]
    fn hiding_is_a_shrink_and_showing_a_growth() {
        let t0 = Instant::now();
        let hidden = constraint(None, &CompositeConfig::default());
        let mut t = Tracker::default();
        t.update(c(640, 360), t0);
        assert_eq!(t.update(hidden, t0), None, "covered: held");
        assert_eq!(t.update(hidden, t0 + SHRINK_HOLD), Some(hidden));
        assert_eq!(t.update(c(640, 360), t0 + SHRINK_HOLD), Some(c(640, 360)), "shown again: at once");
        // A hidden tile is told even when the stand-in size is close to the real one.
        let mut small = Tracker::default();
        small.update(c(170, 96), t0);
        assert_eq!(small.update(hidden, t0 + SHRINK_HOLD), None);
        assert_eq!(small.due(), Some(t0 + SHRINK_HOLD * 2));
    }
}
