//! Whether a participant's client is reachable: its signaling socket and its media connection,
//! and when the session stops waiting for them. A dropped socket or media connection keeps the
//! session (same id, same tile) for the resume window; a peer connection that never connected
//! is given up after the connect timeout, so an unreachable client does not linger.

use super::Participant;
use crate::protocol::Connection;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Default)]
pub(super) struct Link {
    /// The signaling socket broke (no close frame) at this time.
    pub socket_lost: Option<Instant>,
    /// The media connection went disconnected or failed at this time (after having connected).
    pub media_down: Option<Instant>,
    /// The media connection has connected at least once.
    pub ever_connected: bool,
    /// The first answer went out at this time.
    pub answered_at: Option<Instant>,
    /// What the room was last told.
    pub reported: Connection,
}

impl Link {
    /// When the session gives up, if anything is down.
    pub fn give_up_at(&self, resume_window: Duration, connect_timeout: Duration) -> Option<Instant> {
        let lost = [self.socket_lost, self.media_down].into_iter().flatten().min().map(|t| t + resume_window);
        let never = match (self.ever_connected, self.answered_at) {
            (false, Some(t)) => Some(t + connect_timeout),
            _ => None,
        };
        [lost, never].into_iter().flatten().min()
    }

    /// Why the session gives up, for the client and the log.
    pub fn why_give_up(&self) -> &'static str {
        if self.socket_lost.is_some() {
            "the connection was lost and did not come back in time"
        } else if !self.ever_connected {
            "the media connection could not be established (no usable ICE candidate pair); check the network or firewall and join again"
        } else {
            "the media connection failed and was not restarted in time"
        }
    }

    fn connection(&self) -> Connection {
        if self.socket_lost.is_some() || self.media_down.is_some() { Connection::Reconnecting } else { Connection::Connected }
    }
}

impl Participant {
    /// Tells the room when the participant's connection state changed.
    pub(super) async fn report_link(&mut self) {
        let now = self.link.connection();
        if now != self.link.reported {
            self.link.reported = now;
            self.room.set_connection(&self.id, now).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines() {
        let (w, c) = (Duration::from_secs(30), Duration::from_secs(20));
        let t = Instant::now();
        let mut l = Link::default();
        assert_eq!(l.give_up_at(w, c), None, "nothing answered yet: no deadline");
        l.answered_at = Some(t);
        assert_eq!(l.give_up_at(w, c), Some(t + c), "never connected: the connect timeout");
        l.ever_connected = true;
        assert_eq!(l.give_up_at(w, c), None);
        l.media_down = Some(t + Duration::from_secs(5));
        l.socket_lost = Some(t + Duration::from_secs(8));
        assert_eq!(l.give_up_at(w, c), Some(t + Duration::from_secs(35)), "the earliest loss counts");
        assert_eq!(l.connection(), Connection::Reconnecting);
        l.media_down = None;
        l.socket_lost = None;
        assert_eq!(l.connection(), Connection::Connected);
    }
}
