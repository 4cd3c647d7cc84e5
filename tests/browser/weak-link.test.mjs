// A weak downlink (issue 23): a real Chromium receiver in a network namespace of its own, joined
// to the test's namespace by a veth pair whose server-side end is shaped with tc tbf (so only the
// server → browser direction is limited). The server binds its media on that veth's address; the
// three other participants (one Chromium page, two load-generator clients) reach it over
// loopback, unshaped. Phases: unshaped → 500 kbit/s → 250 kbit/s → 80 kbit/s → unshaped.
//
// What is asserted, per phase (every failure is collected, then reported together with the
// figures): unshaped, the weak receiver stays on L0; at 500 and 250 kbit/s it is on a rung the
// link carries within 5 s, stays on such rungs, and from 3 s after that (the new rung's keyframe)
// decodes at that rung's frame rate (±20 %) with no freeze over 500 ms (Chromium's own freeze
// stats), and conceals at most 2 % of its audio over the phase; at 80 kbit/s it is told
// `paused` within 5 s and conceals at most 5 %; unshaped again, it is back on L0 within 15 s.
// Throughout, the others stay on L0 (REST view, /metrics, the Chromium page's decoded height)
// and the Chromium one gets no keyframe beyond the schedule and its own requests. The server's
// view of each receiver (REMB, loss, round trip, as its rung controller read them) is printed
// per phase, so a failure can be told apart from a busy machine (the loopback page's figures
// are the control).
//
// Runs only as root in a loopback-only network namespace (scripts/test.sh runs the browser tests
// in one: `unshare -n`), where it may add namespaces, links and qdiscs of its own; elsewhere it
// skips and says why. To run it alone:
//   unshare -n bash -c 'ip link set lo up && cd tests/browser && node --test weak-link.test.mjs'
// Runs: 2026-12-07, before probes kept to keyframes, 11 of 12 passed, but the longest freeze once
// settled at 250 kbit/s came close to its bound (250-521 ms in seven runs), each right after a
// failed probe toward L1 (its copies filled the 5.5 kB tbf queue and the next keyframe's burst
// overflowed it: 17-37 NACKed packets, a repair keyframe). Since probes start only just after a
// keyframe of the receiver's rung (rtc/bwe.rs KEY_ALIGN) and an H.264 keyframe's first packet is
// found past x264's access unit delimiter (media/ladder.rs), 7 of 7 passed (load 4-9 on 2 cores,
// other runs and builds beside them): 500 kbit/s on L2 at 0.6-2.4 s; 250 kbit/s settled at
// 14.9-15 fps, longest freeze 0-282 ms; 80 kbit/s paused at 1.4-1.9 s, audio concealed 2.4-3.7 %;
// unshaped again, L0 at 9.9-11.9 s. In `make test` since.
// The failures before were the check's own (Chromium failing the page's scripts with
// ERR_NETWORK_CHANGED when the veth's IPv6 address appeared; a freeze that began before the
// settle point counted whole) and the controller's (a probe's loss report, still the latest
// after the probe's grace, paused the receiver).
// (WEAK_LINK_DUMP=file.json also writes every sample, rung message and the server's log.)
// The link, the sampler, the summaries and the checks of the other receivers are in
// weak-link-common.mjs, shared with the Firefox variant (weak-link-firefox.test.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, waitUntil } from './server.mjs';
import { CHROMIUM_BIN, chromiumArgs, launchChromium, newPage, joinAs, logText } from './client-helpers.mjs';
import {
  NS, SERVER_IP, CLIENT_IP, cannotShape, setUpLink, tearDownLink, proxy, installSampler,
  startLoadgen, loadgenRoom, runPolled, reportPhase,
  MOVE_WITHIN_MS, MAX_FREEZE_MS, MAX_CONCEALED_PCT, judgeSettled, judgeBack,
} from './weak-link-common.mjs';

const reason = cannotShape();
let server;
let link;
let weakBrowser;
let otherBrowser;
let loadgen;
let tmp;

before(async () => {
  if (reason) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-weak-'));
  setUpLink();
  // The rung controller's inputs (REMB, loss, round trip: debug lines) for the diagnostics.
  server = await startServer(['--rtc-ip', SERVER_IP], { env: { RUST_LOG: process.env.RUST_LOG || 'info,tessera::rtc::control=debug' } });
  link = await proxy(SERVER_IP, server.base);
  const wrapper = path.join(tmp, 'chromium-in-ns');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${NS} ${CHROMIUM_BIN} "$@"\n`, { mode: 0o755 });
  weakBrowser = await chromium.launch({
    executablePath: wrapper,
    // The page's origin is the veth address, not a loopback one: getUserMedia needs it trusted.
    args: [...chromiumArgs, `--unsafely-treat-insecure-origin-as-secure=${link.base}`],
  });
  otherBrowser = await launchChromium();
});

after(async () => {
  if (reason) return;
  await weakBrowser?.close();
  await otherBrowser?.close();
  await loadgen?.kill();
  await link?.close();
  await server?.stop();
  tearDownLink();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const samplesOf = (page) => page.evaluate(() => window.__samples);

// Unshaped first (the controller ignores REMB for its first 5 s; Chromium's first REMB comes
// 2 to 6 s after the video starts), then down the ladder and back. `fits`: the rungs the link
// can carry beside the audio (Opus at 32 kbit/s, about 50 on the wire): L2 (150 kbit/s) at 250
// and 500; L1 (450) is borderline at 500 (the controller's own fit wants a 521 kbit/s estimate
// for it), so there either is accepted and smoothness decides; 80 kbit/s carries the audio only.
const PHASES = [
  { name: 'unshaped', kbit: null, ms: 15000 },
  { name: '500 kbit/s', kbit: 500, ms: 20000, fits: ['L1', 'L2'] },
  { name: '250 kbit/s', kbit: 250, ms: 20000, fits: ['L2'] },
  { name: '80 kbit/s', kbit: 80, ms: 20000 },
  { name: 'unshaped again', kbit: null, ms: 20000 },
];
// The bounds (weak-link-common.mjs), and: the least and most frame rate once settled (of the
// rung's), the most audio concealment (share of samples) over the 80 kbit/s phase.
const MIN_FPS_SHARE = 0.8;
const MAX_FPS_SHARE = 1.2;
const MAX_CONCEALED_PCT_AUDIO_ONLY = 5;

test('a weak downlink moves its Chromium receiver down the ladder and pauses its video at 80 kbit/s, smoothly, and brings it back to L0; the others keep L0', { timeout: 300000 }, async (t) => {
  if (reason) { t.skip(reason); return; }
  const waitFor = (fn, what, ms, every) => waitUntil(server, fn, what, ms, every);

  loadgen = startLoadgen(server);
  const roomId = await loadgenRoom(server, loadgen, waitFor);

  // A Chromium receiver on loopback, and the weak one through the veth pair.
  // A join that times out (seen twice in 28 runs, not understood yet) says what the page saw:
  // the server's last lines are this check's own debug lines.
  const joinOrSay = async (srv, p) => {
    try {
      await joinAs(srv, p, roomId);
    } catch (e) {
      const seen = await logText(p.page).catch((err) => `(no log: ${err.message})`);
      const joins = server.log().split('\n').filter((l) => !l.includes('link report')).slice(-40).join('\n');
      const shown = await p.page.evaluate(() => ({ app: !!window.tessera, roomId: document.getElementById('room-id')?.value, name: document.getElementById('name')?.value, ready: document.readyState })).catch((err) => err.message);
      console.error(`${p.name} did not join; its page at ${p.page.url()} logged:\n${seen}\nshows ${JSON.stringify(shown)}; its events:\n${p.events.join('\n')}\nthe server (no link reports):\n${joins}`);
      throw e;
    }
  };
  const other = await newPage(otherBrowser, 'Other');
  await joinOrSay(server, other);
  const weak = await newPage(weakBrowser, 'Weak');
  await joinOrSay({ base: link.base, log: () => server.log() }, weak);
  for (const p of [other, weak]) {
    await waitFor(() => p.page.evaluate(() => window.tessera.pc?.connectionState === 'connected'), `${p.name} to connect`, 30000);
    await p.page.evaluate(installSampler);
  }
  for (const p of [other, weak]) {
    await waitFor(async () => ((await samplesOf(p.page)).at(-1)?.framesDecoded ?? 0) > 30, `${p.name} to decode`, 30000, 250);
  }
  const pairOf = (p) => p.page.evaluate(async () => {
    const st = [...(await window.tessera.pc.getStats()).values()];
    const tr = st.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
    const p = st.find((s) => s.id === tr?.selectedCandidatePairId);
    const l = st.find((s) => s.id === p?.localCandidateId);
    const r = st.find((s) => s.id === p?.remoteCandidateId);
    return `${l?.address} → ${r?.address}`;
  });
  assert.equal(await pairOf(weak), `${CLIENT_IP} → ${SERVER_IP}`, 'the weak page receives over the veth pair');
  // The other page's packets to the server's address stay on this host (loopback, unshaped).
  t.diagnostic(`media: weak ${await pairOf(weak)}, other ${await pairOf(other)}`);

  // The phases, each holding its link for its time, while every second the REST view (every
  // participant's rung) and the server's metrics are read.
  const { phases, views, metricsSeen } = await runPolled(server, roomId, t, PHASES);
  const weakSamples = await samplesOf(weak.page);
  const otherSamples = await samplesOf(other.page);
  const told = weak.received.filter((m) => m.type === 'videoQuality');
  const rungAt = (at) => told.filter((m) => m.at <= at).at(-1)?.rung ?? 'L0';

  // Every failed expectation, with its figures; asserted together at the end.
  const problems = [];
  const expect = (ok, what) => { if (!ok) problems.push(what); };
  for (const [i, p] of phases.entries()) {
    const { moves, all, others } = reportPhase(t, { p, told, weakSamples, otherSamples, views, metricsSeen, server, expect });

    const settled = judgeSettled(t, { i, p, moves, all, told, rungAt, weakSamples, expect });
    if (i === 0) continue; // judged by judgeSettled: stays on L0
    if (p.fits) {
      if (settled) {
        const { rung, s, nominal } = settled;
        // The rung's own frame rate, give or take a fifth (L2 at 15 fps is half L1's bitrate
        // per frame: a rung at the wrong rate costs the link what the test shaped it for).
        expect(s && s.fps >= MIN_FPS_SHARE * nominal && s.fps <= MAX_FPS_SHARE * nominal,
          `${p.name}: settled (on ${rung}), decoded ${s?.fps} fps (the rung's ${nominal}: ${(MIN_FPS_SHARE * nominal).toFixed(1)} to ${(MAX_FPS_SHARE * nominal).toFixed(1)})`);
        expect(s && s.longestFreezeMs <= MAX_FREEZE_MS,
          `${p.name}: settled, a freeze of ${s?.longestFreezeMs} ms (Chromium's freezes: ${s?.freezes}, ${s?.freezesMs} ms in all; longest stall sampled ${s?.stallMs} ms)`);
      }
      expect(all && all.concealedPct <= MAX_CONCEALED_PCT,
        `${p.name}: audio concealed ${all?.concealedPct} % (most ${MAX_CONCEALED_PCT} %; the loopback page: ${others?.concealedPct} %)`);
    } else if (p.kbit !== null) {
      const paused = rungAt(p.from) === 'paused' ? { at: p.from } : moves.find((m) => m.rung === 'paused');
      p.movedMs = paused ? paused.at - p.from : null;
      expect(p.movedMs !== null && p.movedMs <= MOVE_WITHIN_MS,
        `${p.name}: ${p.movedMs === null ? 'never' : `only after ${p.movedMs} ms`} told paused (limit ${MOVE_WITHIN_MS} ms)`);
      expect(all && all.concealedPct <= MAX_CONCEALED_PCT_AUDIO_ONLY,
        `${p.name}: audio concealed ${all?.concealedPct} % (most ${MAX_CONCEALED_PCT_AUDIO_ONLY} %; the loopback page: ${others?.concealedPct} %)`);
    } else {
      judgeBack({ p, moves, weakSamples, expect });
    }
  }
  if (process.env.WEAK_LINK_DUMP) {
    fs.writeFileSync(process.env.WEAK_LINK_DUMP, JSON.stringify({ phases, told, weakSamples, otherSamples, views, metricsSeen, log: server.log() }));
  }
  if (problems.length) {
    t.diagnostic("the server's rung moves:");
    for (const l of server.log().split('\n').filter((x) => /composite rung/.test(x))) t.diagnostic(`  ${l}`);
  }
  assert.deepEqual(problems, [], 'the weak link test');
});
