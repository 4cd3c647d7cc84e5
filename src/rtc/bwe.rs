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
//! - **Up carefully.** A receiver cannot report more than 1.5× what it receives (REMB's own
//!   clamp), so moving up is a trial: after [`BASE_HOLD`] without any sign of congestion (and a
//!   REMB, if fresh, at least [`HEADROOM`] × what we send), the next rung up is tried; congestion
//!   within [`TRIAL`] of it moves back down and doubles the hold (at most [`MAX_HOLD`]); a trial
//!   that lasts resets it. The trial is the probe: no padding is sent.
//! - **Loss-based fallback.** Without a fresh REMB (Firefox can stop sending it) loss alone
//!   decides; with one, the lower of REMB and the loss-based estimate (GCC's rule: more than
//!   10 % loss → rate × (1 − loss / 2)) does, so a REMB lying high cannot hide 20 % loss.
//! - **Caps.** The client may cap its rung (its viewport, a data-saver choice, or no video);
//!   the receiver gets the lower of the cap and the controller's choice.

use crate::media::ladder::Rung;
use std::time::{Duration, Instant};

pub const TICK: Duration = Duration::from_millis(500);
/// REMB is not trusted this long after the start and after every move up (a trial, video
/// resuming, a cap lifted): it cannot exceed about 1.5× what arrived before the move.
pub const WARMUP: Duration = Duration::from_secs(5);
pub const SETTLE: Duration = Duration::from_millis(1500);
pub const BASE_HOLD: Duration = Duration::from_secs(3);
pub const MAX_HOLD: Duration = Duration::from_secs(6);
pub const TRIAL: Duration = Duration::from_secs(6);
pub const CONGESTED: f64 = 0.7;
/// Ticks of a low REMB before moving down (loss needs two).
pub const REMB_TICKS: u32 = 4;
/// A REMB counts as congestion only once it fell below this share of its peak since the last
/// move: a browser's estimate ramps up slowly after a start or a pause, and a low but rising
/// estimate is no congestion.
pub const DROPPED: f64 = 0.85;
/// Share of the next rung's bitrate a REMB must reach before a trial of it (L1 → L0 on a
/// 1500 kbit/s ladder: 675 kbit/s, under the ~685 a receiver of L1 can report).
pub const NEXT_SHARE: f64 = 0.45;
pub const HEADROOM: f64 = 1.3;
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
        }
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
        let loss = self.loss;
        let warming = now < self.remb_from;
        if let Some(r) = i.remb_bps {
            self.remb_peak = self.remb_peak.max(r);
        }
        let remb_low =
            !warming && i.remb_bps.is_some_and(|r| (r as f64) < CONGESTED * i.sent_bps && (r as f64) < DROPPED * self.remb_peak as f64);
        let lossy = loss.is_some_and(|l| l > LOSSY);
        let very_lossy = loss.is_some_and(|l| l > VERY_LOSSY);
        let estimate = match (i.remb_bps.filter(|_| !warming), lossy) {
            (Some(r), true) => (r as f64).min(self.loss_estimate),
            (Some(r), false) => r as f64,
            (None, true) => self.loss_estimate,
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

        if self.trial_at.is_some_and(|t| now.saturating_duration_since(t) >= TRIAL) {
            self.trial_at = None;
            self.hold = BASE_HOLD;
        }
        let held = self.good_since.is_some_and(|g| now.saturating_duration_since(g) >= self.hold);
        let next = match self.chosen {
            None => Some(Rung::L2),
            Some(c) => c.up(),
        };
        // A REMB (if fresh) must have room over what is sent and cover [`NEXT_SHARE`] of the
        // next rung (it cannot exceed ~1.5× what arrives, so the whole rung cannot be asked for).
        let share_next = next.map_or(0.0, |n| self.nominal[n.index()] * NEXT_SHARE);
        // A REMB under half of what demonstrably arrives without loss is not believed (seen:
        // Chromium stuck at 12 kbit/s while receiving 430 without loss, after a weak spell).
        let believed = i.remb_bps.filter(|r| !(self.loss.is_some_and(|l| l < 0.02) && (*r as f64) < 0.5 * i.sent_bps));
        let room_up = believed.is_none_or(|r| r as f64 >= HEADROOM * i.sent_bps && r as f64 >= share_next);
        // Up only where the cap lets the move show.
        let capped = match (next, self.cap) {
            (Some(n), Some(cap)) => n < cap,
            (_, None) => true,
            (None, _) => true,
        };
        if !settling && held && room_up && !capped {
            self.chosen = next;
            self.trial_at = Some(now);
            self.remb_from = now + WARMUP;
            self.moved(now);
            self.reason = Reason::Probe;
            return (self.rung() != before).then_some(Decision {
                rung: self.rung(),
                reason: Reason::Probe,
                estimate_bps: i.remb_bps,
                answers_preference: false,
            });
        }
        None
    }

    fn moved(&mut self, now: Instant) {
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

    const LADDER: [u32; 3] = [1500, 450, 150];

    /// Runs `secs` seconds of ticks with `f(t)` giving (REMB, loss, sent) at `t` seconds; an RR
    /// every second. Returns the decisions with their time.
    fn run(c: &mut Controller, t0: Instant, from: f64, secs: f64, f: impl Fn(f64) -> (Option<u64>, f64, f64)) -> Vec<(f64, Decision)> {
        let mut out = Vec::new();
        let mut t = from;
        while t < from + secs {
            let now = t0 + Duration::from_secs_f64(t);
            let (remb, loss, sent) = f(t);
            let rr_at = t0 + Duration::from_secs_f64(t.floor());
            if let Some(d) = c.update(&Inputs { now, remb_bps: remb, loss: Some((loss, rr_at)), sent_bps: sent }) {
                out.push((t, d));
            }
            t += TICK.as_secs_f64();
        }
        out
    }

    /// What a receiver on `rung` is sent when the link carries `link` bits/s.
    fn sent(rung: Option<Rung>, link: f64) -> f64 {
        let nominal = match rung {
            Some(r) => f64::from(LADDER[r.index()]) * 1000.0,
            None => 0.0,
        };
        nominal.min(link)
    }

    #[test]
    fn a_falling_link_moves_down_within_two_seconds_and_a_recovering_one_comes_back() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        assert!(run(&mut c, t0, 0.0, 10.0, |_| (Some(2_500_000), 0.0, 1_400_000.0)).is_empty(), "a good link stays on L0");
        // The link falls to 300 kbit/s: Chrome's REMB follows (~0.85 × what arrives).
        let down = run(&mut c, t0, 10.0, 4.0, |_| (Some(255_000), 0.04, 1_400_000.0));
        let (at, d) = down.first().copied().expect("moved down");
        assert!(at - 10.0 <= 2.0, "down within 2 s, took {}", at - 10.0);
        assert_eq!(d.rung, Some(Rung::L2), "255 kbit/s fits L2 only: {d:?}");
        assert_eq!(d.reason, Reason::Bandwidth);
        // Steady at 300 kbit/s on L2: stays (trials of L1 fail and back off).
        let rung = std::cell::Cell::new(c.rung());
        let (mut moves, mut on_l2, mut ticks) = (0, 0, 0);
        let mut t = 14.0;
        while t < 60.0 {
            let r = rung.get();
            ticks += 1;
            on_l2 += usize::from(r == Some(Rung::L2));
            let s = sent(r, 300_000.0);
            let over = r.is_some_and(|r| f64::from(LADDER[r.index()]) * 1000.0 > 250_000.0);
            let (remb, loss) = if over { (Some(230_000), 0.15) } else { (Some((1.5 * s) as u64 + 10_000), 0.0) };
            for (_, d) in run(&mut c, t0, t, 0.5, |_| (remb, loss, s)) {
                rung.set(d.rung);
                moves += 1;
            }
            t += 0.5;
        }
        assert!(moves <= 10, "no flapping: {moves} moves in 46 s");
        assert!(on_l2 * 10 >= ticks * 7, "mostly on L2 (the rest: trials of L1): {on_l2} of {ticks} ticks");
        // The link recovers: back on L0 within 15 s.
        let mut t = 60.0;
        while t < 75.0 && rung.get() != Some(Rung::L0) {
            let s = sent(rung.get(), 10_000_000.0);
            for (_, d) in run(&mut c, t0, t, 0.5, |_| (Some((1.5 * s) as u64 + 10_000), 0.0, s)) {
                rung.set(d.rung);
            }
            t += 0.5;
        }
        assert_eq!(rung.get(), Some(Rung::L0), "back on L0 by {t} s");
    }

    #[test]
    fn a_very_weak_link_pauses_video_and_resumes_it() {
        let t0 = Instant::now();
        let mut c = Controller::new(t0, LADDER);
        let d = run(&mut c, t0, 6.0, 3.0, |_| (Some(70_000), 0.3, 1_000_000.0));
        assert_eq!(d.last().map(|(_, d)| d.rung), Some(None), "80 kbit/s: video paused: {d:?}");
        let d = run(&mut c, t0, 9.0, 20.0, |_| (None, 0.0, 0.0));
        assert!(d.iter().any(|(_, d)| d.rung == Some(Rung::L2) && d.reason == Reason::Probe), "resumed by a trial: {d:?}");
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
