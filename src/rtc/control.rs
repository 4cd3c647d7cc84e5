//! The task that runs one receiver's rung controller ([`super::bwe::Controller`]): every
//! [`bwe::TICK`] it reads what the receiver reported ([`LinkReport`]) into the controller's
//! inputs, and hands its moves to the participant as [`PeerEvent::VideoQuality`]; while the
//! controller probes, it sends the probe's bytes every [`PROBE_EVERY`] through the receiver's
//! switch ([`Receiver::probe`]) and stops it within a round trip once originals get NACKed, or
//! as soon as the receiver's REMB falls ([`PROBE_REMB_FALL`]: its delay-based estimator saw the
//! queue grow) or the queue measured on its path reaches [`PROBE_QUEUE`] (`super::queue`). A
//! failed probe's harm is repaired: the originals it cost are resent within the NACK budget,
//! and if the receiver still asks for packets ([`REPAIR_CHECK`]) its rung sends a keyframe,
//! once the queue drained (a keyframe sent at once would meet the full queue too).
//!
//! Invariants: the report's lock is never held across an `.await`; a probe never outlives the
//! controller's (it is re-read on every send); the task ends when the session's event channel
//! or the cap's sender is gone.

use super::bwe::{self, Controller};
use super::events::PeerEvent;
use super::feedback::LinkReport;
use crate::media::ladder::{Receiver, Rung};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How often a running probe sends its bytes.
pub const PROBE_EVERY: Duration = Duration::from_millis(20);
/// Originals NACKed during a probe that fail it (at least; and over 2 % of those sent).
const PROBE_NACKED: u64 = 1;
/// The least gap between keyframes a failed probe asks for, on the receiver's rung.
const PROBE_KEYFRAME_GAP: Duration = Duration::from_millis(500);
/// What comes this soon after a probe began describes what was sent before it, not the probe
/// (its ramp has added little yet): NACKs (seen: a probe failed on one NACK with 3 packets
/// sent, as the link was unshaped; the doubled hold kept a Firefox receiver on L2 for 16.5 s of
/// a clear link), the queue and the REMB (a probe starts just after a keyframe, whose burst
/// queued 40-80 ms at 250 kbit/s and failed every probe on its first packets) do not count.
const PROBE_BLIND: Duration = Duration::from_millis(300);
/// A REMB under this share of the one the probe began with fails it.
const PROBE_REMB_FALL: f64 = 0.8;
/// A queue this long on the receiver's path (`super::queue`, the latest packet's) fails a
/// probe: at 250 kbit/s the least of a feedback's packets read 129 ms by the time it was seen,
/// with a 180 ms queue nearly full.
const PROBE_QUEUE: Duration = Duration::from_millis(40);
/// After a failed probe: NACKs between the first and the second instant (the resends had a
/// round trip) mean the picture is still broken: a keyframe, once the queue measured on the
/// path is under [`PROBE_QUEUE`] (checked every [`REPAIR_RETRY`], until [`REPAIR_GIVE_UP`]
/// after the failure, when the receiver's own PLI takes over).
const REPAIR_CHECK: [Duration; 2] = [Duration::from_millis(250), Duration::from_millis(450)];
const REPAIR_RETRY: Duration = Duration::from_millis(100);
const REPAIR_GIVE_UP: Duration = Duration::from_millis(2000);
/// NACK-based loss is the share over the last [`NACK_WINDOW`] ticks, once at least
/// [`NACK_MIN_PACKETS`] were sent in them (a handful of packets says nothing).
const NACK_WINDOW: usize = 2;
const NACK_MIN_PACKETS: u64 = 20;

/// What the probe saw since it began: the report's counters then.
struct ProbeWatch {
    started: Instant,
    packets: u64,
    nacked: u64,
    /// The REMB when it began (value, arrival).
    remb: Option<(u64, Instant)>,
    failed: bool,
    failed_at: Instant,
    /// The repair check after the failure was scheduled.
    repair_checked: bool,
    /// Bytes owed (the fraction of a packet not sent yet).
    credit: f64,
    last: Instant,
}

/// The receiver's rung controller, until the session ends (see the module doc).
pub async fn control_rung(
    report: Arc<Mutex<LinkReport>>,
    receiver: Arc<Receiver>,
    nominal_kbps: [u32; 3],
    mut cap: watch::Receiver<Option<Rung>>,
    events: mpsc::UnboundedSender<PeerEvent>,
) {
    let mut controller = Controller::new(Instant::now(), nominal_kbps);
    let mut tick = tokio::time::interval(bwe::TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut probe_tick = tokio::time::interval(PROBE_EVERY);
    probe_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut last_bytes, mut last_at, mut sent_bps) = (0u64, Instant::now(), 0.0f64);
    let (mut last_packets, mut last_nacked) = (0u64, 0u64);
    let mut last_rtt_at = None;
    let mut nack_window: std::collections::VecDeque<(u64, u64)> = std::collections::VecDeque::with_capacity(NACK_WINDOW + 1);
    let mut watch: Option<ProbeWatch> = None;
    // A failed probe's repair check: when to look next, and the NACK count at its start.
    let mut repair: Option<(Instant, Option<u64>)> = None;
    loop {
        let probing = controller.probe_started().is_some();
        if repair.is_none()
            && let Some(w) = watch.as_mut().filter(|w| w.failed && !w.repair_checked)
        {
            w.repair_checked = true;
            repair = Some((w.failed_at + REPAIR_CHECK[0], None));
        }
        let repair_due = repair.map(|(at, _)| at);
        let decision = tokio::select! {
            _ = tokio::time::sleep_until(repair_due.unwrap_or_else(Instant::now).into()), if repair_due.is_some() => {
                let nacks = report.lock().nacks;
                repair = match repair {
                    Some((at, None)) => Some((at + (REPAIR_CHECK[1] - REPAIR_CHECK[0]), Some(nacks))),
                    Some((at, Some(before))) => {
                        let now = Instant::now();
                        let queue = report.lock().queue_last.filter(|(_, t)| now.saturating_duration_since(*t) <= bwe::TICK);
                        let failed_at = watch.as_ref().map_or(now, |w| w.failed_at);
                        if nacks <= before {
                            None
                        } else if queue.is_some_and(|(q, _)| q >= PROBE_QUEUE)
                            && now.saturating_duration_since(failed_at) < REPAIR_GIVE_UP
                        {
                            Some((at + REPAIR_RETRY, Some(before)))
                        } else {
                            tracing::debug!(nacks = nacks - before, "a failed probe's loss is not repaired: keyframe");
                            receiver.request_keyframe(PROBE_KEYFRAME_GAP);
                            None
                        }
                    }
                    None => None,
                };
                None
            }
            _ = tick.tick() => {
                let now = Instant::now();
                let r = report.lock().clone();
                let keyframe_age = receiver.keyframe_age();
                let dt = now.saturating_duration_since(last_at).as_secs_f64();
                if dt > 0.0 {
                    let rate = r.video_bytes.saturating_sub(last_bytes) as f64 * 8.0 / dt;
                    sent_bps = if sent_bps == 0.0 { rate } else { 0.6 * sent_bps + 0.4 * rate };
                }
                (last_bytes, last_at) = (r.video_bytes, now);
                let packets = r.video_packets.saturating_sub(last_packets);
                let nacked = r.video_nacked.saturating_sub(last_nacked);
                (last_packets, last_nacked) = (r.video_packets, r.video_nacked);
                nack_window.push_back((packets, nacked));
                if nack_window.len() > NACK_WINDOW {
                    nack_window.pop_front();
                }
                let (packets, nacked) = nack_window.iter().fold((0, 0), |(p, n), (dp, dn)| (p + dp, n + dn));
                let nack_loss = (packets >= NACK_MIN_PACKETS).then(|| (nacked as f64 / packets as f64).min(1.0));
                let remb_bps = r.fresh_remb(now);
                tracing::debug!(
                    remb_bps = ?remb_bps,
                    queue_ms = ?r.queue.map(|(q, at)| (q.as_millis(), now.saturating_duration_since(at).as_millis())),
                    loss = ?r.video_loss.map(|(l, at)| (l, now.saturating_duration_since(at).as_millis())),
                    nack_loss = ?nack_loss,
                    rtt_ms = ?r.rtt.map(|d| d.as_millis()),
                    sent_bps = sent_bps as u64,
                    probe_bps = controller.probe_bps(now) as u64,
                    probe_bytes = r.probe_bytes,
                    resent_bytes = r.resent_bytes,
                    nacks = r.nacks,
                    keyframe_age_ms = ?keyframe_age.map(|a| a.as_millis()),
                    "link report"
                );
                let probe_failed = watch.as_ref().is_some_and(|w| w.failed);
                // Only a new sample: an old one may have measured a probe's queue.
                let rtt = r.rtt.filter(|_| r.rtt_at.is_some() && r.rtt_at != last_rtt_at);
                last_rtt_at = r.rtt_at;
                let queue = r.queue.filter(|(_, at)| now.saturating_duration_since(*at) <= bwe::TICK).map(|(q, _)| q);
                controller.update(&bwe::Inputs { now, remb_bps, loss: r.video_loss, sent_bps, nack_loss, probe_failed, rtt, queue, keyframe_age })
            }
            _ = probe_tick.tick(), if probing => {
                send_probe(&controller, &report, &receiver, &mut watch);
                None
            }
            changed = cap.changed() => {
                if changed.is_err() {
                    return;
                }
                let c = *cap.borrow_and_update();
                Some(controller.set_cap(Instant::now(), c))
            }
        };
        if let Some(d) = decision
            && events.send(PeerEvent::VideoQuality(d)).is_err()
        {
            return;
        }
    }
}

/// One round of the running probe: fails it once enough originals were NACKed since it
/// began, else sends what it asks for since the last round.
fn send_probe(controller: &Controller, report: &Mutex<LinkReport>, receiver: &Receiver, watch: &mut Option<ProbeWatch>) {
    let Some(started) = controller.probe_started() else { return };
    let now = Instant::now();
    let (packets, nacked, remb, queue) = {
        let r = report.lock();
        (r.video_packets, r.video_nacked, r.remb.filter(|_| r.fresh_remb(now).is_some()), r.queue_last)
    };
    let w = match watch {
        Some(w) if w.started == started => w,
        _ => watch.insert(ProbeWatch {
            started,
            packets,
            nacked,
            remb,
            failed: false,
            failed_at: now,
            repair_checked: false,
            credit: 0.0,
            last: now,
        }),
    };
    if w.failed {
        return;
    }
    let blind_until = w.started + PROBE_BLIND;
    if now < blind_until {
        (w.packets, w.nacked) = (packets, nacked);
    }
    let lost = nacked.saturating_sub(w.nacked);
    let sent = packets.saturating_sub(w.packets);
    let remb_fell = match (w.remb, remb) {
        // (A REMB that came after the blind time came after the one the probe began with.)
        (Some((before, _)), Some((r, t))) => t > blind_until && (r as f64) < PROBE_REMB_FALL * before as f64,
        _ => false,
    };
    // A queue measured since the probe began (TWCC on our audio): the link is full before
    // anything is lost.
    let queued = queue.filter(|(_, at)| *at > blind_until).map(|(q, _)| q).filter(|q| *q >= PROBE_QUEUE);
    if remb_fell || queued.is_some() || (lost >= PROBE_NACKED && lost as f64 > 0.02 * sent as f64) {
        w.failed = true;
        w.failed_at = now;
        tracing::debug!(lost, sent, remb_fell, queue_ms = ?queued.map(|q| q.as_millis()), "probe failed");
        // The probe stops now; its overshoot may have cost originals, which are resent within
        // the budget; the repair check asks for a keyframe if that was not enough, once the
        // queue drained (extra resends and a keyframe sent into the probe's queue kept it full
        // for a second and froze the picture for 1.9 s at 250 kbit/s).
        return;
    }
    let dt = now.saturating_duration_since(w.last).as_secs_f64().min(0.1);
    w.last = now;
    w.credit = (w.credit + controller.probe_bps(now) * dt / 8.0).min(16_000.0);
    if w.credit >= 200.0 {
        let sent = receiver.probe(w.credit as usize);
        w.credit = (w.credit - sent as f64).max(0.0);
        if sent == 0 {
            // Nothing to copy yet: owe nothing.
            w.credit = 0.0;
        }
    }
}
