//! Whether a participant's client is reachable: its signaling socket and its media connection,
//! and when the session stops waiting for them (docs/signaling.md "Reconnection").
//!
//! The rule, with `window` = `resume_seconds`, `cap` = `resume_max_seconds` (taken as at least
//! `window`) and `connect` = `connect_timeout_seconds`; the earliest deadline that applies wins:
//! - **socket lost** (no close frame): `window` after the later of the loss and the last RTP
//!   packet from the client while its peer connection is up, so a client whose media still
//!   flows keeps its session however long the socket is away, up to `cap` after the loss (a
//!   client that never reopens its socket is no longer controllable: no chat, no layout, no
//!   renegotiation);
//! - **media connection down** (disconnected or failed after having connected): `window` after
//!   it went down;
//! - **never connected**: `connect` after the first answer.
//!
//! A client whose media stopped too (its network is gone) therefore ends `window` after the
//! later of the two, as before media counted.

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

/// How long a session waits for its client (from the configuration).
#[derive(Debug, Clone, Copy)]
pub(super) struct Patience {
    /// `resume_seconds`: after the socket was lost and the media stopped, or the media
    /// connection went down.
    pub window: Duration,
    /// `resume_max_seconds`: the longest a socket may stay away while the media flows.
    pub cap: Duration,
    /// `connect_timeout_seconds`: for a media connection that never connected.
    pub connect: Duration,
}

/// Which deadline ended the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GiveUp {
    NeverConnected,
    MediaDown,
    SocketLost,
    SocketAwayTooLong,
}

impl GiveUp {
    /// Why the session gives up, for the client and the log.
    pub fn why(self) -> &'static str {
        match self {
            Self::NeverConnected => {
                "the media connection could not be established (no usable ICE candidate pair); check the network or firewall and join again"
            }
            Self::MediaDown => "the media connection failed and was not restarted in time",
            Self::SocketLost => "the connection was lost and did not come back in time",
            Self::SocketAwayTooLong => "the signaling connection did not come back in time, although the media still flowed",
        }
    }
}

impl Link {
    /// When the session gives up, and why, if anything is down. `media_seen`: when the last
    /// RTP packet from the client arrived.
    pub fn give_up_at(&self, p: &Patience, media_seen: Option<Instant>) -> Option<(Instant, GiveUp)> {
        let never = match (self.ever_connected, self.answered_at) {
            (false, Some(t)) => Some((t + p.connect, GiveUp::NeverConnected)),
            _ => None,
        };
        let down = self.media_down.map(|t| (t + p.window, GiveUp::MediaDown));
        let (lost, away) = match self.socket_lost {
            Some(t) => {
                // Media arriving over an established, connected peer connection: the client
                // is there, only its socket is not.
                // A cap not above the window leaves media nothing to extend.
                let flowing = media_seen.filter(|_| self.ever_connected && self.media_down.is_none() && p.cap > p.window);
                let quiet_since = flowing.map_or(t, |m| m.max(t));
                let away = flowing.map(|_| (t + p.cap, GiveUp::SocketAwayTooLong));
                (Some((quiet_since + p.window, GiveUp::SocketLost)), away)
            }
            None => (None, None),
        };
        [never, down, lost, away].into_iter().flatten().min_by_key(|(at, _)| *at)
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

    /// When (and why) the session gives up now, given the client's media so far.
    pub(super) fn give_up_at(&self) -> Option<(Instant, GiveUp)> {
        self.link.give_up_at(&self.patience, self.peer.media_seen())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    const P: Patience = Patience { window: Duration::from_secs(30), cap: Duration::from_secs(300), connect: Duration::from_secs(20) };

    #[test]
    fn connecting() {
        let t = Instant::now();
        let mut l = Link::default();
        assert_eq!(l.give_up_at(&P, None), None, "nothing answered yet: no deadline");
        l.answered_at = Some(t);
        assert_eq!(l.give_up_at(&P, None), Some((t + s(20), GiveUp::NeverConnected)), "never connected: the connect timeout");
        // Media cannot keep a session whose connection never came up.
        l.socket_lost = Some(t + s(5));
        assert_eq!(l.give_up_at(&P, Some(t + s(60))), Some((t + s(20), GiveUp::NeverConnected)));
        l.ever_connected = true;
        l.socket_lost = None;
        assert_eq!(l.give_up_at(&P, Some(t + s(60))), None, "connected, nothing down: no deadline");
        assert_eq!(l.connection(), Connection::Connected);
    }

    #[test]
    fn socket_lost_waits_while_the_media_flows() {
        let t = Instant::now();
        let mut l = Link { ever_connected: true, answered_at: Some(t), ..Link::default() };
        l.socket_lost = Some(t + s(10));
        assert_eq!(l.connection(), Connection::Reconnecting);
        assert_eq!(l.give_up_at(&P, None), Some((t + s(40), GiveUp::SocketLost)), "no media ever: the window from the loss");
        assert_eq!(l.give_up_at(&P, Some(t + s(4))), Some((t + s(40), GiveUp::SocketLost)), "media stopped before the loss");
        assert_eq!(l.give_up_at(&P, Some(t + s(25))), Some((t + s(55), GiveUp::SocketLost)), "the window from the last media");
        // Media arriving all along: the cap, counted from the loss.
        assert_eq!(l.give_up_at(&P, Some(t + s(290))), Some((t + s(310), GiveUp::SocketAwayTooLong)));
        // A cap under the window is the window: media then extends nothing.
        let short = Patience { cap: s(5), ..P };
        assert_eq!(l.give_up_at(&short, Some(t + s(25))), Some((t + s(40), GiveUp::SocketLost)));
    }

    #[test]
    fn media_down_counts_from_when_it_went_down() {
        let t = Instant::now();
        let mut l = Link { ever_connected: true, answered_at: Some(t), ..Link::default() };
        l.media_down = Some(t + s(5));
        assert_eq!(l.give_up_at(&P, Some(t + s(4))), Some((t + s(35), GiveUp::MediaDown)));
        // Both down: the earliest loss counts, and media seen no longer does.
        l.socket_lost = Some(t + s(8));
        assert_eq!(l.give_up_at(&P, Some(t + s(20))), Some((t + s(35), GiveUp::MediaDown)));
        l.media_down = None;
        assert_eq!(l.give_up_at(&P, Some(t + s(20))), Some((t + s(50), GiveUp::SocketLost)), "media back: it counts again");
        l.socket_lost = None;
        assert_eq!(l.connection(), Connection::Connected);
    }
}
