// A weak downlink with a Firefox receiver (issue 23 §4, "the same for Firefox at one rate"): the
// Firefox variant of weak-link.test.mjs, at 250 kbit/s. The weak receiver is Debian's Firefox
// ESR (headless, VP8: it has no OpenH264), in a network namespace of its own, joined to the
// test's namespace by a veth pair whose server-side end is shaped with tc tbf (only the server →
// browser direction is limited); the server binds its media on that veth's address and the page
// loads and signals through a TCP proxy on it. The others (one Chromium page, two load-generator
// clients, all H.264) reach the server over loopback, unshaped. Phases: unshaped 12 s (the rung
// controller ignores REMB for its first 5 s) → 250 kbit/s 20 s → unshaped 20 s.
//
// Firefox in a namespace: playwright drives Chromium over a pipe, so weak-link.test.mjs just
// wraps Chromium in `ip netns exec`; Firefox is driven over TCP twice (selenium → geckodriver's
// HTTP server, geckodriver → Firefox's Marionette, which listens on loopback only). So geckodriver
// itself runs in the namespace (firefox.mjs's launchFirefox({ netns })), starts Firefox there
// (Marionette on the namespace's loopback), and listens on the namespace's end of a second veth
// pair, unshaped and for WebDriver only (10.78.0.2; selenium connects from 10.78.0.1). Firefox
// gathers a candidate on that pair too (media.peerconnection.ice.force_interface did not stop
// it), and its pair was the one selected, its media answered over the unshaped pair: an nftables
// table in the namespace drops UDP on the control pair, and the test checks the selected
// candidate pair. Firefox treats the proxy's origin as secure (dom.securecontext.allowlist:
// getUserMedia). WebDriver has no WebSocket events: the page gets a recording WebSocket before
// Join, which keeps the server's `videoQuality` messages.
//
// What is asserted (every failure is collected, then reported together with the figures):
// unshaped, the weak receiver stays on L0; at 250 kbit/s it is on L2 (the rung that fits; paused
// does not count) within 5 s and stays there; from 3 s after that move it keeps decoding, with
// L2's height: no stall over 500 ms from the sampler's framesDecoded (every 100 ms), and no
// freeze over 500 ms in Firefox's own freezeCount / totalFreezesDuration (ESR 153 reports them;
// were they missing only the stall would be asserted); over the phase its audio conceals at
// most 2 % of samples (inbound-rtp audio concealedSamples / totalSamplesReceived, which ESR 153
// reports: the check fails if it does not); unshaped again, it is back on L0 within 15 s and
// its last frame is 720 lines high. Throughout, the others stay on L0 (REST view, /metrics, the
// Chromium page's decoded height) and the Chromium one gets no keyframe beyond the schedule and
// its own requests. Per phase it prints the same figures as the Chromium check (frame rate is
// printed against the rung's, not asserted), the inbound-rtp fields Firefox reports, and the
// server's view of the weak receiver (REMB, loss, round trip: its `link report` debug lines). A
// second test quits Firefox and tears the namespace down, and checks that no geckodriver or
// Firefox process, veth pair or namespace is left.
//
// Runs only as root in a loopback-only network namespace (with nft), where it may add
// namespaces, links, qdiscs and an nftables table of its own; elsewhere it skips and says why.
// To run it alone:
//   unshare -n bash -c 'ip link set lo up && cd tests/browser && node --test weak-link-firefox.test.mjs'
// (WEAK_LINK_DUMP=file.json also writes every sample, signaling frame, the server's log and
// geckodriver's.)
// Needs nft (Debian package nftables) besides Firefox ESR and geckodriver.
//
// Runs (Firefox ESR 153.8, VP8): before the queue meter, four runs failed (a 0.6-1.2 s freeze
// after every failed probe at 250 kbit/s; back on L0 after 15.9-18.5 s or not within 20 s:
// Firefox's REMB recovers slowly after a failed probe). With it (rtc/queue.rs: probes stop at
// 40 ms of queue, a clear path outranks a low REMB), 2 of 4 runs passed: L2 at 1.1-1.2 s,
// 14.8-14.9 fps settled with no freeze, 0-0.03 % concealed, L0 again at 5.9-7.9 s. The two
// failures, each fixed before the next run: paused at 250 kbit/s on a round trip measured during
// a probe (the meter now outranks it), and paused from L0 on an 80 % loss report (video now
// pauses only from L2).
// Session of 2026-12-07, 9 more runs (the check alone, load 6-10): 3 passed. One was not back on
// L0 in 20 s (Firefox's REMB, rising slowly from 84 kbit/s, ended every probe on its first tick:
// fixed, the clear path now holds while a probe runs). Five froze 0.8-2 s at 250 kbit/s once
// settled on L2, two kinds: after a failed probe (its copies fill the 5.5 kB tbf queue before the
// meter's 40 ms stops it, originals are lost, and the repair keyframe takes 0.9-1 s; a probe
// within 5 s of the fall is now held back, later ones still cost this), and with no loss, no NACK
// and no PLI at all: packets kept arriving while Firefox decoded nothing until the next scheduled
// VP8 keyframe (1.3 s; not understood: the VP8 picture ids and what Firefox's frame-reference
// finder makes of them are the next thing to look at).
// Since probes start only just after a keyframe of the receiver's rung (rtc/bwe.rs KEY_ALIGN, so
// a failed probe's queue drains long before the next keyframe) and a probe's first 300 ms of
// NACKs, queue and REMB are not held against it (they describe what was sent before), 11 of 11
// passed (load 4-9): L2 at 0.9-1.4 s, settled at 14-14.9 fps with the longest freeze 0-403 ms
// (0 in ten), 0.07-0.46 % concealed, L0 again at 4.9-9.2 s; neither kind of freeze came back. In
// `make test` since.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { startServer, waitUntil } from './server.mjs';
import { launchChromium, newPage, joinAs } from './client-helpers.mjs';
import { launchFirefox, processGroup } from './firefox.mjs';
import {
  NS, SERVER_IP, CLIENT_IP, CONTROL_CLIENT_IP, cannotShape, setUpLink, tearDownLink, linksLeft, proxy,
  installSampler, startLoadgen, loadgenRoom, runPolled, reportPhase,
  MAX_FREEZE_MS, MAX_CONCEALED_PCT, judgeSettled, judgeBack,
} from './weak-link-common.mjs';

/// Why this test cannot run here (null: it can).
function cannotRun() {
  const r = spawnSync('nft', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'needs nft (Debian package nftables) to keep media off the control veth pair';
  return cannotShape();
}

const reason = cannotRun();
let server;
let link;
let ff;
let otherBrowser;
let loadgen;
let closed;

before(async () => {
  if (reason) return;
  setUpLink({ control: true });
  // The rung controller's inputs (REMB, loss, round trip: debug lines) for the diagnostics.
  server = await startServer(['--rtc-ip', SERVER_IP], { env: { RUST_LOG: process.env.RUST_LOG || 'info,tessera::rtc::control=debug' } });
  link = await proxy(SERVER_IP, server.base);
  ff = await launchFirefox({
    netns: NS,
    host: CONTROL_CLIENT_IP,
    prefs: {
      // The page's origin is the veth address, not a loopback one: getUserMedia needs it trusted.
      'dom.securecontext.allowlist': SERVER_IP,
    },
  });
  otherBrowser = await launchChromium();
});

/// Ends everything in order (Firefox before its namespace: a namespace with a process in it
/// outlives `ip netns del`); again is a no-op. Resolves with what had to be killed after SIGTERM.
function closeAll() {
  closed ??= (async () => {
    const killed = await ff?.quit();
    await otherBrowser?.close();
    await loadgen?.kill();
    await link?.close();
    await server?.stop();
    tearDownLink();
    return killed ?? [];
  })();
  return closed;
}

after(async () => {
  if (reason) return;
  await closeAll();
});

// In the page, before the client opens its socket: every JSON frame received (`dir: 'in'`) or
// sent (`out`) on any WebSocket is kept in `window.__frames` with `at` (Date.now()).
function recordSocket() {
  if (window.__frames) return;
  const frames = (window.__frames = []);
  const keep = (dir, data) => {
    try { frames.push({ dir, at: Date.now(), ...JSON.parse(data) }); } catch { /* not JSON */ }
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => keep('in', ev.data));
    }

    send(data) {
      keep('out', data);
      return super.send(data);
    }
  };
}

// In the page: the selected candidate pair's local and remote addresses (Firefox has no
// transport stats: its pair says `selected` itself).
async function selectedPair() {
  const st = [...(await window.tessera.pc.getStats()).values()];
  const p = st.find((s) => s.type === 'candidate-pair' && s.selected)
    || st.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
  const l = st.find((s) => s.id === p?.localCandidateId);
  const r = st.find((s) => s.id === p?.remoteCandidateId);
  return `${l?.address ?? l?.ip} → ${r?.address ?? r?.ip}`;
}

const PHASES = [
  { name: 'unshaped', kbit: null, ms: 12000 },
  { name: '250 kbit/s', kbit: 250, ms: 20000, fits: ['L2'] },
  { name: 'unshaped again', kbit: null, ms: 20000 },
];
// The bounds are weak-link-common.mjs's; Firefox's longest stall once settled (sampled from
// framesDecoded, or its freeze if it reports them) is held to MAX_FREEZE_MS.
const MAX_STALL_MS = MAX_FREEZE_MS;

test('a weak downlink moves its Firefox receiver to L2 at 250 kbit/s, where it keeps decoding with its audio whole, and brings it back to L0; the others keep L0', { timeout: 240000 }, async (t) => {
  if (reason) { t.skip(reason); return; }
  const waitFor = (fn, what, ms, every) => waitUntil(server, fn, what, ms, every);
  t.diagnostic(`Firefox ${ff.version} in ${NS}, geckodriver on ${CONTROL_CLIENT_IP}`);

  loadgen = startLoadgen(server);
  const roomId = await loadgenRoom(server, loadgen, waitFor);

  // A Chromium receiver on loopback, and the weak Firefox one through the veth pair.
  const other = await newPage(otherBrowser, 'Other');
  await joinAs(server, other, roomId);
  try {
    await ff.goto(`${link.base}/?room=${encodeURIComponent(roomId)}`);
    await ff.watchConsole();
    await ff.evaluate(recordSocket);
    await ff.fill('#name', 'Weak');
    await ff.click('#join-room');
    await waitFor(() => ff.text('#log').then((s) => s?.includes('You joined')), 'Weak (Firefox) to join', 30000);
  } catch (e) {
    console.error(`Firefox console: ${JSON.stringify(await ff.consoleErrors())}`);
    console.error(`Firefox's call log: ${JSON.stringify(await ff.text('#log').catch(() => null))}`);
    throw e;
  }
  const weak = {
    name: 'Weak',
    evaluate: (fn, arg) => ff.evaluate(fn, arg),
  };
  const otherPage = { name: 'Other', evaluate: (fn, arg) => other.page.evaluate(fn, arg) };
  for (const p of [otherPage, weak]) {
    await waitFor(() => p.evaluate(() => window.tessera.pc?.connectionState === 'connected'), `${p.name} to connect`, 30000);
    await p.evaluate(installSampler);
  }
  for (const p of [otherPage, weak]) {
    await waitFor(async () => ((await p.evaluate(() => window.__samples.at(-1)?.framesDecoded)) ?? 0) > 30, `${p.name} to decode`, 30000, 250);
  }
  const pair = await ff.evaluate(selectedPair);
  assert.equal(pair, `${CLIENT_IP} → ${SERVER_IP}`, 'the weak page receives over the shaped veth pair');
  // What Firefox reports in its inbound-rtp stats, and so what can be asserted of it.
  const keys = await ff.evaluate(() => window.__statKeys);
  const has = (kind, ...names) => names.every((n) => keys?.[kind]?.includes(n));
  const freezeStats = has('video', 'freezeCount', 'totalFreezesDuration');
  const concealment = has('audio', 'concealedSamples', 'totalSamplesReceived');
  t.diagnostic(`media: weak ${pair}; Firefox's inbound-rtp video stats: ${keys?.video?.join(' ')}`);
  t.diagnostic(`  audio: ${keys?.audio?.join(' ')}`);
  t.diagnostic(`  freeze stats: ${freezeStats ? 'yes' : 'no (stalls from framesDecoded only)'}; concealment: ${concealment ? 'yes' : 'NO'}; `
    + `the client asked for ${JSON.stringify(await ff.evaluate(() => { const s = window.tessera.quality?.sent; return s && { maxHeight: s.maxHeight, mode: s.mode, canvas: s.canvas }; }))}`);

  // The phases, each holding its link for its time, while every second the REST view (every
  // participant's rung) and the server's metrics are read.
  const { phases, views, metricsSeen } = await runPolled(server, roomId, t, PHASES);
  const weakSamples = await weak.evaluate(() => window.__samples);
  const otherSamples = await otherPage.evaluate(() => window.__samples);
  const frames = await ff.evaluate(() => window.__frames);
  const told = frames.filter((m) => m.dir === 'in' && m.type === 'videoQuality');
  const rungAt = (at) => told.filter((m) => m.at <= at).at(-1)?.rung ?? 'L0';

  // Every failed expectation, with its figures; asserted together at the end.
  const problems = [];
  const expect = (ok, what) => { if (!ok) problems.push(what); };
  expect(concealment, `Firefox ${ff.version} reports no inbound-rtp audio concealedSamples/totalSamplesReceived: ${keys?.audio}`);
  for (const [i, p] of phases.entries()) {
    const { moves, all, others } = reportPhase(t, { p, told, weakSamples, otherSamples, views, metricsSeen, server, expect });

    const settled = judgeSettled(t, { i, p, moves, all, told, rungAt, weakSamples, expect });
    if (i === 0) continue; // judged by judgeSettled: stays on L0
    if (p.fits) {
      if (settled) {
        const { rung, s, nominal } = settled;
        expect(s && s.frames > 0 && s.stallMs <= MAX_STALL_MS,
          `${p.name}: settled (on ${rung}), ${s?.frames} frames decoded, the longest stall ${s?.stallMs} ms (sampled every 100 ms from framesDecoded; limit ${MAX_STALL_MS} ms; ${s?.fps} fps, the rung's ${nominal})`);
        if (freezeStats) {
          expect(s && s.longestFreezeMs <= MAX_STALL_MS,
            `${p.name}: settled, a freeze of ${s?.longestFreezeMs} ms (Firefox's freezes: ${s?.freezes}, ${s?.freezesMs} ms in all)`);
        }
      }
      expect(all && all.concealedPct !== null && all.concealedPct <= MAX_CONCEALED_PCT,
        `${p.name}: audio concealed ${all?.concealedPct} % (most ${MAX_CONCEALED_PCT} %; the loopback page: ${others?.concealedPct} %)`);
    } else {
      judgeBack({ p, moves, weakSamples, expect });
    }
  }
  if (process.env.WEAK_LINK_DUMP) {
    fs.writeFileSync(process.env.WEAK_LINK_DUMP, JSON.stringify({
      firefox: ff.version, statKeys: keys, phases, told, frames, weakSamples, otherSamples, views, metricsSeen, log: server.log(), geckodriverLog: ff.log(),
    }));
  }
  if (problems.length) {
    t.diagnostic("the server's rung moves:");
    for (const l of server.log().split('\n').filter((x) => /composite rung/.test(x))) t.diagnostic(`  ${l}`);
    const errors = await ff.consoleErrors();
    if (errors.length) t.diagnostic(`Firefox console: ${JSON.stringify(errors)}`);
  }
  assert.deepEqual(problems, [], 'the weak link test');
});

test('Firefox, geckodriver, both veth pairs and the namespace are gone after the run', async (t) => {
  if (reason) { t.skip(reason); return; }
  if (!ff) { t.skip('Firefox did not start'); return; }
  const seen = ff.processes();
  assert.ok(seen.some((p) => p.pid === ff.pid), `Firefox (${ff.pid}) was running in group ${ff.pgid}: ${JSON.stringify(seen)}`);
  const killed = await closeAll();
  t.diagnostic(`${seen.length} processes before quitting (${[...new Set(seen.map((p) => p.comm))].join(', ')}); killed after SIGTERM: ${JSON.stringify(killed)}`);
  assert.deepEqual(processGroup(ff.pgid), [], 'nothing is left in the process group');
  assert.deepEqual(seen.filter((p) => alive(p.pid)), [], 'none of the processes seen during the run is alive');
  assert.deepEqual(linksLeft(), [], 'no veth pair or namespace is left');
});

// Whether `pid` is a live process (not a zombie).
function alive(pid) {
  try {
    return !/^\d+ \(.*\) Z /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
