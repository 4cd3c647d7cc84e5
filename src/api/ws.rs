//! `GET /api/v1/rooms/{id}/ws?token=JWT` (or `?name=NAME` in open mode): the signaling
//! WebSocket. This handler checks the join token, joins the room, and then only moves frames:
//! text in → parsed [`ClientMessage`] → the participant task; [`ServerMessage`]s out → text
//! frames. Malformed input is answered here with `bad_message` and never reaches the room.

use super::keepalive::{PING_EVERY, SILENCE_LIMIT, WRITE_LIMIT};
use super::ws_limits::{SignalMeter, Verdict};
use super::ws_lobby::{WaitEnd, Waited};
use super::{AppState, with_state};
use crate::auth::{AuthError, JoinClaims, Role};
use crate::config::RateLimitConfig;
use crate::protocol::{Limits, ServerMessage, parse_client_message};
use crate::room::participant::{self, Resumption, Session, Signal};
use crate::room::{CountGuard, JoinError, JoinRequest, Joined, RoomHandle, Route, RouteError, SessionView, Stats};
use crate::time::format_unix;
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::ws::{Message, WebSocket};

/// Close codes (documented in docs/signaling.md).
pub const CLOSE_REMOVED: u16 = 4001;
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
pub const CLOSE_FORBIDDEN: u16 = 4403;
pub const CLOSE_ROOM_NOT_FOUND: u16 = 4404;
pub const CLOSE_ROOM_FULL: u16 = 4409;
pub const CLOSE_ROOM_ENDED: u16 = 4410;
pub const CLOSE_NOT_STARTED: u16 = 4425;
pub const CLOSE_UNAVAILABLE: u16 = 4503;
pub const CLOSE_INTERNAL: u16 = 4500;
pub const CLOSE_LOBBY_TIMEOUT: u16 = 4408;

pub fn signaling(state: AppState) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "v1" / "rooms" / String / "ws")
        .and(warp::ws())
        .and(warp::query::<HashMap<String, String>>().or(warp::any().map(HashMap::new)).unify())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::optional::<String>(super::forward::HOP_HEADER))
        .and(with_state(state))
        .map(|room_id: String, ws: warp::ws::Ws, query: HashMap<String, String>, raw: String, hop: Option<String>, state: AppState| {
            let limit = state.config.max_message_bytes;
            let name = clean_name(query.get("name").map(String::as_str), "Guest");
            let token = query.get("token").cloned().filter(|t| !t.is_empty());
            let resume = query.get("resume").cloned().filter(|t| !t.is_empty());
            let device = clean_device(query.get("device").map(String::as_str));
            let relay = Relayed { query: raw, hop: hop.is_some() };
            ws.max_message_size(limit)
                .max_frame_size(limit)
                .on_upgrade(move |socket| session(socket, room_id, Caller { name, token, device }, resume, relay, state))
        })
}

/// The longest `device` a client may send (a longer one is ignored, as is an empty one).
pub const MAX_DEVICE_CHARS: usize = 64;

/// The client's device id as the socket gave it: 1 to [`MAX_DEVICE_CHARS`] of `A-Z a-z 0-9 - _`,
/// else none (a device id is a convenience of honest clients, never a credential).
fn clean_device(raw: Option<&str>) -> Option<String> {
    raw.filter(|d| (1..=MAX_DEVICE_CHARS).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .map(str::to_owned)
}

/// A display name: trimmed, control characters removed, at most 64 characters; `default` when
/// nothing is left.
pub(super) fn clean_name(raw: Option<&str>, default: &str) -> String {
    let name: String = raw.unwrap_or_default().chars().filter(|c| !c.is_control()).take(64).collect();
    let name = name.trim();
    if name.is_empty() { default.to_owned() } else { name.to_owned() }
}

async fn refuse(
    mut ws: futures::stream::SplitSink<WebSocket, Message>,
    ws_rx: futures::stream::SplitStream<WebSocket>,
    msg: ServerMessage,
    close: u16,
) {
    if let Ok(text) = serde_json::to_string(&msg) {
        let _ = ws.send(Message::text(text)).await;
    }
    let _ = ws.send(Message::close_with(close, "refused")).await;
    let _ = ws.close().await;
    linger(ws_rx).await;
}

/// How long a socket whose close frame went out keeps reading for the client's close reply.
const LINGER: Duration = Duration::from_secs(1);

/// Reads (and drops) what the client still sends after our close frame, until its close reply,
/// the end of the stream or [`LINGER`]. A socket closed with unread bytes in its receive buffer
/// (a pong, a message sent meanwhile) is reset rather than shut down, and a reset can make the
/// client's TCP stack drop our last frames before its application read them: the reason for the
/// close would be lost (TCP's lingering close, as web servers do it).
async fn linger(mut ws_rx: futures::stream::SplitStream<WebSocket>) {
    let _ = tokio::time::timeout(LINGER, async {
        while let Some(Ok(m)) = ws_rx.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await;
}

/// Who is joining, from the token (or anonymous in open mode).
fn join_request(state: &AppState, room_id: &str, caller: Caller) -> Result<JoinRequest, AuthError> {
    let Caller { name, token, device } = caller;
    match token.as_deref() {
        Some(t) => joiner(state, state.auth.verify_join(t, room_id)?, name, device),
        None if state.auth.is_open() => Ok(JoinRequest {
            identity: format!("guest-{}", crate::ids::random_id(10)),
            name,
            role: Role::Participant,
            device,
            admitted: false,
        }),
        None => Err(AuthError::Missing),
    }
}

/// Who joins with a verified token of the room: its identity, its name (else `name`) and its
/// role; a viewer token cannot join, and a host token whose host role was taken away joins as a
/// participant.
pub(super) fn joiner(state: &AppState, c: JoinClaims, name: String, device: Option<String>) -> Result<JoinRequest, AuthError> {
    if c.role == Role::Viewer {
        return Err(AuthError::ViewerOnly);
    }
    let role = if c.role == Role::Host && !state.auth.is_host(&c) { Role::Participant } else { c.role };
    let name = if c.name.trim().is_empty() { name } else { c.name };
    Ok(JoinRequest { identity: c.sub, name, role, device, admitted: false })
}

fn welcome_limits(state: &AppState) -> Limits {
    Limits {
        chat_message_bytes: crate::room::chat::MAX_TEXT_BYTES,
        file_bytes: state.config.max_file_bytes,
        resume_seconds: state.config.resume_seconds,
        resume_max_seconds: state.config.resume_max_seconds.max(state.config.resume_seconds),
    }
}

/// The first frame of every session, joined or resumed.
fn welcome(state: &AppState, room_id: &str, view: SessionView, resumed: bool) -> ServerMessage {
    // Fresh TURN credentials at each welcome (a resume too), made for this participant.
    let ice_servers = crate::turn::ice_servers(&state.config, &view.participant.id, crate::time::now_unix());
    ServerMessage::Welcome {
        participant_id: view.participant.id.clone(),
        you: Box::new(view.participant),
        room_id: room_id.to_owned(),
        participants: view.participants,
        ice_servers,
        recording: view.recording,
        layout: view.layout,
        resume_token: view.resume_token,
        resumed,
        chat: view.chat,
        locked: view.locked,
        lobby: view.lobby,
        limits: welcome_limits(state),
    }
}

/// Hands this connection to the session `resume` names, if the room still keeps it.
async fn try_resume(
    state: &AppState,
    room: &crate::room::RoomHandle,
    identity: &str,
    resume: &str,
) -> Option<(mpsc::Sender<Signal>, CancellationToken, mpsc::Receiver<ServerMessage>)> {
    // A room that is gone keeps no session: the caller joins instead (and is told it ended).
    let r = room.resume(resume, identity).await.ok().flatten()?;
    let (out_tx, out_rx) = mpsc::channel::<ServerMessage>(256);
    let (sig_tx, sig_rx) = mpsc::channel::<Signal>(64);
    let welcome = welcome(state, &room.id, r.view, true);
    out_tx.send(welcome).await.ok()?;
    let done = CancellationToken::new();
    r.resume.send(Resumption { out: out_tx, signals: sig_rx, done: done.clone() }).await.ok()?;
    Some((sig_tx, done, out_rx))
}

/// Cluster mode: what a relay to the room's node needs.
struct Relayed {
    /// The client's query string as sent.
    query: String,
    /// Another node sent this socket here (see `forward::HOP_HEADER`).
    hop: bool,
}

/// Who the socket says is calling: its `name`, `token` and `device` query parameters.
struct Caller {
    name: String,
    token: Option<String>,
    device: Option<String>,
}

async fn session(socket: WebSocket, room_id: String, caller: Caller, resume: Option<String>, relay: Relayed, state: AppState) {
    let (ws_tx, ws_rx) = socket.split();
    // The token is checked before the room is looked up or placed: nobody unknown makes a
    // node place a room.
    let req = match join_request(&state, &room_id, caller) {
        Ok(r) => r,
        Err(e) => {
            return refuse(ws_tx, ws_rx, auth_refusal(&e), if e.status() == 401 { CLOSE_UNAUTHORIZED } else { CLOSE_FORBIDDEN }).await;
        }
    };
    // Where the room runs decides whether this node serves the socket or relays it.
    let room = match Box::pin(state.rooms.route(&room_id, relay.hop)).await {
        Ok(Route::Local(room)) => room,
        Ok(Route::Remote(url)) => return relay_to(&state, &url, &room_id, &relay, ws_tx, ws_rx).await,
        Ok(Route::Ended(_)) => {
            return refuse(ws_tx, ws_rx, ServerMessage::error("room_ended", "the room has ended"), CLOSE_ROOM_ENDED).await;
        }
        Ok(Route::NotFound) => {
            return refuse(
                ws_tx,
                ws_rx,
                ServerMessage::error("room_not_found", format!("no room with id {room_id:?}")),
                CLOSE_ROOM_NOT_FOUND,
            )
            .await;
        }
        Err(e) => {
            let (msg, close) = route_refusal(e);
            return refuse(ws_tx, ws_rx, msg, close).await;
        }
    };
    if let Some(resume) = &resume
        && let Some((sig_tx, done, out_rx)) = try_resume(&state, &room, &req.identity, resume).await
    {
        let gave_up = spawn_writer(&state, ws_tx, out_rx);
        return read_frames(ws_rx, sig_tx, done, gave_up, state.rooms.stats().clone(), &state.config.rate_limit).await;
    }
    let (mut ws_tx, mut ws_rx) = (ws_tx, ws_rx);
    let mut req = req;
    // With the lobby on a newcomer knocks first; once a host lets it in it joins again, as
    // admitted (the lobby does not stop it twice).
    let result = match room.join(req.clone()).await {
        Err(JoinError::MustKnock) => match super::ws_lobby::wait(&room, req.clone(), &mut ws_tx, &mut ws_rx).await {
            Waited::Enter => {
                req.admitted = true;
                room.join(req).await
            }
            Waited::Refused(e) => Err(e),
            Waited::Ended(end) => {
                let close = match end {
                    WaitEnd::Denied | WaitEnd::Locked => CLOSE_FORBIDDEN,
                    WaitEnd::Replaced => CLOSE_REMOVED,
                    WaitEnd::Moved => CLOSE_UNAVAILABLE,
                    WaitEnd::TimedOut => CLOSE_LOBBY_TIMEOUT,
                };
                return refuse(ws_tx, ws_rx, end.message(), close).await;
            }
            Waited::Gone => return,
        },
        other => other,
    };
    match result {
        Ok(joined) => serve(&state, room, joined, ws_tx, ws_rx).await,
        Err(e) => {
            let (msg, close) = join_refusal(&e);
            refuse(ws_tx, ws_rx, msg, close).await
        }
    }
}

/// What a client whose credentials were refused is told.
fn auth_refusal(e: &AuthError) -> ServerMessage {
    let message = match e {
        AuthError::Missing => "joining this room needs a join token (?token=)".to_owned(),
        other => other.to_string(),
    };
    ServerMessage::error(e.code(), message)
}

/// What a client is told when the room could not be looked up or placed, and the close code.
fn route_refusal(e: RouteError) -> (ServerMessage, u16) {
    let (code, message, close) = match super::rejection::ApiError::from(e) {
        super::rejection::ApiError::Cluster(code, message) => (code, message, CLOSE_UNAVAILABLE),
        _ => ("internal", "the server could not look up the room".to_owned(), CLOSE_INTERNAL),
    };
    (ServerMessage::error(code, message), close)
}

/// What a client whose join the room refused is told, and the close code.
fn join_refusal(e: &JoinError) -> (ServerMessage, u16) {
    let (code, close) = match e {
        JoinError::Full(_) => ("room_full", CLOSE_ROOM_FULL),
        JoinError::Gone(_) => ("room_ended", CLOSE_ROOM_ENDED),
        JoinError::NotStarted { .. } => ("room_not_started", CLOSE_NOT_STARTED),
        JoinError::Media(_) => ("internal", CLOSE_INTERNAL),
        JoinError::Locked => ("room_locked", CLOSE_FORBIDDEN),
        JoinError::Removed => ("removed_from_room", CLOSE_FORBIDDEN),
        JoinError::LobbyFull(_) => ("lobby_full", CLOSE_ROOM_FULL),
        JoinError::TooManyViewers(_) => ("too_many_viewers", CLOSE_ROOM_FULL),
        JoinError::MustKnock => ("internal", CLOSE_INTERNAL),
    };
    let mut msg = ServerMessage::error(code, e.to_string());
    if let (JoinError::NotStarted { starts_at }, ServerMessage::Error { starts_at: at, .. }) = (e, &mut msg) {
        *at = Some(format_unix(*starts_at));
    }
    (msg, close)
}

/// Relays the client's socket to the node running the room (cluster mode).
async fn relay_to(
    state: &AppState,
    url: &str,
    room_id: &str,
    relay: &Relayed,
    ws_tx: futures::stream::SplitSink<WebSocket, Message>,
    ws_rx: futures::stream::SplitStream<WebSocket>,
) {
    let from = state.rooms.cluster().map_or("", |c| c.id()).to_owned();
    match super::ws_relay::connect(url, room_id, &relay.query, &from, state.config.max_message_bytes).await {
        Ok(upstream) => super::ws_relay::pipe(ws_tx, ws_rx, upstream).await,
        Err(e) => {
            tracing::warn!(%url, error = %e, "cluster: signaling relay failed");
            refuse(ws_tx, ws_rx, ServerMessage::error("node_unreachable", e.to_string()), CLOSE_UNAVAILABLE).await
        }
    }
}

/// Serves a joined participant: welcomes it, starts its session task and carries its frames
/// both ways until the socket closes or the session ends.
async fn serve(
    state: &AppState,
    room: RoomHandle,
    joined: Joined,
    ws_tx: futures::stream::SplitSink<WebSocket, Message>,
    ws_rx: futures::stream::SplitStream<WebSocket>,
) {
    let started = start_participant(state, room, joined, crate::rtc::PeerKind::Participant).await;
    let gave_up = spawn_writer(state, ws_tx, started.out);
    read_frames(ws_rx, started.signals, started.done, gave_up, state.rooms.stats().clone(), &state.config.rate_limit).await
}

/// A participant's session task, started: where its signaling goes in and comes out.
pub(super) struct Started {
    pub signals: mpsc::Sender<Signal>,
    /// Everything the session says (closed when it ends).
    pub out: mpsc::Receiver<ServerMessage>,
    /// Cancelled when the session ends.
    pub done: CancellationToken,
}

/// Starts the session task of a participant the room just let in. A signaling client's first
/// message is its `welcome`; a WHIP encoder gets none (it speaks no signaling).
pub(super) async fn start_participant(state: &AppState, room: RoomHandle, joined: Joined, kind: crate::rtc::PeerKind) -> Started {
    let (out_tx, out_rx) = mpsc::channel::<ServerMessage>(256);
    let (sig_tx, sig_rx) = mpsc::channel::<Signal>(64);
    let (id, name) = (joined.view.participant.id.clone(), joined.view.participant.name.clone());
    if kind == crate::rtc::PeerKind::Participant {
        let _ = out_tx.send(welcome(state, &room.id, joined.view, false)).await;
    }
    let done = CancellationToken::new();
    tokio::spawn(participant::run(Session {
        id,
        name,
        room,
        events: joined.events,
        signals: sig_rx,
        out: out_tx,
        rtc: state.rtc.clone(),
        cancel: joined.cancel,
        done: done.clone(),
        stats: state.rooms.stats().clone(),
        resumes: joined.resumes,
        resume_window: Duration::from_secs(state.config.resume_seconds),
        resume_max: Duration::from_secs(state.config.resume_max_seconds),
        connect_timeout: Duration::from_secs(state.config.connect_timeout_seconds),
        kind,
    }));
    Started { signals: sig_tx, out: out_rx, done }
}

/// Reads the client's frames into the session until the socket closes or the session ends,
/// held to the connection's signaling limits (`ws_limits.rs`). A
/// close frame (or a clean end of stream) means leaving; an error or [`SILENCE_LIMIT`] without
/// any frame means the network dropped, and the session waits for a resume.
///
/// When the session ends first, the socket lingers (see [`linger`]) while counted among the
/// signaling sockets still closing, so a shutting-down server waits for it.
async fn read_frames(
    mut ws_rx: futures::stream::SplitStream<WebSocket>,
    sig_tx: mpsc::Sender<Signal>,
    done: CancellationToken,
    gave_up: CancellationToken,
    stats: Arc<Stats>,
    limits: &RateLimitConfig,
) {
    let mut meter = SignalMeter::new(limits, std::time::Instant::now());
    let lost = loop {
        tokio::select! {
            // A frame already there (a close frame before the socket went) is read first.
            biased;
            _ = done.cancelled() => {
                let _closing = CountGuard::new(&stats, |s| &s.signaling_writers);
                drop(sig_tx);
                return linger(ws_rx).await;
            }
            frame = ws_rx.next() => match frame {
                None => break false,
                Some(Err(e)) => {
                    // A frame over `max_message_bytes` is the client breaking the protocol, not
                    // the network dropping: that session ends (tungstenite's capacity error).
                    let too_big = is_oversized(&e);
                    tracing::debug!(error = %e, too_big, "websocket read failed");
                    break !too_big;
                }
                Some(Ok(m)) if m.is_close() => break false,
                Some(Ok(m)) if m.is_text() || m.is_binary() => {
                    let parsed = match m.to_str() {
                        Ok(text) if m.is_text() => parse_client_message(text),
                        _ => Err("binary frames are not accepted; send JSON text".into()),
                    };
                    // Over the connection's limits a message is dropped unread.
                    let signal = match meter.judge(parsed.as_ref().ok(), std::time::Instant::now()) {
                        Verdict::Take => parsed.map_or_else(Signal::Bad, Signal::Client),
                        Verdict::Drop(None) => continue,
                        Verdict::Drop(Some(ms)) => Signal::Limited(ms),
                    };
                    if sig_tx.send(signal).await.is_err() {
                        break false;
                    }
                }
                Some(Ok(_)) => {} // ping or pong: the socket is alive
            },
            // The writer gave the socket up (the client does not read it): as lost as silence.
            _ = gave_up.cancelled() => break true,
            _ = tokio::time::sleep(SILENCE_LIMIT) => {
                tracing::debug!("no frame from the client for {SILENCE_LIMIT:?}");
                break true;
            }
        }
    };
    if lost {
        let _ = sig_tx.send(Signal::Lost).await;
    }
}

/// Starts the socket's writer; the token is cancelled when it gives the socket up (a write
/// failed or took over [`WRITE_LIMIT`]), which the reader takes as the connection lost.
fn spawn_writer(
    state: &AppState,
    ws_tx: futures::stream::SplitSink<WebSocket, Message>,
    out: mpsc::Receiver<ServerMessage>,
) -> CancellationToken {
    let gave_up = CancellationToken::new();
    tokio::spawn(write_frames(ws_tx, out, gave_up.clone(), CountGuard::new(state.rooms.stats(), |s| &s.signaling_writers)));
    gave_up
}

/// Sends queued messages until every sender (this handler and the participant) is gone, then
/// closes the socket: after `roomEnded` with 4410, after `removed` with 4001, else 1000. A
/// client that stops reading is given up after [`WRITE_LIMIT`] on one frame (`gave_up`).
/// `_writer` counts this writer until its last frame went out (shutdown waits for it).
async fn write_frames(
    mut ws: futures::stream::SplitSink<WebSocket, Message>,
    mut out: mpsc::Receiver<ServerMessage>,
    gave_up: CancellationToken,
    _writer: CountGuard,
) {
    let mut close = (1000u16, "bye");
    // The first ping one period from now: `welcome` is always the first frame.
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let msg = tokio::select! {
            m = out.recv() => match m {
                Some(m) => m,
                None => break,
            },
            // No ping after the session's last word: the client's pong would reach a socket
            // that no longer reads, which answers it with a reset, and a client that flushes
            // the pong before reading on (tungstenite does) never sees the close frame.
            _ = ping.tick(), if close.0 == 1000 => {
                if !write(&mut ws, Message::ping(Vec::new())).await {
                    gave_up.cancel();
                    return;
                }
                continue;
            }
        };
        match msg {
            ServerMessage::RoomEnded { .. } => close = (CLOSE_ROOM_ENDED, "room ended"),
            ServerMessage::Removed { .. } => close = (CLOSE_REMOVED, "removed"),
            ServerMessage::Error { ref code, .. } if code == "room_moving" => close = (CLOSE_UNAVAILABLE, "room moving"),
            _ => {}
        }
        let Ok(text) = serde_json::to_string(&msg) else { continue };
        if !write(&mut ws, Message::text(text)).await {
            gave_up.cancel();
            return;
        }
    }
    if write(&mut ws, Message::close_with(close.0, close.1)).await {
        let _ = tokio::time::timeout(WRITE_LIMIT, ws.close()).await;
    }
}

/// Sends one frame; false when the socket failed or took over [`WRITE_LIMIT`] (a client that
/// does not read: the writer gives the socket up).
async fn write(ws: &mut futures::stream::SplitSink<WebSocket, Message>, frame: Message) -> bool {
    match tokio::time::timeout(WRITE_LIMIT, ws.send(frame)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::info!("the client has not read its socket for {WRITE_LIMIT:?}: its writer gives up");
            false
        }
    }
}

/// Whether a read failed because the client's frame or message was over the configured size
/// (tungstenite's capacity error, which warp keeps as its error's source). warp 0.4.3 uses the
/// tungstenite of `tokio-tungstenite` 0.29, as we do; `tests/protocol.rs` fails (the oversized
/// sender would leave `disconnected` after the resume window) if the two ever differ.
fn is_oversized(e: &warp::Error) -> bool {
    use std::error::Error as _;
    use tokio_tungstenite::tungstenite::Error as WsError;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(ws) = s.downcast_ref::<WsError>() {
            return matches!(ws, WsError::Capacity(_));
        }
        source = s.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name(None, "Guest"), "Guest");
        assert_eq!(clean_name(Some("  Ada\u{7}  "), "Guest"), "Ada");
        assert_eq!(clean_name(Some(&"x".repeat(100)), "Guest").len(), 64);
    }
}
