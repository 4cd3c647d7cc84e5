//! A participant's media and the room: the client's tracks go in (camera, microphone, or the
//! shared screen as a tile of its own), the room's composite and mix come out. Moving the
//! packets is [`rtc::InboundTrack`]'s and [`rtc::PeerSession`]'s; which track goes where,
//! attaching and detaching it, and what the client is told are decided here.
//!
//! The room's `cameraConstraint` goes to the client (which applies it to its camera) once its
//! camera's track has arrived (a client that sends no camera is not told), and, as a cap on
//! everything the client sends, to its peer connection (REMB, for clients that do not).
//!
//! Invariants: at most one screen task runs; a replacement screen's old tile is detached
//! before the new one attaches (room commands are handled in order). Each ingest task detaches
//! what it attached when its track ends.

use super::Participant;
use crate::protocol::{CameraConstraint, ServerMessage};
use crate::room::{RoomHandle, RoomMediaError};
use crate::rtc;
use tokio::sync::mpsc;
use tracing::Instrument;

impl Participant {
    /// A remote track: the shared screen if the client named it so, else camera or microphone.
    pub(super) async fn on_track(&mut self, track: rtc::InboundTrack) {
        if self.peer.kind() == rtc::PeerKind::Viewer {
            // A viewer only watches: what it sends is read and dropped.
            tracing::info!("a viewer sent a track; it is ignored");
            self.tasks.spawn(async move { track.drain().await }.in_current_span());
            return;
        }
        let (room, id) = (self.room.clone(), self.id.clone());
        let is_screen = match &self.screen_track_id {
            Some(want) => track.kind().await == Some(rtc::MediaKind::Video) && track.is_named(want).await,
            None => false,
        };
        if is_screen {
            if let Some(old) = self.screen_task.take() {
                // A new screen track replaces the old: its tile goes now (commands are handled
                // in order, so this lands before the new one attaches).
                old.abort();
                self.room.detach_screen(&self.id).await;
            }
            let out = self.out.clone();
            self.screen_task = Some(self.tasks.spawn(ingest_video(room, id, track, Some(out)).in_current_span()));
        } else {
            if track.kind().await == Some(rtc::MediaKind::Video) && !self.camera_live {
                self.camera_live = true;
                self.tell_camera().await;
            }
            self.tasks.spawn(ingest_track(room, id, track).in_current_span());
        }
    }

    /// The room's new constraint for the camera: to the client, and as the sender's cap.
    pub(super) async fn on_camera_constraint(&mut self, constraint: CameraConstraint) {
        self.camera = Some(constraint);
        self.cap_sender();
        self.tell_camera().await;
    }

    /// Tells the client the camera's constraint, if it sends a camera and there is one.
    pub(super) async fn tell_camera(&self) {
        if let Some(constraint) = self.camera.filter(|_| self.camera_live) {
            self.send(ServerMessage::CameraConstraint { constraint }).await;
        }
    }

    /// Caps what the client sends at its camera's constraint, with room for a screen while it
    /// shares one (called again after every offer: a share starts and ends with one).
    pub(super) fn cap_sender(&self) {
        if let Some(c) = self.camera {
            self.peer.cap_sender(c.max_bitrate_kbps, self.screen_track_id.is_some());
        }
    }

    /// The client stopped sharing its screen (an offer without `screenTrackId`).
    pub(super) async fn stop_screen(&mut self) {
        if let Some(t) = self.screen_task.take() {
            t.abort();
        }
        self.room.detach_screen(&self.id).await;
    }

    /// Subscribes to the room's composite and mix: the media threads write them straight to
    /// this peer's tracks (through [`rtc::RtpWriter`]) once the connection is up.
    pub(super) async fn start_sending(&mut self) {
        if let Some((codec, sink)) = self.peer.video_sink().await {
            match self.room.subscribe_video(&self.id, codec, sink).await {
                Ok(sub) => {
                    self.peer.watch_receiver(sub.receiver.clone(), sub.nominal_kbps);
                    self.video = Some(super::quality::VideoOut::new(&sub));
                    self.apply_video_canvas().await;
                    self.apply_video_preference();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no composite video");
                    self.send(ServerMessage::error("media_error", format!("the composite video is unavailable: {e}"))).await;
                }
            }
        }
        if let Some(sink) = self.peer.audio_sink().await
            && let Err(e) = self.room.subscribe_audio(&self.id, sink).await
        {
            tracing::warn!(error = %e, "no mixed audio");
            self.send(ServerMessage::error("media_error", format!("the mixed audio is unavailable: {e}"))).await;
        }
    }
}

/// Feeds one remote track into the room until it ends.
async fn ingest_track(room: RoomHandle, id: String, track: rtc::InboundTrack) {
    match track.kind().await {
        Some(rtc::MediaKind::Audio) => {
            let mut input = match room.attach_audio(&id).await {
                Ok(i) => i,
                Err(e) => return tracing::warn!(error = %e, "audio input refused"),
            };
            track.pump_audio(&mut input).await;
        }
        Some(rtc::MediaKind::Video) => ingest_video(room, id, track, None).await,
        None => {}
    }
}

/// Feeds a video track into the room: the camera, or with `screen` (where to report a refusal)
/// the shared screen as a tile of its own.
async fn ingest_video(room: RoomHandle, id: String, track: rtc::InboundTrack, screen: Option<mpsc::Sender<ServerMessage>>) {
    // The first packet tells the payload type the sender really uses.
    let Some(first) = track.first_video().await else { return };
    let codec = match first.codec() {
        Ok(codec) => codec,
        Err(mime) => {
            tracing::warn!(%mime, "video codec not supported; showing placeholder");
            if let Some(out) = &screen {
                let _ = out
                    .send(ServerMessage::error(
                        "screen_share_failed",
                        format!("the screen's codec {mime:?} is not supported (VP8 or H.264)"),
                    ))
                    .await;
            }
            return;
        }
    };
    let attached = match &screen {
        Some(_) => room.attach_screen(&id, codec, first.payload_type()).await,
        None => room.attach_video(&id, codec, first.payload_type()).await,
    };
    let mut ingest = match (attached, &screen) {
        (Ok(i), _) => i,
        (Err(e), Some(out)) => {
            tracing::info!(error = %e, "screen share refused");
            let code = if matches!(e, RoomMediaError::ScreenBusy(_)) { "screen_share_busy" } else { "screen_share_failed" };
            let _ = out.send(ServerMessage::error(code, e.to_string())).await;
            return;
        }
        (Err(e), None) => return tracing::warn!(error = %e, "video input refused"),
    };
    tracing::info!(?codec, pt = first.payload_type(), screen = screen.is_some(), "video input attached");
    if screen.is_some() {
        // A failed screen is over (its sharer was told); the track is read to its end.
        if track.pump_video(first, &mut ingest).await == rtc::PumpEnd::Detached {
            track.drain().await;
        }
        room.detach_screen(&id).await;
        return;
    }
    let mut restarts = Restarts::default();
    let mut first = first;
    loop {
        if track.pump_video(first, &mut ingest).await == rtc::PumpEnd::Ended {
            break;
        }
        // The room took the input out (its decoder failed; or the room's media stopped, and
        // attaching again then fails): a camera comes back on a new decoder from its next
        // keyframe, a few times a minute at most.
        if !restarts.allow(std::time::Instant::now()) {
            tracing::warn!("video input failed again; its placeholder stays until the camera is sent anew");
            track.drain().await;
            break;
        }
        let Some(next) = track.first_video().await else { break };
        let Ok(codec) = next.codec() else { break };
        ingest = match room.attach_video(&id, codec, next.payload_type()).await {
            Ok(i) => i,
            Err(e) => return tracing::debug!(error = %e, "video input not restarted"),
        };
        crate::metrics::video_input_restarts().increment(1);
        tracing::info!(?codec, "video input restarted");
        first = next;
    }
    room.detach_video(&id).await;
}

/// How often a camera's input may be started again after failing: [`Restarts::MAX`] times in
/// any [`Restarts::WINDOW`].
#[derive(Debug, Default)]
struct Restarts(Vec<std::time::Instant>);

impl Restarts {
    const MAX: usize = 5;
    const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

    /// Whether a restart at `now` is within the budget (and counts it if so).
    fn allow(&mut self, now: std::time::Instant) -> bool {
        self.0.retain(|t| now.duration_since(*t) < Self::WINDOW);
        let ok = self.0.len() < Self::MAX;
        if ok {
            self.0.push(now);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::Restarts;
    use std::time::{Duration, Instant};

    #[test]
    fn a_camera_restarts_five_times_a_minute_at_most() {
        let t0 = Instant::now();
        let mut r = Restarts::default();
        for i in 0..5 {
            assert!(r.allow(t0 + Duration::from_secs(i)), "restart {i}");
        }
        assert!(!r.allow(t0 + Duration::from_secs(10)), "a sixth within the minute");
        // At 61 s the restarts of 0 s and 1 s have left the window: two more, not three.
        assert!(r.allow(t0 + Duration::from_secs(61)));
        assert!(r.allow(t0 + Duration::from_secs(61)));
        assert!(!r.allow(t0 + Duration::from_secs(61)));
    }
}
