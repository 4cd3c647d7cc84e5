//! What the room's composite shows: the layout in effect, the pinned participant, the shared
//! screen (one at a time) and who is talking (from the mixer's speaker detector). Everyone is
//! told the layout (`layoutChanged`) and who talks (`activeSpeakers`), each only on change.
//!
//! Invariants: `pin`, `screen` and the speakers only name members (cleared when they leave);
//! while a screen is shared the composite shows `presentation` unless the host chose a layout
//! since; a layout change never adds or removes an element (pads move, see `media::stage`).

use super::Room;
use crate::media::VideoCodec;
use crate::media::VideoIngest;
use crate::media::speaker::SpeakerUpdate;
use crate::media::video::LayoutChoice;
use crate::protocol::{LayoutInfo, SpeakerInfo};
use crate::room::{ManageError, RoomEvent, RoomMediaError};
use tokio::sync::mpsc;

pub(super) struct View {
    pub pin: Option<String>,
    /// Who shares a screen.
    pub screen: Option<String>,
    /// The screen share switched the composite to `presentation` (until the host picks another).
    pub presenting: bool,
    pub dominant: Option<String>,
    pub speakers: Vec<SpeakerInfo>,
    /// The last layout everyone was told.
    announced: LayoutInfo,
    pub speaker_tx: mpsc::UnboundedSender<SpeakerUpdate>,
    pub speaker_rx: mpsc::UnboundedReceiver<SpeakerUpdate>,
}

impl View {
    pub fn new() -> Self {
        let (speaker_tx, speaker_rx) = mpsc::unbounded_channel();
        Self {
            pin: None,
            screen: None,
            presenting: false,
            dominant: None,
            speakers: Vec::new(),
            announced: LayoutInfo::default(),
            speaker_tx,
            speaker_rx,
        }
    }
}

impl Room {
    pub(super) fn layout_info(&self) -> LayoutInfo {
        let v = &self.view;
        let layout = if v.screen.is_some() && v.presenting { "presentation".to_owned() } else { self.spec.settings.layout.clone() };
        LayoutInfo { layout, pinned_participant_id: v.pin.clone(), screen_participant_id: v.screen.clone() }
    }

    /// Shows the current choice on the composite and tells everyone if the layout changed.
    pub(super) fn apply_view(&mut self) {
        let info = self.layout_info();
        let choice = LayoutChoice {
            layout: info.layout.clone(),
            speaker: self.view.dominant.clone(),
            pinned: self.view.pin.clone(),
            screen: self.view.screen.clone(),
            hide_audio_only: self.spec.settings.hide_audio_only,
            talking: self.view.speakers.iter().map(|s| s.participant_id.clone()).collect(),
        };
        if let Some(m) = self.media.as_mut() {
            m.video.set_layout(choice);
        }
        if info != self.view.announced {
            tracing::info!(layout = %info.layout, pinned = ?info.pinned_participant_id, screen = ?info.screen_participant_id, "layout changed");
            self.view.announced = info.clone();
            self.broadcast(RoomEvent::LayoutChanged(info), None);
        }
    }

    pub(super) fn on_speakers(&mut self, u: SpeakerUpdate) {
        let member = |id: &str| self.members.iter().any(|m| m.info.id == id);
        let dominant = u.dominant.filter(|d| member(d));
        let speakers: Vec<SpeakerInfo> =
            u.active.into_iter().filter(|s| member(&s.id)).map(|s| SpeakerInfo { participant_id: s.id, level: s.level }).collect();
        if dominant == self.view.dominant && speakers == self.view.speakers {
            return;
        }
        self.view.dominant = dominant.clone();
        self.view.speakers = speakers.clone();
        self.apply_view();
        self.broadcast(RoomEvent::ActiveSpeakers { dominant, speakers }, None);
    }

    /// Only a member can be pinned (the pin is a live setting of the room, not stored).
    pub(super) fn check_pin(&self, id: &str) -> Result<(), ManageError> {
        match self.member_index(id) {
            Some(_) => Ok(()),
            None => Err(ManageError::NoParticipant(id.to_owned())),
        }
    }

    pub(super) fn attach_screen(&mut self, id: &str, codec: VideoCodec, payload_type: u8) -> Result<VideoIngest, RoomMediaError> {
        if let Some(other) = self.view.screen.as_ref().filter(|s| *s != id) {
            let name = self.members.iter().find(|m| &m.info.id == other).map(|m| m.info.name.clone()).unwrap_or_else(|| other.clone());
            return Err(RoomMediaError::ScreenBusy(name));
        }
        let ingest = match self.member_media(id).and_then(|m| Ok(m.video.attach_screen(id, codec, payload_type)?)) {
            Ok(i) => i,
            Err(e) => {
                // A failed re-share took the old screen off the canvas: say so everywhere.
                self.detach_screen(id);
                return Err(e);
            }
        };
        tracing::info!(participant = %id, ?codec, "screen share started");
        self.view.screen = Some(id.to_owned());
        self.view.presenting = true;
        self.apply_view();
        Ok(ingest)
    }

    pub(super) fn detach_screen(&mut self, id: &str) {
        if self.view.screen.as_deref() != Some(id) {
            return;
        }
        if let Some(m) = self.media.as_mut() {
            m.video.detach_screen(id);
        }
        tracing::info!(participant = %id, "screen share stopped");
        self.view.screen = None;
        self.view.presenting = false;
        self.apply_view();
    }

    /// `id` left: it holds no role any more.
    pub(super) fn forget_in_view(&mut self, id: &str) {
        if self.view.screen.as_deref() == Some(id) {
            self.view.screen = None;
            self.view.presenting = false;
        }
        if self.view.pin.as_deref() == Some(id) {
            self.view.pin = None;
        }
        if self.view.dominant.as_deref() == Some(id) {
            self.view.dominant = None;
        }
        self.view.speakers.retain(|s| s.participant_id != id);
        self.apply_view();
    }
}
