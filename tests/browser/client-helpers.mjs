// Helpers shared by the browser tests: launching headless Chromium (every test file calls
// `launchChromium()`; with Firefox too, firefox.mjs's `launchChromiumAndFirefox()`), pages whose
// getUserMedia calls and tracks are counted and whose signaling frames are kept, joining through
// the UI, reading the composite a page decodes, and a TCP proxy whose connections can be cut (a
// network drop for the signaling socket, in any browser).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';
import { startServer, waitUntil } from './server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// Debian's Chromium (never a downloaded one).
export const CHROMIUM_BIN = '/usr/bin/chromium';

// Headless, fake camera and microphone granted without asking, loopback ICE candidates, autoplay
// with sound, nothing fetched from the network.
export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
];

/// A test file's server (with `serverArgs`) and headless Chromium, started in its `before` hook:
///   before(async () => ({ server, browser } = await startServerAndChromium()));
///   after(() => stopServerAndChromium(server, browser));
export async function startServerAndChromium(serverArgs = []) {
  const server = await startServer(serverArgs);
  try {
    return { server, browser: await launchChromium() };
  } catch (e) {
    await server.stop();
    throw e;
  }
}

/// Closes what `startServerAndChromium` started (either may be missing if it failed half way);
/// TESSERA_TEST_LOG=/path keeps the server's whole log, for chasing a failure.
export async function stopServerAndChromium(server, browser) {
  await browser?.close();
  await server?.stop();
  if (process.env.TESSERA_TEST_LOG && server) await fs.writeFile(process.env.TESSERA_TEST_LOG, server.log());
}

/// Launches headless Chromium with `chromiumArgs`, less those in `without`, plus `extra`.
/// playwright gives every launch a fresh, empty user-data-dir of its own.
export function launchChromium({ without = [], extra = [] } = {}) {
  return chromium.launch({ executablePath: CHROMIUM_BIN, args: [...chromiumArgs.filter((a) => !without.includes(a)), ...extra] });
}

// Installed before the client's script. Counts getUserMedia calls and keeps every track it
// handed out (`window.__gum`, `window.__tracks`). With `deny`, getUserMedia rejects with that
// error name (for every request, or only those asking for video when `deny.videoOnly`) while
// `window.__deny` is set.
export function instrumentMedia({ deny = null } = {}) {
  window.__gum = 0;
  window.__tracks = [];
  window.__deny = deny; // a test may change it (null: allowed from then on)
  const md = navigator.mediaDevices;
  if (!md) return; // not a page of the server (about:blank, an error page)
  const original = md.getUserMedia.bind(md);
  md.getUserMedia = async (constraints) => {
    window.__gum++;
    const d = window.__deny;
    if (d && (!d.videoOnly || constraints.video)) throw new DOMException('refused by the test', d.name);
    const stream = await original(constraints);
    window.__tracks.push(...stream.getTracks());
    return stream;
  };
}

// A page in a context of its own; every signaling frame it gets or sends is kept (parsed).
export async function newPage(browser, name, { viewport, deny, contextOptions = {} } = {}) {
  const context = await browser.newContext({ ...(viewport ? { viewport } : {}), ...contextOptions });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`${name}'s page error:`, e.message));
  await page.addInitScript(instrumentMedia, { deny });
  // `events`: the page's console messages, failed requests and sockets (the last 200), for a
  // test to print when the page did not do what it should.
  const rec = { name, page, context, received: [], sent: [], events: [] };
  const note = (what) => { rec.events.push(`${new Date().toISOString()} ${what}`); if (rec.events.length > 200) rec.events.shift(); };
  page.on('console', (m) => note(`console.${m.type()}: ${m.text()}`));
  page.on('requestfailed', (r) => note(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('websocket', (ws) => {
    note(`websocket ${ws.url()}`);
    ws.on('close', () => note(`websocket closed ${ws.url()}`));
    ws.on('socketerror', (e) => note(`websocket error ${ws.url()}: ${e}`));
  });
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => keep(rec.received, payload));
    ws.on('framesent', ({ payload }) => keep(rec.sent, payload));
  });
  return rec;
}

function keep(list, payload) {
  try {
    list.push({ at: Date.now(), ...JSON.parse(typeof payload === 'string' ? payload : payload.toString()) });
  } catch { /* not JSON */ }
}

export const logText = (page) => page.locator('#log').innerText();

/// Opens the host's menu (Host controls) unless it is open, and clicks `selector` in it.
export async function hostMenuClick(page, selector) {
  await openMore(page, '#host-menu');
  if (!(await page.evaluate(() => document.getElementById('host-menu').open))) await page.click('#host-menu > summary');
  await page.click(selector);
}

// On a phone, the controls under "More" (Share screen, Settings, Full screen, Record, Host
// controls, End for everyone, Layout) are in a menu: opens it when `selector` is in there.
export async function openMore(page, selector) {
  const closed = await page.evaluate((sel) => {
    const more = document.getElementById('more-button');
    return Boolean(document.querySelector(sel)?.closest('#more-items')) && more.checkVisibility()
      && more.getAttribute('aria-expanded') !== 'true';
  }, selector);
  if (closed) await page.click('#more-button');
}

// Clicks a control of the bar, through "More" on a phone.
export async function controlClick(page, selector) {
  await openMore(page, selector);
  await page.click(selector);
}

// Types the name, presses "New room" (so this page is the room's host) and waits to be in.
export async function createRoomAs(server, rec) {
  const { page, name } = rec;
  await page.goto(server.base);
  await page.fill('#name', name);
  await page.click('#new-room');
  await page.waitForURL(/\?room=/);
  await waitUntil(server, () => logText(page).then((t) => t.includes('You joined')), `${name} to be in the room`);
  rec.id = await page.evaluate(() => window.tessera.selfId);
  return new URL(page.url()).searchParams.get('room');
}

// Opens the room's link (with `token` if given), types the name and presses Join.
export async function joinAs(server, rec, roomId, { token, wait = true } = {}) {
  const { page, name } = rec;
  await page.goto(`${server.base}/?room=${encodeURIComponent(roomId)}${token ? `&token=${encodeURIComponent(token)}` : ''}`);
  await page.fill('#name', name);
  await page.click('#join-room');
  if (!wait) return;
  await waitUntil(server, () => logText(page).then((t) => t.includes('You joined')), `${name} to join`);
  rec.id = await page.evaluate(() => window.tessera.selfId);
}

export async function participantToken(server, roomId, name) {
  const res = await fetch(`${server.base}/api/v1/rooms/${roomId}/tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
  });
  assert.equal(res.status, 201, `a token for ${name}`);
  return (await res.json()).token;
}

export async function inboundVideo(page) {
  return page.evaluate(async () => {
    const pc = window.tessera.pc;
    if (!pc) return { framesDecoded: 0 };
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video') return { framesDecoded: s.framesDecoded || 0 };
    }
    return { framesDecoded: 0 };
  });
}

// Waits until the page decodes the composite and it shows a picture (not all black): the mean
// of the brightest channel over the frame, and the share of pixels brighter than 60.
export async function waitForPicture(server, rec) {
  return waitUntil(server, async () => {
    if ((await inboundVideo(rec.page)).framesDecoded < 5) return false;
    const m = await rec.page.evaluate(() => {
      const v = document.getElementById('composite');
      if (!v.videoWidth) return null;
      const c = document.createElement('canvas');
      c.width = 320;
      c.height = 180;
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(v, 0, 0, c.width, c.height);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.max(d[i], d[i + 1], d[i + 2]) > 60) lit++;
      return { width: v.videoWidth, lit: lit / (d.length / 4) };
    });
    return m && m.lit > 0.1 && m;
  }, `${rec.name}'s composite to show a picture`, 30000);
}

// The readyState of every track getUserMedia gave the page.
export const trackStates = (page) => page.evaluate(() => window.__tracks.map((t) => `${t.kind}:${t.readyState}`));

// A TCP proxy to the server: `cut()` drops every connection through it (no WebSocket close frame
// reaches either side) and refuses new ones until `restore()`.
export function tcpProxy(target) {
  const { hostname, port } = new URL(target);
  const pairs = new Set();
  let blocked = false;
  const srv = net.createServer((client) => {
    if (blocked) { client.destroy(); return; }
    const upstream = net.connect(Number(port), hostname);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    base: `http://127.0.0.1:${srv.address().port}`,
    cut() {
      blocked = true;
      for (const p of pairs) { p.client.destroy(); p.upstream.destroy(); }
      pairs.clear();
    },
    restore() { blocked = false; },
    close: () => new Promise((r) => { for (const p of pairs) { p.client.destroy(); p.upstream.destroy(); } srv.close(r); }),
  })));
}

// An SDP's ICE username fragment (a new one: an ICE restart, or a new peer connection).
export const iceUfrag = (sdp) => (sdp.match(/^a=ice-ufrag:(\S+)/m) || [])[1];

// --- cutting one page's media (nftables) ----------------------------------------------------
// A rule acts on a whole network namespace, so the media cut runs only as root in a
// loopback-only namespace of its own (scripts/test.sh runs the browser tests in one: `unshare
// -n`); elsewhere the tests skip it rather than touch the machine's firewall.

/// Why nftables rules cannot be used here (null: they can).
export function cannotUseNft() {
  if (process.getuid?.() !== 0) return 'needs root to add an nftables rule';
  const nft = spawnSync('nft', ['--version'], { encoding: 'utf8' });
  if (nft.error || nft.status !== 0) return 'needs nft (Debian package nftables)';
  // Asked over netlink: /sys/class/net shows the namespace sysfs was mounted in.
  const ip = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' });
  const links = ip.status === 0 ? ip.stdout.trim().split('\n').map((l) => l.split(':')[1]?.trim()) : [];
  if (!links.length || links.some((n) => n !== 'lo')) {
    return `adds firewall rules, so it runs only in a loopback-only network namespace (unshare -n, as scripts/test.sh does); interfaces here: ${links.join(', ') || ip.stderr}`;
  }
  return null;
}

/// Runs `nft` with `args` (and `input` on stdin); throws with its stderr when it fails.
export function nft(args, input) {
  const r = spawnSync('nft', args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

/// An nftables table of this process that drops UDP to and from one port (on loopback each
/// packet passes `output` once): `drop(port)` adds it, `allow()` deletes it (if there), `exists()`.
export function udpPortCut(name) {
  const table = `tessera_${name}_${process.pid}`;
  const exists = () => spawnSync('nft', ['list', 'table', 'inet', table], { encoding: 'utf8' }).status === 0;
  return {
    table,
    exists,
    drop(port) {
      if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`not a UDP port: ${port}`);
      nft(['-f', '-'], `add table inet ${table}
add chain inet ${table} out { type filter hook output priority 0; }
add rule inet ${table} out udp sport ${port} drop
add rule inet ${table} out udp dport ${port} drop
`);
    },
    allow() { if (exists()) nft(['delete', 'table', 'inet', table]); },
  };
}

/// In the page (Chromium's `page.evaluate` or Firefox's `ff.evaluate`; self-contained): the
/// local candidate of the client's peer connection's selected ICE candidate pair, or null.
export async function selectedLocalCandidate() {
  const pc = window.tessera.pc;
  if (!pc) return null;
  const stats = [...(await pc.getStats()).values()];
  const byId = new Map(stats.map((s) => [s.id, s]));
  let pair = null;
  for (const s of stats) if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
  // Firefox has no transport stats: its pair says `selected` itself.
  pair ??= stats.find((s) => s.type === 'candidate-pair' && s.selected) || stats.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
  const local = pair && byId.get(pair.localCandidateId);
  if (!local) return null;
  return { address: local.address ?? local.ip, port: local.port, protocol: local.protocol, type: local.candidateType };
}

/// Starts the load generator against `server`: `participants` synthetic clients sending H.264
/// video and Opus (looped pre-encoded media), in a room of their own (`load-0`) or in `room`.
/// They stay until `kill()`.
export function startLoadgen(server, { participants = 2, room = null } = {}) {
  const port = new URL(server.base).port;
  const bin = process.env.TESSERA_BIN || path.join(root, 'target/debug/tessera');
  const proc = spawn(bin, ['loadgen', '--server', `127.0.0.1:${port}`, '--participants', String(participants), '--video', 'h264',
    ...(room ? ['--room', room] : []),
    '--warmup', '1', '--duration', '3600', '--media-dir', path.join(root, 'target/loadgen')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (c) => { output += c; });
  proc.stderr.on('data', (c) => { output += c; });
  return {
    proc,
    output: () => output,
    kill: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    },
  };
}

