//! The composite's ladder as the room sees it: a receiver moved to another rung or canvas (what
//! others see of it is kept in its `ParticipantInfo`), and encoders nobody receives (and the
//! small-screen canvas once none of its encoders is left) stopped.

use super::Room;
use crate::media::ladder::{Canvas, Rung};
use crate::protocol::VideoQuality;
use std::time::Duration;
use tokio::time::Instant;

/// How often the room looks for idle encoders while the ladder may have some.
const REAP_EVERY: Duration = Duration::from_secs(2);

impl Room {
    pub(super) fn set_video_rung(&mut self, id: &str, canvas: Canvas, rung: Option<Rung>, quality: VideoQuality) {
        match self.member_index(id) {
            Some(i) => self.members[i].info.video_quality = Some(quality),
            // A viewer's quality is nobody else's business.
            None if self.is_viewer(id) => {}
            None => return,
        }
        let Some(media) = &mut self.media else { return };
        if let Err(e) = media.video.set_feed(id, canvas, rung) {
            tracing::warn!(participant = %id, error = %e, ?canvas, "could not start the composite's rung");
        }
        self.keep_reaping();
    }

    /// Stops the rungs idle long enough; looks again later while any may fall idle.
    pub(super) fn reap_rungs(&mut self) {
        self.reap_at = None;
        if let Some(media) = &mut self.media {
            media.video.reap_idle_rungs();
        }
        self.keep_reaping();
    }

    /// Schedules the next look for idle rungs, unless one is due already or none can be idle.
    fn keep_reaping(&mut self) {
        if self.reap_at.is_none() && self.media.as_ref().is_some_and(|m| m.video.may_reap()) {
            self.reap_at = Some(Instant::now() + REAP_EVERY);
        }
    }
}
