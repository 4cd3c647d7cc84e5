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
//   unshare -n bash -c 'ip link set lo up && cd tests/browser && node --test weak-link.check.mjs'
// Not in `make test` yet (named .check.mjs, not .test.mjs): it does not pass yet. With the
// probing controller, unshaped again passes in every quiet run (L0 within 8.7-11.1 s) and
// 500 kbit/s passed once in four (otherwise a detour through L1 freezes 2-5 s); at 250 kbit/s
// a failed probe of L1 costs a 1.2-2 s freeze; at 80 kbit/s the pause takes 2-5.6 s and audio
// concealment sits at 4.5-7 % (bound 5). Issue 23 stays open; see the session note.
// (WEAK_LINK_DUMP=file.json also writes every sample, rung message and the server's log.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer, waitUntil } from './server.mjs';
import { CHROMIUM_BIN, chromiumArgs, launchChromium, newPage, joinAs } from './client-helpers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NS = `tessera-weak-${process.pid}`;
const VETH_SERVER = `tw${process.pid}s`;
const VETH_CLIENT = `tw${process.pid}c`;
const SERVER_IP = '10.77.0.1';
const CLIENT_IP = '10.77.0.2';

/// Why this test cannot shape a link here (null: it can).
function cannotShape() {
  if (process.getuid?.() !== 0) return 'needs root to add a network namespace, a veth pair and a qdisc';
  for (const [cmd, args, pkg] of [['ip', ['netns', 'list'], 'iproute2'], ['tc', ['-V'], 'iproute2']]) {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.error || r.status !== 0) return `needs \`${cmd} ${args.join(' ')}\` (Debian package ${pkg}): ${r.error?.message || r.stderr}`;
  }
  const ip = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' });
  const links = ip.status === 0 ? ip.stdout.trim().split('\n').map((l) => l.split(':')[1]?.trim()) : [];
  if (!links.length || links.some((n) => n !== 'lo')) {
    return `adds links and qdiscs, so it runs only in a loopback-only network namespace (unshare -n, as scripts/test.sh does); interfaces here: ${links.join(', ') || ip.stderr}`;
  }
  return null;
}

function sh(cmd, ...args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function setUpLink() {
  // A namespace left by a run that was killed (its process is gone) is removed first.
  for (const line of spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')) {
    const m = line.match(/^tessera-weak-(\d+)\b/);
    if (!m) continue;
    try { process.kill(Number(m[1]), 0); } catch (e) { if (e.code === 'ESRCH') spawnSync('ip', ['netns', 'del', `tessera-weak-${m[1]}`]); }
  }
  sh('ip', 'netns', 'add', NS);
  sh('ip', 'link', 'add', VETH_SERVER, 'type', 'veth', 'peer', 'name', VETH_CLIENT, 'netns', NS);
  sh('ip', 'addr', 'add', `${SERVER_IP}/24`, 'dev', VETH_SERVER);
  sh('ip', 'link', 'set', VETH_SERVER, 'up');
  sh('ip', '-n', NS, 'link', 'set', 'lo', 'up');
  sh('ip', '-n', NS, 'addr', 'add', `${CLIENT_IP}/24`, 'dev', VETH_CLIENT);
  sh('ip', '-n', NS, 'link', 'set', VETH_CLIENT, 'up');
}

function tearDownLink() {
  // Deleting the namespace deletes its end of the pair, and with it the other end.
  spawnSync('ip', ['link', 'del', VETH_SERVER]);
  spawnSync('ip', ['netns', 'del', NS]);
}

/// Limits the server → browser direction to `kbit` kbit/s (null: unshaped).
function shape(kbit) {
  if (kbit === null) {
    spawnSync('tc', ['qdisc', 'del', 'dev', VETH_SERVER, 'root']);
    return;
  }
  sh('tc', 'qdisc', 'replace', 'dev', VETH_SERVER, 'root', 'tbf', 'rate', `${kbit}kbit`, 'burst', '4kb', 'latency', '50ms');
}

function qdiscStats() {
  return spawnSync('tc', ['-s', 'qdisc', 'show', 'dev', VETH_SERVER], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ').trim();
}

/// A TCP proxy listening on `host` (the veth address) to the server's loopback address, for the
/// page in the other namespace: the server listens on loopback (open mode needs a loopback
/// address), its media sockets on the veth address.
function proxy(host, target) {
  const { hostname, port } = new URL(target);
  const socks = new Set();
  const srv = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    socks.add(client).add(upstream);
    const end = () => { client.destroy(); upstream.destroy(); socks.delete(client); socks.delete(upstream); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => srv.listen(0, host, () => resolve({
    base: `http://${host}:${srv.address().port}`,
    close: () => new Promise((r) => { for (const s of socks) s.destroy(); srv.close(r); }),
  })));
}

// In a page: samples its peer connection every 100 ms (page clock = test clock, same machine).
function installSampler() {
  window.__samples = [];
  const take = async () => {
    const pc = window.tessera?.pc;
    if (!pc) return;
    const s = { at: Date.now() };
    for (const r of (await pc.getStats()).values()) {
      if (r.type !== 'inbound-rtp') continue;
      if (r.kind === 'video') {
        Object.assign(s, {
          framesDecoded: r.framesDecoded ?? 0, keyFramesDecoded: r.keyFramesDecoded ?? 0,
          width: r.frameWidth ?? 0, height: r.frameHeight ?? 0,
          freezeCount: r.freezeCount ?? 0, freezesMs: (r.totalFreezesDuration ?? 0) * 1000,
          videoBytes: r.bytesReceived ?? 0, videoLost: r.packetsLost ?? 0, videoPackets: r.packetsReceived ?? 0,
          pli: r.pliCount ?? 0, nack: r.nackCount ?? 0,
        });
      } else if (r.kind === 'audio') {
        Object.assign(s, {
          concealed: r.concealedSamples ?? 0, samples: r.totalSamplesReceived ?? 0,
          audioBytes: r.bytesReceived ?? 0, audioLost: r.packetsLost ?? 0,
        });
      }
    }
    window.__samples.push(s);
  };
  window.__sampler = setInterval(() => { take().catch(() => {}); }, 100);
}

const samplesOf = (page) => page.evaluate(() => window.__samples);

// The samples in [from, to).
const within = (samples, from, to) => samples.filter((s) => s.at >= from && s.at < to && s.framesDecoded !== undefined);

/// What a page received in [from, to): frames per second, keyframes, sizes, audio concealment,
/// and how long the picture stood still: `longestFreezeMs` from Chromium's own freeze stats
/// (a frame later than max(3 × the mean frame time, mean + 150 ms), timed where it renders; a
/// step of the sampler that saw several freezes counts as one as long as all of them, so this
/// can only overstate) and `stallMs`, the longest run of samples without a new decoded frame
/// (a lower bound: the sampler itself can be late on a busy machine).
function summarize(samples, from, to) {
  const s = within(samples, from, to);
  if (s.length < 2) return null;
  const [a, b] = [s[0], s.at(-1)];
  let stall = 0;
  let runStart = a;
  let longestFreeze = 0;
  for (let i = 1; i < s.length; i++) {
    if (s[i].framesDecoded !== s[i - 1].framesDecoded) runStart = s[i];
    else stall = Math.max(stall, s[i].at - runStart.at);
    if (s[i].freezeCount > s[i - 1].freezeCount) longestFreeze = Math.max(longestFreeze, s[i].freezesMs - s[i - 1].freezesMs);
  }
  const secs = (b.at - a.at) / 1000;
  const samplesIn = b.samples - a.samples;
  return {
    secs: +secs.toFixed(1),
    fps: +((b.framesDecoded - a.framesDecoded) / secs).toFixed(1),
    frames: b.framesDecoded - a.framesDecoded,
    stallMs: stall,
    longestFreezeMs: Math.round(longestFreeze),
    freezes: b.freezeCount - a.freezeCount,
    freezesMs: Math.round(b.freezesMs - a.freezesMs),
    keyframes: b.keyFramesDecoded - a.keyFramesDecoded,
    concealedPct: samplesIn > 0 ? +(100 * (b.concealed - a.concealed) / samplesIn).toFixed(2) : null,
    audioKbps: Math.round((b.audioBytes - a.audioBytes) * 8 / secs / 1000),
    videoKbps: Math.round((b.videoBytes - a.videoBytes) * 8 / secs / 1000),
    videoLost: b.videoLost - a.videoLost,
    audioLost: b.audioLost - a.audioLost,
    plis: b.pli - a.pli,
    nacks: b.nack - a.nack,
    heights: [...new Set(s.map((x) => x.height))],
  };
}

/// What the server's rung controller read from `name`'s reports in [from, to) (its debug
/// `link report` lines): REMB, loss and round trip, least / median / most.
function linkReports(log, name, from, to) {
  const rows = [];
  for (const line of log.split('\n')) {
    if (!line.includes('link report') || !line.includes(`name=${name}}`)) continue;
    const at = Date.parse(line.slice(0, line.indexOf(' ')));
    if (!(at >= from && at < to)) continue;
    const num = (re) => { const m = line.match(re); return m ? Number(m[1]) : null; };
    rows.push({ remb: num(/remb_bps=Some\((\d+)\)/), loss: num(/loss=Some\(\(([\d.]+),/), rtt: num(/rtt_ms=Some\((\d+)\)/), sent: num(/sent_bps=(\d+)/),
      nack: num(/nack_loss=Some\(([\d.e-]+)\)/), probe: num(/probe_bps=(\d+)/) });
  }
  const stats = (xs) => {
    const v = xs.filter((x) => x !== null).sort((a, b) => a - b);
    return v.length ? [v[0], v[Math.floor(v.length / 2)], v.at(-1)] : null;
  };
  const k = (xs) => xs && xs.map((x) => Math.round(x / 1000));
  return { reports: rows.length, rembKbps: k(stats(rows.map((r) => r.remb))), sentKbps: k(stats(rows.map((r) => r.sent))),
    lossPct: stats(rows.map((r) => r.loss))?.map((x) => +(100 * x).toFixed(1)), rttMs: stats(rows.map((r) => r.rtt)),
    nackLossPct: stats(rows.map((r) => r.nack))?.map((x) => +(100 * x).toFixed(1)), probeKbps: k(stats(rows.map((r) => r.probe))) };
}

async function metricsText(base) {
  return (await fetch(`${base}/metrics`)).text();
}

function metric(text, name, labels = {}) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = line.match(/^[^{ ]+(?:\{([^}]*)\})? (\S+)$/);
    if (!m) continue;
    const ls = Object.fromEntries((m[1] || '').split(',').filter(Boolean).map((kv) => { const [k, v] = kv.split('='); return [k, v.replace(/^"|"$/g, '')]; }));
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

const reason = cannotShape();
let server;
let link;
let weakBrowser;
let otherBrowser;
let loadgen;
let loadgenOutput = '';
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
  if (loadgen && loadgen.exitCode === null) {
    const gone = new Promise((r) => loadgen.once('exit', r));
    loadgen.kill('SIGKILL');
    await gone;
  }
  await link?.close();
  await server?.stop();
  tearDownLink();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/// The frame rate the rungs the receiver was told over [from, to) add up to (time-weighted; 0
/// while paused).
function nominalFps(told, from, to) {
  const at = (t) => told.filter((m) => m.at <= t).at(-1)?.rung ?? 'L0';
  const cuts = [from, ...told.filter((m) => m.at > from && m.at < to).map((m) => m.at), to];
  let frames = 0;
  for (let i = 0; i + 1 < cuts.length; i++) frames += (RUNGS[at(cuts[i])]?.fps ?? 0) * (cuts[i + 1] - cuts[i]);
  return frames / (to - from);
}

const sleepUntil = (t) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

// The ladder (media::ladder, the default composite): each rung's height and frame rate.
const RUNGS = { L0: { height: 720, fps: 30 }, L1: { height: 360, fps: 30 }, L2: { height: 180, fps: 15 } };
// The composite's scheduled keyframes (pipelines/encode-h264.pipeline): one every 2 s.
const KEYFRAME_EVERY_S = 2;

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
// How soon after the link changes the receiver must be on a rung that fits, and be told paused.
const MOVE_WITHIN_MS = 5000;
// From the move to the first frame of the new rung: the switch waits for that rung's keyframe,
// which the move asks for (a keyframe request is served within about 0.5 s).
const SETTLE_MS = 3000;
// The longest freeze allowed once settled, the least frame rate (of the rung's), the most audio
// concealment (share of samples) over a phase: at 500 and 250 kbit/s, and at 80 kbit/s.
const MAX_FREEZE_MS = 500;
const MIN_FPS_SHARE = 0.8;
const MAX_FPS_SHARE = 1.2;
const MAX_CONCEALED_PCT = 2;
const MAX_CONCEALED_PCT_AUDIO_ONLY = 5;
const BACK_TO_L0_WITHIN_MS = 15000;

test('a weak downlink moves its Chromium receiver down the ladder and pauses its video at 80 kbit/s, smoothly, and brings it back to L0; the others keep L0', { timeout: 300000 }, async (t) => {
  if (reason) { t.skip(reason); return; }
  const waitFor = (fn, what, ms, every) => waitUntil(server, fn, what, ms, every);
  const port = new URL(server.base).port;

  // Two synthetic participants (H.264 in and out, as Chromium), in a room of the load
  // generator's making: it counts what it receives but reports only at its end, so the test
  // reads their rungs from the server.
  const bin = process.env.TESSERA_BIN || path.join(root, 'target/debug/tessera');
  loadgen = spawn(bin, ['loadgen', '--server', `127.0.0.1:${port}`, '--participants', '2', '--video', 'h264',
    '--warmup', '1', '--duration', '3600', '--media-dir', path.join(root, 'target/loadgen')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  loadgen.stdout.on('data', (c) => { loadgenOutput += c; });
  loadgen.stderr.on('data', (c) => { loadgenOutput += c; });
  const roomId = await waitFor(async () => {
    if (loadgen.exitCode !== null) throw new Error(`the load generator exited (${loadgen.exitCode}): ${loadgenOutput}`);
    const { rooms } = await (await fetch(`${server.base}/api/v1/rooms`)).json();
    const r = rooms.find((x) => x.name === 'load-0');
    if (!r) return null;
    const { participants } = await (await fetch(`${server.base}/api/v1/rooms/${r.id}/participants`)).json();
    return participants.length >= 2 && r.id;
  }, 'the load generator to join two participants', 60000, 250);

  // A Chromium receiver on loopback, and the weak one through the veth pair.
  const other = await newPage(otherBrowser, 'Other');
  await joinAs(server, other, roomId);
  const weak = await newPage(weakBrowser, 'Weak');
  await joinAs({ base: link.base, log: () => server.log() }, weak, roomId);
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

  // Every second: every participant's rung in the REST view, the server's metrics.
  const views = [];
  const metricsSeen = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const at = Date.now();
      try {
        const { participants } = await (await fetch(`${server.base}/api/v1/rooms/${roomId}/participants`)).json();
        views.push({ at, rungs: Object.fromEntries(participants.map((p) => [p.name, p.videoQuality?.rung ?? null])) });
        const m = await metricsText(server.base);
        const v = (name, labels) => metric(m, name, labels);
        metricsSeen.push({
          at,
          receivers: Object.fromEntries(['L0', 'L1', 'L2', 'paused'].map((r) => [r, v('tessera_video_receivers', { rung: r })])),
          down: v('tessera_video_rung_switches_total', { direction: 'down' }),
          up: v('tessera_video_rung_switches_total', { direction: 'up' }),
          keyframeRequests: v('tessera_rtcp_keyframe_requests_received_total'),
          nacked: Object.fromEntries(['resent', 'over_budget', 'too_old', 'unknown', 'duplicate', 'padding'].map((o) => [o, v('tessera_rtcp_nacked_packets_total', { outcome: o })])),
        });
      } catch (e) {
        t.diagnostic(`poll: ${e.message}`);
      }
      await sleepUntil(at + 1000);
    }
  })();

  // The phases: each holds its link for its time (the test's subject, not a wait for anything).
  const phases = PHASES.map((p) => ({ ...p }));
  try {
    for (const p of phases) {
      shape(p.kbit);
      p.from = Date.now();
      await sleepUntil(p.from + p.ms);
      p.to = Date.now();
      p.qdisc = qdiscStats().match(/Sent \d+ bytes \d+ pkt \(dropped \d+/)?.[0] ?? 'unshaped';
    }
  } finally {
    shape(null);
    polling = false;
    await poller;
  }
  const weakSamples = await samplesOf(weak.page);
  const otherSamples = await samplesOf(other.page);
  const told = weak.received.filter((m) => m.type === 'videoQuality');
  const rungAt = (at) => told.filter((m) => m.at <= at).at(-1)?.rung ?? 'L0';

  // Every failed expectation, with its figures; asserted together at the end.
  const problems = [];
  const expect = (ok, what) => { if (!ok) problems.push(what); };
  for (const [i, p] of phases.entries()) {
    const moves = told.filter((m) => m.at >= p.from && m.at < p.to);
    const all = summarize(weakSamples, p.from, p.to);
    const others = summarize(otherSamples, p.from, p.to);
    const vs = views.filter((v) => v.at >= p.from && v.at < p.to);
    const ms = metricsSeen.filter((v) => v.at >= p.from && v.at < p.to);
    const [m0, m1] = [ms[0], ms.at(-1)];
    t.diagnostic(`${p.name} (${(p.ms / 1000).toFixed(0)} s, tbf ${p.qdisc}): weak told ${moves.map((m) => `${m.rung} (${m.reason}, ${m.estimateKbps ?? '-'} kbit/s) at ${((m.at - p.from) / 1000).toFixed(1)} s`).join(', ') || 'nothing'}`);
    t.diagnostic(`  weak:  ${JSON.stringify(all)}`);
    t.diagnostic(`  other: ${JSON.stringify(others)}`);
    t.diagnostic(`  server read (least/median/most): weak ${JSON.stringify(linkReports(server.log(), 'Weak', p.from, p.to))}, other ${JSON.stringify(linkReports(server.log(), 'Other', p.from, p.to))}`);
    t.diagnostic(`  REST rungs seen: ${[...new Set(vs.map((v) => JSON.stringify(v.rungs)))].join(' ')}`);
    if (m0 && m1) {
      t.diagnostic(`  server: receivers per rung ${JSON.stringify(m0.receivers)} → ${JSON.stringify(m1.receivers)}; switches down +${m1.down - m0.down}, up +${m1.up - m0.up}; `
        + `keyframe requests +${m1.keyframeRequests - m0.keyframeRequests}; NACKed ${JSON.stringify(Object.fromEntries(Object.entries(m1.nacked).map(([k, v]) => [k, v - m0.nacked[k]])))}`);
    }

    // The others: on L0 throughout, in the REST view (no videoQuality yet: never moved from
    // L0) and at Chromium's; the Chromium one decodes and gets only the scheduled keyframes
    // while the weak receiver is off L0 (its keyframe requests go to its own rung).
    const names = [...new Set(vs.flatMap((v) => Object.keys(v.rungs)))].filter((n) => n !== 'Weak');
    expect(names.length === 3, `${p.name}: the others in the REST view: ${names}`);
    for (const name of names) {
      const off = vs.filter((v) => v.rungs[name] !== null && v.rungs[name] !== 'L0');
      expect(!off.length, `${p.name}: ${name} was on ${[...new Set(off.map((v) => v.rungs[name]))]} from ${((off[0]?.at - p.from) / 1000).toFixed(1)} s (REST, ${off.length} of ${vs.length} polls)`);
    }
    expect(ms.every((v) => v.receivers.L0 >= 3), `${p.name}: receivers on L0 in /metrics: ${ms.map((v) => v.receivers.L0)}`);
    expect(others && others.heights.every((h) => h === RUNGS.L0.height), `${p.name}: Other decoded heights ${others?.heights}`);
    if (p.kbit !== null && others) {
      // The schedule, plus one per keyframe request of its own (a PLI), plus one for where
      // the phase cuts the schedule.
      const scheduled = others.secs / KEYFRAME_EVERY_S;
      expect(others.keyframes <= Math.ceil(scheduled) + others.plis + 1,
        `${p.name}: Other decoded ${others.keyframes} keyframes in ${others.secs} s (scheduled ${scheduled.toFixed(1)}, its own PLIs ${others.plis})`);
    }

    if (i === 0) {
      expect(moves.length === 0 && all?.heights.every((h) => h === RUNGS.L0.height), `unshaped: the weak receiver left L0 (${moves.map((m) => m.rung)}, heights ${all?.heights})`);
    } else if (p.fits) {
      // On a rung that fits within MOVE_WITHIN_MS (or there already), kept there, and smooth
      // once the switch is done.
      const fitAt = p.fits.includes(rungAt(p.from)) ? p.from : moves.find((m) => p.fits.includes(m.rung))?.at;
      p.movedMs = fitAt === undefined ? null : fitAt - p.from;
      expect(p.movedMs !== null && p.movedMs <= MOVE_WITHIN_MS,
        `${p.name}: ${p.movedMs === null ? 'never' : `only after ${p.movedMs} ms`} on a rung that fits (${p.fits}; limit ${MOVE_WITHIN_MS} ms)`);
      if (fitAt !== undefined) {
        const later = moves.filter((m) => m.at > fitAt);
        expect(later.every((m) => p.fits.includes(m.rung)), `${p.name}: then moved to ${later.map((m) => `${m.rung} at ${((m.at - p.from) / 1000).toFixed(1)} s`)}`);
        const settled = fitAt + SETTLE_MS;
        const rung = rungAt(settled);
        const s = summarize(weakSamples, settled, p.to);
        p.settled = { rung, ...s };
        t.diagnostic(`  weak, settled on ${rung} (from ${((settled - p.from) / 1000).toFixed(1)} s): ${JSON.stringify(s)}`);
        // The rung's own frame rate, give or take a fifth (L2 at 15 fps is half L1's bitrate
        // per frame: a rung at the wrong rate costs the link what the test shaped it for).
        const nominal = +nominalFps(told, settled, p.to).toFixed(1);
        expect(s && s.fps >= MIN_FPS_SHARE * nominal && s.fps <= MAX_FPS_SHARE * nominal,
          `${p.name}: settled (on ${rung}), decoded ${s?.fps} fps (the rung's ${nominal}: ${(MIN_FPS_SHARE * nominal).toFixed(1)} to ${(MAX_FPS_SHARE * nominal).toFixed(1)})`);
        expect(s && s.longestFreezeMs <= MAX_FREEZE_MS,
          `${p.name}: settled, a freeze of ${s?.longestFreezeMs} ms (Chromium's freezes: ${s?.freezes}, ${s?.freezesMs} ms in all; longest stall sampled ${s?.stallMs} ms)`);
        expect(s && s.heights.every((h) => p.fits.some((r) => RUNGS[r].height === h)), `${p.name}: settled, decoded heights ${s?.heights}`);
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
      const back = moves.find((m) => m.rung === 'L0');
      p.movedMs = back ? back.at - p.from : null;
      expect(p.movedMs !== null && p.movedMs <= BACK_TO_L0_WITHIN_MS,
        `${p.name}: ${p.movedMs === null ? `not back on L0 in ${(p.ms / 1000).toFixed(0)} s` : `back on L0 only after ${p.movedMs} ms`} (limit ${BACK_TO_L0_WITHIN_MS} ms)`);
      const last = within(weakSamples, p.from, p.to).at(-1);
      expect(last?.height === RUNGS.L0.height, `${p.name}: the weak page's last decoded frame is ${last?.height} lines high`);
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
