//! Request rate limits, checked before routing (`listen.rs`): per source address for every
//! HTTP request (REST, the client's files, WebSocket upgrades), stricter per source address for
//! signaling connects (`…/ws` upgrades), and per credential (the `Authorization` header's
//! value, so one API key or token is limited wherever it calls from). Beyond a limit the answer
//! is `429 rate_limited` with `Retry-After` (whole seconds, at least 1); nothing else happens.
//! GCRA buckets from `governor`; a limit of 0 is off.
//!
//! In cluster mode a call one node forwards to another (`x-tessera-hop`) skips the address
//! limits (the client was counted at the node it reached; every forwarded call would otherwise
//! count against the forwarding node's address) but not the credential's.
//!
//! Invariant: memory is bounded by the addresses and credentials seen within about a burst's
//! refill time: [`RateLimits::forget_idle`] drops full buckets (called every minute).

use crate::config::RateLimitConfig;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Which limit refused a request (the metric's label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Address,
    Connects,
    Credential,
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Address => "address",
            Refused::Connects => "connects",
            Refused::Credential => "credential",
        }
    }

    /// What there were too many of, for the refusal's message.
    pub fn what(self) -> &'static str {
        match self {
            Refused::Address => "requests from this address",
            Refused::Connects => "signaling connections from this address",
            Refused::Credential => "requests with this credential",
        }
    }
}

/// The server's request limits.
pub struct RateLimits {
    address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    connects: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Keyed by a hash of the credential: the secret itself is not kept.
    credential: Option<DefaultKeyedRateLimiter<u64>>,
    clock: DefaultClock,
    cluster: bool,
}

fn limiter<K: Hash + Eq + Clone>(per_second: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)))
}

impl RateLimits {
    /// The limits of `config`; `cluster`: forwarded calls skip the address limits.
    pub fn new(config: &RateLimitConfig, cluster: bool) -> Self {
        // The signaling limits are per connection (`ws_limits.rs`).
        let RateLimitConfig {
            requests_per_second,
            burst,
            connects_per_second,
            connect_burst,
            per_credential_per_second,
            messages_per_second: _,
            message_burst: _,
            offers_per_minute: _,
        } = *config;
        Self {
            address: limiter(requests_per_second, burst),
            connects: limiter(connects_per_second, connect_burst),
            credential: limiter(per_credential_per_second, burst),
            clock: DefaultClock::default(),
            cluster,
        }
    }

    /// Counts a request from `from` to `path`; `Err` with the limit and how long to wait when
    /// it is over one.
    pub fn check(&self, from: IpAddr, path: &str, credential: Option<&[u8]>, forwarded: bool) -> Result<(), (Refused, Duration)> {
        let wait = |e: governor::NotUntil<_>| e.wait_time_from(self.clock.now());
        if !(forwarded && self.cluster) {
            if let Some(l) = &self.address {
                l.check_key(&from).map_err(|e| (Refused::Address, wait(e)))?;
            }
            if path.ends_with("/ws")
                && let Some(l) = &self.connects
            {
                l.check_key(&from).map_err(|e| (Refused::Connects, wait(e)))?;
            }
        }
        if let (Some(l), Some(c)) = (&self.credential, credential) {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            c.hash(&mut h);
            l.check_key(&h.finish()).map_err(|e| (Refused::Credential, wait(e)))?;
        }
        Ok(())
    }

    /// Drops the buckets that are full again (callers idle for a while).
    pub fn forget_idle(&self) {
        for l in [&self.address, &self.connects].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.credential {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(cluster: bool) -> RateLimits {
        let c = RateLimitConfig {
            requests_per_second: 1,
            burst: 3,
            connects_per_second: 1,
            connect_burst: 1,
            per_credential_per_second: 1,
            ..Default::default()
        };
        RateLimits::new(&c, cluster)
    }

    #[test]
    fn each_address_has_its_burst_and_connects_are_stricter() {
        let l = limits(false);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().expect("literal"), "10.0.0.2".parse().expect("literal"));
        for _ in 0..3 {
            l.check(a, "/healthz", None, false).expect("within the burst");
        }
        let (which, wait) = l.check(a, "/healthz", None, false).expect_err("over the burst");
        assert_eq!(which, Refused::Address);
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        l.check(b, "/api/v1/rooms/x/ws", None, false).expect("another address has its own");
        assert_eq!(l.check(b, "/api/v1/rooms/x/ws", None, false).expect_err("one connect a second").0, Refused::Connects);
        // Forwarded calls count only in cluster mode's exception.
        assert!(l.check(a, "/healthz", None, true).is_err(), "a single node ignores the hop header");
        let l = limits(true);
        for _ in 0..10 {
            l.check(a, "/healthz", None, true).expect("a node's forwarded calls are not its own");
        }
    }

    #[test]
    fn a_credential_is_limited_from_every_address() {
        let l = limits(true);
        let key = Some(&b"Bearer k1:secret"[..]);
        let mut refused = 0;
        for i in 0..6u8 {
            let from = IpAddr::from([10, 0, 0, i]);
            if let Err((which, _)) = l.check(from, "/api/v1/rooms", key, false) {
                assert_eq!(which, Refused::Credential);
                refused += 1;
            }
        }
        assert_eq!(refused, 3, "a burst of 3 for the key, whatever the address");
        l.check(IpAddr::from([10, 0, 0, 9]), "/api/v1/rooms", Some(&b"Bearer k2:other"[..]), false).expect("another key");
        l.forget_idle();
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let c = RateLimitConfig {
            requests_per_second: 0,
            burst: 0,
            connects_per_second: 0,
            connect_burst: 0,
            per_credential_per_second: 0,
            ..Default::default()
        };
        let l = RateLimits::new(&c, false);
        for _ in 0..1000 {
            l.check(IpAddr::from([10, 0, 0, 1]), "/x/ws", Some(b"k"), false).expect("no limit");
        }
    }
}
