//! A newcomer's socket while it waits in the room's lobby: told `lobbyWaiting`, then either let
//! in (the caller joins again), refused (`lobby_denied`), given up after [`LOBBY_WAIT`]
//! (`lobby_timeout`), or gone (the client closed the socket or sent `leave`: the knock is
//! withdrawn, so hosts see it leave).

use crate::protocol::ServerMessage;
use crate::room::{JoinRequest, Knocked, RoomHandle};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use warp::ws::{Message, WebSocket};

/// The longest a newcomer waits for a host's answer.
pub const LOBBY_WAIT: Duration = Duration::from_secs(15 * 60);

/// How a wait in the lobby ended.
pub enum Waited {
    /// Let in (or there was no need to wait): join now.
    Enter,
    /// Refused: this error, and the socket's close code.
    Refused(Box<ServerMessage>, u16),
    /// The client went away; nothing more to send.
    Gone,
}

/// Knocks for `req` and waits for the answer, reading (and dropping) what the client sends
/// meanwhile so its close or `leave` is seen. A join refusal at the knock comes back as
/// `Refused` with `refusal`'s words.
pub async fn wait(
    room: &RoomHandle,
    req: JoinRequest,
    ws_tx: &mut futures::stream::SplitSink<WebSocket, Message>,
    ws_rx: &mut futures::stream::SplitStream<WebSocket>,
    refusal: fn(&crate::room::JoinError) -> (ServerMessage, u16),
) -> Waited {
    let (id, mut decision) = match room.knock(req).await {
        Ok(Knocked::Enter) => return Waited::Enter,
        Ok(Knocked::Wait { id, decision }) => (id, decision),
        Err(e) => {
            let (msg, close) = refusal(&e);
            return Waited::Refused(Box::new(msg), close);
        }
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
    loop {
        tokio::select! {
            answer = &mut decision => return match answer {
                Ok(true) => Waited::Enter,
                Ok(false) => Waited::Refused(Box::new(ServerMessage::error("lobby_denied", "a host did not let you in")), super::ws::CLOSE_FORBIDDEN),
                Err(_) => Waited::Refused(Box::new(ServerMessage::error("room_ended", "the room has ended")), super::ws::CLOSE_ROOM_ENDED),
            },
            () = &mut deadline => {
                room.cancel_knock(&id).await;
                let msg = ServerMessage::error("lobby_timeout", format!("nobody let you in within {} minutes", LOBBY_WAIT.as_secs() / 60));
                return Waited::Refused(Box::new(msg), super::ws::CLOSE_LOBBY_TIMEOUT);
            }
            frame = ws_rx.next() => match frame {
                Some(Ok(m)) if m.is_close() => { room.cancel_knock(&id).await; return Waited::Gone; }
                Some(Ok(m)) if is_leave(&m) => { room.cancel_knock(&id).await; return Waited::Gone; }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => { room.cancel_knock(&id).await; return Waited::Gone; }
            },
        }
    }
}

/// Whether a frame is the client's `{"type":"leave"}`.
fn is_leave(m: &Message) -> bool {
    m.to_str().ok().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()).is_some_and(|v| v["type"] == "leave")
}
