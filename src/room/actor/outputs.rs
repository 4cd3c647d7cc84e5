//! The room actor's side of its outputs (recording, RTMP, HLS): starting and stopping them on
//! request, on room settings (`autoRecord`, `hls`) and when the room ends, telling participants,
//! and keeping the media alive exactly while participants or outputs need it.

use super::{Media, Room};
use crate::egress::{EgressEvent, MediaRefs, OutputError};
use crate::protocol::RecordingInfo;
use crate::records::StreamView;
use crate::records::recording::{RecordingRecord, RecordingState};
use crate::room::{RoomEvent, RoomMediaError};
use crate::time::format_unix_ms;

/// The media as the egress needs it (`None` when the room has no media now).
pub(super) fn refs(media: &mut Option<Media>) -> Option<MediaRefs<'_>> {
    media.as_mut().map(|m| MediaRefs { video: &mut m.video, audio: &m.audio })
}

fn media_error(e: RoomMediaError) -> OutputError {
    match e {
        RoomMediaError::Media(m) => OutputError::Media(m),
        other => OutputError::Unavailable(format!("the room's media could not start: {other}")),
    }
}

impl Room {
    /// Outputs need an open room (not scheduled, not ended).
    fn check_open(&self) -> Result<(), OutputError> {
        match self.spec.state(crate::time::now_unix()) {
            crate::records::room::RoomState::Open if !self.ended => Ok(()),
            crate::records::room::RoomState::Scheduled => Err(OutputError::NotOpen("the room has not started yet".into())),
            _ => Err(OutputError::NotOpen("the room has ended".into())),
        }
    }

    pub(super) fn recording_info(&self) -> Option<RecordingInfo> {
        self.egress.recording().map(|(id, started_at)| RecordingInfo { id, started_at: format_unix_ms(started_at) })
    }

    pub(super) async fn start_recording(&mut self) -> Result<RecordingRecord, OutputError> {
        self.check_open()?;
        let room_json = self.room_json();
        self.ensure_media().map_err(media_error)?;
        let started = match refs(&mut self.media) {
            Some(m) => self.egress.start_recording(m, room_json).await,
            None => Err(OutputError::Unavailable("the room has no media".into())),
        };
        let rec = match started {
            Ok(rec) => rec,
            Err(e) => {
                self.release_media_if_idle();
                return Err(e);
            }
        };
        match rec.state {
            RecordingState::Recording => {
                if let Some(info) = self.recording_info() {
                    self.broadcast(RoomEvent::RecordingStarted(info), None);
                }
            }
            _ => {
                // Failed at once (no folder, no space): the host is told like any failure.
                self.broadcast(
                    RoomEvent::RecordingStopped { id: rec.id.clone(), state: rec.state.as_str(), reason: rec.reason.clone() },
                    None,
                );
                self.release_media_if_idle();
            }
        }
        Ok(rec)
    }

    pub(super) fn stop_recording(&mut self, id: &str) -> Result<(), OutputError> {
        self.egress.stop_recording(id, refs(&mut self.media))?;
        self.broadcast(RoomEvent::RecordingStopped { id: id.into(), state: RecordingState::Finalizing.as_str(), reason: None }, None);
        self.release_media_if_idle();
        Ok(())
    }

    pub(super) fn start_stream(&mut self, url: &str) -> Result<StreamView, OutputError> {
        self.check_open()?;
        self.ensure_media().map_err(media_error)?;
        let r = match refs(&mut self.media) {
            Some(m) => self.egress.start_stream(m, url),
            None => Err(OutputError::Unavailable("the room has no media".into())),
        };
        if r.is_err() {
            self.release_media_if_idle();
        }
        r
    }

    pub(super) fn stop_stream(&mut self, id: &str) -> Result<StreamView, OutputError> {
        let v = self.egress.stop_stream(id, refs(&mut self.media))?;
        self.release_media_if_idle();
        Ok(v)
    }

    /// Outputs the room's settings ask for when its media starts (the first participant joins
    /// a room without media): a recording (`autoRecord`) and HLS (`hls`).
    pub(super) async fn auto_outputs(&mut self) {
        if self.spec.settings.auto_record && self.egress.recording().is_none() {
            match self.start_recording().await {
                Ok(rec) => tracing::info!(recording = %rec.id, state = rec.state.as_str(), "automatic recording started"),
                Err(e) => tracing::warn!(error = %e, "automatic recording could not start"),
            }
        }
        if self.spec.settings.hls && !self.egress.hls_running() {
            self.apply_hls_setting();
        }
    }

    /// Starts or stops HLS to match the room's `hls` setting (starting needs running media:
    /// otherwise it starts with the first participant).
    pub(super) fn apply_hls_setting(&mut self) {
        if self.spec.settings.hls {
            if let Some(m) = refs(&mut self.media)
                && let Err(e) = self.egress.start_hls(m)
            {
                tracing::warn!(error = %e, "hls could not start");
            }
        } else {
            self.egress.stop_hls(refs(&mut self.media));
            self.release_media_if_idle();
        }
    }

    /// The room ends: every output stops (the recording closes its file) and participants are
    /// told the recording stopped.
    pub(super) fn stop_outputs(&mut self) {
        if let Some((id, _)) = self.egress.recording() {
            self.broadcast(RoomEvent::RecordingStopped { id, state: RecordingState::Finalizing.as_str(), reason: None }, None);
        }
        self.egress.stop_all(refs(&mut self.media));
    }

    pub(super) fn on_egress_event(&mut self, ev: EgressEvent) {
        self.egress.on_event(&ev, refs(&mut self.media));
        if let EgressEvent::RecordingEnded { id, state, reason } = ev
            && state == RecordingState::Failed
        {
            self.broadcast(RoomEvent::RecordingStopped { id, state: state.as_str(), reason }, None);
        }
        self.release_media_if_idle();
    }

    /// Tears the media down when nobody is in the room and no output needs it.
    pub(super) fn release_media_if_idle(&mut self) {
        if self.members.is_empty() && self.viewer_count() == 0 && !self.egress.is_active() && self.media.take().is_some() {
            tracing::info!("nobody in the room or watching it and no output running: media pipeline torn down");
            crate::media::memory::trim_soon();
        }
    }
}
