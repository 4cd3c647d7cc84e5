//! What one signaling connection may send (`[rate_limit]` `messages_per_second` with bursts of
//! `message_burst`, and `offers_per_minute` with bursts of 10): a message over either is dropped
//! before the session sees it, counted in `tessera_rate_limited_total{limit="signaling"|"offers"}`,
//! and the client is told once per spell (`signaling_rate_limited`, with when to try again).
//! A flooding client then costs a JSON parse per message and nothing more; the reader never
//! queues what it drops, so a flood holds no memory.
//!
//! Invariant: 0 turns a limit off, as for every `[rate_limit]` setting.

use crate::config::RateLimitConfig;
use crate::protocol::ClientMessage;
use crate::time::{Bucket, Spells};
use std::time::{Duration, Instant};

/// Offers taken at once above `offers_per_minute`.
const OFFER_BURST: f64 = 10.0;
/// How long without a dropped message before the client is told again.
const QUIET: Duration = Duration::from_secs(1);

/// The meter of one connection.
pub(super) struct SignalMeter {
    messages: Option<Bucket>,
    offers: Option<Bucket>,
    /// Drops, told once per spell.
    drops: Spells,
}

/// What to do with one message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Take,
    /// Dropped; `Some(ms)` when the client is to be told (the first drop of a spell).
    Drop(Option<u64>),
}

impl SignalMeter {
    pub(super) fn new(config: &RateLimitConfig, now: Instant) -> Self {
        let RateLimitConfig { messages_per_second, message_burst, offers_per_minute, .. } = *config;
        let messages = (messages_per_second > 0)
            .then(|| Bucket::new(f64::from(message_burst.max(messages_per_second)), f64::from(messages_per_second), now));
        let offers = (offers_per_minute > 0).then(|| Bucket::new(OFFER_BURST, f64::from(offers_per_minute) / 60.0, now));
        Self { messages, offers, drops: Spells::new(QUIET) }
    }

    /// Counts `message` (an unreadable one counts as a message too).
    pub(super) fn judge(&mut self, message: Option<&ClientMessage>, now: Instant) -> Verdict {
        let over = |b: &mut Option<Bucket>| b.as_mut().map_or(Ok(()), |b| b.take(now));
        let verdict = over(&mut self.messages).map_err(|ms| ("signaling", ms)).and_then(|()| match message {
            Some(ClientMessage::Offer { .. }) => over(&mut self.offers).map_err(|ms| ("offers", ms)),
            _ => Ok(()),
        });
        match verdict {
            Ok(()) => Verdict::Take,
            Err((limit, ms)) => {
                crate::metrics::rate_limited(limit);
                Verdict::Drop(self.drops.begins(now).then_some(ms))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(messages_per_second: u32, message_burst: u32, offers_per_minute: u32) -> RateLimitConfig {
        RateLimitConfig { messages_per_second, message_burst, offers_per_minute, ..Default::default() }
    }

    #[test]
    fn a_burst_passes_then_the_rate_and_the_client_is_told_once_per_spell() {
        let t0 = Instant::now();
        let mut m = SignalMeter::new(&config(10, 20, 0), t0);
        for _ in 0..20 {
            assert_eq!(m.judge(None, t0), Verdict::Take);
        }
        assert!(matches!(m.judge(None, t0), Verdict::Drop(Some(ms)) if ms <= 100), "told, with when to try again");
        assert_eq!(m.judge(None, t0), Verdict::Drop(None), "told once");
        let later = t0 + Duration::from_millis(100);
        assert_eq!(m.judge(None, later), Verdict::Take, "a token a tenth of a second later");
        // A second of 1000 messages: about 10 pass.
        let taken = (0..1000).filter(|i| m.judge(None, later + Duration::from_micros(i * 1000)) == Verdict::Take).count();
        assert!((9..=11).contains(&taken), "{taken}");
    }

    #[test]
    fn offers_have_their_own_rate_and_zero_turns_limits_off() {
        let t0 = Instant::now();
        let offer = ClientMessage::Offer { sdp: String::new(), screen_track_id: None };
        let mut m = SignalMeter::new(&config(1000, 1000, 60), t0);
        let taken = (0..100).filter(|_| m.judge(Some(&offer), t0) == Verdict::Take).count();
        assert_eq!(taken, 10, "the offer burst");
        assert_eq!(m.judge(None, t0), Verdict::Take, "other messages still pass");
        let mut off = SignalMeter::new(&config(0, 0, 0), t0);
        assert!((0..10_000).all(|_| off.judge(Some(&offer), t0) == Verdict::Take));
    }
}
