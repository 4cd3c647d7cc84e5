//! Which rung of the composite one receiver gets ([`Controller`]), from what it reports
//! ([`super::feedback::LinkReport`]): its REMB, its loss, and what we actually send it.
//!
//! Rules (each a constant below):
//! - **Down quickly.** Congestion is a REMB below [`CONGESTED`] × what we send (the receiver's
//!   delay-based estimator backed off), or loss over [`LOSSY`] in a fresh report; two ticks of
//!   it ([`TICK`] apart) move the receiver to the best rung the estimate fits (at least one
//!   down), loss over [`VERY_LOSSY`] at once. Below the last rung, video pauses: audio goes on.
//!   REMB is ignored for [`WARMUP`] after the start (browsers' estimates start low), and loss
//!   reports for [`SETTLE`] after a move (they describe the old rung).
//! - **Up carefully, by probing.** A receiver cannot report more than 1.5× what it receives
//!   (REMB's own clamp), so a REMB never shows room for the next rung. After [`BASE_HOLD`]
//!   without any sign of congestion (and a REMB, if fresh, at least [`HEADROOM`] × what we
//!   send), the controller *probes*: it asks for [`Controller::probe_bps`] of extra bytes
//!   (copies of packets already sent, see `ladder::Receiver::probe`), ramped over
//!   [`PROBE_RAMP`] up to what the next rung needs ([`PROBE_NEED`] × its bitrate), held for
//!   [`PROBE_STEP`]. A probe fails at the first signs of loss (the session stops it within a
//!   round trip when originals get NACKed): the receiver stays, the hold doubles (at most
//!   [`MAX_HOLD`]). A step that holds goes on to the rung above; the receiver then moves to the
//!   best rung probed. The picture never freezes for a probe: only copies can be lost beside
//!   the odd original, which is resent.
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
/// What a probe asks the link to carry for a rung, × its nominal bitrate (encoders overshoot
/// around keyframes).
pub const PROBE_NEED: f64 = 1.1;
/// NACK-based loss counts from this long after a move.
pub const NACK_SETTLE: Duration = Duration::from_millis(700);
/// A failed probe's loss (NACKs trail it by a round trip) counts as the probe's, not the
/// rung's, this long after it ended.
pub const PROBE_GRACE: Duration = Duration::from_millis(1500);
pub const CONGESTED: f64 = 0.7;
/// Ticks of a low REMB before moving down (loss needs two).
pub const REMB_TICKS: u32 = 4;
/// A REMB counts as congestion only once it fell below this share of its peak since the last
/// move: a browser's estimate ramps up slowly after a start or a pause, and a low but rising
/// estimate is no congestion.
pub const DROPPED: f64 = 0.85;
pub const HEADROOM: f64 = 1.3;
/// A REMB under this share of what is sent, while nothing is lost, is a stuck estimate.
pub const STUCK_REMB: f64 = 0.15;
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
    /// The latest round trip measured.
    pub rtt: Option<Duration>,
}

/// A probe toward better rungs.
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// The rung this step is for, when the step began, and the best rung a step held for.
    target: Rung,
    step_from: Instant,
    best: Option<Rung>,
    started: Instant,
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
    hold: Duration,
    trial_at: Option<Instant>,
    last_loss: Option<Instant>,
    /// The latest loss report since the last move settled.
    loss: Option<f64>,
    loss_estimate: f64,
    probe: Option<Probe>,
    probe_failed_at: Option<Instant>,
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
            hold: BASE_HOLD,
            trial_at: None,
            last_loss: None,
            loss: None,
            loss_estimate: nominal[0] * 2.0,
            probe: None,
            probe_failed_at: None,
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
        // A loss report counts from when it comes until the next, and not while the last move
        // settles (it describes the old rung); the loss-based estimate moves once per report.
        if let Some((l, at)) = i.loss
            && Some(at) != self.last_loss
        {
            self.last_loss = Some(at);
            if at.saturating_duration_since(self.last_change) >= SETTLE {
                self.loss = Some(l);
                if l > LOSSY {
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
        let probing = self.probe.is_some() || self.probe_failed_at.is_some_and(|t| now.saturating_duration_since(t) < PROBE_GRACE);
        // Only receiver reports move a receiver down on loss: a receiver NACKs packets that are
        // merely late too (300 ms of jitter made 5 % loss look like 25 % and paused receivers),
        // while a report's fraction lost counts what never came.
        let loss = self.loss.filter(|_| !probing);
        let warming = now < self.remb_from;
        if let Some(r) = i.remb_bps {
            self.remb_peak = self.remb_peak.max(r);
        }
        // A REMB far below what demonstrably arrives without loss is not believed: under half
        // of it for moves up, under [`STUCK_REMB`] of it for moves down (seen: Chromium's stuck at
        // 11-26 kbit/s for a minute after a paused spell, while it took 1.5 Mbit/s without loss).
        let loss_free = self.loss.is_some_and(|l| l < 0.02) && nack_loss.is_none_or(|l| l < 0.02);
        let below = |share: f64| move |r: &u64| !(loss_free && (*r as f64) < share * i.sent_bps);
        let believed = i.remb_bps.filter(below(0.5));
        let remb_low = !warming
            && i.remb_bps
                .filter(below(STUCK_REMB))
                .is_some_and(|r| (r as f64) < CONGESTED * i.sent_bps && (r as f64) < DROPPED * self.remb_peak as f64);
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
            self.remb_ticks = if remb_low { self.remb_ticks + 1 } else { 0 };
        }
        let congested = remb_low || loss.is_some_and(|l| l > 0.02);
        self.good_since = if congested { None } else { self.good_since.or(Some(now)) };

        if let Some(current) = self.chosen
            && !settling
            && (self.bad_ticks >= 2 || self.remb_ticks >= REMB_TICKS || very_lossy)
        {
            self.probe = None;
            // At least one rung down; further if the estimate says so.
            let one_down = current.down();
            let fits = self.fit(estimate);
            self.chosen = match (fits, one_down) {
                (Some(f), Some(d)) => Some(f.max(d)),
                // Video pauses on loss only: a REMB alone (a browser's estimate collapses when
                // its machine is starved) never takes the picture away.
                _ if !lossy && !very_lossy => Some(Rung::L2),
                _ => None,
            };
            if self.chosen == Some(current) {
                self.moved(now);
                return None;
            }
            if self.trial_at.is_some_and(|t| now.saturating_duration_since(t) < TRIAL) {
                self.hold = (self.hold * 2).min(MAX_HOLD);
            }
            self.trial_at = None;
            self.moved(now);
            let reason = if lossy { Reason::Loss } else { Reason::Bandwidth };
            self.reason = reason;
            let estimate_bps = estimate.is_finite().then_some(estimate as u64);
            return (self.rung() != before).then_some(Decision { rung: self.rung(), reason, estimate_bps, answers_preference: false });
        }

        if let Some(p) = self.probe {
            let probe_lost = [self.loss, nack_loss].into_iter().flatten().any(|l| l > 0.02);
            return self.step_probe(i, p, congested || probe_lost, before);
        }
        if self.trial_at.is_some_and(|t| now.saturating_duration_since(t) >= TRIAL) {
            self.trial_at = None;
            self.hold = BASE_HOLD;
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
        let room_up = believed.is_none_or(|r| r as f64 >= HEADROOM * i.sent_bps && r as f64 >= share_next);
        // Up only where the cap lets the move show.
        let capped = |n: Rung| self.cap.is_none_or(|cap| n < cap);
        let next = next.filter(|n| !capped(*n))?;
        if settling || !held || !room_up {
            return None;
        }
        self.probe = Some(Probe { target: next, step_from: now, best: None, started: now });
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
            return None;
        }
        let wait = PROBE_STEP + i.rtt.unwrap_or(MAX_PROBE_WAIT).min(MAX_PROBE_WAIT);
        if now.saturating_duration_since(p.step_from) < wait {
            return None;
        }
        // Paused, the probe is padding: it stops at L2.
        let above = p.target.up().filter(|n| self.chosen.is_some() && self.cap.is_some_and(|cap| *n >= cap));
        match above {
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
        self.moved(now);
        self.reason = Reason::Probe;
        Decision { rung: self.rung(), reason: Reason::Probe, estimate_bps: remb_bps, answers_preference: false }
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
mod tests {
    use super::*;

    const LADDER: [u32; 3] = [1500, 450, 120];

    /// Runs `secs` seconds of ticks with `f(t)` giving (REMB, loss, sent) at `t` seconds; an RR
    /// every second. Returns the decisions with their time.
    fn run(c: &mut Controller, t0: Instant, from: f64, secs: f64, f: impl Fn(f64) -> (Option<u64>, f64, f64)) -> Vec<(f64, Decision)> {
        let mut out = Vec::new();
        let mut t = from;
        while t < from + secs {
            let now = t0 + Duration::from_secs_f64(t);
            let (remb, loss, sent) = f(t);
            let rr_at = t0 + Duration::from_secs_f64(t.floor());
            let inputs =
                Inputs { now, remb_bps: remb, loss: Some((loss, rr_at)), sent_bps: sent, nack_loss: None, probe_failed: false, rtt: None };
            if let Some(d) = c.update(&inputs) {
                out.push((t, d));
            }
            t += TICK.as_secs_f64();
        }
        out
    }

    /// A link carrying `link(t)` bits/s for `secs` from `from`: what the receiver on the
    /// controller's rung (plus its probe and 45 kbit/s of audio) reports, as Chromium would:
    /// REMB ~1.5× what arrives while it fits, 0.85× the link once over; loss (RR each second,
    /// NACKs each tick) of what does not fit; a probe over the link fails. Returns the
    /// decisions and the ticks spent on each rung (index 3: paused).
    fn link(c: &mut Controller, t0: Instant, from: f64, secs: f64, link: impl Fn(f64) -> f64) -> (Vec<(f64, Decision)>, [u32; 4]) {
        let (mut out, mut ticks) = (Vec::new(), [0u32; 4]);
        let mut t = from;
        while t < from + secs {
            let now = t0 + Duration::from_secs_f64(t);
            let rung = c.rung();
            ticks[rung.map_or(3, |r| r.index())] += 1;
            let sent = rung.map_or(0.0, |r| f64::from(LADDER[r.index()]) * 1000.0);
            let cap = link(t);
            let media = sent + 45_000.0;
            let over = media + c.probe_bps(now) > cap;
            // A probe's own overshoot is stopped at the first NACKs: a few originals lost.
            let lost = if media > cap {
                1.0 - cap / media
            } else if over {
                0.02
            } else {
                0.0
            };
            let remb = if over { 0.85 * cap } else { 1.5 * sent + 10_000.0 };
            let rr_at = t0 + Duration::from_secs_f64(t.floor());
            let inputs = Inputs {
                now,
                remb_bps: (sent > 0.0).then_some(remb as u64),
                loss: Some((lost, rr_at)),
                sent_bps: sent,
                nack_loss: (sent > 0.0).then_some(lost),
                probe_failed: over && c.probe_started().is_some(),
                rtt: Some(Duration::from_millis(100)),
            };
            if let Some(d) = c.update(&inputs) {
                out.push((t, d));
            }
            t += TICK.as_secs_f64();
        }
        (out, ticks)
    }

    #[test]
    fn a_falling_link_moves_down_within_two_seconds_and_a_recovering_one_comes_back() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        let (d, _) = link(&mut c, t0, 0.0, 10.0, |_| 10_000_000.0);
        assert!(d.is_empty(), "a good link stays on L0: {d:?}");
        let (d, _) = link(&mut c, t0, 10.0, 4.0, |_| 300_000.0);
        let (at, first) = d.first().copied().expect("moved down");
        assert!(at - 10.0 <= 2.0, "down within 2 s, took {}", at - 10.0);
        assert_eq!(first.rung, Some(Rung::L2), "300 kbit/s fits L2 only: {d:?}");
        // Steady at 300 kbit/s: stays on L2; probes of L1 fail without moving it.
        let (d, ticks) = link(&mut c, t0, 14.0, 46.0, |_| 300_000.0);
        assert!(d.is_empty(), "no move while the link holds: {d:?}");
        assert_eq!(ticks[Rung::L2.index()], 92, "{ticks:?}");
        // The link recovers: probes find it and the receiver is back on L0 within 15 s.
        let (d, _) = link(&mut c, t0, 60.0, 15.0, |_| 10_000_000.0);
        assert_eq!(c.rung(), Some(Rung::L0), "back on L0: {d:?}");
        assert!(d.iter().all(|(_, d)| d.reason == Reason::Probe), "{d:?}");
    }

    #[test]
    fn a_link_between_rungs_keeps_the_rung_that_fits() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        link(&mut c, t0, 0.0, 6.0, |_| 10_000_000.0);
        // 600 kbit/s carries L1 (450 + audio, probed at 495 + audio) but not L0; its REMB
        // (~510) is too low for L1 with headroom, so L2 first, then a probe finds L1.
        let (d, ticks) = link(&mut c, t0, 6.0, 40.0, |_| 600_000.0);
        assert_eq!(c.rung(), Some(Rung::L1), "{d:?}");
        assert_eq!(d.len(), 2, "down, then one probe up: {d:?}");
        assert!(ticks[Rung::L1.index()] >= 60, "{ticks:?}");
    }

    #[test]
    fn a_very_weak_link_pauses_video_and_resumes_it() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        link(&mut c, t0, 0.0, 6.0, |_| 10_000_000.0);
        let (d, _) = link(&mut c, t0, 6.0, 3.0, |_| 80_000.0);
        assert_eq!(d.last().map(|(_, d)| d.rung), Some(None), "80 kbit/s: video paused within 3 s: {d:?}");
        // Still 80 kbit/s: trials of L2 back off; paused most of the time.
        let (_, ticks) = link(&mut c, t0, 9.0, 30.0, |_| 80_000.0);
        assert!(ticks[3] >= 50, "{ticks:?}");
        let (d, _) = link(&mut c, t0, 39.0, 15.0, |_| 10_000_000.0);
        assert_eq!(c.rung(), Some(Rung::L0), "back on L0 within 15 s: {d:?}");
    }

    #[test]
    fn a_probe_ramps_to_the_next_rungs_need() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        link(&mut c, t0, 0.0, 6.0, |_| 10_000_000.0);
        link(&mut c, t0, 6.0, 1.5, |_| 300_000.0);
        assert_eq!(c.rung(), Some(Rung::L2));
        assert_eq!(c.probe_started(), None, "no probe while the move settles");
        let mut seen = Vec::new();
        let mut t = 7.5;
        while c.probe_started().is_none() && t < 20.0 {
            link(&mut c, t0, t, 0.5, |_| 10_000_000.0);
            t += 0.5;
        }
        let started = c.probe_started().expect("a probe after the hold");
        for ms in [0u64, 500, 1000, 1200] {
            seen.push(c.probe_bps(started + Duration::from_millis(ms)));
        }
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert!((seen[2] - (450_000.0 * PROBE_NEED - 120_000.0)).abs() < 1.0, "{seen:?}");
    }

    #[test]
    fn a_remb_stuck_far_below_what_arrives_without_loss_is_not_believed() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        let d = run(&mut c, t0, 0.0, 10.0, |t| (Some(if t < 6.0 { 1_600_000 } else { 20_000 }), 0.0, 1_400_000.0));
        assert!(d.is_empty(), "{d:?}");
        // With loss it is believed: down.
        let d = run(&mut c, t0, 10.0, 3.0, |_| (Some(20_000), 0.05, 1_400_000.0));
        assert!(d.first().is_some_and(|(_, d)| d.reason == Reason::Bandwidth), "{d:?}");
    }

    #[test]
    fn without_remb_loss_decides() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        assert!(run(&mut c, t0, 0.0, 10.0, |_| (None, 0.0, 1_400_000.0)).is_empty(), "no REMB, no loss: stays");
        let d = run(&mut c, t0, 10.0, 3.0, |_| (None, 0.2, 1_400_000.0));
        assert!(d.first().is_some_and(|(_, d)| d.reason == Reason::Loss && d.rung.is_some_and(|r| r > Rung::L0)), "{d:?}");
    }

    #[test]
    fn a_remb_lying_high_does_not_hide_heavy_loss() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        let d = run(&mut c, t0, 6.0, 3.0, |_| (Some(10_000_000_000), 0.2, 1_400_000.0));
        assert!(d.first().is_some_and(|(_, d)| d.reason == Reason::Loss), "{d:?}");
    }

    #[test]
    fn remb_is_not_trusted_while_warming_up() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        assert!(run(&mut c, t0, 0.0, 4.5, |_| (Some(300_000), 0.0, 1_400_000.0)).is_empty(), "a start-up REMB moves nobody");
        // After warm-up an estimate that never dropped is a slow ramp, not congestion...
        assert!(run(&mut c, t0, 5.0, 3.0, |_| (Some(300_000), 0.0, 1_400_000.0)).is_empty());
        // ...and one that fell from its peak is believed: 300 kbit/s fits L2.
        let d = run(&mut c, t0, 8.0, 4.0, |t| (Some(if t < 9.0 { 1_600_000 } else { 300_000 }), 0.0, 1_400_000.0));
        assert_eq!(d.first().map(|(_, d)| d.rung), Some(Some(Rung::L2)), "{d:?}");
    }

    #[test]
    fn the_clients_cap_limits_and_lifts() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        let d = c.set_cap(t0, Some(Rung::L1));
        assert_eq!((d.rung, d.reason), (Some(Rung::L1), Reason::Limit));
        assert!(run(&mut c, t0, 0.0, 20.0, |_| (Some(5_000_000), 0.0, 400_000.0)).is_empty(), "no trial above the cap");
        assert_eq!(c.set_cap(t0, None).rung, None, "audio only");
        // Audio only: REMB falls to the audio's rate; the controller's own choice must not drift.
        assert!(run(&mut c, t0, 20.0, 20.0, |_| (Some(60_000), 0.0, 2_000.0)).is_empty());
        let lifted = t0 + Duration::from_secs(40);
        let d = c.set_cap(lifted, Some(Rung::L0));
        assert_eq!((d.rung, d.reason), (Some(Rung::L0), Reason::Start), "lifted: the controller's own choice, not `limit`");
        // Video starts again: REMB lags what is now sent for a while; that is no congestion.
        assert!(run(&mut c, t0, 40.0, 4.5, |t| (Some(((t - 40.0) * 300_000.0) as u64 + 60_000), 0.0, 1_400_000.0)).is_empty());
        // A cap that equals the controller's choice is not `limit`; asking again is answered.
        assert_eq!(c.set_cap(lifted, Some(Rung::L0)).reason, Reason::Start);
    }
}
