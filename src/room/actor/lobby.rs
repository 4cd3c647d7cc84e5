//! The lobby: with the room's `lobby` setting on, a newcomer knocks and waits until a host
//! admits or denies them (Meet's "Ask to join", Zoom's waiting room).
//!
//! Invariants: every knock is answered exactly once: admitted (a host, or the lobby turned off:
//! the knocker then counts as having been in, see `admission`), denied, or dropped (the knocker
//! left, the room ended: its answer channel closes). Hosts are told of every knock and of how it
//! was resolved. At most [`MAX_WAITING`] wait at once.

use super::Room;
use super::admission::Entry;
use crate::auth::Role;
use crate::protocol::{KnockInfo, KnockOutcome};
use crate::room::{JoinError, JoinRequest, Knocked, ManageError, RoomEvent};
use crate::time::{format_unix, now_unix};
use tokio::sync::oneshot;

/// The most people a room's lobby holds at once (more are refused with `lobby_full`).
pub const MAX_WAITING: usize = 50;

struct Knock {
    info: KnockInfo,
    identity: String,
    device: Option<String>,
    answer: oneshot::Sender<bool>,
}

#[derive(Default)]
pub(super) struct Lobby {
    knocks: Vec<Knock>,
}

impl Room {
    /// Someone asks to come in: straight in ([`Knocked::Enter`]: join now), or a knock hosts
    /// answer ([`Knocked::Wait`]), or refused as a join would be.
    pub(super) fn knock(&mut self, req: JoinRequest) -> Result<Knocked, JoinError> {
        if self.may_enter(&req)? == Entry::Now {
            return Ok(Knocked::Enter);
        }
        if self.lobby.knocks.len() >= MAX_WAITING {
            return Err(JoinError::LobbyFull(MAX_WAITING));
        }
        let info = KnockInfo { id: crate::ids::random_id(16), name: req.name, at: format_unix(now_unix()) };
        let (answer, decision) = oneshot::channel();
        tracing::info!(knock = %info.id, name = %info.name, "knocking");
        self.tell_hosts(RoomEvent::Knocking(info.clone()));
        let id = info.id.clone();
        self.lobby.knocks.push(Knock { info, identity: req.identity, device: req.device, answer });
        Ok(Knocked::Wait { id, decision })
    }

    /// Who is waiting, oldest first.
    pub(super) fn waiting(&self) -> Vec<KnockInfo> {
        self.lobby.knocks.iter().map(|k| k.info.clone()).collect()
    }

    /// A host admits (`true`) or denies knock `id`.
    pub(super) fn answer_knock(&mut self, id: &str, admit: bool) -> Result<(), ManageError> {
        let idx = self.lobby.knocks.iter().position(|k| k.info.id == id).ok_or_else(|| ManageError::NoKnock(id.into()))?;
        let k = self.lobby.knocks.remove(idx);
        self.resolve(k, if admit { KnockOutcome::Admitted } else { KnockOutcome::Denied });
        Ok(())
    }

    /// The knocker left (closed its socket, gave up waiting).
    pub(super) fn cancel_knock(&mut self, id: &str) {
        if let Some(idx) = self.lobby.knocks.iter().position(|k| k.info.id == id) {
            let k = self.lobby.knocks.remove(idx);
            self.resolve(k, KnockOutcome::Left);
        }
    }

    /// The lobby was turned off: everyone waiting comes in.
    pub(super) fn admit_everyone(&mut self) {
        for k in std::mem::take(&mut self.lobby.knocks) {
            self.resolve(k, KnockOutcome::Admitted);
        }
    }

    fn resolve(&mut self, k: Knock, outcome: KnockOutcome) {
        if outcome == KnockOutcome::Admitted {
            self.admission.joined(&k.identity, k.device.as_deref());
        }
        tracing::info!(knock = %k.info.id, ?outcome, "knock answered");
        let _ = k.answer.send(outcome == KnockOutcome::Admitted);
        self.tell_hosts(RoomEvent::KnockResolved { id: k.info.id, outcome });
    }

    /// Sends `ev` to every host in the room.
    fn tell_hosts(&self, ev: RoomEvent) {
        for m in self.members.iter().filter(|m| m.info.role == Role::Host) {
            let _ = m.events.send(ev.clone());
        }
    }
}
