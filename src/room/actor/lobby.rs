//! The lobby: with the room's `lobby` setting on, a newcomer knocks and waits until a host
//! admits or denies them (Meet's "Ask to join", Zoom's waiting room).
//!
//! Invariants: every knock is answered exactly once ([`Decision`]): admitted (by a host, or the
//! lobby turned off while the room is unlocked; the knocker then counts as having been in, see
//! `admission`), denied, refused because the room was locked, replaced by a newer knock of the
//! same identity or device, or dropped (the knocker left; the room stopped running here: its
//! answer channel closes). Hosts are told of every knock and how it was resolved. At most
//! [`MAX_WAITING`] wait at once, one per identity and per device.

use super::Room;
use super::admission::Entry;
use crate::auth::Role;
use crate::protocol::{KnockInfo, KnockOutcome};
use crate::room::{Decision, JoinError, JoinRequest, Knocked, ManageError, RoomEvent};
use crate::time::{format_unix, now_unix};
use tokio::sync::oneshot;

/// The most people a room's lobby holds at once (more are refused with `lobby_full`).
pub const MAX_WAITING: usize = 50;

struct Knock {
    info: KnockInfo,
    identity: String,
    device: Option<String>,
    answer: oneshot::Sender<Decision>,
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
        // One knock per identity and per device: a newer one (another tab, a retry) replaces it.
        let device = req.device.as_deref();
        let same = |k: &Knock| k.identity == req.identity || (device.is_some() && k.device.as_deref() == device);
        if let Some(idx) = self.lobby.knocks.iter().position(same) {
            let k = self.lobby.knocks.remove(idx);
            self.resolve(k, Decision::Replaced);
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
        self.resolve(k, if admit { Decision::Admitted } else { Decision::Denied });
        Ok(())
    }

    /// The knocker left (closed its socket, gave up waiting).
    pub(super) fn cancel_knock(&mut self, id: &str) {
        if let Some(idx) = self.lobby.knocks.iter().position(|k| k.info.id == id) {
            let k = self.lobby.knocks.remove(idx);
            let outcome = KnockOutcome::Left;
            tracing::info!(knock = %k.info.id, ?outcome, "knock withdrawn");
            self.tell_hosts(RoomEvent::KnockResolved { id: k.info.id, outcome });
        }
    }

    /// The lobby was turned off or the room locked: everyone waiting comes in, or, locked, is
    /// refused (a lock wins over the lobby).
    pub(super) fn answer_everyone(&mut self) {
        let decision = if self.spec.settings.locked { Decision::Locked } else { Decision::Admitted };
        for k in std::mem::take(&mut self.lobby.knocks) {
            self.resolve(k, decision);
        }
    }

    fn resolve(&mut self, k: Knock, decision: Decision) {
        if decision == Decision::Admitted {
            self.admission.joined(&k.identity, k.device.as_deref());
        }
        let outcome = match decision {
            Decision::Admitted => KnockOutcome::Admitted,
            Decision::Denied | Decision::Locked => KnockOutcome::Denied,
            Decision::Replaced => KnockOutcome::Left,
        };
        tracing::info!(knock = %k.info.id, ?decision, "knock answered");
        let _ = k.answer.send(decision);
        self.tell_hosts(RoomEvent::KnockResolved { id: k.info.id, outcome });
    }

    /// Sends `ev` to every host in the room.
    fn tell_hosts(&self, ev: RoomEvent) {
        for m in self.members.iter().filter(|m| m.info.role == Role::Host) {
            let _ = m.events.send(ev.clone());
        }
    }
}
