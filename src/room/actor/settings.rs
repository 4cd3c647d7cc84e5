//! A live room's settings changing: the change is checked against the room's rules
//! (`RoomSettings::check`), stored, then applied to what runs.
//!
//! Invariant: a change is stored before it takes effect, and one that fails a rule or cannot be
//! stored changes nothing.

use super::Room;
use crate::records::settings::{RoomSettings, Rules};
use crate::room::{ManageError, RoomEvent, RoomInfo, RoomUpdate};
use crate::time::now_unix;
use std::sync::atomic::Ordering;

impl Room {
    pub(super) async fn update(&mut self, update: RoomUpdate) -> Result<RoomInfo, ManageError> {
        if self.ended {
            return Err(crate::room::RoomGone.into());
        }
        let RoomUpdate { settings: patch, pin } = update;
        let layout_set = patch.layout.is_some();
        let mut next = self.spec.clone();
        patch.apply(&mut next.settings);
        next.settings.check(Some(&self.spec.settings), self.opened, &self.rules()).map_err(ManageError::Invalid)?;
        if let Some(Some(pin)) = &pin {
            self.check_pin(pin)?;
        }
        self.ctx.store.update_room(&next).await?;
        if let Some(pin) = pin {
            self.view.pin = pin;
        }
        let before = std::mem::replace(&mut self.spec, next);
        self.settings_changed(&before.settings, layout_set);
        tracing::info!("room updated");
        Ok(self.info())
    }

    /// What the live room does when its settings changed (each is read where it is used, so
    /// most need nothing here: the timers, limits and auto-recording read the spec as they go).
    /// Destructured, so a new setting does not compile until its live effect is decided.
    fn settings_changed(&mut self, before: &RoomSettings, layout_set: bool) {
        let RoomSettings {
            name: _,
            starts_at: _,
            ends_at: _,
            empty_timeout_seconds: _,
            max_participants: _,
            composite: _,
            metadata: _,
            auto_record: _,
            hls,
            public,
            layout: _,
            hide_audio_only: _,
            chat_enabled,
            locked,
            lobby,
        } = self.spec.settings.clone();
        self.handle.public.store(public, Ordering::Relaxed);
        if hls != before.hls {
            self.apply_hls_setting();
        }
        if chat_enabled != before.chat_enabled {
            self.broadcast(RoomEvent::ChatChanged(chat_enabled), None);
        }
        if locked != before.locked {
            self.broadcast(RoomEvent::LockChanged(locked), None);
        }
        if lobby != before.lobby {
            self.broadcast(RoomEvent::LobbyChanged(lobby), None);
        }
        // Locked: nobody waiting comes in; the lobby off: everyone waiting does (unless locked).
        if (locked && !before.locked) || (!lobby && before.lobby) {
            self.answer_everyone();
        }
        if layout_set {
            // The host's choice wins over the presentation a screen share switched to.
            self.view.presenting = false;
        }
        // Layout, pin and hideAudioOnly: the composite shows the room's view as it is now.
        self.apply_view();
    }

    /// What this room's settings are checked against.
    fn rules(&self) -> Rules<'_> {
        Rules { now: now_unix(), server_max_participants: self.ctx.max_participants, layouts: &self.ctx.pipelines.layouts }
    }
}
