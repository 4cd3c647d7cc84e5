//! The room actor: one task per room owning the participant list and the media (video graph +
//! audio mixer). Every change to either goes through its command channel, so no lock guards
//! them. The media exists while at least one participant is in the room.

use super::{Command, JoinError, Joined, MediaStats, RoomContext, RoomEvent, RoomHandle, RoomInfo, RoomMediaError};
use crate::media::audio::AudioMixer;
use crate::media::video::RoomVideo;
use crate::protocol::{LeaveReason, ParticipantInfo};
use crate::room::CountGuard;
use futures::StreamExt;
use gstreamer as gst;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

struct Member {
    info: ParticipantInfo,
    events: mpsc::UnboundedSender<RoomEvent>,
    cancel: CancellationToken,
}

struct Media {
    video: RoomVideo,
    audio: AudioMixer,
    bus: gst::bus::BusStream,
    _count: CountGuard,
}

struct Room {
    handle: RoomHandle,
    ctx: RoomContext,
    members: Vec<Member>,
    media: Option<Media>,
    cancel: CancellationToken,
}

pub(crate) fn spawn(handle: RoomHandle, rx: mpsc::Receiver<Command>, ctx: RoomContext, cancel: CancellationToken) {
    let span = tracing::info_span!(parent: None, "room", id = %handle.id);
    let room = Room { handle, ctx, members: Vec::new(), media: None, cancel };
    tokio::spawn(room.run(rx).instrument(span));
}

async fn next_bus_message(media: &mut Option<Media>) -> Option<gst::Message> {
    match media {
        Some(m) => m.bus.next().await,
        None => std::future::pending().await,
    }
}

impl Room {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        tracing::info!(name = %self.handle.name, "room open");
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => {
                    self.broadcast(RoomEvent::Ended { reason: "server shutting down".into() }, None);
                    break;
                }
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd),
                    None => break,
                },
                Some(msg) = next_bus_message(&mut self.media) => self.on_bus(msg),
            }
        }
        for m in self.members.drain(..) {
            m.cancel.cancel();
        }
        self.media = None;
        tracing::info!("room closed");
    }

    fn broadcast(&self, ev: RoomEvent, except: Option<&str>) {
        for m in self.members.iter().filter(|m| Some(m.info.id.as_str()) != except) {
            let _ = m.events.send(ev.clone());
        }
    }

    fn ensure_media(&mut self) -> Result<&mut Media, RoomMediaError> {
        if self.media.is_none() {
            let video = RoomVideo::new(self.ctx.pipelines.clone(), self.ctx.composite.clone())?;
            let bus = video.bus().ok_or_else(|| crate::media::MediaError::Graph("pipeline has no bus".into()))?.stream();
            let audio = AudioMixer::start(&self.handle.id)?;
            let count = CountGuard::new(&self.ctx.stats, |s| &s.room_media);
            self.media = Some(Media { video, audio, bus, _count: count });
            tracing::info!("media pipeline started");
        }
        self.media.as_mut().ok_or(RoomMediaError::Gone)
    }

    fn is_member(&self, id: &str) -> bool {
        self.members.iter().any(|m| m.info.id == id)
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Join { name, reply } => {
                let _ = reply.send(self.join(name));
            }
            Command::Leave { id, reason } => self.leave(&id, reason),
            Command::AttachVideo { id, codec, payload_type, reply } => {
                let r = self.member_media(&id).and_then(|m| Ok(m.video.attach_video(&id, codec, payload_type)?));
                let _ = reply.send(r);
            }
            Command::DetachVideo { id } => {
                if let Ok(m) = self.member_media(&id)
                    && let Err(e) = m.video.detach_video(&id)
                {
                    tracing::warn!(participant = %id, error = %e, "could not restore placeholder");
                }
            }
            Command::AttachAudio { id, reply } => {
                let r = self.member_media(&id).and_then(|m| Ok(m.audio.add_input(&id)?));
                let _ = reply.send(r);
            }
            Command::SubscribeVideo { id, codec, reply } => {
                let r = self.member_media(&id).and_then(|m| Ok(m.video.subscribe(&id, codec)?));
                let _ = reply.send(r);
            }
            Command::SubscribeAudio { id, reply } => {
                let r = self.member_media(&id).and_then(|m| Ok(m.audio.add_output(&id)?));
                let _ = reply.send(r);
            }
            Command::Info { reply } => {
                let _ = reply.send(self.info());
            }
        }
    }

    fn member_media(&mut self, id: &str) -> Result<&mut Media, RoomMediaError> {
        if !self.is_member(id) {
            return Err(RoomMediaError::NotJoined);
        }
        self.ensure_media()
    }

    fn join(&mut self, name: String) -> Result<Joined, JoinError> {
        if self.cancel.is_cancelled() {
            return Err(JoinError::Gone);
        }
        if self.members.len() >= self.ctx.max_participants {
            return Err(JoinError::Full(self.ctx.max_participants));
        }
        let info = ParticipantInfo { id: crate::ids::participant_id(), name };
        let media = self.ensure_media().map_err(|e| JoinError::Media(e.to_string()))?;
        media.video.add_participant(&info.id, &info.name).map_err(|e| JoinError::Media(e.to_string()))?;
        let (tx, events) = mpsc::unbounded_channel();
        let cancel = self.cancel.child_token();
        let participants = self.members.iter().map(|m| m.info.clone()).collect();
        self.broadcast(RoomEvent::Joined(info.clone()), None);
        tracing::info!(participant = %info.id, name = %info.name, "joined");
        self.members.push(Member { info: info.clone(), events: tx, cancel: cancel.clone() });
        Ok(Joined { participant_id: info.id, participants, events, cancel })
    }

    fn leave(&mut self, id: &str, reason: LeaveReason) {
        let Some(idx) = self.members.iter().position(|m| m.info.id == id) else { return };
        let member = self.members.remove(idx);
        member.cancel.cancel();
        if let Some(m) = self.media.as_mut() {
            m.video.remove_participant(id);
            m.audio.remove(id);
        }
        tracing::info!(participant = %id, ?reason, "left");
        self.broadcast(RoomEvent::Left { id: id.into(), reason }, None);
        if self.members.is_empty() && self.media.take().is_some() {
            tracing::info!("last participant left: media pipeline torn down");
        }
    }

    fn info(&self) -> RoomInfo {
        RoomInfo {
            id: self.handle.id.clone(),
            name: self.handle.name.clone(),
            created_at: self.handle.created_at.clone(),
            participants: self.members.iter().map(|m| m.info.clone()).collect(),
            media: self.media.as_ref().map(|m| {
                let (audio_inputs, audio_outputs) = m.audio.counts();
                MediaStats {
                    elements: m.video.element_count(),
                    tiles: m.video.tile_count(),
                    encoders: m.video.encoder_count(),
                    audio_inputs,
                    audio_outputs,
                }
            }),
        }
    }

    fn on_bus(&mut self, msg: gst::Message) {
        use gst::MessageView;
        let Some(media) = self.media.as_mut() else { return };
        match msg.view() {
            MessageView::Error(err) => {
                let owner = msg.src().and_then(|s| media.video.owner_of(s));
                match owner {
                    Some(id) => {
                        tracing::warn!(participant = %id, error = %err.error(), "input failed; showing placeholder");
                        if let Err(e) = media.video.detach_video(&id) {
                            tracing::warn!(participant = %id, error = %e, "could not restore placeholder");
                        }
                        if let Some(m) = self.members.iter().find(|m| m.info.id == id) {
                            let _ = m
                                .events
                                .send(RoomEvent::MediaError { message: format!("your video could not be decoded: {}", err.error()) });
                        }
                    }
                    None => {
                        let src = msg.src().map(|s| gst::prelude::GstObjectExt::path_string(s).to_string()).unwrap_or_default();
                        tracing::error!(element = %src, error = %err.error(), debug = ?err.debug(), "room media error");
                        self.broadcast(RoomEvent::MediaError { message: format!("the room's media failed: {}", err.error()) }, None);
                    }
                }
            }
            MessageView::Warning(w) => {
                tracing::debug!(warning = %w.error(), "media warning");
            }
            MessageView::Latency(_) => {
                media.video.recalculate_latency();
            }
            _ => {}
        }
    }
}
