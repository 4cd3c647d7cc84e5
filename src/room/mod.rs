//! Rooms: the registry of live (scheduled or open) rooms ([`registry`]), where a room runs in a
//! cluster ([`placement`]), a [`RoomHandle`] per room driving one actor task ([`actor`]) that
//! owns the room's record, participants, timers and media, and one task per participant
//! ([`participant`]).
//!
//! Invariants: a room is in the registry exactly while its actor runs; an ended room lives on
//! only in the store. Cancellation (server shutdown) flows server → room → participant through
//! child `CancellationToken`s and does not end rooms: a single node restores them at its next
//! start, a cluster places them on another node.

pub mod actor;
pub mod chat;
pub mod files;
pub mod participant;
mod placement;
mod registry;

use crate::auth::Role;
use crate::egress::OutputError;
use crate::media::audio::AudioInput;
use crate::media::video::VideoSubscription;
use crate::media::{PacketSink, VideoCodec, VideoIngest};
use crate::protocol::{
    CameraConstraint, ChatMessage, ChatState, Connection, FileInfo, LayoutInfo, LeaveReason, ParticipantInfo, RecordingInfo, SpeakerInfo,
};
use crate::records::MediaStats;
use crate::records::StreamView;
use crate::records::recording::RecordingRecord;
use crate::records::room::{EndReason, RoomSpec};
use crate::records::settings::SettingsPatch;
use crate::store::StoreError;
use crate::time::format_unix;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use placement::{Route, RouteError};
pub use registry::{CreateError, Lookup, RoomContext, Rooms};

/// Live-object counters, for `/healthz` and leak tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub participant_tasks: AtomicUsize,
    /// Signaling sockets still closing: a writer whose last messages are not yet sent, or a
    /// reader waiting for the client's close reply after the session ended.
    pub signaling_writers: AtomicUsize,
    pub peer_connections: AtomicUsize,
    pub room_media: AtomicUsize,
}

/// Increments a counter and decrements it when dropped.
pub struct CountGuard(Arc<Stats>, fn(&Stats) -> &AtomicUsize);

impl CountGuard {
    pub fn new(stats: &Arc<Stats>, field: fn(&Stats) -> &AtomicUsize) -> Self {
        field(stats).fetch_add(1, Ordering::SeqCst);
        Self(stats.clone(), field)
    }
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_sub(1, Ordering::SeqCst);
    }
}

/// Something the room tells a participant.
#[derive(Debug, Clone)]
pub enum RoomEvent {
    Joined(ParticipantInfo),
    Left {
        id: String,
        reason: LeaveReason,
    },
    /// A participant's mute state changed.
    Updated(ParticipantInfo),
    /// You are removed (kicked or replaced); your session ends.
    Removed(LeaveReason),
    /// The room ended (`None`: the server is shutting down; the room is not ended).
    Ended(Option<EndReason>),
    /// Cluster mode: this node stops running the room without ending it (it is exiting, or
    /// another node holds the room's lease); the room goes on on another node.
    Moving,
    /// The room's media failed for this participant or everyone; shown to the user.
    MediaError {
        message: String,
    },
    /// Your shared screen could not be decoded; it was taken off the canvas.
    ScreenShareFailed {
        message: String,
    },
    RecordingStarted(RecordingInfo),
    RecordingStopped {
        id: String,
        state: &'static str,
        reason: Option<String>,
    },
    LayoutChanged(LayoutInfo),
    ActiveSpeakers {
        dominant: Option<String>,
        speakers: Vec<SpeakerInfo>,
    },
    Chat(ChatMessage),
    /// The host turned chat on or off.
    ChatChanged(bool),
    /// The host locked or unlocked the room.
    LockChanged(bool),
    /// The host turned the lobby on or off.
    LobbyChanged(bool),
    /// To hosts: someone knocks.
    Knocking(crate::protocol::KnockInfo),
    /// To hosts: a knock was answered, or its knocker left.
    KnockResolved {
        id: String,
        outcome: crate::protocol::KnockOutcome,
    },
    /// Your role changed (a host made you a co-host, or took it away).
    RoleChanged {
        role: Role,
        grant: Option<HostGrant>,
    },
    /// Your camera's tile changed size: what your camera should send now.
    CameraConstraint(CameraConstraint),
}

/// The room's actor is gone (the room ended, or the server is stopping): the one answer every
/// [`RoomHandle`] request gets then. Each request's own error type converts it (a `Gone`
/// variant), or the request returns it beside its own answer.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the room has ended")]
pub struct RoomGone;

/// A chat message to a room that is gone is refused as from someone not in it (`not_in_room`).
impl From<RoomGone> for chat::ChatError {
    fn from(_: RoomGone) -> Self {
        chat::ChatError::NotJoined
    }
}

/// A host token given to a participant made a host: the token and when it expires (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostGrant {
    pub token: String,
    pub expires_at: String,
}

/// Who is joining.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub identity: String,
    pub name: String,
    pub role: Role,
    /// A host let this socket in from the lobby (set by the signaling layer after a
    /// [`Decision::Admitted`], never by the client): the lobby and the lock let it through.
    pub admitted: bool,
    /// The client's own id for this browser or device (the socket's `device`), if it sent one:
    /// a host's Remove keeps it out of the call as it keeps out the identity.
    pub device: Option<String>,
}

/// Why a join was refused.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("the room is full ({0} participants)")]
    Full(u32),
    #[error(transparent)]
    Gone(#[from] RoomGone),
    #[error("the room has not started yet; it starts at {}", format_unix(*.starts_at))]
    NotStarted { starts_at: i64 },
    #[error("the room's media could not start: {0}")]
    Media(String),
    /// The host locked the room: only hosts, and people already in, come in.
    #[error("the host has locked this call: nobody new can join")]
    Locked,
    /// The host removed this identity (or device) from the call.
    #[error("the host removed you from this call; you cannot rejoin it")]
    Removed,
    /// The lobby is on: knock first ([`RoomHandle::knock`]).
    #[error("a host must let you in first")]
    MustKnock,
    #[error("the lobby is full ({0} people are waiting); try again later")]
    LobbyFull(usize),
    /// A viewer over the room's `max_viewers_per_room`.
    #[error("the room has its maximum of {0} viewers; try again later")]
    TooManyViewers(usize),
}

/// The answer to a knock: come in now, or wait for the room's [`Decision`] (the channel closes
/// if the room stops running here: it ended, or moved to another node).
#[derive(Debug)]
pub enum Knocked {
    Enter,
    Wait { id: String, decision: oneshot::Receiver<Decision> },
}

/// How a wait in the lobby ends, as the knocker is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A host let them in, or the lobby was turned off: join now.
    Admitted,
    /// A host refused them.
    Denied,
    /// The room was locked while they waited.
    Locked,
    /// They knocked again (another tab, a retry): this wait is over.
    Replaced,
}

/// Errors of media requests a participant makes of its room.
#[derive(Debug, thiserror::Error)]
pub enum RoomMediaError {
    #[error(transparent)]
    Gone(#[from] RoomGone),
    #[error("participant is not in the room")]
    NotJoined,
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    #[error(transparent)]
    Audio(#[from] crate::media::audio::AudioError),
    /// Someone else is sharing a screen (one at a time).
    #[error("{0} is already sharing a screen; only one screen can be shared at a time")]
    ScreenBusy(String),
}

/// Errors of management commands (update, kick, mute, end).
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error(transparent)]
    Gone(#[from] RoomGone),
    #[error("no participant with id {0:?} in this room")]
    NoParticipant(String),
    #[error("nobody with knock id {0:?} is waiting in this room's lobby")]
    NoKnock(String),
    /// The caller's credential may not do this (403 `forbidden`).
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the room could not be saved")]
    Store(#[from] StoreError),
}

/// What a participant is told when its session starts or is taken over: itself, the others
/// and the room's state at that moment (the `welcome` message is built from it alone).
pub struct SessionView {
    pub participant: ParticipantInfo,
    /// Everyone else in the room.
    pub participants: Vec<ParticipantInfo>,
    /// The recording running now.
    pub recording: Option<RecordingInfo>,
    /// What the composite shows now.
    pub layout: LayoutInfo,
    pub chat: ChatState,
    /// The room is locked (the host's setting).
    pub locked: bool,
    /// Newcomers wait in the lobby (the host's setting).
    pub lobby: bool,
    /// The secret that resumes this session (`?resume=`).
    pub resume_token: String,
}

/// Accepted join.
pub struct Joined {
    pub view: SessionView,
    pub events: mpsc::UnboundedReceiver<RoomEvent>,
    pub cancel: CancellationToken,
    /// Where a resumed signaling connection is handed to the participant task.
    pub resumes: mpsc::Receiver<participant::Resumption>,
}

/// A session taken over by a new signaling connection (`?resume=`).
pub struct Resumed {
    pub view: SessionView,
    /// The participant task's; the new connection's channels go there.
    pub resume: mpsc::Sender<participant::Resumption>,
}

/// Snapshot of a live room.
#[derive(Debug, Clone)]
pub struct RoomInfo {
    pub spec: RoomSpec,
    /// What the composite shows now.
    pub layout: LayoutInfo,
    pub participants: Vec<ParticipantInfo>,
    /// WHEP viewers now.
    pub viewers: usize,
    pub media: Option<MediaStats>,
}

/// A participant's own states to set (`None`: unchanged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatePatch {
    pub mic_off: Option<bool>,
    pub camera_off: Option<bool>,
    pub hand_raised: Option<bool>,
}

/// A change to a live room: its settings, and who the `pinned` layout shows large (live state,
/// not stored; `Some(None)` unpins).
#[derive(Debug, Clone, Default)]
pub struct RoomUpdate {
    pub settings: SettingsPatch,
    pub pin: Option<Option<String>>,
}

pub(crate) enum Command {
    Join {
        req: JoinRequest,
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    Watch {
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    Leave {
        id: String,
        reason: LeaveReason,
    },
    AttachVideo {
        id: String,
        codec: VideoCodec,
        payload_type: u8,
        reply: oneshot::Sender<Result<VideoIngest, RoomMediaError>>,
    },
    DetachVideo {
        id: String,
    },
    AttachScreen {
        id: String,
        codec: VideoCodec,
        payload_type: u8,
        reply: oneshot::Sender<Result<VideoIngest, RoomMediaError>>,
    },
    DetachScreen {
        id: String,
    },
    AttachAudio {
        id: String,
        reply: oneshot::Sender<Result<AudioInput, RoomMediaError>>,
    },
    SubscribeVideo {
        id: String,
        codec: VideoCodec,
        sink: Arc<dyn PacketSink>,
        reply: oneshot::Sender<Result<VideoSubscription, RoomMediaError>>,
    },
    /// The participant's rung controller moved its receiver of the composite.
    SetVideoRung {
        id: String,
        canvas: crate::media::ladder::Canvas,
        rung: Option<crate::media::ladder::Rung>,
        quality: crate::protocol::VideoQuality,
    },
    SubscribeAudio {
        id: String,
        sink: Arc<dyn PacketSink>,
        reply: oneshot::Sender<Result<(), RoomMediaError>>,
    },
    Info {
        reply: oneshot::Sender<RoomInfo>,
    },
    Update {
        patch: RoomUpdate,
        reply: oneshot::Sender<Result<RoomInfo, ManageError>>,
    },
    End {
        reason: EndReason,
        reply: oneshot::Sender<Result<RoomSpec, ManageError>>,
    },
    Kick {
        id: String,
        may_remove_hosts: bool,
        reply: oneshot::Sender<Result<ParticipantInfo, ManageError>>,
    },
    Mute {
        id: String,
        audio: Option<bool>,
        video: Option<bool>,
        reply: oneshot::Sender<Result<ParticipantInfo, ManageError>>,
    },
    Knock {
        req: JoinRequest,
        reply: oneshot::Sender<Result<Knocked, JoinError>>,
    },
    AnswerKnock {
        id: String,
        admit: bool,
        reply: oneshot::Sender<Result<(), ManageError>>,
    },
    CancelKnock {
        id: String,
    },
    Waiting {
        reply: oneshot::Sender<Vec<crate::protocol::KnockInfo>>,
    },
    /// A host gives or takes away host powers (`grant`: the new host token, when promoted).
    SetRole {
        id: String,
        role: Role,
        grant: Option<HostGrant>,
        may_demote_hosts: bool,
        reply: oneshot::Sender<Result<ParticipantInfo, ManageError>>,
    },
    /// A participant's own states (`setState`).
    SetState {
        id: String,
        patch: StatePatch,
        reply: oneshot::Sender<Result<ParticipantInfo, ManageError>>,
    },
    StartRecording {
        reply: oneshot::Sender<Result<RecordingRecord, OutputError>>,
    },
    StopRecording {
        id: String,
        reply: oneshot::Sender<Result<(), OutputError>>,
    },
    StartStream {
        url: String,
        reply: oneshot::Sender<Result<StreamView, OutputError>>,
    },
    Streams {
        reply: oneshot::Sender<Vec<StreamView>>,
    },
    StopStream {
        id: String,
        reply: oneshot::Sender<Result<StreamView, OutputError>>,
    },
    Chat {
        id: String,
        text: String,
        reply: oneshot::Sender<Result<(), chat::ChatError>>,
    },
    ReserveFile {
        identity: String,
        file_name: String,
        content_type: String,
        size: u64,
        reply: oneshot::Sender<Result<files::Slot, files::FileError>>,
    },
    FileStored {
        id: String,
        reply: oneshot::Sender<Result<FileInfo, files::FileError>>,
    },
    FileAbandoned {
        id: String,
    },
    GetFile {
        id: String,
        reply: oneshot::Sender<Option<files::Stored>>,
    },
    Resume {
        token: String,
        identity: String,
        reply: oneshot::Sender<Option<Resumed>>,
    },
    SetConnection {
        id: String,
        connection: Connection,
    },
}

/// A cheap, clonable handle to a room's actor.
#[derive(Clone)]
pub struct RoomHandle {
    pub id: String,
    tx: mpsc::Sender<Command>,
    /// Participants now in the room (kept by the actor; read by room lists).
    present: Arc<AtomicUsize>,
    /// The room's `public` setting (kept by the actor; read by the HLS route without asking it).
    public: Arc<std::sync::atomic::AtomicBool>,
}

impl RoomHandle {
    /// Sends a request and waits for its answer; [`RoomGone`] when the actor no longer runs (it
    /// did not take the request, or dropped it unanswered as it stopped).
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, RoomGone> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| RoomGone)?;
        rx.await.map_err(|_| RoomGone)
    }

    /// [`Self::ask`] for a request answered with a `Result` whose error can say [`RoomGone`].
    async fn try_ask<T, E: From<RoomGone>>(&self, make: impl FnOnce(oneshot::Sender<Result<T, E>>) -> Command) -> Result<T, E> {
        self.ask(make).await?
    }

    pub fn participant_count(&self) -> usize {
        self.present.load(Ordering::Relaxed)
    }

    /// Whether its live output may be watched without a token.
    pub fn is_public(&self) -> bool {
        self.public.load(Ordering::Relaxed)
    }

    pub async fn join(&self, req: JoinRequest) -> Result<Joined, JoinError> {
        self.try_ask(|reply| Command::Join { req, reply }).await
    }

    /// A WHEP viewer: a session that receives the composite and the full mix, not a member
    /// (it leaves with [`RoomHandle::leave`] like one).
    pub async fn watch(&self) -> Result<Joined, JoinError> {
        self.try_ask(|reply| Command::Watch { reply }).await
    }

    /// Asks to come in (the lobby): see [`Knocked`].
    pub async fn knock(&self, req: JoinRequest) -> Result<Knocked, JoinError> {
        self.try_ask(|reply| Command::Knock { req, reply }).await
    }

    /// A host admits (`true`) or denies someone waiting in the lobby.
    pub async fn answer_knock(&self, id: &str, admit: bool) -> Result<(), ManageError> {
        self.try_ask(|reply| Command::AnswerKnock { id: id.into(), admit, reply }).await
    }

    /// The knocker stopped waiting.
    pub async fn cancel_knock(&self, id: &str) {
        let _ = self.tx.send(Command::CancelKnock { id: id.into() }).await;
    }

    /// Who waits in the lobby now, oldest first.
    pub async fn waiting(&self) -> Result<Vec<crate::protocol::KnockInfo>, RoomGone> {
        self.ask(|reply| Command::Waiting { reply }).await
    }

    pub async fn leave(&self, id: &str, reason: LeaveReason) {
        let _ = self.tx.send(Command::Leave { id: id.into(), reason }).await;
    }

    pub async fn attach_video(&self, id: &str, codec: VideoCodec, payload_type: u8) -> Result<VideoIngest, RoomMediaError> {
        self.try_ask(|reply| Command::AttachVideo { id: id.into(), codec, payload_type, reply }).await
    }

    /// `id`'s shared screen becomes a tile of its own (refused while someone else shares).
    pub async fn attach_screen(&self, id: &str, codec: VideoCodec, payload_type: u8) -> Result<VideoIngest, RoomMediaError> {
        self.try_ask(|reply| Command::AttachScreen { id: id.into(), codec, payload_type, reply }).await
    }

    /// `id` stopped sharing its screen (no-op if it was not).
    pub async fn detach_screen(&self, id: &str) {
        let _ = self.tx.send(Command::DetachScreen { id: id.into() }).await;
    }

    pub async fn detach_video(&self, id: &str) {
        let _ = self.tx.send(Command::DetachVideo { id: id.into() }).await;
    }

    pub async fn attach_audio(&self, id: &str) -> Result<AudioInput, RoomMediaError> {
        self.try_ask(|reply| Command::AttachAudio { id: id.into(), reply }).await
    }

    /// The composite in `codec` goes to `sink` from now on.
    pub async fn subscribe_video(
        &self,
        id: &str,
        codec: VideoCodec,
        sink: Arc<dyn PacketSink>,
    ) -> Result<VideoSubscription, RoomMediaError> {
        self.try_ask(|reply| Command::SubscribeVideo { id: id.into(), codec, sink, reply }).await
    }

    /// `id` receives `rung` of the composite from now on (`None`: no video); `quality` is what
    /// others see of it.
    pub async fn set_video_rung(
        &self,
        id: &str,
        canvas: crate::media::ladder::Canvas,
        rung: Option<crate::media::ladder::Rung>,
        quality: crate::protocol::VideoQuality,
    ) {
        let _ = self.tx.send(Command::SetVideoRung { id: id.into(), canvas, rung, quality }).await;
    }

    /// `id`'s mix-minus goes to `sink` from now on.
    pub async fn subscribe_audio(&self, id: &str, sink: Arc<dyn PacketSink>) -> Result<(), RoomMediaError> {
        self.try_ask(|reply| Command::SubscribeAudio { id: id.into(), sink, reply }).await
    }

    /// `Err` when the room has just ended.
    pub async fn info(&self) -> Result<RoomInfo, RoomGone> {
        self.ask(|reply| Command::Info { reply }).await
    }

    pub async fn update(&self, patch: RoomUpdate) -> Result<RoomInfo, ManageError> {
        self.try_ask(|reply| Command::Update { patch, reply }).await
    }

    /// Ends the room for everyone; returns its final record.
    pub async fn end(&self, reason: EndReason) -> Result<RoomSpec, ManageError> {
        self.try_ask(|reply| Command::End { reason, reply }).await
    }

    /// Removes participant `id` for the rest of the call (see `admission`); returns who it was.
    /// A host who joined as one is removed only when `may_remove_hosts` (an API key, or itself).
    pub async fn kick(&self, id: &str, may_remove_hosts: bool) -> Result<ParticipantInfo, ManageError> {
        self.try_ask(|reply| Command::Kick { id: id.into(), may_remove_hosts, reply }).await
    }

    pub async fn mute(&self, id: &str, audio: Option<bool>, video: Option<bool>) -> Result<ParticipantInfo, ManageError> {
        self.try_ask(|reply| Command::Mute { id: id.into(), audio, video, reply }).await
    }

    /// Makes participant `id` a host (with `grant`, its host token) or a participant again;
    /// everyone is told (`participantUpdated`), `id` also gets its new role and token.
    /// `may_demote_hosts`: the caller may take host powers from a host who joined as one (an API
    /// key, or that host stepping down); co-hosts any host may demote.
    pub async fn set_role(
        &self,
        id: &str,
        role: Role,
        grant: Option<HostGrant>,
        may_demote_hosts: bool,
    ) -> Result<ParticipantInfo, ManageError> {
        self.try_ask(|reply| Command::SetRole { id: id.into(), role, grant, may_demote_hosts, reply }).await
    }

    /// Sets participant `id`'s own states; everyone is told.
    pub async fn set_state(&self, id: &str, patch: StatePatch) -> Result<ParticipantInfo, ManageError> {
        self.try_ask(|reply| Command::SetState { id: id.into(), patch, reply }).await
    }

    /// Starts recording (even an empty room: its media starts for it).
    pub async fn start_recording(&self) -> Result<Result<RecordingRecord, OutputError>, RoomGone> {
        self.ask(|reply| Command::StartRecording { reply }).await
    }

    pub async fn stop_recording(&self, id: &str) -> Result<Result<(), OutputError>, RoomGone> {
        self.ask(|reply| Command::StopRecording { id: id.into(), reply }).await
    }

    pub async fn start_stream(&self, url: String) -> Result<Result<StreamView, OutputError>, RoomGone> {
        self.ask(|reply| Command::StartStream { url, reply }).await
    }

    pub async fn streams(&self) -> Result<Vec<StreamView>, RoomGone> {
        self.ask(|reply| Command::Streams { reply }).await
    }

    pub async fn stop_stream(&self, id: &str) -> Result<Result<StreamView, OutputError>, RoomGone> {
        self.ask(|reply| Command::StopStream { id: id.into(), reply }).await
    }

    /// Posts a chat message from participant `id` to everyone (`Err` says why not).
    pub async fn chat(&self, id: &str, text: String) -> Result<(), chat::ChatError> {
        self.try_ask(|reply| Command::Chat { id: id.into(), text, reply }).await
    }

    /// Reserves room for an upload by the participant of `identity`.
    pub async fn reserve_file(
        &self,
        identity: &str,
        file_name: &str,
        content_type: &str,
        size: u64,
    ) -> Result<Result<files::Slot, files::FileError>, RoomGone> {
        self.ask(|reply| Command::ReserveFile {
            identity: identity.into(),
            file_name: file_name.into(),
            content_type: content_type.into(),
            size,
            reply,
        })
        .await
    }

    /// The upload `id` is on disk: share it (announced in the chat).
    pub async fn file_stored(&self, id: &str) -> Result<Result<FileInfo, files::FileError>, RoomGone> {
        self.ask(|reply| Command::FileStored { id: id.into(), reply }).await
    }

    /// The upload `id` failed; never waits (called from a `Drop`).
    pub fn file_abandoned(&self, id: &str) {
        let _ = self.tx.try_send(Command::FileAbandoned { id: id.into() });
    }

    /// The shared file `id` (`Ok(None)`: the room has no such file).
    pub async fn file(&self, id: &str) -> Result<Option<files::Stored>, RoomGone> {
        self.ask(|reply| Command::GetFile { id: id.into(), reply }).await
    }

    /// Takes over the session holding `token` for `identity`, if the room still keeps it
    /// (`Ok(None)`: it does not).
    pub async fn resume(&self, token: &str, identity: &str) -> Result<Option<Resumed>, RoomGone> {
        self.ask(|reply| Command::Resume { token: token.into(), identity: identity.into(), reply }).await
    }

    /// A participant's connection dropped or came back.
    pub async fn set_connection(&self, id: &str, connection: Connection) {
        let _ = self.tx.send(Command::SetConnection { id: id.into(), connection }).await;
    }
}
