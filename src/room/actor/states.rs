//! A participant's states as the room shows them: the host's mutes, its own microphone, camera
//! and raised hand (`setState`), and its connection. One place turns them into what the media
//! does ([`Room::show_states`]): in the mix or not, the picture or the name tile, and the
//! label on its tile.
//!
//! Invariant: whatever changed a state, the mix, the cover and the label follow from the whole
//! `ParticipantInfo` (a host's unmute never brings back a voice whose own microphone is off).

use super::Room;
use crate::auth::Role;
use crate::media::TileLabel;
use crate::protocol::{Connection, ParticipantInfo};
use crate::room::{HostGrant, ManageError, RoomEvent, StatePatch};

/// A host who joined as one (not a co-host) is demoted or removed only by a caller that
/// `may` (an API key, or that host itself); `what` names the act in the refusal.
pub(super) fn protect_host(info: &ParticipantInfo, may: bool, what: &str) -> Result<(), ManageError> {
    if info.role == Role::Host && !info.co_host && !may {
        return Err(ManageError::NotAllowed(format!(
            "only an API key can {what} a host who joined as one (other hosts can {what} co-hosts)"
        )));
    }
    Ok(())
}

impl Room {
    /// Sets `id`'s own states; everyone (`id` included) is told when something changed.
    pub(super) fn set_state(&mut self, id: &str, patch: StatePatch) -> Result<ParticipantInfo, ManageError> {
        let idx = self.member_index(id).ok_or_else(|| ManageError::NoParticipant(id.into()))?;
        let StatePatch { mic_off, camera_off, hand_raised } = patch;
        let (before, info) = {
            let m = &mut self.members[idx].info;
            let before = m.clone();
            m.mic_off = mic_off.unwrap_or(m.mic_off);
            m.camera_off = camera_off.unwrap_or(m.camera_off);
            m.hand_raised = hand_raised.unwrap_or(m.hand_raised);
            (before, m.clone())
        };
        if info == before {
            return Ok(info);
        }
        self.show_states(&info);
        tracing::info!(participant = %id, mic_off = info.mic_off, camera_off = info.camera_off, hand_raised = info.hand_raised, "state changed");
        self.broadcast(RoomEvent::Updated(info.clone()), None);
        Ok(info)
    }

    /// Makes `id` a host (a co-host) or a participant again: it is told its role (and, promoted,
    /// its host token), everyone sees its new role. A viewer role is refused (viewers do not
    /// join); a host who joined as one is demoted only when `may_demote_hosts` (an API key, or
    /// stepping down).
    pub(super) fn set_role(
        &mut self,
        id: &str,
        role: Role,
        grant: Option<HostGrant>,
        may_demote_hosts: bool,
    ) -> Result<ParticipantInfo, ManageError> {
        if role == Role::Viewer {
            return Err(ManageError::Invalid("role must be \"host\" or \"participant\"".into()));
        }
        let idx = self.member_index(id).ok_or_else(|| ManageError::NoParticipant(id.into()))?;
        let m = &mut self.members[idx];
        if m.info.role == role {
            return Ok(m.info.clone());
        }
        if role == Role::Participant {
            protect_host(&m.info, may_demote_hosts, "take host powers from")?;
        }
        m.info.role = role;
        m.info.co_host = role == Role::Host;
        let identity = m.info.identity.clone();
        let _ = m.events.send(RoomEvent::RoleChanged { role, grant });
        let info = m.info.clone();
        self.admission.set_co_host(&identity, role == Role::Host);
        tracing::info!(participant = %id, role = ?role, "role changed");
        self.broadcast(RoomEvent::Updated(info.clone()), None);
        Ok(info)
    }

    /// Makes the media show `info`'s states: its voice in the mix only while neither the host
    /// nor its own microphone mutes it, its name tile while either mutes its video, and a
    /// label with its hand, its mute and its connection.
    pub(super) fn show_states(&mut self, info: &ParticipantInfo) {
        let Some(media) = self.media.as_mut() else { return };
        let muted = info.audio_muted || info.mic_off;
        media.audio.set_muted(&info.id, muted);
        if let Err(e) = media.video.set_covered(&info.id, info.video_muted || info.camera_off) {
            tracing::warn!(participant = %info.id, error = %e, "could not cover or uncover the video");
        }
        let label = TileLabel {
            name: info.name.clone(),
            reconnecting: info.connection == Connection::Reconnecting,
            muted,
            hand_raised: info.hand_raised,
        };
        media.video.set_label(&info.id, &label);
    }
}
