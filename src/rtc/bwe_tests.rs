//! The rung controller's unit tests: recorded traces and a simulated link.
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
        let inputs = Inputs {
            now,
            remb_bps: remb,
            loss: Some((loss, rr_at)),
            sent_bps: sent,
            nack_loss: None,
            probe_failed: false,
            rtt: None,
            queue: None,
            keyframe_age: None,
        };
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
            queue: None,
            // The rung's keyframes every 2 s.
            keyframe_age: rung.map(|_| Duration::from_secs_f64(t.rem_euclid(2.0))),
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

/// A controller that started on a good link (10 s of L0) and was moved to L2 by a 40 % loss
/// report at 10 s.
fn dropped_to_l2(t0: Instant) -> Controller {
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let mut c = Controller::new(t0, LADDER);
    for k in 0..20 {
        tick(&mut c, at(f64::from(k) * 0.5), 1_650_000, (0.0, at(0.0)), 1_430_000.0, 1);
    }
    assert_eq!(tick(&mut c, at(10.0), 250_000, (0.4, at(10.0)), 1_430_000.0, 1).map(|d| d.rung), Some(Some(Rung::L2)));
    c
}

/// A controller that started on a good link (10 s of L0) and was moved to L2 by a 40 % loss
/// report at 10 s, then held there 5 s by a live REMB without headroom: at 15 s, on L2.
fn settled_on_l2(t0: Instant) -> Controller {
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let mut c = dropped_to_l2(t0);
    for k in 0..10 {
        let d = tick(&mut c, at(10.5 + f64::from(k) * 0.5), 140_000 + 100 * k as u64, (0.0, at(10.0)), 120_000.0, 1);
        assert_eq!(d, None, "no probe: no headroom");
    }
    c
}

/// One tick of reports: (REMB, loss with its report's time, sent, round trip in ms).
fn tick(c: &mut Controller, now: Instant, remb: u64, loss: (f64, Instant), sent: f64, rtt_ms: u64) -> Option<Decision> {
    let rtt = Some(Duration::from_millis(rtt_ms));
    c.update(&Inputs {
        now,
        remb_bps: Some(remb),
        loss: Some(loss),
        sent_bps: sent,
        nack_loss: None,
        probe_failed: false,
        rtt,
        queue: None,
        keyframe_age: None,
    })
}

#[test]
fn a_remb_that_stays_low_after_a_move_down_moves_again_while_the_move_settles() {
    // Recorded at a 500 kbit/s link (weak-link check): loss moved L0 to L1 on what got
    // through during the fall (728 kbit/s), then REMB sat at 291-314 kbit/s, rising a
    // little, while the old rung drained; L1 (450 + audio) does not fit.
    let t0 = Instant::now();
    let mut c = Controller::new(t0, LADDER);
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    for k in 0..20 {
        assert_eq!(tick(&mut c, at(f64::from(k) * 0.5), 1_650_000, (0.0, at(f64::from(k / 2))), 1_430_000.0, 2), None);
    }
    let d = tick(&mut c, at(10.0), 819_000, (0.496, at(10.0)), 1_445_000.0, 0).expect("loss moves it down");
    assert_eq!(d.rung, Some(Rung::L1));
    let trace = [
        (291_194, 1_053_174.0, 74),
        (274_154, 774_603.0, 74),
        (290_766, 611_272.0, 45),
        (300_002, 525_322.0, 45),
        (304_728, 525_734.0, 106),
    ];
    let mut moved = None;
    for (k, (remb, sent, rtt)) in trace.into_iter().enumerate() {
        let t = 10.5 + 0.5 * k as f64;
        if let Some(d) = tick(&mut c, at(t), remb, (0.0, at(t)), sent, rtt) {
            moved = Some((t, d));
            break;
        }
    }
    let (t, d) = moved.expect("a second move down");
    assert_eq!((d.rung, d.reason), (Some(Rung::L2), Reason::Bandwidth));
    assert!(t - 10.0 <= 2.0, "within 2 s of the first move: {t}");
}

#[test]
fn a_remb_below_l2_pauses_video_only_when_packets_queue() {
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    // Recorded at 80 kbit/s: REMB 54, 23, 16, 10 kbit/s, the round trip 1 → 426 ms (the
    // shaper's queue), no loss in the receiver's reports yet.
    let mut c = settled_on_l2(t0);
    let trace = [(53_908, 1), (22_615, 426), (16_094, 426), (10_375, 422)];
    let paused = trace.iter().enumerate().find_map(|(k, (remb, rtt))| {
        let t = 15.5 + 0.5 * k as f64;
        tick(&mut c, at(t), *remb, (0.0, at(15.0)), 120_000.0, *rtt).map(|d| (t, d))
    });
    let (t, d) = paused.expect("paused");
    assert_eq!(d.rung, None);
    assert!(t - 15.5 <= 1.5, "{t}");
    // The same REMB with no queue (a starved browser's estimate): the picture stays.
    let mut c = settled_on_l2(t0);
    // (Loss-free, it is not even believed: the controller probes, and nothing here fails it.)
    for k in 0..20 {
        let t = 15.5 + 0.5 * f64::from(k);
        tick(&mut c, at(t), 10_375, (0.0, at(15.0)), 120_000.0, 2);
        assert!(c.rung().is_some(), "paused at {t}");
    }
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

#[test]
fn a_frozen_remb_does_not_keep_the_receiver_down() {
    // Recorded after a pause: video resumed on L2 (120 kbit/s, no loss, an unshaped link)
    // while Chromium's REMB held 71687 bit/s for the rest of the run.
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let mut c = dropped_to_l2(t0);
    // A REMB that moves (71-75 kbit/s, under what arrives yet over half of it) holds it there...
    for k in 0..20 {
        let t = 10.5 + 0.5 * f64::from(k);
        tick(&mut c, at(t), 71_000 + 200 * u64::from(k as u8), (0.0, at(t.floor())), 120_000.0, 1);
        assert_eq!(c.probe_started(), None, "a live REMB without room: no probe at {t}");
    }
    // ...one that froze does not: a probe within its 3 s and the hold.
    let mut probed = None;
    for k in 0..20 {
        let t = 20.5 + 0.5 * f64::from(k);
        tick(&mut c, at(t), 71_687, (0.0, at(t.floor())), 120_000.0, 1);
        if c.probe_started().is_some() {
            probed = Some(t);
            break;
        }
    }
    assert!(probed.is_some_and(|t| t - 20.5 <= 5.5), "{probed:?}");
}

#[test]
fn a_queue_measured_on_the_path_pauses_a_collapsed_link_without_waiting_for_the_round_trip() {
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let mut c = dropped_to_l2(t0);
    for k in 0..10 {
        tick(&mut c, at(10.5 + f64::from(k) * 0.5), 140_000 + 100 * k as u64, (0.0, at(10.0)), 120_000.0, 1);
    }
    // 80 kbit/s: the REMB collapses, TWCC on the audio shows 250 ms of queue, the round trip
    // (no new sample) and the receiver's reports (no loss yet) say nothing.
    let with_queue = |c: &mut Controller, t: f64, remb: u64, queue_ms: Option<u64>| {
        c.update(&Inputs {
            now: at(t),
            remb_bps: Some(remb),
            loss: Some((0.0, at(15.0))),
            sent_bps: 120_000.0,
            nack_loss: None,
            probe_failed: false,
            rtt: None,
            queue: queue_ms.map(Duration::from_millis),
            keyframe_age: None,
        })
    };
    assert_eq!(with_queue(&mut c, 15.5, 49_713, Some(250)), None);
    let d = with_queue(&mut c, 16.0, 25_478, Some(380)).expect("paused on the second tick");
    assert_eq!(d.rung, None);
    // Without a queue the same REMB would have kept the picture (see the round-trip test).
}

#[test]
fn a_clear_path_outranks_a_low_remb_for_probing() {
    // After a failed probe Firefox's REMB sat at 43-60 kbit/s, rising slowly, while 120 arrived:
    // with the queue meter saying there is no queue, the receiver probes again after its hold,
    // and the probe (which nothing fails here) is not ended by that same low REMB: it moves
    // the receiver up (seen: every probe ended on its first tick, 20 s on L2 of an unshaped link).
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let run = |queue: Option<Duration>| {
        let mut c = dropped_to_l2(t0);
        let (mut probed, mut moved) = (None, None);
        for k in 0..30 {
            let t = 10.5 + 0.5 * f64::from(k);
            let remb = 45_000 + 1_000 * u64::from(k as u8);
            let d = c.update(&Inputs {
                now: at(t),
                remb_bps: Some(remb),
                loss: Some((0.0, at(t.floor()))),
                sent_bps: 120_000.0,
                nack_loss: None,
                probe_failed: false,
                rtt: None,
                queue,
                keyframe_age: None,
            });
            if probed.is_none() && c.probe_started().is_some() {
                probed = Some(t);
            }
            if let Some(d) = d {
                moved = Some((t, d));
                break;
            }
        }
        (probed, moved)
    };
    assert_eq!(run(None), (None, None), "without a queue meter the low REMB holds it");
    let (probed, moved) = run(Some(Duration::from_millis(3)));
    let t = probed.expect("probes with a clear path");
    // Not before DOWN_HOLD after the fall at 10 s (the old rung's queue may still drain).
    assert!(t >= 10.0 + DOWN_HOLD.as_secs_f64() && t <= 15.5, "{t}");
    let (m, d) = moved.expect("the probe moves it up");
    // (Nothing fails it: it holds L1, then L0, and moves the receiver to the best it held.)
    assert_eq!((d.rung, d.reason), (Some(Rung::L0), Reason::Probe), "at {m}");
    assert!(m - t <= 4.0, "the probe's two steps took {} s", m - t);
}

#[test]
fn a_link_falling_from_l0_stops_at_l2_before_any_pause() {
    // Recorded with Firefox at 250 kbit/s (L2 fits): a second into the fall its report said
    // 80 % lost and its REMB 157 kbit/s, under what L2 needs with audio.
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let mut c = Controller::new(t0, LADDER);
    for k in 0..20 {
        tick(&mut c, at(f64::from(k) * 0.5), 1_560_000 + k as u64, (0.0, at(f64::from(k / 2))), 1_000_000.0, 2);
    }
    let d = tick(&mut c, at(10.0), 156_745, (0.80, at(10.0)), 1_204_723.0, 1).expect("down at once");
    assert_eq!(d.rung, Some(Rung::L2), "{d:?}");
}

#[test]
fn a_standing_queue_pauses_the_last_rung_before_the_remb_says_so() {
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let mut c = settled_on_l2(t0);
    // Recorded at 80 kbit/s: queue 153 then 445 ms, REMB 88 then 49 kbit/s, no loss reported.
    let step = |c: &mut Controller, t: f64, remb: u64, queue_ms: u64| {
        c.update(&Inputs {
            now: at(t),
            remb_bps: Some(remb),
            loss: Some((0.0, at(15.0))),
            sent_bps: 119_000.0,
            nack_loss: None,
            probe_failed: false,
            rtt: None,
            queue: Some(Duration::from_millis(queue_ms)),
            keyframe_age: None,
        })
    };
    assert_eq!(step(&mut c, 15.5, 87_902, 153), None);
    assert_eq!(step(&mut c, 16.0, 48_700, 250).map(|d| (d.rung, d.reason)), Some((None, Reason::Bandwidth)));
    // 300 ms or more on one tick is deep enough at once.
    let mut c = settled_on_l2(t0);
    assert_eq!(step(&mut c, 15.5, 80_395, 344).map(|d| d.rung), Some(None));
    // One tick of a keyframe's queue on L1 moves nobody.
    let mut c = Controller::new(t0, LADDER);
    c.set_cap(t0, Some(Rung::L1));
    for k in 0..20 {
        tick(&mut c, at(f64::from(k) * 0.5), 700_000 + k as u64, (0.0, at(0.0)), 450_000.0, 1);
    }
    assert_eq!(step(&mut c, 10.5, 700_100, 200), None);
    assert_eq!(step(&mut c, 11.0, 700_200, 200), None, "not the last rung: the REMB and loss decide");
}

#[test]
fn a_loss_report_that_came_in_a_probes_grace_stays_the_probes() {
    // Recorded at 250 kbit/s (weak-link check): a probe from L2 failed on its queue; a receiver
    // report of 33 % loss (the probe's) came 0.8 s later and was still the latest 1.6 s after
    // the probe, past its grace: it paused a receiver that the link carried on L2.
    let run = |report_after: f64| {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let mut c = Controller::new(t0, LADDER);
        link(&mut c, t0, 0.0, 10.0, |_| 10_000_000.0);
        link(&mut c, t0, 10.0, 4.0, |_| 300_000.0);
        assert_eq!(c.rung(), Some(Rung::L2));
        let mut t = 14.0;
        while c.probe_started().is_none() {
            assert!(t < 60.0, "a probe from L2 on a clear link");
            link(&mut c, t0, t, 0.5, |_| 10_000_000.0);
            t += 0.5;
        }
        assert_eq!(c.rung(), Some(Rung::L2), "the probe has not moved it yet");
        let failed = t;
        let mut decisions = Vec::new();
        for k in 0..8 {
            let now = failed + 0.5 * f64::from(k);
            // Before the report: the last loss-free one; then the probe's, repeated as the latest.
            let loss = if now < failed + report_after { (0.0, at(failed - 0.5)) } else { (0.33, at(failed + report_after)) };
            let inputs = Inputs {
                now: at(now),
                remb_bps: Some(200_000),
                loss: Some(loss),
                sent_bps: 120_000.0,
                nack_loss: None,
                probe_failed: k == 0,
                rtt: Some(Duration::from_millis(2)),
                queue: None,
                keyframe_age: None,
            };
            decisions.extend(c.update(&inputs).map(|d| (now - failed, d)));
        }
        decisions
    };
    assert_eq!(run(0.75), vec![], "the probe's loss moves nobody");
    // The same report after the grace is the rung's: it moves the receiver.
    assert!(!run(2.0).is_empty(), "a lossy report after the grace moves the receiver");
}

#[test]
fn a_remb_rising_well_above_a_failed_probes_starts_the_wait_over() {
    // Recorded with Firefox: probes toward L1 failed at 250 kbit/s and doubled the wait to 12 s;
    // unshaped again, its REMB rose from 78 to 220 kbit/s, yet the next probe waited the 12 s.
    let run = |rise_bps_per_s: f64| {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let mut c = dropped_to_l2(t0);
        let (mut t, mut failures, mut last_failure) = (10.5, 0, 0.0);
        let mut probe_after_last = None;
        while t < 80.0 {
            let probing = c.probe_started().is_some();
            // The probe's own queue lowers the REMB on the tick it fails (its recovery to where
            // it was is no news about the link).
            let remb = match (probing, failures) {
                (true, 0..3) => 50_000.0,
                (_, 0..3) => 80_000.0,
                _ => 80_000.0 + rise_bps_per_s * (t - last_failure),
            };
            c.update(&Inputs {
                now: at(t),
                remb_bps: Some(remb as u64),
                loss: Some((0.0, at(t.floor()))),
                sent_bps: 120_000.0,
                nack_loss: None,
                // Each probe of the first three fails on its first tick; the path is clear.
                probe_failed: probing && failures < 3,
                rtt: None,
                queue: Some(Duration::from_millis(3)),
                keyframe_age: None,
            });
            if probing && failures < 3 {
                failures += 1;
                last_failure = t;
            } else if failures == 3 && c.probe_started().is_some() {
                probe_after_last = Some(t - last_failure);
                break;
            }
            t += 0.5;
        }
        assert_eq!(failures, 3, "three probes failed");
        probe_after_last
    };
    // A REMB back where it was before the probes: the doubled wait holds (12 s).
    assert!(run(0.0).is_some_and(|s| s >= MAX_PROBE_HOLD.as_secs_f64()), "{:?}", run(0.0));
    // A REMB rising 10 kbit/s each second reaches 1.5× the failed probe's in 4 s: the wait
    // starts over, and the next probe comes long before 12 s.
    let s = run(10_000.0).expect("a probe");
    assert!(s <= 7.0, "the next probe {s} s after the last failure");
}

#[test]
fn probes_of_copies_start_and_step_only_just_after_a_keyframe() {
    // At 250 kbit/s with a shallow queue, an L2 keyframe's burst into a failed probe's queue
    // overflowed it (17-37 originals lost, 0.5-2 s of frozen picture): probes keep to the start
    // of a keyframe interval, when the next keyframe is 2 s away.
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let mut c = dropped_to_l2(t0);
    // The rung's keyframes come 0.8 s into every 2 s: ages 0.2, 0.7, 1.2 and 1.7 s on ticks.
    let age = |t: f64| Duration::from_secs_f64((t - 0.8).rem_euclid(2.0));
    let step1 = 1.1 * 450_000.0 - 120_000.0;
    let (mut t, mut started, mut stepped) = (10.5, None, None);
    while t < 40.0 && stepped.is_none() {
        let before = c.probe_started();
        c.update(&Inputs {
            now: at(t),
            remb_bps: Some(200_000),
            loss: Some((0.0, at(t.floor()))),
            sent_bps: 120_000.0,
            nack_loss: Some(0.0),
            probe_failed: false,
            rtt: Some(Duration::from_millis(5)),
            // A clear path (the REMB alone has no room for L1).
            queue: Some(Duration::from_millis(2)),
            keyframe_age: Some(age(t)),
        });
        if before.is_none() && c.probe_started().is_some() {
            assert!(age(t) < KEY_ALIGN, "a probe started {:?} after a keyframe, at {t} s", age(t));
            started = Some(t);
        }
        // A step ends when its bytes pass L1's need: the next ramps toward L0's.
        if c.probe_bps(at(t) + TICK / 2) > step1 + 1.0 {
            assert!(age(t) < KEY_ALIGN, "a step began {:?} after a keyframe, at {t} s", age(t));
            stepped = Some(t);
        }
        t += 0.5;
    }
    let (started, stepped) = (started.expect("a probe on a clear path"), stepped.expect("its first step held"));
    // Step one ran 1.3 s (+ the round trip) and then held its bytes to the next aligned tick.
    assert!(stepped - started >= PROBE_STEP.as_secs_f64(), "{started} {stepped}");
    assert_eq!(stepped - started, 2.0, "the next keyframe interval's aligned tick");
    assert_eq!(c.rung(), Some(Rung::L2), "not moved until the probe ends");
}

#[test]
fn paused_receivers_probe_with_padding_whatever_the_keyframes() {
    // Paused, nothing is forwarded (no keyframes to keep to), and padding costs the picture
    // nothing: the probe back to L2 starts without waiting.
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let mut c = Controller::new(t0, LADDER);
    c.set_cap(t0, Some(Rung::L0));
    link(&mut c, t0, 0.0, 6.0, |_| 10_000_000.0);
    link(&mut c, t0, 6.0, 10.0, |_| 60_000.0);
    assert_eq!(c.rung(), None, "paused at 60 kbit/s");
    let mut t = 16.0;
    while c.probe_started().is_none() {
        assert!(t < 40.0, "a padding probe on a clear link");
        c.update(&Inputs {
            now: at(t),
            remb_bps: None,
            loss: Some((0.0, at(t.floor()))),
            sent_bps: 0.0,
            nack_loss: None,
            probe_failed: false,
            rtt: Some(Duration::from_millis(5)),
            queue: Some(Duration::from_millis(2)),
            keyframe_age: None,
        });
        t += 0.5;
    }
}

#[test]
fn a_loss_report_whose_span_began_before_a_move_is_the_old_rungs() {
    // Firefox at 250 kbit/s (CI): its REMB and a queue moved it from L0 to L2 between two
    // reports; the first report wholly after the 1.5 s settle still spanned the L0 flood (69 %
    // lost) and paused a receiver L2 fitted.
    let t0 = Instant::now();
    let at = |s: f64| t0 + Duration::from_secs_f64(s);
    let mut c = Controller::new(t0, LADDER);
    for k in 0..20 {
        tick(&mut c, at(f64::from(k) * 0.5), 1_560_000, (0.0, at(f64::from(k / 2))), 1_000_000.0, 2);
    }
    // The REMB collapses with a queue (300 ms round trips); the last report, at 9 s, said nothing lost.
    let mut moved = None;
    for k in 0..4 {
        let t = 10.0 + f64::from(k) * 0.5;
        if let Some(d) = tick(&mut c, at(t), 190_000, (0.0, at(9.0)), 1_000_000.0, 300) {
            moved = Some((t, d));
            break;
        }
    }
    let (t_move, d) = moved.expect("down on the REMB and the queue");
    assert_eq!(d.rung, Some(Rung::L2), "{d:?}");
    // Reports each 1.7 s: the first after the move spans 9.0.. (69 % lost), the next 1 %.
    let first = t_move + 1.7;
    let mut after = Vec::new();
    let mut t = t_move + 0.5;
    while t < first + 2.0 {
        let report = if t < first {
            (0.0, at(9.0))
        } else if t < first + 1.7 {
            (0.69, at(first))
        } else {
            (0.01, at(first + 1.7))
        };
        after.extend(tick(&mut c, at(t), 200_000, report, 150_000.0, 1));
        t += 0.5;
    }
    assert_eq!(after, vec![], "no pause on the old rung's loss");
    assert_eq!(c.rung(), Some(Rung::L2));
    // A report whose span lies wholly on L2 counts: 69 % lost there pauses.
    let last = first + 3.4;
    let d = tick(&mut c, at(last + 0.1), 200_000, (0.69, at(last)), 150_000.0, 1).expect("paused on its own loss");
    assert_eq!(d.rung, None, "{d:?}");
}
