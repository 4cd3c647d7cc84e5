//! The task that runs one receiver's rung controller ([`super::bwe::Controller`]): every
//! [`bwe::TICK`] it reads what the receiver reported ([`LinkReport`]) into the controller's
//! inputs, and hands its moves to the participant as [`PeerEvent::VideoQuality`]; while the
//! controller probes, it sends the probe's bytes every [`PROBE_EVERY`] through the receiver's
//! switch ([`Receiver::probe`]) and stops it within a round trip once originals get NACKed
//! (asking the receiver's rung for a keyframe, so a lost original freezes nothing for long).
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
/// NACK-based loss is the share over the last [`NACK_WINDOW`] ticks, once at least
/// [`NACK_MIN_PACKETS`] were sent in them (a handful of packets says nothing).
const NACK_WINDOW: usize = 2;
const NACK_MIN_PACKETS: u64 = 20;

/// What the probe saw since it began: the report's counters then.
struct ProbeWatch {
    started: Instant,
    packets: u64,
    nacked: u64,
    failed: bool,
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
    let mut nack_window: std::collections::VecDeque<(u64, u64)> = std::collections::VecDeque::with_capacity(NACK_WINDOW + 1);
    let mut watch: Option<ProbeWatch> = None;
    loop {
        let probing = controller.probe_started().is_some();
        let decision = tokio::select! {
            _ = tick.tick() => {
                let now = Instant::now();
                let r = report.lock().clone();
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
                    loss = ?r.video_loss.map(|(l, at)| (l, now.saturating_duration_since(at).as_millis())),
                    nack_loss = ?nack_loss,
                    rtt_ms = ?r.rtt.map(|d| d.as_millis()),
                    sent_bps = sent_bps as u64,
                    probe_bps = controller.probe_bps(now) as u64,
                    probe_bytes = r.probe_bytes,
                    resent_bytes = r.resent_bytes,
                    nacks = r.nacks,
                    "link report"
                );
                let probe_failed = watch.as_ref().is_some_and(|w| w.failed);
                controller.update(&bwe::Inputs { now, remb_bps, loss: r.video_loss, sent_bps, nack_loss, probe_failed, rtt: r.rtt })
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
    let (packets, nacked) = {
        let r = report.lock();
        (r.video_packets, r.video_nacked)
    };
    let w = match watch {
        Some(w) if w.started == started => w,
        _ => watch.insert(ProbeWatch { started, packets, nacked, failed: false, credit: 0.0, last: now }),
    };
    if w.failed {
        return;
    }
    let lost = nacked.saturating_sub(w.nacked);
    let sent = packets.saturating_sub(w.packets);
    if lost >= PROBE_NACKED && lost as f64 > 0.02 * sent as f64 {
        w.failed = true;
        tracing::debug!(lost, sent, "probe failed: originals NACKed");
        // The lost originals are asked for again, but on a link with a shallow queue the
        // resend can meet the probe's last copies: a keyframe bounds the freeze instead of the
        // rung's schedule (seen: 1.2-2 s at 250 kbit/s).
        receiver.request_keyframe(PROBE_KEYFRAME_GAP);
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
