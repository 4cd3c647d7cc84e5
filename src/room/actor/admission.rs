//! Who may come in: the host's lock and lobby, and the people the host removed.
//!
//! Invariants: a removed participant's identity, and its device when it sent one, stay refused
//! (`JoinError::Removed`) for the rest of the room's life on this node; while the room is
//! locked only hosts and people who have been in this call (the same identity, or the same
//! device: a reload, another tab, a rejoin after a dropped network) come in. Hosts pass the
//! lock and the lobby (they hold the room's host token, which is what those protect) but not a
//! removal: a removed identity or device stays out whatever its token says. At most [`MAX_SEEN`] identities and devices are remembered as having been in.
//! With the lobby on, a newcomer (neither a host nor someone who has been in) must knock and
//! wait for a host ([`Entry::Knock`]); a host admitting them counts as having been in.

use crate::auth::Role;
use crate::room::{JoinError, JoinRequest};
use std::collections::HashSet;

/// The most identities (and devices) a room remembers as having been in the call: beyond it,
/// later joiners are not let back in through a lock (a bound on memory, far above a call's size).
pub const MAX_SEEN: usize = 4096;

/// How someone comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Entry {
    /// Straight in.
    Now,
    /// Through the lobby: a host must admit them.
    Knock,
}

/// What the room remembers of who has been in the call and whom its hosts removed.
#[derive(Debug, Default)]
pub(super) struct Admission {
    removed_identities: HashSet<String>,
    removed_devices: HashSet<String>,
    seen_identities: HashSet<String>,
    seen_devices: HashSet<String>,
    /// Identities a host made hosts (co-hosts), so a co-host rejoining is still one.
    co_hosts: HashSet<String>,
}

impl Admission {
    /// Remembers a participant the host removed.
    pub fn remove(&mut self, identity: &str, device: Option<&str>) {
        self.removed_identities.insert(identity.to_owned());
        if let Some(d) = device {
            self.removed_devices.insert(d.to_owned());
        }
    }

    /// `identity` was made a host (`true`) or a participant again by another host.
    pub fn set_co_host(&mut self, identity: &str, co_host: bool) {
        if co_host {
            self.co_hosts.insert(identity.to_owned());
        } else {
            self.co_hosts.remove(identity);
        }
    }

    pub fn is_co_host(&self, identity: &str) -> bool {
        self.co_hosts.contains(identity)
    }

    /// Remembers someone who joined (so a lock lets them back in).
    pub fn joined(&mut self, identity: &str, device: Option<&str>) {
        if self.seen_identities.len() < MAX_SEEN {
            self.seen_identities.insert(identity.to_owned());
        }
        if let Some(d) = device.filter(|_| self.seen_devices.len() < MAX_SEEN) {
            self.seen_devices.insert(d.to_owned());
        }
    }

    /// Whether `req` may join now, must knock first, or is refused (`locked`, `lobby`: the
    /// room's settings).
    pub fn check(&self, req: &JoinRequest, locked: bool, lobby: bool) -> Result<Entry, JoinError> {
        let device = req.device.as_deref();
        if self.removed_identities.contains(&req.identity) || device.is_some_and(|d| self.removed_devices.contains(d)) {
            return Err(JoinError::Removed);
        }
        // Hosts, and a socket a host let in from the lobby a moment ago.
        if req.role == Role::Host || req.admitted {
            return Ok(Entry::Now);
        }
        let seen = self.seen_identities.contains(&req.identity) || device.is_some_and(|d| self.seen_devices.contains(d));
        match (seen, locked, lobby) {
            (true, _, _) | (false, false, false) => Ok(Entry::Now),
            (false, true, _) => Err(JoinError::Locked),
            (false, false, true) => Ok(Entry::Knock),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(identity: &str, device: Option<&str>, role: Role) -> JoinRequest {
        JoinRequest { identity: identity.into(), name: "X".into(), role, device: device.map(Into::into), admitted: false }
    }

    #[test]
    fn removed_identities_and_devices_stay_out_whatever_their_token() {
        let mut a = Admission::default();
        a.remove("guest-1", Some("dev-a"));
        assert!(matches!(a.check(&req("guest-1", None, Role::Participant), false, false), Err(JoinError::Removed)));
        assert!(
            matches!(a.check(&req("guest-2", Some("dev-a"), Role::Participant), false, false), Err(JoinError::Removed)),
            "a new guest identity from the same device"
        );
        assert!(a.check(&req("guest-3", Some("dev-b"), Role::Participant), false, false).is_ok());
        assert!(
            matches!(a.check(&req("guest-1", None, Role::Host), false, false), Err(JoinError::Removed)),
            "removed, even with a host token"
        );
        assert!(a.check(&req("guest-4", None, Role::Host), true, true).is_ok(), "hosts pass the lock and the lobby");
    }

    #[test]
    fn the_lobby_makes_newcomers_knock_but_not_hosts_or_those_who_have_been_in() {
        let mut a = Admission::default();
        a.joined("alice", Some("dev-a"));
        assert_eq!(a.check(&req("bob", Some("dev-b"), Role::Participant), false, true).ok(), Some(Entry::Knock));
        assert_eq!(a.check(&req("alice", None, Role::Participant), false, true).ok(), Some(Entry::Now));
        assert_eq!(a.check(&req("carol", None, Role::Host), false, true).ok(), Some(Entry::Now));
        assert!(matches!(a.check(&req("bob", None, Role::Participant), true, true), Err(JoinError::Locked)), "a lock wins");
        a.joined("bob", Some("dev-b"));
        assert_eq!(a.check(&req("bob", None, Role::Participant), false, true).ok(), Some(Entry::Now), "admitted once");
    }

    #[test]
    fn a_locked_room_lets_in_hosts_and_those_who_have_been_in() {
        let mut a = Admission::default();
        a.joined("alice", Some("dev-a"));
        assert!(matches!(a.check(&req("bob", Some("dev-b"), Role::Participant), true, false), Err(JoinError::Locked)));
        assert!(matches!(a.check(&req("bob", None, Role::Participant), true, false), Err(JoinError::Locked)));
        assert!(a.check(&req("alice", None, Role::Participant), true, false).is_ok(), "a reload of someone in");
        assert!(a.check(&req("guest-9", Some("dev-a"), Role::Participant), true, false).is_ok(), "the same device, a new tab");
        assert!(a.check(&req("carol", None, Role::Host), true, false).is_ok());
        assert!(a.check(&req("bob", Some("dev-b"), Role::Participant), false, false).is_ok(), "unlocked");
    }
}
