//! WHEP viewers: receive-only sessions of the composite and the full mix (nobody subtracted).
//! A viewer is not a member: no tile, no voice, not in `maxParticipants`, the participant list
//! or the webhooks; it is counted apart, at most `max_viewers_per_room` at once. It shares the
//! room's encoders (a rung of the composite, the mixer's shared Opus encode) like any receiver,
//! and keeps the media running while it watches (an empty room's canvas, until the empty
//! timeout ends the room). It hears only the room's end (`Ended`, `Moving`).

use super::Room;
use crate::protocol::ParticipantInfo;
use crate::room::{JoinError, Joined, RoomEvent};
use crate::time::{format_unix, now_unix};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(super) struct Viewer {
    events: mpsc::UnboundedSender<RoomEvent>,
    cancel: CancellationToken,
}

impl Room {
    /// A new viewer: its session's id and channels (`view.participant` is the viewer, with
    /// role `viewer`; nobody else sees it).
    pub(super) fn watch(&mut self) -> Result<Joined, JoinError> {
        self.may_be_entered()?;
        if self.viewers.len() >= self.ctx.max_viewers_per_room {
            return Err(JoinError::TooManyViewers(self.ctx.max_viewers_per_room));
        }
        let id = crate::ids::participant_id();
        let info = ParticipantInfo::arriving(
            id.clone(),
            format!("viewer-{id}"),
            "viewer".into(),
            crate::auth::Role::Viewer,
            false,
            format_unix(now_unix()),
        );
        let (tx, events) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        self.viewers.insert(id.clone(), Viewer { events: tx, cancel: cancel.clone() });
        tracing::info!(viewer = %id, viewers = self.viewers.len(), "viewer joined");
        // Never resumed: nothing holds the sending side.
        let (_, resumes) = mpsc::channel(1);
        Ok(Joined { view: self.session_view(info, String::new()), events, cancel, resumes })
    }

    /// Takes viewer `id` out (its session ended); `false` when it is no viewer.
    pub(super) fn unwatch(&mut self, id: &str) -> bool {
        let Some(v) = self.viewers.remove(id) else { return false };
        v.cancel.cancel();
        if let Some(m) = self.media.as_mut() {
            m.video.remove_participant(id);
            m.audio.remove(id);
        }
        tracing::info!(viewer = %id, viewers = self.viewers.len(), "viewer left");
        self.release_media_if_idle();
        true
    }

    pub(super) fn is_viewer(&self, id: &str) -> bool {
        self.viewers.contains_key(id)
    }

    pub(super) fn viewer_count(&self) -> usize {
        self.viewers.len()
    }

    /// The room's end reaches viewers too (nothing else does).
    pub(super) fn tell_viewers(&self, ev: &RoomEvent) {
        if matches!(ev, RoomEvent::Ended(_) | RoomEvent::Moving) {
            for v in self.viewers.values() {
                let _ = v.events.send(ev.clone());
            }
        }
    }
}
