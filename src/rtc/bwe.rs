//! Which rung of the composite one receiver gets ([`Controller`]), from what it reports
//! ([`super::feedback::LinkReport`]): its REMB, its loss, and what we actually send it.
//!
//! Rules (each a constant below):
//! - **Down quickly.** Congestion is a REMB below [`CONGESTED`] × what we send that does not
//!   fit the current rung (the receiver's delay-based estimator backed off) for [`REMB_TICKS`]
//!   ticks ([`TICK`] apart; two after a move down, or when the round trip shows a queue,
//!   [`QUEUED`]), or loss over
//!   [`LOSSY`] in fresh reports for two ticks, over [`VERY_LOSSY`] at once: the receiver moves
//!   to the best rung the estimate fits (at least one down). Below the last rung, video pauses
//!   (on loss, or on a REMB below L2 with a queue): audio goes on. REMB is ignored for
//!   [`WARMUP`] after the start (browsers' estimates start low) and, while it ramps up, until
//!   it fell from its peak ([`DROPPED`]); loss reports are ignored for [`SETTLE`] after a move
//!   (they describe the old rung), REMB only after a move up (after a move down it describes
//!   the link, so a second move down follows within two ticks). A REMB frozen at one value for
//!   [`FROZEN_REMB`] over loss-free video is no estimate at all.
//! - **Up carefully, by probing.** A receiver cannot report more than 1.5× what it receives
//!   (REMB's own clamp), so a REMB never shows room for the next rung. After [`BASE_HOLD`]
//!   without any sign of congestion, not within [`DOWN_HOLD`] of a move down, and with a REMB,
//!   if fresh, at least [`HEADROOM`] × what we send (or a clear path: the queue meter under
//!   [`QUEUE_CLEAR`] for [`CLEAR_FOR`], which holds while the probe runs), the controller
//!   *probes*, on a tick just after a keyframe of the receiver's rung ([`KEY_ALIGN`], so a
//!   failed probe's queue has drained before the next one): it asks for
//!   [`Controller::probe_bps`] of extra bytes
//!   (copies of packets already sent, see `ladder::Receiver::probe`), ramped over
//!   [`PROBE_RAMP`] up to what the next rung needs ([`PROBE_NEED`] × its bitrate), held for
//!   [`PROBE_STEP`]. A probe fails at the first signs of loss (the session stops it within a
//!   round trip when originals get NACKed): the receiver stays, the hold doubles (at most
//!   [`MAX_HOLD`]). A step that holds goes on to the rung above (at the next
//!   aligned tick, its bytes held meanwhile); the receiver then moves to the
//!   best rung probed. Loss reported while a probe runs or in its [`PROBE_GRACE`] is the
//!   probe's for as long as that report is the latest. A failed probe costs copies and the odd
//!   original, resent within the budget (a keyframe's burst into a failed probe's queue cost
//!   far more: hence the alignment).
//! - **Back from a pause by a probe too**, of padding-only packets up to L2's need (not
//!   further: they are small and many); then up the ladder by probes of copies. After any
//!   move up, loss within [`TRIAL`] moves back down and doubles the hold.
//! - **NACKs judge probes.** The share of our packets NACKed in each tick (`nack_loss`) is loss
//!   seen within one round trip, but reordered packets are NACKed too: it fails a probe (and
//!   keeps a REMB from being called stuck), while moves down on loss wait for receiver reports.
//! - **Loss-based fallback.** Without a fresh REMB (Firefox can stop sending it) loss alone
//!   decides; with one, the lower of REMB and the loss-based estimate (the lower of GCC's rule,
//!   more than 10 % loss → rate × (1 − loss / 2), and what got through, rate × (1 − loss))
//!   does, so a REMB lying high cannot hide 20 % loss.
//! - **Caps.** The client may cap its rung (its viewport, a data-saver choice, or no video);
//!   the receiver gets the lower of the cap and the controller's choice.

use crate::media::ladder::Rung;
use std::time::{Duration, Instant};

pub const TICK: Duration = Duration::from_millis(500);
/// REMB is not trusted this long after the start and after every move up (a trial, video
/// resuming, a cap lifted): it cannot exceed about 1.5× what arrived before the move.
pub const WARMUP: Duration = Duration::from_secs(5);
pub const SETTLE: Duration = Duration::from_millis(1500);
pub const BASE_HOLD: Duration = Duration::from_secs(2);
pub const MAX_HOLD: Duration = Duration::from_secs(6);
/// After a move down the link has just fallen: no probe this long after it (a probe 3.5 s
/// after a fall from L0 to 250 kbit/s met the old rung's queue still draining, failed at
/// 104 ms of queue, and froze Firefox's picture for 0.9 s until a keyframe).
pub const DOWN_HOLD: Duration = Duration::from_secs(5);
/// A REMB this many times the one the last failed probe began with resets the hold to
/// [`BASE_HOLD`]: the link got better. (Not the REMB at the failure: the probe's own queue
/// lowers it, and its recovery on the same link is no news.)
pub const REMB_RISE: f64 = 1.5;
/// The longest hold after failed probes of copies (each may cost the odd original packet);
/// paused, probes are padding and cost the picture nothing, so [`MAX_HOLD`] bounds them.
pub const MAX_PROBE_HOLD: Duration = Duration::from_secs(12);
pub const TRIAL: Duration = Duration::from_secs(6);
/// A probe step: ramp to the next rung's need, then hold it.
pub const PROBE_RAMP: Duration = Duration::from_millis(1000);
pub const PROBE_STEP: Duration = Duration::from_millis(1300);
/// A step is judged only once its last packets' NACKs could be in: [`PROBE_STEP`] plus the
/// round trip (at most this much of it).
pub const MAX_PROBE_WAIT: Duration = Duration::from_millis(600);
/// A probe of copies (and each step after its first) starts only on a tick within this long
/// after a keyframe of the receiver's rung began: the rung's next scheduled keyframe (2 s
/// apart) then comes after the probe's copies ended and, if it failed, after its queue
/// drained. (A keyframe's burst meeting a failed probe's queue on a shallow 250 kbit/s link
/// overflowed it: 17-37 originals lost, a repair keyframe, 0.5-2 s of frozen picture.) Ticks
/// are [`TICK`] apart and keyframes a whole number of ticks apart, so one tick of every
/// keyframe interval falls in the window.
pub const KEY_ALIGN: Duration = TICK;
/// A step that held waits at most this long for an aligned tick before the next step starts
/// (its bytes went through: holding them a little longer costs nothing).
pub const ALIGN_WAIT: Duration = Duration::from_millis(2600);
/// What a probe asks the link to carry for a rung, × its nominal bitrate (encoders overshoot
/// around keyframes).
pub const PROBE_NEED: f64 = 1.1;
/// NACK-based loss counts from this long after a move.
pub const NACK_SETTLE: Duration = Duration::from_millis(700);
/// A failed probe's loss (NACKs trail it by a round trip) counts as the probe's, not the
/// rung's, this long after it ended.
/// (Not a multiple of [`TICK`]: a grace ending on a tick would end on either side of it.)
pub const PROBE_GRACE: Duration = Duration::from_millis(1250);
/// Loss (reported or NACKed) within this long makes the link lossy for the REMB's credibility:
/// a receiver's reports alternate between loss and none while resends fill the gaps.
pub const LOSS_MEMORY: Duration = Duration::from_secs(2);
pub const CONGESTED: f64 = 0.7;
/// Ticks of a low REMB before moving down (loss needs two; so does a low REMB while the round
/// trip shows a standing queue, see [`QUEUED`]).
pub const REMB_TICKS: u32 = 4;
/// A round trip this much over the least one seen says our packets wait in a queue on the
/// way: with a REMB that collapsed, it is the link, not a starved browser (whose estimate
/// collapses without any queue), so it moves the receiver down sooner, and may pause video.
pub const QUEUED: Duration = Duration::from_millis(150);
/// A measured queue this long is a queue on the link too ([`QUEUED`] by the round trip).
pub const QUEUE_DELAY: Duration = Duration::from_millis(100);
/// A measured queue under this, for [`CLEAR_FOR`], is a clear link: a low REMB is stale then
/// (no congestion, no bar to a probe, which the queue stops early anyway).
pub const QUEUE_CLEAR: Duration = Duration::from_millis(25);
/// A measured queue this long on two ticks running pauses a receiver on the last rung.
pub const STANDING_QUEUE: Duration = Duration::from_millis(150);
pub const CLEAR_FOR: Duration = Duration::from_secs(1);
/// A round-trip sample counts for [`QUEUED`] this long after it came.
pub const RTT_FRESH: Duration = Duration::from_millis(1500);
/// While the receiver's estimate ramps up (after the start, a move up or video resuming), a
/// REMB counts as congestion only once it fell below this share of its peak since the last
/// move: a browser's estimate ramps up slowly, and a low but rising estimate is no congestion.
/// After a move down it is no ramp: a REMB that stays low is the link (seen: L1 kept for 3.5 s
/// on a 500 kbit/s link whose REMB sat at 290-314 kbit/s, rising a little).
pub const DROPPED: f64 = 0.85;
pub const HEADROOM: f64 = 1.3;
/// A REMB under this share of what is sent, while nothing is lost, is a stuck estimate.
pub const STUCK_REMB: f64 = 0.15;
/// A REMB whose value has not changed for this long while video flows is frozen: not believed
/// for moves up.
pub const FROZEN_REMB: Duration = Duration::from_secs(3);
/// Share of the next rung's bitrate a believed REMB must reach before a probe of copies (a
/// failed probe may cost an original packet, so none where the estimate says it is hopeless;
/// ~1.5× what arrives is the most a REMB can say, so the whole rung cannot be asked for).
pub const NEXT_SHARE: f64 = 0.4;
pub const LOSSY: f64 = 0.10;
pub const VERY_LOSSY: f64 = 0.25;
/// What audio and headers need beside the video, bits/s.
pub const AUDIO_RESERVE: f64 = 45_000.0;
/// Share of the estimate a rung's nominal bitrate may fill.
pub const FILL: f64 = 0.95;

/// Why the receiver is on its rung (told to the client as `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The start: full quality.
    Start,
    /// Its estimate fell (REMB).
    Bandwidth,
    /// It lost packets.
    Loss,
    /// A trial of the next rung up.
    Probe,
    /// The client's own cap (viewport, data saver, audio only).
    Limit,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Start => "start",
            Reason::Bandwidth => "bandwidth",
            Reason::Loss => "loss",
            Reason::Probe => "probe",
            Reason::Limit => "limit",
        }
    }
}

/// A move of the receiver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// `None`: video paused.
    pub rung: Option<Rung>,
    pub reason: Reason,
    /// The estimate it was made on, bits/s (the lower of REMB and the loss-based one).
    pub estimate_bps: Option<u64>,
    /// It answers the client's preference (told even when the rung stays).
    pub answers_preference: bool,
}

/// What one tick sees.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    pub now: Instant,
    /// The REMB, if fresh.
    pub remb_bps: Option<u64>,
    /// The latest loss report (fraction, when).
    pub loss: Option<(f64, Instant)>,
    /// What we send this receiver's video, bits/s (smoothed).
    pub sent_bps: f64,
    /// The share of the video packets sent over the last second that the receiver NACKed
    /// (`None`: too few sent to say).
    pub nack_loss: Option<f64>,
    /// The running probe saw loss (the session stopped it).
    pub probe_failed: bool,
    /// A round trip measured since the last tick (`None`: no new sample).
    pub rtt: Option<Duration>,
    /// The queue our packets meet on the way, if measured in the last [`TICK`] (TWCC on
    /// audio, see `super::queue`).
    pub queue: Option<Duration>,
    /// How long ago the receiver's last keyframe began to be forwarded (`None`: none yet, or
    /// paused), see [`KEY_ALIGN`].
    pub keyframe_age: Option<Duration>,
}

/// A probe toward better rungs.
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// The rung this step is for, when the step began, and the best rung a step held for.
    target: Rung,
    step_from: Instant,
    best: Option<Rung>,
    started: Instant,
    /// The REMB when the probe began (before its own queue could lower it).
    remb: Option<u64>,
}

pub struct Controller {
    /// Each rung's nominal bitrate, bits/s.
    nominal: [f64; 3],
    /// The controller's own choice (`None`: paused) and the client's cap (`None`: no video).
    chosen: Option<Rung>,
    cap: Option<Rung>,
    /// REMB counts from this instant (the start, or the last move up, plus [`WARMUP`]).
    remb_from: Instant,
    last_change: Instant,
    /// Why the controller's own choice is what it is (told when a cap stops binding).
    reason: Reason,
    good_since: Option<Instant>,
    bad_ticks: u32,
    remb_ticks: u32,
    /// The highest REMB since the last move.
    remb_peak: u64,
    /// The estimate is ramping up (see [`DROPPED`]): since the start or the last move up.
    ramping: bool,
    /// The least round trip seen (the link without a queue), the latest, and whether the
    /// latest sample taken outside a probe showed a queue ([`QUEUED`]), and when it came.
    least_rtt: Option<Duration>,
    rtt: Option<Duration>,
    queue_seen: Option<(bool, Instant)>,
    /// The REMB's value, and since when it has not changed while video flowed.
    remb_same: Option<(u64, Instant)>,
    /// The last loss seen (reported or NACKed), see [`LOSS_MEMORY`].
    lossy_at: Option<Instant>,
    /// Since when the queue meter has seen no queue ([`QUEUE_CLEAR`]), and its last sample.
    clear_since: Option<Instant>,
    /// Ticks running with a standing queue ([`STANDING_QUEUE`]).
    standing_ticks: u32,
    queue_at: Option<Instant>,
    hold: Duration,
    trial_at: Option<Instant>,
    last_loss: Option<Instant>,
    /// The latest loss report since the last move settled, and whether it came while a probe
    /// ran or in its grace (then it is the probe's).
    loss: Option<f64>,
    loss_in_probe: bool,
    loss_estimate: f64,
    probe: Option<Probe>,
    probe_failed_at: Option<Instant>,
    /// The last move down (bandwidth or loss).
    fell_at: Option<Instant>,
    /// The REMB when the last failed probe began (see [`REMB_RISE`]).
    failed_remb: Option<u64>,
}

/// The worse (cheaper) of two rung choices; `None` (no video) wins.
fn lower(a: Option<Rung>, b: Option<Rung>) -> Option<Rung> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

impl Controller {
    /// A receiver starting on L0; `nominal_kbps` are the rungs' bitrates.
    pub fn new(now: Instant, nominal_kbps: [u32; 3]) -> Self {
        let nominal = nominal_kbps.map(|k| f64::from(k) * 1000.0);
        Self {
            nominal,
            chosen: Some(Rung::L0),
            cap: Some(Rung::L0),
            remb_from: now + WARMUP,
            last_change: now,
            reason: Reason::Start,
            good_since: None,
            bad_ticks: 0,
            remb_ticks: 0,
            remb_peak: 0,
            ramping: true,
            least_rtt: None,
            rtt: None,
            queue_seen: None,
            remb_same: None,
            lossy_at: None,
            clear_since: None,
            standing_ticks: 0,
            queue_at: None,
            hold: BASE_HOLD,
            trial_at: None,
            last_loss: None,
            loss: None,
            loss_in_probe: false,
            loss_estimate: nominal[0] * 2.0,
            probe: None,
            probe_failed_at: None,
            fell_at: None,
            failed_remb: None,
        }
    }

    /// When the running probe began (`None`: no probe), so the session can tell one from the
    /// next.
    pub fn probe_started(&self) -> Option<Instant> {
        self.probe.map(|p| p.started)
    }

    /// The extra bits/s the running probe asks for at `now` (0: none): ramped from nothing to
    /// the next rung's need, less the current rung's own bitrate.
    pub fn probe_bps(&self, now: Instant) -> f64 {
        let Some(p) = self.probe else { return 0.0 };
        let ramp = (now.saturating_duration_since(p.step_from).as_secs_f64() / PROBE_RAMP.as_secs_f64()).min(1.0);
        let rate = |r: Option<Rung>| r.map_or(0.0, |r| self.nominal[r.index()]);
        let (base, need) = (rate(self.chosen), rate(Some(p.target)) * PROBE_NEED);
        let start = rate(p.best.or(self.chosen)) * PROBE_NEED;
        (start + (need - start) * ramp - base).max(0.0)
    }

    /// The rung the receiver should get now.
    pub fn rung(&self) -> Option<Rung> {
        lower(self.chosen, self.cap)
    }

    /// The client's cap. Always a decision (the answer to the client's preference): the rung
    /// it gets now, with `limit` when the cap is what holds it there, else the controller's own
    /// reason. Lifting a cap lets video start again: REMB is not trusted for [`WARMUP`].
    pub fn set_cap(&mut self, now: Instant, cap: Option<Rung>) -> Decision {
        let before = self.rung();
        self.cap = cap;
        let after = self.rung();
        let lifted = match (before, after) {
            (Some(b), Some(a)) => a < b,
            (None, Some(_)) => true,
            _ => false,
        };
        if lifted {
            self.remb_from = now + WARMUP;
            self.ramping = true;
            self.moved(now);
        }
        let binding = match (cap, self.chosen) {
            (None, _) => true,
            (Some(c), Some(ch)) => c > ch,
            (Some(_), None) => false,
        };
        Decision { rung: after, reason: if binding { Reason::Limit } else { self.reason }, estimate_bps: None, answers_preference: true }
    }

    /// The best rung `estimate` (bits/s) carries, if any.
    fn fit(&self, estimate: f64) -> Option<Rung> {
        let room = FILL * estimate - AUDIO_RESERVE;
        Rung::ALL.into_iter().find(|r| self.nominal[r.index()] <= room)
    }

    /// One tick; a decision when the receiver's rung changes.
    pub fn update(&mut self, i: &Inputs) -> Option<Decision> {
        let before = self.rung();
        let now = i.now;
        if self.cap.is_none() {
            // Audio only by the client's choice: nothing is sent, so nothing can be learnt.
            self.moved(now);
            return None;
        }
        let settling = now.saturating_duration_since(self.last_change) < SETTLE;
        let probing = self.probe.is_some() || self.probe_failed_at.is_some_and(|t| now.saturating_duration_since(t) < PROBE_GRACE);
        // A loss report counts from when it comes until the next, and not while the last move
        // settles (it describes the old rung); the loss-based estimate moves once per report.
        // One that came while a probe ran or in its grace describes the probe's loss for as
        // long as it is the latest (seen: a report of 33 % loss 0.8 s after a failed probe was
        // still the latest 1.6 s after it, and paused a receiver the link carried on L2).
        // A report counts only if the one before it also came after the move: a report covers
        // the packets since the previous one, and one whose span began before the move counts
        // the old rung's loss (seen: Firefox paused at 250 kbit/s, where L2 fits, on 69 % loss
        // in its first report wholly after the 1.5 s settle, which still spanned the L0 flood).
        if let Some((l, at)) = i.loss
            && Some(at) != self.last_loss
        {
            let span_after_move = self.last_loss.is_some_and(|prev| prev >= self.last_change);
            self.last_loss = Some(at);
            if at.saturating_duration_since(self.last_change) >= SETTLE && span_after_move {
                self.loss = Some(l);
                self.loss_in_probe = probing;
                if probing {
                    // The probe's: the loss-based estimate stays.
                } else if l > LOSSY {
                    self.loss_estimate = i.sent_bps.max(self.nominal[2]) * (1.0 - 0.5 * l);
                } else if l < 0.02 {
                    self.loss_estimate = (self.loss_estimate * 1.08).min(self.nominal[0] * 2.0);
                }
            }
        }
        // NACKs are fresh loss (one round trip) once the old rung's have come in; they judge
        // probes. Reported loss while a probe runs, and until its last NACKs are in, is the
        // probe's: it fails the probe and moves nobody down (the probe stops at once, so the link
        // is back to what it carried).
        let since_move = now.saturating_duration_since(self.last_change);
        let nack_loss = i.nack_loss.filter(|_| since_move >= NACK_SETTLE);
        // Only receiver reports move a receiver down on loss: a receiver NACKs packets that are
        // merely late too (300 ms of jitter made 5 % loss look like 25 % and paused receivers),
        // while a report's fraction lost counts what never came.
        let loss = self.loss.filter(|_| !probing && !self.loss_in_probe);
        let warming = now < self.remb_from;
        if let Some(r) = i.remb_bps {
            self.remb_peak = self.remb_peak.max(r);
        }
        if let Some(rtt) = i.rtt {
            let least = *self.least_rtt.insert(self.least_rtt.map_or(rtt, |l| l.min(rtt)));
            self.rtt = Some(rtt);
            // A sample taken while a probe ran, or in its grace, measured the probe's queue.
            self.queue_seen = (!probing).then_some((rtt > least + QUEUED, now));
        }
        // A probe's queue is the probe's, not the rung's, until its grace is over (the REMB
        // it brought down counts: it only moves a receiver to a rung the REMB fits, and pauses
        // nobody without a queue).
        // The queue meter, when it reports, outranks the round trip: a sender report's trip can
        // have met a probe's queue that the meter saw drain since (seen: Firefox paused at 250
        // kbit/s on a 155 ms round trip while the meter read 0).
        let metered = i.queue.is_some() || self.queue_at.is_some_and(|t| now.saturating_duration_since(t) <= RTT_FRESH);
        let queued = !probing
            && if metered {
                i.queue.is_some_and(|q| q >= QUEUE_DELAY)
            } else {
                self.queue_seen.is_some_and(|(q, at)| q && now.saturating_duration_since(at) <= RTT_FRESH)
            };
        // A REMB far below what demonstrably arrives without loss is not believed: under half
        // of it for moves up, under [`STUCK_REMB`] of it for moves down (seen: Chromium's stuck at
        // 11-26 kbit/s for a minute after a paused spell, while it took 1.5 Mbit/s without loss).
        if self.loss.is_some_and(|l| l >= 0.02) || nack_loss.is_some_and(|l| l >= 0.02) {
            self.lossy_at = Some(now);
        }
        let loss_free = self.loss.is_some_and(|l| l < 0.02)
            && nack_loss.is_none_or(|l| l < 0.02)
            && self.lossy_at.is_none_or(|t| now.saturating_duration_since(t) >= LOSS_MEMORY);
        let below = |share: f64| move |r: &u64| !(loss_free && (*r as f64) < share * i.sent_bps);
        // Nor is one that has not changed at all for [`FROZEN_REMB`] while video flows without
        // loss, up or down: a live estimator moves a little at every update (seen: Chromium's held 71687 bit/s for 30 s
        // after a pause, through 20 s of loss-free L2 at 120 kbit/s on an unshaped link).
        if i.remb_bps != self.remb_same.map(|(r, _)| r) || i.sent_bps <= 0.0 {
            self.remb_same = i.remb_bps.map(|r| (r, now));
        }
        let frozen = loss_free && self.remb_same.is_some_and(|(_, since)| now.saturating_duration_since(since) >= FROZEN_REMB);
        let believed = i.remb_bps.filter(below(0.5)).filter(|_| !frozen);
        // A low REMB is congestion when it does not fit the current rung (a static picture's
        // encoder sends far under its rung, and its REMB follows), and, while the estimate ramps
        // up, only once it fell from its peak.
        let worse = |f: Option<Rung>| match (f, self.chosen) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(f), Some(c)) => f > c,
        };
        // A queue meter (TWCC on our audio) that has seen no queue for a while outranks a low
        // REMB: a delay-based estimate backs off because packets queue, and they do not (seen:
        // Firefox's REMB at 43-60 kbit/s for 15 s after a failed probe, while 120 arrived with
        // no queue, kept the receiver from probing back up).
        match i.queue {
            // A probe's own queue is judged by the probe (its session stops it at 40 ms): the
            // path stays clear as it was when the probe began. (Clearing it here made a low
            // REMB congestion on the probe's first tick, which ended it: Firefox's REMB, rising
            // slowly from 84 kbit/s after a 250 kbit/s spell, ended every probe, and the
            // receiver stayed on L2 for 20 s of an unshaped link.)
            Some(_) if probing => {}
            Some(q) if q < QUEUE_CLEAR => {
                self.clear_since.get_or_insert(now);
            }
            Some(_) => self.clear_since = None,
            None if self.queue_at.is_none_or(|t| now.saturating_duration_since(t) > RTT_FRESH) => self.clear_since = None,
            None => {}
        }
        if i.queue.is_some() {
            self.queue_at = Some(now);
        }
        let clear = self.clear_since.is_some_and(|t| now.saturating_duration_since(t) >= CLEAR_FOR);
        let remb_low = !warming
            && !frozen
            && !clear
            && i.remb_bps.filter(below(STUCK_REMB)).is_some_and(|r| {
                let r = r as f64;
                r < CONGESTED * i.sent_bps && (!self.ramping || r < DROPPED * self.remb_peak as f64) && worse(self.fit(r))
            });
        let lossy = loss.is_some_and(|l| l > LOSSY);
        let very_lossy = loss.is_some_and(|l| l > VERY_LOSSY);
        // Losing, the link carries at most what gets through (a link far below what is sent
        // loses most of it: GCC's gentler rule alone moved L0 at a 500 kbit/s link to L1, which
        // does not fit either).
        let through = i.sent_bps.max(self.nominal[2]) * (1.0 - loss.unwrap_or(0.0));
        let loss_estimate = self.loss_estimate.min(through);
        let estimate = match (i.remb_bps.filter(|_| !warming), lossy) {
            (Some(r), true) => (r as f64).min(loss_estimate),
            (Some(r), false) => r as f64,
            (None, true) => loss_estimate,
            (None, false) => f64::INFINITY,
        };
        if !settling {
            self.bad_ticks = if lossy { self.bad_ticks + 1 } else { 0 };
        }
        // A REMB describes the link, not the rung: after a move down it counts while the move
        // settles (the REMB is no ramp then, and `worse` compares it with the new rung).
        if !settling || !self.ramping {
            self.remb_ticks = if remb_low && self.probe.is_none() { self.remb_ticks + 1 } else { 0 };
        }
        // After a move down the REMB is no ramp: two ticks confirm it (so do two with a queue).
        let remb_down = self.remb_ticks >= REMB_TICKS || (self.remb_ticks >= 2 && (queued || !self.ramping));
        let congested = remb_low || loss.is_some_and(|l| l > 0.02);
        self.good_since = if congested { None } else { self.good_since.or(Some(now)) };
        // On the last rung, a standing queue on two ticks running says the link cannot carry
        // even it: video pauses without waiting for the REMB (at 80 kbit/s the meter read 153
        // and 445 ms while the REMB was still 88 and 49 kbit/s, and the audio queued behind).
        self.standing_ticks = if !probing && i.queue.is_some_and(|q| q >= STANDING_QUEUE) { self.standing_ticks + 1 } else { 0 };
        // (Twice that on one tick: more than an L2 keyframe's burst queues on any link L2 fits.)
        let deep = !probing && i.queue.is_some_and(|q| q >= 2 * STANDING_QUEUE);
        if self.chosen == Some(Rung::L2) && (self.standing_ticks >= 2 || deep) {
            self.chosen = None;
            self.trial_at = None;
            self.moved(now);
            self.ramping = false;
            self.reason = Reason::Bandwidth;
            return (self.rung() != before).then_some(Decision {
                rung: self.rung(),
                reason: Reason::Bandwidth,
                estimate_bps: i.remb_bps,
                answers_preference: false,
            });
        }

        if let Some(current) = self.chosen
            && ((!settling && (self.bad_ticks >= 2 || very_lossy)) || (remb_down && (!settling || !self.ramping)))
        {
            self.probe = None;
            // At least one rung down; further if the estimate says so.
            let one_down = current.down();
            let fits = self.fit(estimate);
            self.chosen = match (fits, one_down) {
                (Some(f), Some(d)) => Some(f.max(d)),
                // Video pauses only from the last rung: a link falling from L0 reports the
                // loss of what it could not carry, and a REMB still falling (seen: Firefox
                // paused at 250 kbit/s, where L2 fits, on a 157 kbit/s REMB a second into the
                // fall).
                (None, Some(_)) => Some(Rung::L2),
                // From L2 it pauses on loss, or on a REMB below L2 while our packets queue: a
                // REMB alone (a browser's estimate collapses when its machine is starved)
                // never takes the picture away.
                _ if !lossy && !very_lossy && !queued => Some(Rung::L2),
                _ => None,
            };
            if self.chosen == Some(current) {
                // Nowhere lower to go without a pause: the counts start over, nothing else does.
                self.bad_ticks = 0;
                self.remb_ticks = 0;
                return None;
            }
            if self.trial_at.is_some_and(|t| now.saturating_duration_since(t) < TRIAL) {
                self.hold = (self.hold * 2).min(MAX_HOLD);
            }
            self.trial_at = None;
            self.fell_at = Some(now);
            self.moved(now);
            self.ramping = false;
            let reason = if lossy { Reason::Loss } else { Reason::Bandwidth };
            self.reason = reason;
            let estimate_bps = estimate.is_finite().then_some(estimate as u64);
            return (self.rung() != before).then_some(Decision { rung: self.rung(), reason, estimate_bps, answers_preference: false });
        }

        if let Some(p) = self.probe {
            // Paused, a receiver report's loss is the paused picture's last packets' (a report
            // can cover seconds): the padding's loss shows in its NACKs.
            let reported = self.loss.filter(|_| self.chosen.is_some());
            let probe_lost = [reported, nack_loss].into_iter().flatten().any(|l| l > 0.02);
            return self.step_probe(i, p, congested || probe_lost, before);
        }
        if self.trial_at.is_some_and(|t| now.saturating_duration_since(t) >= TRIAL) {
            self.trial_at = None;
            self.hold = BASE_HOLD;
        }
        // A REMB that rose well above the one a failed probe began with says the link got better:
        // the wait that failed probes doubled starts over (seen: Firefox's rose from 78 to
        // 220 kbit/s on an unshaped link while a 12 s hold kept it on L2 for 15.6 s).
        if let (Some(failed), Some(r)) = (self.failed_remb, i.remb_bps.filter(|_| !warming))
            && r as f64 >= REMB_RISE * failed as f64
        {
            self.hold = BASE_HOLD;
            self.failed_remb = None;
        }
        let held = self.good_since.is_some_and(|g| now.saturating_duration_since(g) >= self.hold);
        let next = match self.chosen {
            None => Some(Rung::L2),
            Some(c) => c.up(),
        };
        // A REMB (if fresh) must have room over what is sent (it cannot exceed ~1.5× what
        // arrives, so the next rung cannot be asked for: the probe finds out). Paused, it
        // describes nothing that flows.
        let believed = believed.filter(|_| self.chosen.is_some());
        let share_next = next.map_or(0.0, |n| self.nominal[n.index()] * NEXT_SHARE);
        let room_up = clear || believed.is_none_or(|r| r as f64 >= HEADROOM * i.sent_bps && r as f64 >= share_next);
        // Up only where the cap lets the move show.
        let capped = |n: Rung| self.cap.is_none_or(|cap| n < cap);
        let next = next.filter(|n| !capped(*n))?;
        let fallen = self.fell_at.is_some_and(|t| now.saturating_duration_since(t) < DOWN_HOLD);
        if settling || !held || !room_up || fallen || !self.aligned(i) {
            return None;
        }
        self.probe = Some(Probe { target: next, step_from: now, best: None, started: now, remb: i.remb_bps });
        None
    }

    /// One tick of a running probe: failed (loss, congestion), a step held (on to the rung
    /// above, or up to the best rung probed), or still running.
    fn step_probe(&mut self, i: &Inputs, p: Probe, lossy: bool, before: Option<Rung>) -> Option<Decision> {
        let now = i.now;
        if i.probe_failed || lossy {
            self.probe = None;
            if let Some(best) = p.best {
                return Some(self.move_up(now, best, i.remb_bps)).filter(|d| d.rung != before);
            }
            let most = if self.chosen.is_some() { MAX_PROBE_HOLD } else { MAX_HOLD };
            self.hold = (self.hold * 2).min(most);
            self.good_since = None;
            self.probe_failed_at = Some(now);
            self.failed_remb = p.remb;
            return None;
        }
        let wait = PROBE_STEP + self.rtt.unwrap_or(MAX_PROBE_WAIT).min(MAX_PROBE_WAIT);
        let ran = now.saturating_duration_since(p.step_from);
        if ran < wait {
            return None;
        }
        // Paused, the probe is padding: it stops at L2.
        let above = p.target.up().filter(|n| self.chosen.is_some() && self.cap.is_some_and(|cap| *n >= cap));
        match above {
            // The step held: it goes on at its full need until a tick just after a keyframe.
            Some(_) if !self.aligned(i) && ran < wait + ALIGN_WAIT => None,
            Some(above) => {
                self.probe = Some(Probe { target: above, step_from: now, best: Some(p.target), ..p });
                None
            }
            None => {
                self.probe = None;
                Some(self.move_up(now, p.target, i.remb_bps)).filter(|d| d.rung != before)
            }
        }
    }

    /// Moves up to `to`, which a probe showed the link carries (the hold starts over; loss
    /// within [`TRIAL`] moves back down and doubles it).
    fn move_up(&mut self, now: Instant, to: Rung, remb_bps: Option<u64>) -> Decision {
        self.chosen = Some(to);
        self.hold = BASE_HOLD;
        self.trial_at = Some(now);
        self.remb_from = now + WARMUP;
        self.ramping = true;
        self.moved(now);
        self.reason = Reason::Probe;
        Decision { rung: self.rung(), reason: Reason::Probe, estimate_bps: remb_bps, answers_preference: false }
    }

    /// A probe of copies may start (or step) now: just after a keyframe (see [`KEY_ALIGN`]).
    /// Paused, the probe is padding: any time.
    fn aligned(&self, i: &Inputs) -> bool {
        self.chosen.is_none() || i.keyframe_age.is_none_or(|a| a < KEY_ALIGN)
    }

    fn moved(&mut self, now: Instant) {
        self.probe = None;
        self.last_change = now;
        self.remb_peak = 0;
        self.loss = None;
        self.good_since = None;
        self.bad_ticks = 0;
        self.remb_ticks = 0;
    }
}

#[cfg(test)]
#[path = "bwe_tests.rs"]
mod tests;
