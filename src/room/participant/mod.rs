//! One participant: a task with a `select!` loop over signaling input, room events, peer
//! events and cancellation. It owns the client's peer connection ([`rtc::PeerSession`]) and the
//! child tasks that feed the client's tracks into the room; all of them end with it.
//!
//! The loop is a small state machine: `Inputs::next` waits for one `Input`, and
//! `Participant::on_input` hands it to its own handler, which says whether the session ends
//! (`Exit`). Handlers live by subject: signaling and room events here, the peer connection's
//! events, offers and candidates in `peer.rs`, media in and out of the room in `tracks.rs`,
//! chat and the client's messages in `chat.rs`, reachability in `link.rs`.
//!
//! Protocol errors (bad SDP, bad candidate) are answered with an `error` message and never end
//! the session; only `leave`, a closed socket, a failed peer connection, the room ending or
//! cancellation do.

mod chat;
mod link;
mod peer;
mod quality;
mod tracks;

use super::{CountGuard, RoomEvent, RoomHandle, Stats};
use crate::protocol::{CameraConstraint, ClientMessage, LeaveReason, ServerMessage};
use crate::rtc;
use chat::Via;
use link::{Link, Patience};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Input from the signaling connection.
pub enum Signal {
    Client(ClientMessage),
    /// The connection broke (not a clean close): the session waits for a resume.
    Lost,
    /// A frame that is not a valid message (answered with `bad_message`).
    Bad(String),
    /// Messages are being dropped over the connection's signaling limits; the next is taken in
    /// this many ms (answered with `signaling_rate_limited`).
    Limited(u64),
}

/// A new signaling connection taking over this session (`?resume=`); its `welcome` is queued
/// in `out` already.
pub struct Resumption {
    pub out: mpsc::Sender<ServerMessage>,
    pub signals: mpsc::Receiver<Signal>,
    /// Cancelled when the session ends (the new connection closes then).
    pub done: CancellationToken,
}

/// Everything a participant task is started with.
pub struct Session {
    pub id: String,
    pub name: String,
    pub room: RoomHandle,
    pub events: mpsc::UnboundedReceiver<RoomEvent>,
    pub signals: mpsc::Receiver<Signal>,
    pub out: mpsc::Sender<ServerMessage>,
    pub rtc: rtc::RtcFactory,
    pub cancel: CancellationToken,
    /// Cancelled when this task ends, whatever the reason (the signaling connection closes then).
    pub done: CancellationToken,
    pub stats: Arc<Stats>,
    /// Signaling connections resuming this session.
    pub resumes: mpsc::Receiver<Resumption>,
    /// How long the session waits for its client after the network dropped (its socket lost
    /// and its media stopped, or its media connection down).
    pub resume_window: Duration,
    /// The longest its socket may stay away while its media still flows.
    pub resume_max: Duration,
    /// How long a new peer connection may take to connect before the session gives up.
    pub connect_timeout: Duration,
    /// Our signaling client, a WHIP encoder or a WHEP viewer (the last two have an HTTP session
    /// instead of a socket: they never lose it, their answer carries every candidate; an
    /// encoder receives nothing, a viewer sends nothing).
    pub kind: rtc::PeerKind,
}

/// `setState` messages a participant may send at once, and then per second (each one is drawn on
/// the composite and told to everyone): more are refused with `state_rate_limited`.
const STATE_BURST: f64 = 10.0;
const STATE_PER_SECOND: f64 = 5.0;

struct Participant {
    id: String,
    room: RoomHandle,
    out: mpsc::Sender<ServerMessage>,
    /// The client's peer connection.
    peer: rtc::PeerSession,
    /// The tasks feeding the client's tracks into the room.
    tasks: JoinSet<()>,
    sending: bool,
    /// Its receiver of the composite, once subscribed (`quality.rs`).
    video: Option<quality::VideoOut>,
    /// The client's last `videoPreference` (`maxHeight`, `mode`).
    video_preference: Option<quality::VideoPreference>,
    /// The track (or stream) id the client says carries its shared screen.
    screen_track_id: Option<String>,
    /// The task feeding the shared screen into the room.
    screen_task: Option<tokio::task::AbortHandle>,
    /// What the room last said the camera should send, and whether the client sends a camera
    /// (it is told only then; `tracks.rs`).
    camera: Option<CameraConstraint>,
    camera_live: bool,
    /// Its `setState` messages' rate ([`STATE_BURST`], [`STATE_PER_SECOND`]).
    states: crate::time::Bucket,
    /// The client's open `chat` data channel (chat goes there; else over signaling).
    chat_channel: Option<rtc::data::Channel>,
    /// Where data channel readers report.
    channel_tx: mpsc::Sender<rtc::data::ChannelEvent>,
    /// What is down and since when (`link.rs`).
    link: Link,
    /// How long the session waits for what is down.
    patience: Patience,
}

enum Exit {
    /// The participant went: tell the room.
    Leave(LeaveReason),
    /// The room removed us or ended: it knows already.
    Removed,
}

/// One thing the session loop waited for.
enum Input {
    Cancelled,
    /// From the signaling connection (`None`: it closed).
    Signal(Option<Signal>),
    /// A new signaling connection took over; where its messages go.
    Resumed(mpsc::Sender<ServerMessage>),
    /// A give-up deadline passed (`link.rs`); media that arrived since may have moved it.
    GiveUp,
    /// From the room (`None`: it is gone).
    Room(Option<RoomEvent>),
    Channel(rtc::data::ChannelEvent),
    Peer(rtc::PeerEvent),
}

/// What the session loop waits on besides the [`Session`]'s own receivers.
struct Inputs {
    peer_events: mpsc::UnboundedReceiver<rtc::PeerEvent>,
    channel_events: mpsc::Receiver<rtc::data::ChannelEvent>,
    /// Cancels the current signaling connection when the session ends.
    done: DoneGuard,
}

/// Runs a participant until it leaves; tells the room on the way out.
pub async fn run(s: Session) {
    let span = tracing::info_span!(parent: None, "participant", room = %s.room.id, id = %s.id, name = %s.name);
    run_inner(s).instrument(span).await
}

/// `Some(at)`: sleeps until then; `None`: never wakes.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Cancels the current signaling connection's token when the session ends, however it ends.
struct DoneGuard(CancellationToken);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

async fn run_inner(mut s: Session) {
    let _task = CountGuard::new(&s.stats, |s| &s.participant_tasks);
    let done = DoneGuard(s.done.clone());
    let (peer, peer_events) = match rtc::PeerSession::new(&s.rtc, s.kind, &s.room.id, &s.id).await {
        Ok(created) => created,
        Err(e) => {
            tracing::error!(error = %e, "could not create a peer connection");
            let _ = s.out.send(ServerMessage::error("internal", "the server could not create a peer connection")).await;
            s.room.leave(&s.id, LeaveReason::Disconnected).await;
            return;
        }
    };
    let (channel_tx, channel_events) = mpsc::channel(64);
    // Declared in this order so they drop in reverse: the participant, the peer connection
    // count, the signaling connection's token (in `inputs`), the task count, then `s`.
    let mut inputs = Inputs { peer_events, channel_events, done };
    let _pc_count = CountGuard::new(&s.stats, |s| &s.peer_connections);
    let mut p = Participant::new(&s, peer, channel_tx);
    let exit = loop {
        let input = inputs.next(&mut s, p.link.socket_lost.is_none(), p.give_up_at().map(|(at, _)| at)).await;
        if let Some(exit) = p.on_input(input).await {
            break exit;
        }
    };
    if let Exit::Leave(reason) = exit {
        s.room.leave(&s.id, reason).await;
    }
    p.close().await;
}

impl Inputs {
    /// Waits for the next input. Signaling is read only while `reading` (not while the socket
    /// is lost: a resume brings a new one, swapped in here); `give_up` is the participant's
    /// current deadline (`link.rs`).
    async fn next(&mut self, s: &mut Session, reading: bool, give_up: Option<tokio::time::Instant>) -> Input {
        tokio::select! {
            _ = s.cancel.cancelled() => Input::Cancelled,
            msg = s.signals.recv(), if reading => Input::Signal(msg),
            Some(r) = s.resumes.recv() => {
                s.signals = r.signals;
                // The old connection is gone or going; the new one closes when the session ends.
                self.done.0.cancel();
                self.done = DoneGuard(r.done);
                Input::Resumed(r.out)
            }
            _ = sleep_until(give_up) => Input::GiveUp,
            ev = s.events.recv() => Input::Room(ev),
            Some(ev) = self.channel_events.recv() => Input::Channel(ev),
            Some(ev) = self.peer_events.recv() => Input::Peer(ev),
        }
    }
}

/// A room event as the client gets it (`None`: the event is not sent as is).
fn room_message(ev: RoomEvent) -> Option<ServerMessage> {
    Some(match ev {
        RoomEvent::Joined(info) => ServerMessage::ParticipantJoined { participant: info },
        RoomEvent::Left { id, reason } => ServerMessage::ParticipantLeft { participant_id: id, reason },
        RoomEvent::Updated(info) => ServerMessage::ParticipantUpdated { participant: info },
        RoomEvent::MediaError { message } => ServerMessage::error("media_error", message),
        RoomEvent::ScreenShareFailed { message } => ServerMessage::error("screen_share_failed", message),
        RoomEvent::LayoutChanged(layout) => ServerMessage::LayoutChanged { layout },
        RoomEvent::ActiveSpeakers { dominant, speakers } => ServerMessage::ActiveSpeakers { dominant_participant_id: dominant, speakers },
        RoomEvent::RecordingStarted(recording) => ServerMessage::RecordingStarted { recording },
        RoomEvent::RecordingStopped { id, state, reason } => {
            ServerMessage::RecordingStopped { recording_id: id, state: state.into(), reason }
        }
        RoomEvent::ChatChanged(enabled) => ServerMessage::ChatChanged { enabled },
        RoomEvent::LockChanged(locked) => ServerMessage::RoomLocked { locked },
        RoomEvent::LobbyChanged(lobby) => ServerMessage::LobbyChanged { lobby },
        RoomEvent::Knocking(knock) => ServerMessage::LobbyRequest { knock },
        RoomEvent::KnockResolved { id, outcome } => ServerMessage::LobbyResolved { knock_id: id, outcome },
        RoomEvent::RoleChanged { role, grant } => ServerMessage::RoleChanged {
            role,
            host_token: grant.as_ref().map(|g| g.token.clone()),
            host_token_expires_at: grant.map(|g| g.expires_at),
        },
        // Chat may go on the data channel, and removal or the end finishes the session: the
        // participant's loop sends these itself.
        RoomEvent::Chat(_) | RoomEvent::Removed(_) | RoomEvent::Ended(_) | RoomEvent::Moving | RoomEvent::CameraConstraint(_) => {
            return None;
        }
    })
}

impl Participant {
    fn new(s: &Session, peer: rtc::PeerSession, channel_tx: mpsc::Sender<rtc::data::ChannelEvent>) -> Self {
        Self {
            id: s.id.clone(),
            room: s.room.clone(),
            out: s.out.clone(),
            peer,
            tasks: JoinSet::new(),
            sending: false,
            video: None,
            video_preference: None,
            states: crate::time::Bucket::new(STATE_BURST, STATE_PER_SECOND, std::time::Instant::now()),
            screen_track_id: None,
            screen_task: None,
            camera: None,
            camera_live: false,
            chat_channel: None,
            channel_tx,
            link: Link::default(),
            patience: Patience { window: s.resume_window, cap: s.resume_max, connect: s.connect_timeout },
        }
    }

    /// Handles one input; `Some` when the session ends.
    async fn on_input(&mut self, input: Input) -> Option<Exit> {
        match input {
            Input::Cancelled => return Some(Exit::Removed),
            Input::Signal(signal) => return self.on_signal(signal).await,
            Input::Resumed(out) => {
                self.out = out;
                self.link.socket_lost = None;
                self.report_link().await;
                // It may have been sent while the socket was away.
                self.tell_camera().await;
            }
            Input::GiveUp => {
                let (at, why) = self.give_up_at()?;
                let now = tokio::time::Instant::now();
                if at > now {
                    // The client's media arrived meanwhile: it is still there.
                    tracing::debug!(next_check_ms = (at - now).as_millis() as u64, "the media still flows; keeping the session");
                    return None;
                }
                let why = why.why();
                tracing::info!(why, "giving up on the session");
                self.send(ServerMessage::error("connection_failed", why)).await;
                return Some(Exit::Leave(LeaveReason::Disconnected));
            }
            Input::Room(ev) => return self.on_room_event(ev).await,
            Input::Channel(ev) => self.on_channel(ev).await,
            Input::Peer(ev) => return self.on_peer_event(ev).await,
        }
        None
    }

    async fn on_signal(&mut self, signal: Option<Signal>) -> Option<Exit> {
        match signal {
            None | Some(Signal::Client(ClientMessage::Leave {})) => return Some(Exit::Leave(LeaveReason::Left)),
            Some(Signal::Lost) => {
                tracing::info!("signaling connection lost; keeping the session for a resume");
                // Let go of the broken socket (its writer closes it once no one can send).
                self.out = mpsc::channel(1).0;
                self.link.socket_lost = Some(tokio::time::Instant::now());
                self.report_link().await;
            }
            Some(Signal::Bad(e)) => self.send(ServerMessage::error("bad_message", e)).await,
            Some(Signal::Limited(ms)) => {
                let message = format!("too many signaling messages: some were dropped unread; the next is taken in {ms} ms");
                self.send(ServerMessage::error_retry("signaling_rate_limited", message, Some(ms))).await;
            }
            Some(Signal::Client(msg)) => self.on_client(msg, Via::Socket).await,
        }
        None
    }

    async fn on_room_event(&mut self, ev: Option<RoomEvent>) -> Option<Exit> {
        match ev {
            None => return Some(Exit::Removed),
            Some(RoomEvent::Removed(reason)) => {
                let message = match reason {
                    LeaveReason::Replaced => "you joined this room again from somewhere else",
                    _ => "you were removed from the room",
                };
                self.send(ServerMessage::Removed { reason, message: message.into() }).await;
                return Some(Exit::Removed);
            }
            Some(RoomEvent::Ended(reason)) => {
                let (reason, message) = match reason {
                    Some(r) => (r.as_str(), r.message()),
                    None => ("serverShutdown", "the server is shutting down"),
                };
                self.send(ServerMessage::RoomEnded { reason: reason.into(), message: message.into() }).await;
                return Some(Exit::Removed);
            }
            Some(RoomEvent::Moving) => {
                // The socket closes with 4503: the client joins again, through any node.
                self.send(ServerMessage::error("room_moving", "the room is moving to another node; join again")).await;
                return Some(Exit::Removed);
            }
            Some(RoomEvent::Chat(message)) => self.send_chat(ServerMessage::Chat { message }, Via::Channel).await,
            Some(RoomEvent::CameraConstraint(c)) => self.on_camera_constraint(c).await,
            Some(other) => {
                if let Some(msg) = room_message(other) {
                    self.send(msg).await;
                }
            }
        }
        None
    }

    async fn send(&self, msg: ServerMessage) {
        let _ = self.out.send(msg).await;
    }

    /// Stops every child task and closes the peer connection.
    async fn close(mut self) {
        self.tasks.abort_all();
        self.peer.close().await;
        while self.tasks.join_next().await.is_some() {}
        tracing::info!("session ended");
    }
}
