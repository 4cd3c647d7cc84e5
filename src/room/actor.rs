//! The room actor: one task per live room owning its record ([`RoomSpec`]), the participant list,
//! the timers (opening at `startsAt`, `endsAt`, the empty timeout) and the media (video graph +
//! audio mixer). Every change goes through its command channel, so no lock guards them.
//!
//! Invariants: the media exists while at least one participant is in the room; every change to
//! the record is written to the store before it is acknowledged; when the room ends, everyone
//! is told (`Ended`) before their event channel closes, the record is stored as ended, and the
//! room leaves the registry.

use super::{Command, JoinError, JoinRequest, Joined, ManageError, RoomContext, RoomEvent, RoomHandle, RoomInfo, RoomMediaError, Rooms};
use crate::egress::{EgressEvent, RoomEgress};
use crate::media::audio::AudioMixer;
use crate::media::video::RoomVideo;
use crate::media::video::{MediaEvent, MediaEvents};
use crate::protocol::{LeaveReason, ParticipantInfo};
use crate::records::MediaStats;
use crate::records::room::{EndReason, RoomSpec, RoomState};
use crate::room::CountGuard;
use crate::time::{format_unix, now_unix};
use crate::webhook::WebhookEvent;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

mod admission;
mod ladder;
mod lobby;
mod outputs;
mod senders;
mod settings;
mod social;
mod states;
mod view;
mod viewers;

struct Member {
    info: ParticipantInfo,
    events: mpsc::UnboundedSender<RoomEvent>,
    cancel: CancellationToken,
    /// The secret a resuming connection must show.
    resume_token: String,
    /// Hands a resuming connection to the participant task.
    resume: mpsc::Sender<super::participant::Resumption>,
    /// The client's device id, if it sent one (see `admission`).
    device: Option<String>,
}

struct Media {
    video: RoomVideo,
    audio: AudioMixer,
    events: MediaEvents,
    _count: CountGuard,
}

/// What a timer firing means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Open,
    TimeLimit,
    Empty,
    /// Stop the composite's encoders nobody receives any more.
    ReapRungs,
    /// A camera constraint held back is due (`senders.rs`).
    Senders,
}

struct Room {
    spec: RoomSpec,
    handle: RoomHandle,
    rooms: Rooms,
    ctx: RoomContext,
    members: Vec<Member>,
    media: Option<Media>,
    cancel: CancellationToken,
    /// Whether the room has opened (roomStarted sent, or it was open before a restart).
    opened: bool,
    /// When to look for idle encoders of the composite's ladder next.
    reap_at: Option<Instant>,
    /// Since when the open room has had nobody in it.
    empty_since: Option<Instant>,
    ended: bool,
    /// Recording and live outputs (fed by the media; they keep it running while they run).
    egress: RoomEgress,
    egress_events: mpsc::UnboundedReceiver<EgressEvent>,
    /// Layout, pin, screen share and speakers (`view.rs`).
    view: view::View,
    /// What each member's camera was told to send (`senders.rs`).
    senders: senders::Senders,
    /// Chat history and rates (`social.rs`).
    chat: super::chat::ChatLog,
    /// Shared files (`social.rs`).
    files: super::files::RoomFiles,
    /// Who has been in and whom hosts removed (`admission.rs`).
    admission: admission::Admission,
    /// Who knocks (`lobby.rs`).
    lobby: lobby::Lobby,
    /// WHEP viewers, by session id (`viewers.rs`).
    viewers: std::collections::HashMap<String, viewers::Viewer>,
    /// Cluster mode: held while the actor runs (dropped last, with the room).
    _lease: Option<crate::cluster::node::LeaseGuard>,
}

pub(crate) struct Start {
    pub spec: RoomSpec,
    pub handle: RoomHandle,
    pub rx: mpsc::Receiver<Command>,
    pub rooms: Rooms,
    pub cancel: CancellationToken,
    /// Restored at start-up (an open room does not announce itself again).
    pub restored: bool,
    /// Cluster mode: this node's lease on the room, released when the actor ends.
    pub lease: Option<crate::cluster::node::LeaseGuard>,
}

pub(crate) fn spawn(s: Start) {
    let span = tracing::info_span!(parent: None, "room", id = %s.spec.id);
    let open_now = s.spec.state(now_unix()) == RoomState::Open;
    let ctx = s.rooms.ctx.clone();
    let (egress, egress_events) = RoomEgress::new(&s.spec.id, ctx.egress.clone());
    let files = super::files::RoomFiles::new(&s.spec.id, ctx.files.clone());
    let room = Room {
        spec: s.spec,
        handle: s.handle,
        rooms: s.rooms,
        ctx,
        members: Vec::new(),
        media: None,
        cancel: s.cancel,
        opened: open_now && s.restored,
        reap_at: None,
        empty_since: None,
        ended: false,
        egress,
        egress_events,
        view: view::View::new(),
        senders: Default::default(),
        chat: Default::default(),
        files,
        admission: Default::default(),
        lobby: Default::default(),
        viewers: Default::default(),
        _lease: s.lease,
    };
    tokio::spawn(room.run(s.rx).instrument(span));
}

async fn next_media_event(media: &mut Option<Media>) -> Option<MediaEvent> {
    match media {
        Some(m) => m.events.next_event(&m.video).await,
        None => std::future::pending().await,
    }
}

/// The `Instant` of Unix time `t` (past times are now).
fn instant_of(t: i64) -> Instant {
    Instant::now() + Duration::from_secs(t.saturating_sub(now_unix()).max(0) as u64)
}

async fn sleep_until(deadline: Option<(Instant, Timer)>) -> Timer {
    match deadline {
        Some((at, timer)) => {
            tokio::time::sleep_until(at).await;
            timer
        }
        None => std::future::pending().await,
    }
}

impl Room {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        tracing::info!(name = %self.spec.settings.name, state = self.spec.state(now_unix()).as_str(), "room ready");
        if !self.opened && self.spec.state(now_unix()) == RoomState::Open {
            self.open().await;
        } else if self.opened {
            self.empty_since = Some(Instant::now());
        }
        while !self.ended {
            let deadline = self.next_deadline();
            tokio::select! {
                _ = self.cancel.cancelled() => {
                    // In a cluster the room goes on elsewhere: its people join again there.
                    let ev = if self.ctx.cluster.is_some() { RoomEvent::Moving } else { RoomEvent::Ended(None) };
                    self.broadcast(ev, None);
                    break;
                }
                cmd = rx.recv() => match cmd {
                    // Boxed: a command's future (store writes, starting outputs) is large, and a debug
                    // build copies it through the stack.
                    Some(cmd) => Box::pin(self.handle(cmd)).await,
                    None => break,
                },
                Some(ev) = next_media_event(&mut self.media) => self.on_media_event(ev),
                Some(ev) = self.egress_events.recv() => self.on_egress_event(ev),
                Some(u) = self.view.speaker_rx.recv() => self.on_speakers(u),
                timer = sleep_until(deadline) => Box::pin(self.on_timer(timer)).await,
            }
            // Whatever happened may have moved or resized tiles.
            self.sync_senders();
        }
        // Out of the registry first: from here on lookups read the stored (ended) record instead
        // of asking an actor that no longer answers while its media is torn down.
        self.rooms.remove(&self.spec.id);
        // Outputs first (recordings close their files), while the media still feeds them.
        self.egress.stop_all(outputs::refs(&mut self.media));
        // Dropping the members closes their event channels after whatever was queued (the
        // `Ended` event), so each participant tells its client before it stops.
        self.members.clear();
        if self.media.take().is_some() {
            crate::media::memory::trim_soon();
        }
        self.handle.present.store(0, Ordering::Relaxed);
        self.remove_files().await;
        tracing::info!("room closed");
    }

    fn next_deadline(&self) -> Option<(Instant, Timer)> {
        let mut next: Option<(Instant, Timer)> = None;
        let mut consider = |at: Instant, t: Timer| {
            if next.is_none_or(|(n, _)| at < n) {
                next = Some((at, t));
            }
        };
        if !self.opened
            && let Some(s) = self.spec.settings.starts_at
        {
            consider(instant_of(s), Timer::Open);
        }
        if let Some(e) = self.spec.settings.ends_at {
            consider(instant_of(e), Timer::TimeLimit);
        }
        if let Some(at) = self.reap_at {
            consider(at, Timer::ReapRungs);
        }
        if let Some(at) = self.senders.due() {
            consider(at, Timer::Senders);
        }
        if self.opened
            && let Some(since) = self.empty_since
        {
            consider(since + Duration::from_secs(self.spec.settings.empty_timeout_seconds.into()), Timer::Empty);
        }
        next
    }

    async fn on_timer(&mut self, timer: Timer) {
        match timer {
            Timer::Open if self.spec.state(now_unix()) == RoomState::Open => self.open().await,
            // Woken early (whole-second rounding): the next deadline is recomputed.
            Timer::Open => {}
            Timer::TimeLimit => self.end(EndReason::TimeLimit).await,
            Timer::Empty => self.end(EndReason::EmptyTimeout).await,
            // The loop tells what is due after every turn.
            Timer::Senders => {}
            Timer::ReapRungs => self.reap_rungs(),
        }
    }

    fn room_json(&self) -> serde_json::Value {
        serde_json::to_value(crate::wire::RoomView::new(&self.spec, now_unix(), self.members.len(), None)).unwrap_or_default()
    }

    fn webhook(&self, event: &'static str, participant: Option<&ParticipantInfo>, reason: Option<&str>) {
        let mut ev = WebhookEvent::new(event, self.room_json());
        ev.participant = participant.and_then(|p| serde_json::to_value(p).ok());
        ev.reason = reason.map(str::to_owned);
        self.ctx.webhooks.send(ev);
    }

    async fn open(&mut self) {
        self.opened = true;
        if self.members.is_empty() {
            self.empty_since = Some(Instant::now());
        }
        tracing::info!("room open");
        self.webhook("roomStarted", None, None);
        // People who joined early are in a call already: its outputs start now.
        if !self.members.is_empty() {
            self.auto_outputs().await;
        }
    }

    async fn end(&mut self, reason: EndReason) {
        if self.ended {
            return;
        }
        self.ended = true;
        let now = now_unix();
        self.spec.ended_at = Some(now);
        if self.opened {
            let opened_at = self.spec.settings.starts_at.unwrap_or(self.spec.created_at).max(self.spec.created_at);
            crate::metrics::room_duration(now.saturating_sub(opened_at).max(0) as f64);
        }
        self.spec.end_reason = Some(reason);
        if let Err(e) = self.ctx.store.update_room(&self.spec).await {
            tracing::error!(error = %e, "could not store the room as ended");
        }
        tracing::info!(reason = reason.as_str(), participants = self.members.len(), "room ended");
        self.stop_outputs();
        self.broadcast(RoomEvent::Ended(Some(reason)), None);
        for m in &self.members {
            self.webhook("participantLeft", Some(&m.info), Some(LeaveReason::RoomEnded.as_str()));
        }
        self.webhook("roomEnded", None, Some(reason.as_str()));
    }

    fn broadcast(&self, ev: RoomEvent, except: Option<&str>) {
        self.tell_viewers(&ev);
        for m in self.members.iter().filter(|m| Some(m.info.id.as_str()) != except) {
            let _ = m.events.send(ev.clone());
        }
    }

    fn ensure_media(&mut self) -> Result<&mut Media, RoomMediaError> {
        if self.media.is_none() {
            let (video, events) = RoomVideo::new(self.ctx.pipelines.clone(), self.spec.settings.composite.clone())?;
            let audio = AudioMixer::start(&self.spec.id, self.ctx.max_mixed_voices, self.view.speaker_tx.clone())?;
            let count = CountGuard::new(&self.ctx.stats, |s| &s.room_media);
            self.media = Some(Media { video, audio, events, _count: count });
            tracing::info!("media pipeline started");
            self.apply_view();
        }
        self.media.as_mut().ok_or(RoomMediaError::Gone(super::RoomGone))
    }

    fn member_index(&self, id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.info.id == id)
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Join { req, reply } => {
                let r = self.join(req).await;
                let _ = reply.send(r);
            }
            Command::Watch { reply } => {
                let _ = reply.send(self.watch());
            }
            Command::Leave { id, reason } => self.leave(&id, reason),
            Command::AttachVideo { id, codec, payload_type, reply } => {
                let r = self.member_media(&id).and_then(|m| Ok(m.video.attach_video(&id, codec, payload_type)?));
                let _ = reply.send(r);
            }
            Command::AttachScreen { id, codec, payload_type, reply } => {
                let _ = reply.send(self.attach_screen(&id, codec, payload_type));
            }
            Command::DetachScreen { id } => self.detach_screen(&id),
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
            Command::SubscribeVideo { id, codec, sink, reply } => {
                let r = self.member_media(&id).and_then(|m| Ok(m.video.subscribe(&id, codec, sink)?));
                let _ = reply.send(r);
            }
            Command::SetVideoRung { id, canvas, rung, quality } => self.set_video_rung(&id, canvas, rung, quality),
            Command::SubscribeAudio { id, sink, reply } => {
                let r = self.member_media(&id).map(|m| m.audio.add_output(&id, sink));
                let _ = reply.send(r);
            }
            Command::Info { reply } => {
                let _ = reply.send(self.info());
            }
            Command::Update { patch, reply } => {
                let r = self.update(patch).await;
                let _ = reply.send(r);
            }
            Command::End { reason, reply } => {
                self.end(reason).await;
                let _ = reply.send(Ok(self.spec.clone()));
            }
            Command::Kick { id, may_remove_hosts, reply } => {
                let _ = reply.send(self.kick(&id, may_remove_hosts));
            }
            Command::Mute { id, audio, video, reply } => {
                let _ = reply.send(self.mute(&id, audio, video));
            }
            Command::Knock { req, reply } => {
                let _ = reply.send(self.knock(req));
            }
            Command::AnswerKnock { id, admit, reply } => {
                let _ = reply.send(self.answer_knock(&id, admit));
            }
            Command::CancelKnock { id } => self.cancel_knock(&id),
            Command::Waiting { reply } => {
                let _ = reply.send(self.waiting());
            }
            Command::SetRole { id, role, grant, may_demote_hosts, reply } => {
                let _ = reply.send(self.set_role(&id, role, grant, may_demote_hosts));
            }
            Command::SetState { id, patch, reply } => {
                let _ = reply.send(self.set_state(&id, patch));
            }
            Command::StartRecording { reply } => {
                let r = self.start_recording().await;
                let _ = reply.send(r);
            }
            Command::StopRecording { id, reply } => {
                let _ = reply.send(self.stop_recording(&id));
            }
            Command::StartStream { url, reply } => {
                let _ = reply.send(self.start_stream(&url));
            }
            Command::Streams { reply } => {
                let _ = reply.send(self.egress.streams());
            }
            Command::StopStream { id, reply } => {
                let _ = reply.send(self.stop_stream(&id));
            }
            Command::Chat { id, text, reply } => {
                let _ = reply.send(self.post_chat(&id, &text));
            }
            Command::ReserveFile { identity, file_name, content_type, size, reply } => {
                let _ = reply.send(self.reserve_file(&identity, &file_name, &content_type, size));
            }
            Command::FileStored { id, reply } => {
                let _ = reply.send(self.file_stored(&id));
            }
            Command::FileAbandoned { id } => self.files.release(&id),
            Command::GetFile { id, reply } => {
                let _ = reply.send(self.files.get(&id).cloned());
            }
            Command::Resume { token, identity, reply } => {
                let _ = reply.send(self.resume(&token, &identity));
            }
            Command::SetConnection { id, connection } => self.set_connection(&id, connection),
        }
    }

    /// The media, for a member or a viewer (which only subscribes).
    fn member_media(&mut self, id: &str) -> Result<&mut Media, RoomMediaError> {
        if self.member_index(id).is_none() && !self.is_viewer(id) {
            return Err(RoomMediaError::NotJoined);
        }
        self.ensure_media()
    }

    /// Whether `req` may come in now, must knock first, or is refused: the room must be running
    /// and open (or in its early-join window), then the lock, the lobby and removals decide.
    fn may_enter(&self, req: &JoinRequest) -> Result<admission::Entry, JoinError> {
        self.may_be_entered()?;
        self.admission.check(req, self.spec.settings.locked, self.spec.settings.lobby)
    }

    /// Whether anyone (a participant or a viewer) may come in now: the room runs and is open,
    /// or in its early-join window.
    fn may_be_entered(&self) -> Result<(), JoinError> {
        if self.ended || self.cancel.is_cancelled() {
            return Err(super::RoomGone.into());
        }
        if let Some(s) = self.spec.settings.starts_at
            && now_unix() < s - self.ctx.early_join_seconds
        {
            return Err(JoinError::NotStarted { starts_at: s });
        }
        Ok(())
    }

    async fn join(&mut self, req: JoinRequest) -> Result<Joined, JoinError> {
        let now = now_unix();
        if self.may_enter(&req)? == admission::Entry::Knock {
            return Err(JoinError::MustKnock);
        }
        // A second session of the same identity (a reload, another tab) replaces the first, so
        // a reload never leaves a ghost tile behind for the ICE timeout.
        if let Some(old) = self.members.iter().find(|m| m.info.identity == req.identity).map(|m| m.info.id.clone()) {
            self.remove_member(&old, LeaveReason::Replaced);
        }
        if self.members.len() >= self.spec.settings.max_participants as usize {
            return Err(JoinError::Full(self.spec.settings.max_participants));
        }
        self.admission.joined(&req.identity, req.device.as_deref());
        let device = req.device;
        let co_host = req.role == crate::auth::Role::Host && self.admission.is_co_host(&req.identity);
        let info = ParticipantInfo::arriving(crate::ids::participant_id(), req.identity, req.name, req.role, co_host, format_unix(now));
        let first = self.members.is_empty();
        let media = self.ensure_media().map_err(|e| JoinError::Media(e.to_string()))?;
        media.video.add_participant(&info.id, &info.name).map_err(|e| JoinError::Media(e.to_string()))?;
        let (tx, events) = mpsc::unbounded_channel();
        // Not a child of the room's token: when the room stops, its last event (`Ended`, `Moving`)
        // reaches the participant first, then the room's end of the channel closes; a child token
        // would race that event and end the session without saying why.
        let cancel = CancellationToken::new();
        self.broadcast(RoomEvent::Joined(info.clone()), None);
        tracing::info!(participant = %info.id, name = %info.name, role = ?info.role, "joined");
        let resume_token = crate::ids::random_id(32);
        let (resume, resumes) = mpsc::channel(1);
        self.members.push(Member {
            info: info.clone(),
            events: tx,
            cancel: cancel.clone(),
            resume_token: resume_token.clone(),
            resume,
            device,
        });
        // Who is talking now (others got it as it changed).
        let talking = self.view.dominant.is_some() || !self.view.speakers.is_empty();
        if talking && let Some(m) = self.members.last() {
            let _ = m.events.send(RoomEvent::ActiveSpeakers { dominant: self.view.dominant.clone(), speakers: self.view.speakers.clone() });
        }
        if first {
            // The call starts: outputs the room asks for start with it (after the member is in,
            // so a failing output never takes the media from under them). Not on later joins,
            // so a recording the host stopped is not restarted by the next person in.
            self.auto_outputs().await;
        }
        self.handle.present.store(self.members.len(), Ordering::Relaxed);
        self.empty_since = None;
        self.webhook("participantJoined", Some(&info), None);
        Ok(Joined { view: self.session_view(info, resume_token), events, cancel, resumes })
    }

    /// A host removes `id` for the rest of the call: its identity and the device it joined from
    /// stay out (`admission`). A host who joined as one only `may_remove_hosts` removes.
    fn kick(&mut self, id: &str, may_remove_hosts: bool) -> Result<ParticipantInfo, ManageError> {
        let m = self.member_index(id).map(|i| &self.members[i]).ok_or_else(|| ManageError::NoParticipant(id.into()))?;
        states::protect_host(&m.info, may_remove_hosts, "remove")?;
        let info = m.info.clone();
        self.admission.remove(&info.identity, m.device.as_deref());
        self.admission.set_co_host(&info.identity, false);
        self.remove_member(id, LeaveReason::Kicked);
        Ok(info)
    }

    /// The participant (or viewer) left by itself (its task is ending).
    fn leave(&mut self, id: &str, reason: LeaveReason) {
        if self.unwatch(id) {
            return;
        }
        if let Some(m) = self.take_member(id, reason) {
            m.cancel.cancel();
        }
    }

    /// The room removes a participant: it is told why, then its event channel closes.
    fn remove_member(&mut self, id: &str, reason: LeaveReason) {
        if let Some(m) = self.take_member(id, reason) {
            let _ = m.events.send(RoomEvent::Removed(reason));
        }
    }

    fn take_member(&mut self, id: &str, reason: LeaveReason) -> Option<Member> {
        let member = self.members.remove(self.member_index(id)?);
        if let Some(m) = self.media.as_mut() {
            m.video.remove_participant(id);
            m.audio.remove(id);
        }
        tracing::info!(participant = %id, reason = reason.as_str(), "left");
        self.broadcast(RoomEvent::Left { id: id.into(), reason }, None);
        self.forget_in_view(id);
        self.chat.forget(id);
        self.handle.present.store(self.members.len(), Ordering::Relaxed);
        self.webhook("participantLeft", Some(&member.info), Some(reason.as_str()));
        if self.members.is_empty() {
            self.empty_since = Some(Instant::now());
            self.release_media_if_idle();
        }
        Some(member)
    }

    fn mute(&mut self, id: &str, audio: Option<bool>, video: Option<bool>) -> Result<ParticipantInfo, ManageError> {
        let idx = self.member_index(id).ok_or_else(|| ManageError::NoParticipant(id.into()))?;
        let info = {
            let m = &mut self.members[idx].info;
            m.audio_muted = audio.unwrap_or(m.audio_muted);
            m.video_muted = video.unwrap_or(m.video_muted);
            m.clone()
        };
        if video == Some(true) {
            // A host's video mute ends a screen share too.
            self.detach_screen(id);
        }
        self.show_states(&info);
        tracing::info!(participant = %id, audio = info.audio_muted, video = info.video_muted, "mute changed");
        self.broadcast(RoomEvent::Updated(info.clone()), None);
        Ok(info)
    }

    fn info(&self) -> RoomInfo {
        RoomInfo {
            spec: self.spec.clone(),
            layout: self.layout_info(),
            participants: self.members.iter().map(|m| m.info.clone()).collect(),
            viewers: self.viewer_count(),
            media: self.media.as_ref().map(|m| {
                let (audio_inputs, audio_outputs) = m.audio.counts();
                let audio = m.audio.stats();
                MediaStats {
                    elements: m.video.element_count(),
                    tiles: m.video.tile_count(),
                    encoders: m.video.encoder_count(),
                    audio_inputs,
                    audio_outputs,
                    video_packets_dropped: m.video.dropped_packets(),
                    audio_packets_dropped: audio.dropped_packets,
                    audio_underruns: audio.underruns,
                    audio_discarded_ms: audio.discarded_samples * 1000 / u64::from(crate::media::audio::SAMPLE_RATE),
                }
            }),
        }
    }

    fn on_media_event(&mut self, ev: MediaEvent) {
        let Some(media) = self.media.as_mut() else { return };
        match ev {
            MediaEvent::InputFailed { participant: id, screen: true, error } => {
                tracing::warn!(participant = %id, error = %error, "screen share failed");
                if let Some(m) = self.members.iter().find(|m| m.info.id == id) {
                    let _ = m.events.send(RoomEvent::ScreenShareFailed { message: format!("your screen could not be decoded: {error}") });
                }
                self.detach_screen(&id);
            }
            MediaEvent::InputFailed { participant: id, screen: false, error } => {
                tracing::warn!(participant = %id, error = %error, "input failed; showing placeholder");
                if let Err(e) = media.video.detach_video(&id) {
                    tracing::warn!(participant = %id, error = %e, "could not restore placeholder");
                }
                if let Some(m) = self.members.iter().find(|m| m.info.id == id) {
                    let message = format!("your video could not be decoded ({error}); it starts again from your camera's next keyframe");
                    let _ = m.events.send(RoomEvent::MediaError { message });
                }
            }
            MediaEvent::Failed { element, error, debug: details } => {
                tracing::error!(element = %element, error = %error, debug = ?details, "room media error");
                self.broadcast(RoomEvent::MediaError { message: format!("the room's media failed: {error}") }, None);
            }
        }
    }
}
