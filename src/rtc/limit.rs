//! What one inbound track may send: a meter of its bits and packets a second against the
//! configured `[ingest_limit]`, each rate with a second's worth of burst (a keyframe's burst
//! passes). A packet over either is dropped before it reaches the media graph (webrtc-rs has
//! decrypted it; nothing of ours parses or decodes it), counted in
//! `tessera_ingest_limited_packets_total`, and the first drop after a quiet spell is logged:
//! a flooding sender spoils only its own tile and voice.
//!
//! Invariant: a packet is let through only when both buckets had room for it, and then it is
//! taken from both.

use crate::config::IngestLimitConfig;
use crate::metrics::Kind;
use crate::time::{Bucket, Spells};
use std::time::{Duration, Instant};

/// How long without drops before the next drop is logged again.
const QUIET: Duration = Duration::from_secs(10);

/// The meter of one inbound track.
pub(super) struct IngestMeter {
    bits: Bucket,
    packets: Bucket,
    limited: metrics::Counter,
    kind: Kind,
    /// Drops, logged once per spell.
    drops: Spells,
}

impl IngestMeter {
    pub(super) fn new(config: &IngestLimitConfig, kind: Kind, now: Instant) -> Self {
        let IngestLimitConfig { video_kbps, video_packets_per_second, audio_kbps, audio_packets_per_second } = *config;
        let (kbps, pps) = match kind {
            Kind::Video => (video_kbps, video_packets_per_second),
            Kind::Audio => (audio_kbps, audio_packets_per_second),
        };
        let (bps, pps) = (f64::from(kbps) * 1000.0, f64::from(pps));
        Self {
            bits: Bucket::new(bps, bps, now),
            packets: Bucket::new(pps, pps, now),
            limited: crate::metrics::ingest_limited(kind),
            kind,
            drops: Spells::new(QUIET),
        }
    }

    /// Whether a packet of `bytes` (its payload) may go on; a refused one is counted.
    pub(super) fn admit(&mut self, bytes: usize, now: Instant) -> bool {
        // Packets first: a refused packet takes no bits.
        let bits = (bytes as f64) * 8.0;
        let ok = match self.packets.take(now) {
            Ok(()) => {
                self.bits.take_n(bits, now).is_ok() || {
                    // Over the bit rate: the packet's token goes back (within the burst it came from).
                    self.packets.give_back(1.0);
                    false
                }
            }
            Err(_) => false,
        };
        if !ok {
            self.limited.increment(1);
            if self.drops.begins(now) {
                tracing::warn!(kind = ?self.kind, "inbound track over its [ingest_limit]: packets dropped");
            }
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> IngestLimitConfig {
        IngestLimitConfig { video_kbps: 800, video_packets_per_second: 100, audio_kbps: 16, audio_packets_per_second: 10 }
    }

    /// Admitted packets of `bytes` sent evenly at `rate` a second for `secs`.
    fn admitted(meter: &mut IngestMeter, t0: Instant, bytes: usize, rate: u32, secs: u32) -> u32 {
        (0..rate * secs).filter(|i| meter.admit(bytes, t0 + Duration::from_secs_f64(f64::from(*i) / f64::from(rate)))).count() as u32
    }

    #[test]
    fn a_sender_within_its_limits_loses_nothing() {
        let t0 = Instant::now();
        let mut m = IngestMeter::new(&limits(), Kind::Video, t0);
        // 90 packets/s of 1000 bytes: 720 kbit/s, under both.
        assert_eq!(admitted(&mut m, t0, 1000, 90, 10), 900);
    }

    #[test]
    fn a_packet_flood_is_held_to_the_packet_rate() {
        let t0 = Instant::now();
        let mut m = IngestMeter::new(&limits(), Kind::Video, t0);
        // 1000 tiny packets/s for 10 s: the burst (100) plus 100 a second.
        let got = admitted(&mut m, t0, 10, 1000, 10);
        assert!((1000..=1101).contains(&got), "{got}");
    }

    #[test]
    fn a_bit_flood_is_held_to_the_bit_rate_without_spending_packets() {
        let t0 = Instant::now();
        let mut m = IngestMeter::new(&limits(), Kind::Video, t0);
        // 99 packets/s of 10 000 bytes (7.9 Mbit/s) for 10 s: 800 kbit/s is 10 such packets a
        // second, plus the burst.
        let got = admitted(&mut m, t0, 10_000, 99, 10);
        assert!((100..=111).contains(&got), "{got}");
        // The packet bucket was not drained by the refused packets: small ones pass at once.
        assert!(m.admit(10, t0 + Duration::from_secs(10)));
    }

    #[test]
    fn audio_has_its_own_limits() {
        let t0 = Instant::now();
        let mut m = IngestMeter::new(&limits(), Kind::Audio, t0);
        let got = admitted(&mut m, t0, 40, 50, 10);
        assert!((100..=111).contains(&got), "{got}");
    }
}
