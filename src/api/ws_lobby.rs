//! A newcomer's socket while it waits in the room's lobby: told `lobbyWaiting`, then either let
//! in (the caller joins again), refused (`lobby_denied`, `room_locked`, `lobby_replaced` by a
//! newer knock, `room_moving` when the room stopped running here), given up after [`LOBBY_WAIT`]
//! (`lobby_timeout`), or gone (the client closed the socket, sent `leave`, or went silent past
//! the keepalive's limit: the knock is withdrawn, so hosts see it leave). The socket is pinged
//! as a call's is, so a knocker whose network vanished is not admitted as a ghost.

use super::keepalive::{PING_EVERY, SILENCE_LIMIT};
use crate::protocol::ServerMessage;
use crate::room::{Decision, JoinRequest, Knocked, RoomHandle};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use warp::ws::{Message, WebSocket};

/// The longest a newcomer waits for a host's answer.
pub const LOBBY_WAIT: Duration = Duration::from_secs(15 * 60);

/// How a wait in the lobby ended.
pub enum Waited {
    /// Let in (or there was no need to wait): join now.
    Enter,
    /// Refused at the knock, as a join would be (the caller says it in its words).
    Refused(crate::room::JoinError),
    /// The wait ended without coming in: the caller tells the client why.
    Ended(WaitEnd),
    /// The client went away; nothing more to send.
    Gone,
}

/// Why a wait ended without coming in (each is an `error` code, see docs/signaling.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    /// `lobby_denied`: a host refused.
    Denied,
    /// `room_locked`: the room was locked meanwhile.
    Locked,
    /// `lobby_replaced`: the same identity or device knocked again.
    Replaced,
    /// `room_moving`: the room stopped running on this node.
    Moved,
    /// `lobby_timeout`: nobody answered within [`LOBBY_WAIT`].
    TimedOut,
}

impl WaitEnd {
    /// The error the client is told.
    pub fn message(self) -> ServerMessage {
        let (code, message) = match self {
            WaitEnd::Denied => ("lobby_denied", "a host did not let you in".to_owned()),
            WaitEnd::Locked => ("room_locked", "the host has locked this call: nobody new can join".to_owned()),
            WaitEnd::Replaced => ("lobby_replaced", "you asked to join again from elsewhere; this request is withdrawn".to_owned()),
            WaitEnd::Moved => ("room_moving", "the room stopped running here; join again".to_owned()),
            WaitEnd::TimedOut => ("lobby_timeout", format!("nobody let you in within {} minutes", LOBBY_WAIT.as_secs() / 60)),
        };
        ServerMessage::error(code, message)
    }
}

/// Knocks for `req` and waits for the answer, reading (and dropping) what the client sends
/// meanwhile so its close or `leave` is seen.
pub async fn wait(
    room: &RoomHandle,
    req: JoinRequest,
    ws_tx: &mut futures::stream::SplitSink<WebSocket, Message>,
    ws_rx: &mut futures::stream::SplitStream<WebSocket>,
) -> Waited {
    let (id, mut decision) = match room.knock(req).await {
        Ok(Knocked::Enter) => return Waited::Enter,
        Ok(Knocked::Wait { id, decision }) => (id, decision),
        Err(e) => return Waited::Refused(e),
    };
    let waiting = ServerMessage::LobbyWaiting { message: "the host has been asked to let you in".into() };
    if let Ok(text) = serde_json::to_string(&waiting)
        && ws_tx.send(Message::text(text)).await.is_err()
    {
        room.cancel_knock(&id).await;
        return Waited::Gone;
    }
    let deadline = tokio::time::sleep(LOBBY_WAIT);
    tokio::pin!(deadline);
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            answer = &mut decision => return match answer {
                Ok(Decision::Admitted) => Waited::Enter,
                Ok(Decision::Denied) => Waited::Ended(WaitEnd::Denied),
                Ok(Decision::Locked) => Waited::Ended(WaitEnd::Locked),
                Ok(Decision::Replaced) => Waited::Ended(WaitEnd::Replaced),
                // The room stopped running here (it moved to another node, or ended): join again.
                Err(_) => Waited::Ended(WaitEnd::Moved),
            },
            _ = ping.tick() => {
                if heard.elapsed() > SILENCE_LIMIT || ws_tx.send(Message::ping(Vec::new())).await.is_err() {
                    room.cancel_knock(&id).await;
                    return Waited::Gone;
                }
            }
            () = &mut deadline => {
                room.cancel_knock(&id).await;
                return Waited::Ended(WaitEnd::TimedOut);
            }
            frame = ws_rx.next() => match frame {
                Some(Ok(m)) if m.is_close() || is_leave(&m) => { room.cancel_knock(&id).await; return Waited::Gone; }
                Some(Ok(_)) => heard = tokio::time::Instant::now(),
                None | Some(Err(_)) => { room.cancel_knock(&id).await; return Waited::Gone; }
            },
        }
    }
}

/// Whether a frame is the client's `{"type":"leave"}`.
fn is_leave(m: &Message) -> bool {
    m.to_str().ok().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()).is_some_and(|v| v["type"] == "leave")
}
