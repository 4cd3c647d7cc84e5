// What the weak-link checks share (weak-link.test.mjs with a Chromium receiver,
// weak-link-firefox.test.mjs with a Firefox one): the network namespace and its veth pair (the
// server-side end shaped with tc tbf, so only the server → browser direction is limited; for
// Firefox a second, unshaped pair for WebDriver's traffic only), the TCP proxy the page's
// signaling goes through, the getStats sampler run in the page and its per-phase summaries, the
// server's `link report` debug lines, the load generator's participants, the REST view and
// /metrics polled every second, and what is printed and checked of the other receivers per
// phase. Each check keeps its own phases and what it asserts of the weak receiver.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoadgen } from './client-helpers.mjs';

export { startLoadgen };

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const NS = `tessera-weak-${process.pid}`;
export const VETH_SERVER = `tw${process.pid}s`;
export const VETH_CLIENT = `tw${process.pid}c`;
export const SERVER_IP = '10.77.0.1';
export const CLIENT_IP = '10.77.0.2';
// The control pair (setUpLink({ control: true })): unshaped, for a driver's traffic (WebDriver
// to a geckodriver in the namespace), never for media (UDP is dropped on it: needs nft).
export const VETH_CONTROL_SERVER = `tk${process.pid}s`;
export const VETH_CONTROL_CLIENT = `tk${process.pid}c`;
export const CONTROL_SERVER_IP = '10.78.0.1';
export const CONTROL_CLIENT_IP = '10.78.0.2';

/// Why this test cannot shape a link here (null: it can).
export function cannotShape() {
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

export function sh(cmd, ...args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/// The namespace NS and the veth pair to it (SERVER_IP here, CLIENT_IP there); with `control`,
/// a second pair (CONTROL_SERVER_IP, CONTROL_CLIENT_IP), never shaped, TCP only (nftables).
export function setUpLink({ control = false } = {}) {
  // A namespace left by a run that was killed (its process is gone) is removed first.
  for (const line of spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')) {
    const m = line.match(/^tessera-weak-(\d+)\b/);
    if (!m) continue;
    try { process.kill(Number(m[1]), 0); } catch (e) { if (e.code === 'ESRCH') spawnSync('ip', ['netns', 'del', `tessera-weak-${m[1]}`]); }
  }
  sh('ip', 'netns', 'add', NS);
  // No IPv6 link-local addresses (addrgenmode none): one appearing a moment after the link came
  // up is a network change to Chromium, which fails the requests in flight with
  // ERR_NETWORK_CHANGED (the page's scripts did not load: 'timed out waiting for X to join').
  const pair = (here, there, hereIp, thereIp) => {
    sh('ip', 'link', 'add', here, 'type', 'veth', 'peer', 'name', there, 'netns', NS);
    sh('ip', 'link', 'set', here, 'addrgenmode', 'none');
    sh('ip', '-n', NS, 'link', 'set', there, 'addrgenmode', 'none');
    sh('ip', 'addr', 'add', `${hereIp}/24`, 'dev', here);
    sh('ip', 'link', 'set', here, 'up');
    sh('ip', '-n', NS, 'addr', 'add', `${thereIp}/24`, 'dev', there);
    sh('ip', '-n', NS, 'link', 'set', there, 'up');
  };
  sh('ip', '-n', NS, 'link', 'set', 'lo', 'up');
  pair(VETH_SERVER, VETH_CLIENT, SERVER_IP, CLIENT_IP);
  if (control) pair(VETH_CONTROL_SERVER, VETH_CONTROL_CLIENT, CONTROL_SERVER_IP, CONTROL_CLIENT_IP);
  // The carrier comes up asynchronously (the kernel's link watch): the browsers start after it.
  const up = (args) => spawnSync('ip', args, { encoding: 'utf8' }).stdout.includes('LOWER_UP');
  const deadline = Date.now() + 5000;
  const ends = [['link', 'show', VETH_SERVER], ['-n', NS, 'link', 'show', VETH_CLIENT],
    ...(control ? [['link', 'show', VETH_CONTROL_SERVER], ['-n', NS, 'link', 'show', VETH_CONTROL_CLIENT]] : [])];
  while (!ends.every(up)) {
    if (Date.now() > deadline) throw new Error(`the veth pairs did not come up: ${ends.map((e) => spawnSync('ip', e, { encoding: 'utf8' }).stdout).join('')}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  if (control) {
    // No UDP over it (in the namespace: its table goes with it), so no ICE candidate pair can
    // use it: a candidate on the control address would send over the shaped veth (the route to
    // SERVER_IP) but be answered over this pair, unshaped.
    const r = spawnSync('ip', ['netns', 'exec', NS, 'nft', '-f', '-'], { encoding: 'utf8', input: `add table inet tessera_control
add chain inet tessera_control in { type filter hook input priority 0; }
add chain inet tessera_control out { type filter hook output priority 0; }
add rule inet tessera_control in iifname ${VETH_CONTROL_CLIENT} meta l4proto udp drop
add rule inet tessera_control in ip daddr ${CONTROL_CLIENT_IP} meta l4proto udp drop
add rule inet tessera_control out oifname ${VETH_CONTROL_CLIENT} meta l4proto udp drop
add rule inet tessera_control out ip saddr ${CONTROL_CLIENT_IP} meta l4proto udp drop
` });
    if (r.status !== 0) throw new Error(`nft in ${NS} failed (${r.status}): ${r.stderr}`);
  }
}

export function tearDownLink() {
  // Deleting the namespace deletes its end of each pair, and with it the other end (if no
  // process is left in it: end them first).
  spawnSync('ip', ['link', 'del', VETH_SERVER]);
  spawnSync('ip', ['link', 'del', VETH_CONTROL_SERVER]);
  spawnSync('ip', ['netns', 'del', NS]);
}

/// What is left of this process's links and namespace ([] once torn down).
export function linksLeft() {
  const left = [];
  const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
  for (const l of [VETH_SERVER, VETH_CONTROL_SERVER]) if (links.includes(` ${l}@`) || links.includes(` ${l}:`)) left.push(l);
  if (spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').some((l) => l.split(' ')[0] === NS)) left.push(NS);
  return left;
}

/// Limits the server → browser direction to `kbit` kbit/s (null: unshaped).
export function shape(kbit) {
  if (kbit === null) {
    spawnSync('tc', ['qdisc', 'del', 'dev', VETH_SERVER, 'root']);
    return;
  }
  sh('tc', 'qdisc', 'replace', 'dev', VETH_SERVER, 'root', 'tbf', 'rate', `${kbit}kbit`, 'burst', '4kb', 'latency', '50ms');
}

export function qdiscStats() {
  return spawnSync('tc', ['-s', 'qdisc', 'show', 'dev', VETH_SERVER], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ').trim();
}

/// A TCP proxy listening on `host` (the veth address) to the server's loopback address, for the
/// page in the other namespace: the server listens on loopback (open mode needs a loopback
/// address), its media sockets on the veth address.
export function proxy(host, target) {
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

// In a page (self-contained: sent as its source): samples its peer connection every 100 ms (page
// clock = test clock, same machine). `window.__statKeys` keeps which fields the browser's
// inbound-rtp stats have (a missing one is sampled as 0).
export function installSampler() {
  window.__samples = [];
  window.__statKeys = {};
  const take = async () => {
    const pc = window.tessera?.pc;
    if (!pc) return;
    const s = { at: Date.now() };
    for (const r of (await pc.getStats()).values()) {
      if (r.type !== 'inbound-rtp') continue;
      if (!window.__statKeys[r.kind]) window.__statKeys[r.kind] = Object.keys(r).sort();
      if (r.kind === 'video') {
        Object.assign(s, {
          framesDecoded: r.framesDecoded ?? 0, keyFramesDecoded: r.keyFramesDecoded ?? 0,
          // Assembled by the jitter buffer vs decoded: a stall with frames still received is
          // the decoder's (a reference missing), one without is the network's or the buffer's.
          framesReceived: r.framesReceived ?? 0, framesDropped: r.framesDropped ?? 0,
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

// The samples in [from, to).
export const within = (samples, from, to) => samples.filter((s) => s.at >= from && s.at < to && s.framesDecoded !== undefined);

/// What a page received in [from, to): frames per second, keyframes, sizes, audio concealment,
/// and how long the picture stood still: `longestFreezeMs` from Chromium's own freeze stats
/// (a frame later than max(3 × the mean frame time, mean + 150 ms), timed where it renders; a
/// step of the sampler that saw several freezes counts as one as long as all of them, so this
/// can only overstate) and `stallMs`, the longest run of samples without a new decoded frame
/// (a lower bound: the sampler itself can be late on a busy machine).
export function summarize(samples, from, to) {
  const s = within(samples, from, to);
  if (s.length < 2) return null;
  const [a, b] = [s[0], s.at(-1)];
  let stall = 0;
  let runStart = a;
  let longestFreeze = 0;
  for (let i = 1; i < s.length; i++) {
    if (s[i].framesDecoded !== s[i - 1].framesDecoded) runStart = s[i];
    else stall = Math.max(stall, s[i].at - runStart.at);
    // A freeze is counted when it ends (the sample after its last frame): only its part inside
    // the window counts (one that began before `from`, at a link change, is cut at `from`).
    if (s[i].freezeCount > s[i - 1].freezeCount) longestFreeze = Math.max(longestFreeze, Math.min(s[i].freezesMs - s[i - 1].freezesMs, s[i].at - from));
  }
  const secs = (b.at - a.at) / 1000;
  const samplesIn = b.samples - a.samples;
  return {
    secs: +secs.toFixed(1),
    fps: +((b.framesDecoded - a.framesDecoded) / secs).toFixed(1),
    frames: b.framesDecoded - a.framesDecoded,
    stallMs: stall,
    framesReceived: (b.framesReceived ?? 0) - (a.framesReceived ?? 0),
    framesDropped: (b.framesDropped ?? 0) - (a.framesDropped ?? 0),
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
export function linkReports(log, name, from, to) {
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

export async function metricsText(base) {
  return (await fetch(`${base}/metrics`)).text();
}

export function metric(text, name, labels = {}) {
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

/// The frame rate the rungs the receiver was told over [from, to) add up to (time-weighted; 0
/// while paused).
export function nominalFps(told, from, to) {
  const at = (t) => told.filter((m) => m.at <= t).at(-1)?.rung ?? 'L0';
  const cuts = [from, ...told.filter((m) => m.at > from && m.at < to).map((m) => m.at), to];
  let frames = 0;
  for (let i = 0; i + 1 < cuts.length; i++) frames += (RUNGS[at(cuts[i])]?.fps ?? 0) * (cuts[i + 1] - cuts[i]);
  return frames / (to - from);
}

export const sleepUntil = (t) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

// The ladder (media::ladder, the default composite): each rung's height and frame rate.
export const RUNGS = { L0: { height: 720, fps: 30 }, L1: { height: 360, fps: 30 }, L2: { height: 180, fps: 15 } };
// The composite's scheduled keyframes (pipelines/encode-h264.pipeline): one every 2 s.
export const KEYFRAME_EVERY_S = 2;

/// The load generator's room, once both its participants are in.
export function loadgenRoom(server, loadgen, waitFor) {
  return waitFor(async () => {
    if (loadgen.proc.exitCode !== null) throw new Error(`the load generator exited (${loadgen.proc.exitCode}): ${loadgen.output()}`);
    const { rooms } = await (await fetch(`${server.base}/api/v1/rooms`)).json();
    const r = rooms.find((x) => x.name === 'load-0');
    if (!r) return null;
    const { participants } = await (await fetch(`${server.base}/api/v1/rooms/${r.id}/participants`)).json();
    return participants.length >= 2 && r.id;
  }, 'the load generator to join two participants', 60000, 250);
}

/// Every second: every participant's rung in the REST view (`views`), the server's metrics
/// (`metricsSeen`); `stop()` resolves once the last poll is done.
export function pollServer(server, roomId, t) {
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
  return { views, metricsSeen, stop: async () => { polling = false; await poller; } };
}

/// Holds each phase's link for its time (the test's subject, not a wait for anything); sets
/// each phase's `from`, `to` and `qdisc` (what the shaper sent and dropped). Unshaped after.
// Runs `PHASES` (copies, which get their times) while polling the server every second; returns
// the phases as run and what the polls saw.
export async function runPolled(server, roomId, t, PHASES) {
  const poll = pollServer(server, roomId, t);
  const phases = PHASES.map((p) => ({ ...p }));
  try {
    await runPhases(phases);
  } finally {
    await poll.stop();
  }
  return { phases, views: poll.views, metricsSeen: poll.metricsSeen };
}

export async function runPhases(phases) {
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
  }
}

/// Prints phase `p`'s figures (what the weak receiver, named `Weak`, was told, both pages'
/// summaries, the server's link reports, rungs and metrics) and checks the others: on L0
/// throughout, in the REST view (no videoQuality yet: never moved from L0) and at Chromium's
/// (`Other`); the Chromium one decodes and gets only the scheduled keyframes while the weak
/// receiver is off L0 (its keyframe requests go to its own rung). Returns what was told in the
/// phase (`moves`) and the summaries (`all`: the weak page's, `others`: Other's).
export function reportPhase(t, { p, told, weakSamples, otherSamples, views, metricsSeen, server, expect }) {
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
  return { moves, all, others };
}

/// When the weak receiver of phase `p` (with `p.fits`, the rungs its link carries) was on a
/// fitting rung (`fitAt`: the phase's start if it was there already) and from when it counts as
/// settled: `settleMs` after its last move in the first `moveWithinMs` (a cascade L0 → L1 → L2
/// is one move down; each step waits for its rung's keyframe). Expects (through `expect`) a
/// fitting rung within `moveWithinMs` and, after it, moves to fitting rungs only. Sets
/// `p.movedMs`.
export function settling(p, moves, rungAt, { moveWithinMs, settleMs, expect }) {
  const fitAt = p.fits.includes(rungAt(p.from)) ? p.from : moves.find((m) => p.fits.includes(m.rung))?.at;
  p.movedMs = fitAt === undefined ? null : fitAt - p.from;
  expect(p.movedMs !== null && p.movedMs <= moveWithinMs,
    `${p.name}: ${p.movedMs === null ? 'never' : `only after ${p.movedMs} ms`} on a rung that fits (${p.fits}; limit ${moveWithinMs} ms)`);
  if (fitAt === undefined) return {};
  const later = moves.filter((m) => m.at > fitAt);
  expect(later.every((m) => p.fits.includes(m.rung)), `${p.name}: then moved to ${later.map((m) => `${m.rung} at ${((m.at - p.from) / 1000).toFixed(1)} s`)}`);
  const lastStep = Math.max(fitAt, ...moves.filter((m) => m.at <= p.from + moveWithinMs).map((m) => m.at));
  return { fitAt, settled: lastStep + settleMs };
}

/// The issue's bounds, shared by both checks: how soon after the link changes the receiver
/// must be on a rung that fits (or be told paused); from its last step down to the first frame
/// of the new rung (the switch waits for that rung's keyframe, which the move asks for, served
/// within about 0.5 s); the longest freeze once settled; the most audio concealed over a shaped
/// phase where video fits; how soon it is back on L0 once unshaped.
export const MOVE_WITHIN_MS = 5000;
export const SETTLE_MS = 3000;
export const MAX_FREEZE_MS = 500;
export const MAX_CONCEALED_PCT = 2;
export const BACK_TO_L0_WITHIN_MS = 15000;

/// The checks every phase shares: unshaped at first, the weak receiver stays on L0; in a phase
/// where video fits, it settles (see `settling`) and its summary from then on is returned with
/// the rung it settled on and that rung's frame rate (printed as a diagnostic). Returns null
/// where there is nothing settled to judge.
export function judgeSettled(t, { i, p, moves, all, told, rungAt, weakSamples, expect }) {
  if (i === 0) {
    expect(moves.length === 0 && all?.heights.every((h) => h === RUNGS.L0.height), `unshaped: the weak receiver left L0 (${moves.map((m) => m.rung)}, heights ${all?.heights})`);
    return null;
  }
  if (!p.fits) return null;
  const { fitAt, settled } = settling(p, moves, rungAt, { moveWithinMs: MOVE_WITHIN_MS, settleMs: SETTLE_MS, expect });
  if (fitAt === undefined) return null;
  const rung = rungAt(settled);
  const s = summarize(weakSamples, settled, p.to);
  const nominal = +nominalFps(told, settled, p.to).toFixed(1);
  p.settled = { rung, nominalFps: nominal, ...s };
  t.diagnostic(`  weak, settled on ${rung} (from ${((settled - p.from) / 1000).toFixed(1)} s; the rung's ${nominal} fps): ${JSON.stringify(s)}`);
  expect(s && s.heights.every((h) => p.fits.some((r) => RUNGS[r].height === h)), `${p.name}: settled, decoded heights ${s?.heights}`);
  return { rung, s, nominal };
}

/// Unshaped again (phase `p`): the weak receiver is back on L0 within BACK_TO_L0_WITHIN_MS and
/// its last decoded frame is L0's. Sets `p.movedMs`.
export function judgeBack({ p, moves, weakSamples, expect }) {
  const back = moves.find((m) => m.rung === 'L0');
  p.movedMs = back ? back.at - p.from : null;
  expect(p.movedMs !== null && p.movedMs <= BACK_TO_L0_WITHIN_MS,
    `${p.name}: ${p.movedMs === null ? `not back on L0 in ${(p.ms / 1000).toFixed(0)} s` : `back on L0 only after ${p.movedMs} ms`} (limit ${BACK_TO_L0_WITHIN_MS} ms)`);
  const last = within(weakSamples, p.from, p.to).at(-1);
  expect(last?.height === RUNGS.L0.height, `${p.name}: the weak page's last decoded frame is ${last?.height} lines high`);
}
