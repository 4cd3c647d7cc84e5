// Screen sharing through the client UI (headless Chromium, fake camera/mic): the sharer's screen
// is a canvas capture of a 1920x1080 test card with fine vertical lines and large text, handed
// to the client as getDisplayMedia's stream. Everyone is told `presentation` with the sharer's
// id, the lines are resolved in the composite another participant decodes (measured along rows
// of its pixels), and both the Stop button and the browser's own "Stop sharing" (the track's
// `ended`) return the room to the grid.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, chromiumArgs, waitUntil } from './server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  // For chasing a failure: TESSERA_TEST_LOG=/path keeps the server's whole log.
  if (process.env.TESSERA_TEST_LOG && server) await fs.writeFile(process.env.TESSERA_TEST_LOG, server.log());
});

const waitFor = (fn, what, timeoutMs) => waitUntil(server, fn, what, timeoutMs);

// The fake screen, in canvas pixels: on white, vertical black/white lines across the left half,
// `fine` (4 px black, 4 px white) in the upper band and `coarse` (8 px + 8 px) in the lower band;
// large black text on the right half. The same picture every frame.
const SCREEN = { width: 1920, height: 1080 };
const BANDS = {
  fine: { period: 8, y0: 60, y1: 500 },
  coarse: { period: 16, y0: 580, y1: 1020 },
};
const PATTERN_X1 = 960;

// Installed before the client's script: getDisplayMedia returns a canvas capture (15 fps) of the
// test card, redrawn continuously (a canvas capture only sends a frame when the canvas is drawn)
// until its track ends. Every stream handed out is kept in `window.__fakeScreens`.
function fakeScreen({ SCREEN, BANDS, PATTERN_X1 }) {
  window.__fakeScreens = [];
  const draw = (g) => {
    g.fillStyle = '#fff';
    g.fillRect(0, 0, SCREEN.width, SCREEN.height);
    g.fillStyle = '#000';
    for (const b of Object.values(BANDS)) {
      for (let x = 0; x < PATTERN_X1; x += b.period) g.fillRect(x, b.y0, b.period / 2, b.y1 - b.y0);
    }
    g.font = 'bold 120px sans-serif';
    g.fillText('Tessera', 1040, 300);
    g.font = 'bold 72px sans-serif';
    g.fillText('Screen share 1080p', 1040, 520);
    g.font = '32px sans-serif';
    g.fillText('The quick brown fox jumps over the lazy dog', 1040, 700);
    g.fillText('0123456789 ABCDEFGHIJKLM abcdefghijklm', 1040, 780);
  };
  navigator.mediaDevices.getDisplayMedia = async () => {
    const canvas = document.createElement('canvas');
    canvas.width = SCREEN.width;
    canvas.height = SCREEN.height;
    const g = canvas.getContext('2d');
    draw(g);
    const stream = canvas.captureStream(15);
    const [track] = stream.getVideoTracks();
    const timer = setInterval(() => {
      if (track.readyState === 'ended') clearInterval(timer);
      else draw(g);
    }, 1000 / 30);
    window.__fakeScreens.push(stream);
    return stream;
  };
}

// Where the screen lands in the 1280x720 composite: the presentation layout's screen slot is
// x 0..1024, y 0..720 (three tiles: two cameras and the screen), the 16:9 screen letterboxed in
// it, 1024x576 at y 72..648.
const SCALE = 1024 / SCREEN.width;
const TOP = 72;
const toComposite = (canvasY) => Math.round(TOP + canvasY * SCALE);
// Measured on x 40..470 of the composite (canvas x 75..881: inside the pattern, clear of the
// slot's edge), averaging 13 rows (the lines are vertical) around the band's middle.
const ROW_X0 = 40;
const ROW_X1 = 470;
const ROW_HALF = 6;

// The luma profile along x of `rows` around composite row `y` of the page's decoded composite.
function compositeProfile(page, y) {
  return page.evaluate(({ y, x0, x1, half }) => {
    const v = document.getElementById('composite');
    if (v.videoWidth !== 1280 || v.videoHeight !== 720) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0);
    const rows = 2 * half + 1;
    const d = g.getImageData(x0, y - half, x1 - x0, rows).data;
    const w = x1 - x0;
    const out = new Array(w).fill(0);
    for (let r = 0; r < rows; r++) {
      for (let x = 0; x < w; x++) {
        const i = 4 * (r * w + x);
        out[x] += (0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]) / rows;
      }
    }
    return out;
  }, { y, x0: ROW_X0, x1: ROW_X1, half: ROW_HALF });
}

const median = (xs) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

// Dark↔bright transitions along `profile` (hysteresis at the middle of its range ± 15 % of it),
// and the contrast: the median of the bright runs' maxima minus the median of the dark runs'
// minima.
function lineStats(profile) {
  const lo = Math.min(...profile);
  const hi = Math.max(...profile);
  const mid = (lo + hi) / 2;
  const h = 0.15 * (hi - lo);
  let level = null;
  let extreme = 0;
  let transitions = 0;
  const peaks = [];
  const troughs = [];
  for (const v of profile) {
    if (level !== 'hi' && v > mid + h) {
      if (level === 'lo') { troughs.push(extreme); transitions++; }
      level = 'hi';
      extreme = v;
    } else if (level !== 'lo' && v < mid - h) {
      if (level === 'hi') { peaks.push(extreme); transitions++; }
      level = 'lo';
      extreme = v;
    } else if (level === 'hi') {
      extreme = Math.max(extreme, v);
    } else if (level === 'lo') {
      extreme = Math.min(extreme, v);
    }
  }
  if (level === 'hi') peaks.push(extreme);
  if (level === 'lo') troughs.push(extreme);
  const contrast = peaks.length && troughs.length ? Math.round(median(peaks) - median(troughs)) : 0;
  return { transitions, contrast, lo: Math.round(lo), hi: Math.round(hi) };
}

// Each band's measurement; `resolved` when its lines alternate with a contrast over 60 levels
// and as many transitions as lines (two per period, scaled) within 10 %.
async function measureLines(page) {
  const out = {};
  for (const [name, b] of Object.entries(BANDS)) {
    const profile = await compositeProfile(page, toComposite((b.y0 + b.y1) / 2));
    if (!profile) return null;
    const stats = lineStats(profile);
    const expected = (2 * (ROW_X1 - ROW_X0)) / (b.period * SCALE);
    const resolved = stats.contrast > 60 && Math.abs(stats.transitions - expected) <= 0.1 * expected;
    out[name] = { ...stats, expected: Math.round(expected), resolved };
  }
  return out;
}

// Waits until the composite shows the pattern in both bands (`want` true) or in neither; on a
// timeout says what was measured last and keeps the frame as a PNG in the temp folder.
async function waitForLines(page, want, what) {
  let last;
  try {
    return await waitFor(async () => {
      last = await measureLines(page);
      if (!last) return false;
      const all = Object.values(last);
      return (want ? all.every((m) => m.resolved) : all.every((m) => !m.resolved)) && last;
    }, what);
  } catch (e) {
    const file = path.join(os.tmpdir(), `tessera-layout-${what.replace(/\W+/g, '-')}.png`);
    const png = await page.evaluate(() => {
      const v = document.getElementById('composite');
      const c = document.createElement('canvas');
      c.width = v.videoWidth || 1;
      c.height = v.videoHeight || 1;
      c.getContext('2d').drawImage(v, 0, 0);
      return c.toDataURL('image/png').split(',')[1];
    }).catch(() => null);
    if (png) await fs.writeFile(file, Buffer.from(png, 'base64'));
    throw new Error(`${e.message}; last measured: ${JSON.stringify(last)}${png ? `; frame kept in ${file}` : ''}`);
  }
}

// A page whose every `layoutChanged` from the server is kept (parsed) in the returned list.
async function newPage(name) {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (e) => console.error(`${name}'s page error:`, e.message));
  const layoutChanges = [];
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
    try {
      const msg = JSON.parse(typeof payload === 'string' ? payload : payload.toString());
      if (msg.type === 'layoutChanged') layoutChanges.push(msg);
    } catch { /* not JSON: not ours */ }
  }));
  return { page, layoutChanges };
}

const layoutOf = (page) => page.evaluate(() => window.tessera.layout);

// Both pages were sent a `layoutChanged` with `layout` and `screen` (after `since[i]` messages),
// and the client shows it (`window.tessera.layout`).
async function waitForLayout(people, layout, screen, what) {
  for (const { name, page, layoutChanges, since } of people) {
    const sent = await waitFor(() => layoutChanges.slice(since).find((m) => m.layout === layout && m.screenParticipantId === screen),
      `${name} to be sent layoutChanged ${layout} (screen ${screen}) ${what}`);
    assert.equal(sent.screenParticipantId, screen);
    await waitFor(() => layoutOf(page).then((l) => l.layout === layout && l.screenParticipantId === screen),
      `${name}'s client to show ${layout} ${what}`);
  }
}

test('a shared screen is shown large and legible to the others; stopping it (button or browser) returns to the grid', async (t) => {
  const alice = await newPage('Alice');
  const bob = await newPage('Bob');
  await alice.page.addInitScript(fakeScreen, { SCREEN, BANDS, PATTERN_X1 });

  await alice.page.goto(server.base);
  await alice.page.fill('#name', 'Alice');
  await alice.page.click('#new-room');
  await alice.page.waitForURL(/\?room=/);
  const roomId = new URL(alice.page.url()).searchParams.get('room');
  await waitFor(() => alice.page.locator('#log').innerText().then((s) => s.includes('You joined')), 'Alice to be in the room');

  await bob.page.goto(`${server.base}/?room=${roomId}`);
  await bob.page.fill('#name', 'Bob');
  await bob.page.click('#join-room');
  await waitFor(() => bob.page.locator('#log').innerText().then((s) => s.includes('You joined')), 'Bob to join');

  const aliceId = await alice.page.evaluate(() => window.tessera.selfId);
  assert.ok(aliceId);
  for (const [name, { page }] of [['Alice', alice], ['Bob', bob]]) {
    await waitFor(() => page.evaluate(() => document.getElementById('composite').videoWidth === 1280), `${name}'s composite to be 1280 wide`);
    assert.deepEqual(await layoutOf(page), { layout: 'grid', pinnedParticipantId: null, screenParticipantId: null }, `${name} starts in the grid`);
  }
  // Before anyone shares, the composite shows no lines.
  const plain = await waitForLines(bob.page, false, 'no lines before sharing');
  t.diagnostic(`before sharing: ${JSON.stringify(plain)}`);

  const share = alice.page.locator('#share-screen');
  const people = () => [
    { name: 'Alice', page: alice.page, layoutChanges: alice.layoutChanges, since: alice.layoutChanges.length },
    { name: 'Bob', page: bob.page, layoutChanges: bob.layoutChanges, since: bob.layoutChanges.length },
  ];
  const aliceSharing = () => bob.page.locator(`#people li[data-participant-id="${aliceId}"]`).evaluate((li) => li.classList.contains('sharing'));

  // 1. Share with the button.
  assert.equal(await share.innerText(), 'Share screen');
  let watch = people();
  let started = Date.now();
  await share.click();
  await waitForLayout(watch, 'presentation', aliceId, 'after Alice shares');
  t.diagnostic(`presentation announced to both in ${Date.now() - started} ms`);
  await waitFor(() => share.innerText().then((s) => s === 'Stop sharing'), "Alice's button to offer \"Stop sharing\"");
  await waitFor(aliceSharing, "Bob's people list to mark Alice as sharing");
  const room = await (await fetch(`${server.base}/api/v1/rooms/${roomId}`)).json();
  assert.equal(room.screenParticipantId, aliceId, `the room API names the sharer: ${JSON.stringify(room)}`);

  const shown = await waitForLines(bob.page, true, "the lines to be resolved in Bob's composite");
  t.diagnostic(`presentation, ${Date.now() - started} ms after the click: ${JSON.stringify(shown)}`);

  // 2. Stop with the button.
  watch = people();
  started = Date.now();
  await share.click();
  await waitForLayout(watch, 'grid', null, 'after Alice stops with the button');
  t.diagnostic(`grid announced to both in ${Date.now() - started} ms`);
  assert.equal(await alice.page.evaluate(() => window.tessera.screen), null);
  assert.deepEqual(await alice.page.evaluate(() => window.__fakeScreens.map((s) => s.getVideoTracks()[0].readyState)), ['ended'],
    "stopping ends the screen's track");
  await waitFor(() => share.innerText().then((s) => s === 'Share screen'), "Alice's button to offer \"Share screen\" again");
  await waitFor(() => aliceSharing().then((s) => !s), "Bob's people list to unmark Alice");
  const gone = await waitForLines(bob.page, false, "the lines to leave Bob's composite");
  t.diagnostic(`grid again, ${Date.now() - started} ms after the click: ${JSON.stringify(gone)}`);

  // 3. Share again, then end the track as the browser's "Stop sharing" bar does (stop() itself
  // fires no `ended`, so the event is dispatched as the browser would).
  watch = people();
  await share.click();
  await waitForLayout(watch, 'presentation', aliceId, 'after Alice shares again');
  await waitForLines(bob.page, true, "the lines to be resolved in Bob's composite again");

  watch = people();
  started = Date.now();
  await alice.page.evaluate(() => {
    const { track } = window.tessera.screen;
    track.stop();
    track.dispatchEvent(new Event('ended'));
  });
  await waitForLayout(watch, 'grid', null, "after Alice's screen track ends");
  t.diagnostic(`grid announced to both ${Date.now() - started} ms after the track ended`);
  await waitFor(() => share.innerText().then((s) => s === 'Share screen'), "Alice's button to offer \"Share screen\" after the track ended");
  assert.equal(await alice.page.evaluate(() => window.tessera.screen), null);
  await waitForLines(bob.page, false, "the lines to leave Bob's composite after the track ended");
  const finalRoom = await (await fetch(`${server.base}/api/v1/rooms/${roomId}`)).json();
  assert.equal(finalRoom.screenParticipantId ?? null, null, `the room API names no sharer: ${JSON.stringify(finalRoom)}`);
  assert.equal(finalRoom.participants.length, 2, 'both are still in the call');
  const transceivers = await alice.page.evaluate(() => window.tessera.pc.getTransceivers()
    .map((x) => `${x.mid}:${x.receiver.track.kind}:${x.currentDirection}${x.sender.track ? '+track' : ''}`));
  t.diagnostic(`Alice's transceivers after two shares: ${transceivers.join(' ')}`);
});
