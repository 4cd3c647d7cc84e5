//! The room's chat, shared files and resumable sessions: the actor's side of them. The checks
//! live in [`crate::room::chat`] and [`crate::room::files`]; here the sender is who the room
//! says it is, and everyone is told.

use super::Room;
use crate::protocol::{ChatState, Connection, FileInfo};
use crate::room::chat::{ChatError, Sender};
use crate::room::files::{FileError, Slot};
use crate::room::{ParticipantInfo, Resumed, RoomEvent, SessionView};
use std::time::Instant;

impl Room {
    pub(super) fn chat_state(&self) -> ChatState {
        ChatState { enabled: self.spec.settings.chat_enabled, history: self.chat.history() }
    }

    pub(super) fn post_chat(&mut self, id: &str, text: &str) -> Result<(), ChatError> {
        let m = self.members.iter().find(|m| m.info.id == id).ok_or(ChatError::NotJoined)?;
        let from = Sender { id: &m.info.id, name: &m.info.name };
        let msg = self.chat.post(from, text, self.spec.settings.chat_enabled, Instant::now())?;
        tracing::debug!(participant = %id, bytes = text.len(), "chat");
        self.broadcast(RoomEvent::Chat(msg), None);
        Ok(())
    }

    pub(super) fn reserve_file(&mut self, identity: &str, file_name: &str, content_type: &str, size: u64) -> Result<Slot, FileError> {
        if !self.spec.settings.chat_enabled {
            return Err(FileError::ChatDisabled);
        }
        let m = self.members.iter().find(|m| m.info.identity == identity).ok_or(FileError::NotInRoom)?;
        let who = (m.info.id.clone(), m.info.name.clone());
        self.files.reserve(&self.spec.id, (&who.0, &who.1), file_name, content_type, size)
    }

    /// An upload is on disk: announce it in the chat from whoever uploaded it.
    pub(super) fn file_stored(&mut self, id: &str) -> Result<FileInfo, FileError> {
        let stored = self.files.complete(id)?;
        let from = Sender { id: &stored.participant_id, name: &stored.name };
        let msg = self.chat.post_file(from, stored.info.clone(), Instant::now());
        tracing::info!(participant = %stored.participant_id, file = %id, bytes = stored.info.size, "file shared");
        self.broadcast(RoomEvent::Chat(msg), None);
        Ok(stored.info)
    }

    /// Deletes the room's shared files (the room has ended).
    pub(super) async fn remove_files(&self) {
        let dir = self.files.dir().to_owned();
        let removed = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await;
        if let Ok(Err(e)) = removed {
            tracing::warn!(error = %e, "could not remove the room's shared files");
        }
    }

    /// A new signaling connection takes over the session of `token`.
    pub(super) fn resume(&mut self, token: &str, identity: &str) -> Option<Resumed> {
        let m = self.members.iter().find(|m| m.resume_token == token && m.info.identity == identity)?;
        let (participant, resume) = (m.info.clone(), m.resume.clone());
        tracing::info!(participant = %participant.id, "session resumed");
        Some(Resumed { view: self.session_view(participant, token.to_owned()), resume })
    }

    /// `participant`'s view of the room now; it is a member or about to become one.
    pub(super) fn session_view(&self, participant: ParticipantInfo, resume_token: String) -> SessionView {
        let participants = self.members.iter().filter(|o| o.info.id != participant.id).map(|o| o.info.clone()).collect();
        SessionView {
            participant,
            participants,
            recording: self.recording_info(),
            layout: self.layout_info(),
            chat: self.chat_state(),
            locked: self.spec.settings.locked,
            lobby: self.spec.settings.lobby,
            resume_token,
        }
    }

    /// A participant's network dropped or came back: everyone is told, and their tile's label
    /// says so while it keeps its last picture.
    pub(super) fn set_connection(&mut self, id: &str, connection: Connection) {
        let Some(idx) = self.member_index(id) else { return };
        if self.members[idx].info.connection == connection {
            return;
        }
        self.members[idx].info.connection = connection;
        let info = self.members[idx].info.clone();
        self.show_states(&info);
        tracing::info!(participant = %id, ?connection, "connection");
        self.broadcast(RoomEvent::Updated(info), None);
    }
}
