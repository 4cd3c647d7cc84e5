// The composite's quality as the browser client asks for it and shows it (headless Chromium,
// fake camera and microphone, the real server and its ladder of the composite: L0 1280×720, L1
// 640×360, L2 320×180 or paused):
// - Settings → Video quality: "Up to 360p" makes the server send the 360-line rung and nothing
//   taller, "Audio only" covers the composite with "Video off to save data" while its frames stop
//   and the mix's audio keeps arriving, "Auto" brings back 720 lines; the choice is kept in
//   localStorage;
// - a portrait phone (390×844, device pixel ratio 1) on the room's canvas ("Whole room"; by
//   default it takes the small-screen canvas, see small-canvas.test.mjs) asks for the ~220 lines it shows and is
//   sent nothing taller than 360; made desktop-size, it asks again (debounced) and gets 720;
// - the choice is sent again on a new peer connection (a reconnection the server could not
//   resume: resume windows of 0 s) and after a resume: still no more than 360 lines;
// - what the server says about a weak link (`videoQuality` paused, or L1/L2 for bandwidth) is
//   shown over the composite: there the page hears only the videoQuality messages the test puts
//   into its real signaling socket (a Playwright WebSocket route), since the server's own moves
//   need a throttled link (its rung controller is unit-tested in src/rtc/bwe.rs).
// Every frame the page presents is recorded with its height (requestVideoFrameCallback). On a
// loopback the server may still move a receiver down for "bandwidth" when a busy machine delays
// packets (the contract allows its own choice to be lower than the client's), so the client's
// choices are checked as the caps they are (nothing taller after the switch, no frame in Audio
// only) together with the preferences sent, and the heights they allow are waited for until the
// server shows them or says its own choice for the link is lower (a diagnostic says so).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitUntil } from './server.mjs';
import { startServerAndChromium, stopServerAndChromium, newPage, createRoomAs, tcpProxy, logText, controlClick } from './client-helpers.mjs';

let server;
let browser;

before(async () => ({ server, browser } = await startServerAndChromium()));

after(() => stopServerAndChromium(server, browser));

// Long enough for the server to come back up after a move down for "bandwidth" (a trial every
// 3 to 8 s) on a busy machine.
const HEIGHT_DEADLINE_MS = 60000;

// Installed before the client: every frame the composite <video> presents, as [Date.now(), height].
function recordFrames() {
  window.__frames = [];
  document.addEventListener('DOMContentLoaded', () => {
    const v = document.getElementById('composite');
    if (!v?.requestVideoFrameCallback) return;
    const seen = (_now, meta) => {
      window.__frames.push([Date.now(), meta.height]);
      v.requestVideoFrameCallback(seen);
    };
    v.requestVideoFrameCallback(seen);
  });
}

async function page(name, options) {
  const rec = await newPage(browser, name, options);
  await rec.page.addInitScript(recordFrames);
  return rec;
}

// In the page: the composite as getStats and the <video> see it, the mix's bytes, and how many
// frames were presented.
function received(p) {
  return p.evaluate(async () => {
    const v = document.getElementById('composite');
    const out = { videoHeight: v.videoHeight, presented: window.__frames.length, frames: 0, framesReceived: 0, packets: 0, frameHeight: 0, audioBytes: 0 };
    const pc = window.tessera.pc;
    if (!pc) return out;
    for (const s of (await pc.getStats()).values()) {
      if (s.type !== 'inbound-rtp') continue;
      if (s.kind === 'video') {
        Object.assign(out, { frames: s.framesDecoded || 0, framesReceived: s.framesReceived || 0, packets: s.packetsReceived || 0, frameHeight: s.frameHeight || 0 });
      } else if (s.kind === 'audio') out.audioBytes = s.bytesReceived || 0;
    }
    return out;
  });
}

const framesSince = (rec, since) => rec.page.evaluate((t) => window.__frames.filter(([at]) => at >= t), since);

// Every `videoQuality` the page was sent, for failure messages.
const moves = (rec) => JSON.stringify(rec.received.filter((m) => m.type === 'videoQuality').map((m) => `${m.rung}:${m.reason}${m.estimateKbps ? `@${m.estimateKbps}` : ''}`));

// Adds what the server said to `rec` to a failure.
async function saying(rec, promise) {
  try {
    return await promise;
  } catch (e) {
    e.message += `; the server said ${moves(rec)}`;
    throw e;
  }
}

const RUNG_LINES = { 720: 'L0', 360: 'L1', 180: 'L2' };
const rank = (rung) => ['L0', 'L1', 'L2', 'paused'].indexOf(rung);

// Waits until the page presents a frame `height` lines tall after `since`, and returns when and
// what it got then ({at, stats}); or, if first the server says its own choice for the link is
// lower than that rung (the contract lets it be: a move for bandwidth or loss, or a rung under
// the one the client's preference allows, which the tests check separately), {lower: message}.
async function shows(rec, height, since, what, t, srv = server) {
  const want = rank(RUNG_LINES[height]);
  const r = await saying(rec, waitUntil(srv, async () => {
    const hit = (await framesSince(rec, since)).find(([, h]) => h === height);
    if (hit) return { at: hit[0], stats: await received(rec.page) };
    const lower = rec.received.find((m) => m.type === 'videoQuality' && m.at >= since && (rank(m.rung) > want || ['bandwidth', 'loss'].includes(m.reason)));
    return lower && { lower };
  }, `${rec.name} to show ${height} lines (${what})`, HEIGHT_DEADLINE_MS, 200));
  if (r.lower) t.diagnostic(`${what}: the server's own choice for the link was lower than ${height} lines: ${moves(rec)}`);
  return r;
}

// Waits until the page has presented `n` more frames (the window a cap is checked over).
async function presentsMore(rec, n, what, srv = server) {
  const now = await rec.page.evaluate(() => window.__frames.length);
  await waitUntil(srv, () => rec.page.evaluate((k) => window.__frames.length >= k, now + n), `${rec.name} to show ${n} more frames (${what})`, 30000, 200);
}

// A cap: from the first frame after `since` no taller than `cap` (the server switches at a
// keyframe of the new rung), no frame taller than `cap` until `until`. Returns how many frames.
async function cappedAt(rec, cap, since, until, what) {
  const frames = (await framesSince(rec, since)).filter(([at]) => at <= until);
  const first = frames.findIndex(([, h]) => h <= cap);
  assert.ok(first >= 0, `${what}: a frame of at most ${cap} lines`);
  const over = frames.slice(first).filter(([, h]) => h > cap);
  assert.deepEqual(over, [], `${what}: no frame taller than ${cap} lines once switched (the server said ${moves(rec)})`);
  return frames.length - first;
}

// The `videoQuality` the page was sent after `since` with that rung.

async function chooseQuality(rec, value) {
  if (await rec.page.locator('#video-quality').isHidden()) await controlClick(rec.page, '#devices-button');
  await rec.page.selectOption('#video-quality', value);
}

test('Video quality: Up to 360p gets 360 lines and nothing taller, Audio only covers the composite and stops its frames while audio flows, Auto brings back 720', async (t) => {
  const bob = await page('Bob', { viewport: { width: 1280, height: 900 } });
  await createRoomAs(server, bob);

  // After the first answer, Bob says what he shows: about 600 lines here, so the full composite.
  const pref = await waitUntil(server, () => bob.sent.find((m) => m.type === 'videoPreference'), "Bob's videoPreference");
  const answer = bob.received.find((m) => m.type === 'answer');
  t.diagnostic(`first videoPreference: ${JSON.stringify({ maxHeight: pref.maxHeight, mode: pref.mode })}, ${pref.at - answer.at} ms after the answer`);
  assert.ok(answer && pref.at >= answer.at, 'sent once the server has answered (before, it has no composite for him)');
  assert.equal(pref.mode, 'auto');
  assert.ok(pref.maxHeight > 360 && pref.maxHeight <= 900, `maxHeight is the composite's height on screen: ${pref.maxHeight}`);
  const full = await shows(bob, 720, 0, 'Auto at first', t);
  if (!full.lower) t.diagnostic(`Auto: ${JSON.stringify(full.stats)}`);

  const lowAt = Date.now();
  await chooseQuality(bob, 'low');
  // (Opening Settings shrinks the composite, which may send its own preference first.)
  const sentMode = (mode, since) => waitUntil(server, () => bob.sent.find((m) => m.type === 'videoPreference' && m.at >= since && m.mode === mode), `the preference ${mode}`);
  await sentMode('low', lowAt);
  const low = await shows(bob, 360, lowAt, 'Up to 360p', t);
  // The server says so when the cap moved Bob (not when its own choice was lower already).
  const said = (at) => bob.received.filter((m) => m.type === 'videoQuality' && m.at < at).at(-1);
  const lowMsg = bob.received.find((m) => m.type === 'videoQuality' && m.at >= lowAt && m.reason === 'limit');
  if (!said(lowAt) || said(lowAt).rung === 'L0') {
    assert.deepEqual(lowMsg && [lowMsg.rung, lowMsg.width, lowMsg.height], ['L1', 640, 360], `the server said L1 for the limit: ${moves(bob)}`);
  } else t.diagnostic(`the server had moved Bob to ${said(lowAt).rung} before the choice: ${moves(bob)}`);
  if (!low.lower) assert.equal(low.stats.videoHeight, 360, 'the <video> is 360 lines');
  assert.equal(await bob.page.locator('#quality-badge').isVisible(), false, 'our own choice is not called low bandwidth');
  assert.equal(await bob.page.locator('#video-off').isVisible(), false);

  await presentsMore(bob, 30, 'Up to 360p');
  const offAt = Date.now();
  const lowFrames = await cappedAt(bob, 360, lowAt, offAt, 'Up to 360p');
  t.diagnostic(`Up to 360p: ${lowFrames} frames of at most 360 lines; ${JSON.stringify(low.stats ?? low.lower)}`);
  await chooseQuality(bob, 'off');
  await sentMode('off', offAt);
  assert.equal(await bob.page.locator('#video-off').isVisible(), true, 'the placeholder shows at once');
  assert.match(await bob.page.locator('#video-off').innerText(), /Video off to save data/);
  // Frames stop and the audio goes on: over 2 s of samples, no video frame and more audio bytes.
  const samples = [];
  const stopped = await waitUntil(server, async () => {
    const s = { at: Date.now(), ...(await received(bob.page)) };
    samples.push(s);
    const from = samples.findLastIndex((x) => s.at - x.at >= 2000);
    if (from < 0) return false;
    const span = samples.slice(from);
    const still = span.every((x) => x.framesReceived === span[0].framesReceived && x.frames === span[0].frames && x.presented === span[0].presented);
    return still && s.audioBytes > span[0].audioBytes && { ms: s.at - span[0].at, audioBytes: s.audioBytes - span[0].audioBytes, packets: s.packets - span[0].packets };
  }, 'the composite to stop (no frame for 2 s) while audio keeps arriving', 30000, 250);
  t.diagnostic(`Audio only: over ${stopped.ms} ms no video frame (${stopped.packets} video packets), ${stopped.audioBytes} audio bytes`);
  const off = bob.received.find((m) => m.type === 'videoQuality' && m.at >= offAt && m.rung === 'paused');
  // Paused for the limit, unless the server's own choice for the link had just paused it.
  assert.ok(off || said(offAt)?.rung === 'paused', `the server said the video is paused: ${moves(bob)}`);
  if (off && off.reason !== 'limit') t.diagnostic(`Audio only: the server had paused Bob for the link (${off.reason}) just before the limit`);
  assert.equal(await bob.page.locator('#video-off').isVisible(), true, 'still covered');
  assert.equal(await bob.page.locator('#video-paused').isVisible(), false, 'not called a weak connection');
  assert.equal(await bob.page.evaluate(() => localStorage.getItem('tessera.videoQuality')), 'off', 'the choice is kept');
  // A new page of the same browser profile starts with it.
  const again = await bob.context.newPage();
  await again.goto(server.base);
  assert.equal(await again.locator('#video-quality').inputValue(), 'off');
  await again.close();

  // Auto lifts the cap. The server's own choice for the link stands: normally the full
  // composite (it says L0 with its own reason, `start` unless it moved Bob itself: the cap no
  // longer holds him, so not `limit`), and 720 lines follow; on a machine busy enough for it
  // to have moved Bob down meanwhile, that rung (or, after a pause of its own, nothing until it
  // tries a rung up).
  const autoAt = Date.now();
  await chooseQuality(bob, 'auto');
  const autoPref = await sentMode('auto', autoAt);
  assert.ok(autoPref.maxHeight > 360, `maxHeight ${autoPref.maxHeight} (the settings panel open under the composite)`);
  const lifted = await saying(bob, waitUntil(server, () => bob.received.find((m) => m.type === 'videoQuality' && m.at >= autoAt),
    'the server to move Bob after Auto', 30000));
  assert.notEqual(lifted.rung, 'paused');
  const back = await shows(bob, 720, autoAt, 'Auto again', t);
  if (!back.lower) {
    assert.deepEqual([lifted.rung, lifted.width, lifted.height], ['L0', 1280, 720]);
    assert.ok(['start', 'probe', 'bandwidth', 'loss'].includes(lifted.reason), `the server's own reason, not limit: ${lifted.reason}`);
    t.diagnostic(`Auto again: 720 lines ${back.at - autoAt} ms after the choice; ${JSON.stringify(back.stats)}`);
  }
  await waitUntil(server, () => bob.page.locator('#video-off').isHidden(), 'the placeholder to go once the server moves him', 5000);
  assert.deepEqual(bob.received.filter((m) => m.type === 'error'), [], 'no error (no_video, bad_video_preference, bad_message)');
  t.diagnostic(`the server said ${moves(bob)}`);
  await bob.context.close();
});

test('a portrait phone asks for the lines it shows and is sent nothing taller than 360; made desktop-size it gets 720', async (t) => {
  const mo = await page('Mo', { viewport: { width: 390, height: 844 }, contextOptions: { deviceScaleFactor: 1, isMobile: true, hasTouch: true } });
  // The room's canvas (a portrait phone takes the small-screen one by default: small-canvas.test.mjs).
  await mo.page.addInitScript(() => localStorage.setItem('tessera.canvas', 'full'));
  await createRoomAs(server, mo);
  const pref = await waitUntil(server, () => mo.sent.find((m) => m.type === 'videoPreference'), "Mo's videoPreference");
  const box = await mo.page.locator('#composite').boundingBox();
  t.diagnostic(`composite on screen ${Math.round(box.width)}×${Math.round(box.height)}; videoPreference ${JSON.stringify({ maxHeight: pref.maxHeight, mode: pref.mode })}`);
  // 390 px wide at 16:9: 219 lines.
  assert.ok(pref.maxHeight >= 200 && pref.maxHeight <= 240, `maxHeight ${pref.maxHeight}`);
  assert.equal(pref.mode, 'auto');
  const small = await shows(mo, 360, pref.at, 'a 390-wide phone', t);
  if (!small.lower) assert.equal(small.stats.frameHeight, 360);

  await presentsMore(mo, 30, 'a 390-wide phone');
  const resizeAt = Date.now();
  const frames = await cappedAt(mo, 360, pref.at, resizeAt, 'a 390-wide phone');
  t.diagnostic(`phone: ${frames} frames of at most 360 lines; ${JSON.stringify(small.stats ?? small.lower)}`);
  const sentBefore = mo.sent.filter((m) => m.type === 'videoPreference').length;
  await mo.page.setViewportSize({ width: 1280, height: 900 });
  const bigger = await waitUntil(server, () => mo.sent.find((m) => m.type === 'videoPreference' && m.at >= resizeAt), 'a videoPreference after the resize');
  t.diagnostic(`after the resize: maxHeight ${bigger.maxHeight}, ${bigger.at - resizeAt} ms later`);
  assert.ok(bigger.maxHeight > 360, `maxHeight ${bigger.maxHeight}`);
  assert.ok(bigger.at - resizeAt >= 400, 'sent once the resize has settled (debounced 500 ms)');
  const big = await shows(mo, 720, resizeAt, 'desktop size', t);
  if (!big.lower) t.diagnostic(`desktop size: 720 lines ${big.at - resizeAt} ms after the resize`);
  t.diagnostic(`${mo.sent.filter((m) => m.type === 'videoPreference').length - sentBefore} videoPreference sent for the resize`);
  await mo.context.close();
});

test('the choice is sent again on a new peer connection: a reconnection the server could not resume still gets no more than 360 lines', async (t) => {
  // A server that keeps no session for a lost socket: the reconnection is a new session.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-quality-'));
  const config = path.join(dir, 'tessera.toml');
  fs.writeFileSync(config, 'resume_seconds = 0\nresume_max_seconds = 0\n');
  const strict = await startServer(['--config', config]);
  const proxy = await tcpProxy(strict.base);
  const via = { base: proxy.base, log: () => strict.log() };
  const wait = (fn, what) => waitUntil(strict, fn, what, 30000);
  const bob = await page('Bob', { viewport: { width: 1280, height: 900 } });
  try {
    await bob.page.addInitScript(() => localStorage.setItem('tessera.videoQuality', 'low'));
    await createRoomAs(via, bob);
    const first = await wait(() => bob.sent.find((m) => m.type === 'videoPreference'), 'the preference on the first connection');
    assert.equal(first.mode, 'low', 'the stored choice');
    await shows(bob, 360, first.at, 'the first connection', t, strict);
    const firstId = bob.id;
    const since = Date.now();
    proxy.cut();
    proxy.restore();
    const welcome = await wait(() => bob.received.find((m) => m.type === 'welcome' && m.at >= since), 'Bob to be welcomed again');
    assert.equal(welcome.resumed, false, 'a new session');
    assert.notEqual(welcome.participantId, firstId);
    await wait(() => logText(bob.page).then((s) => s.includes('as a new session')), 'the client to say so');
    const pref = await wait(() => bob.sent.find((m) => m.type === 'videoPreference' && m.at >= since), 'the preference sent again');
    assert.equal(pref.mode, 'low');
    const answer = bob.received.find((m) => m.type === 'answer' && m.at >= since);
    assert.ok(answer && pref.at >= answer.at, "after the new connection's answer");
    // The new session starts on L0: its first frames may be 720 lines, then none over 360.
    const again = await shows(bob, 360, pref.at, 'the new connection', t, strict);
    await presentsMore(bob, 30, 'the new connection', strict);
    const frames = await cappedAt(bob, 360, pref.at, Date.now(), 'the new connection');
    t.diagnostic(`new session: ${frames} frames of at most 360 lines; ${JSON.stringify(again.stats ?? again.lower)}`);
    assert.deepEqual(bob.received.filter((m) => m.type === 'error' && m.at >= since), [], 'no error');
  } finally {
    await bob.context.close();
    await proxy.close();
    await strict.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('after a resume (the same session and peer connection) the choice is sent again and the cap holds', async (t) => {
  const proxy = await tcpProxy(server.base);
  const via = { base: proxy.base, log: () => server.log() };
  const bob = await page('Bob', { viewport: { width: 1280, height: 900 } });
  try {
    await bob.page.addInitScript(() => localStorage.setItem('tessera.videoQuality', 'low'));
    await createRoomAs(via, bob);
    const first = await waitUntil(server, () => bob.sent.find((m) => m.type === 'videoPreference'), 'the preference');
    await shows(bob, 360, first.at, 'before the drop', t);
    const pc = await bob.page.evaluate(() => { window.__pc = window.tessera.pc; return true; });
    assert.ok(pc);
    const since = Date.now();
    proxy.cut();
    proxy.restore();
    const welcome = await waitUntil(server, () => bob.received.find((m) => m.type === 'welcome' && m.at >= since), 'Bob to be welcomed back', 30000);
    assert.equal(welcome.resumed, true, 'the same session');
    const answer = await waitUntil(server, () => bob.received.find((m) => m.type === 'answer' && m.at >= since), "the ICE restart's answer", 30000);
    const pref = await waitUntil(server, () => bob.sent.find((m) => m.type === 'videoPreference' && m.at >= since), 'the preference sent again');
    assert.ok(pref.at >= answer.at, 'after the answer');
    assert.equal(pref.mode, 'low');
    assert.equal(await bob.page.evaluate(() => window.__pc === window.tessera.pc), true, 'on the same peer connection');
    const at = Date.now();
    await presentsMore(bob, 30, 'after the resume');
    const frames = await cappedAt(bob, 360, first.at, Date.now(), 'before and after the resume');
    t.diagnostic(`resumed: preference sent ${pref.at - answer.at} ms after the answer; ${frames} frames of at most 360 lines, ${Date.now() - at} ms of them after the resume`);
    assert.deepEqual(bob.received.filter((m) => m.type === 'error'), [], 'no error');
  } finally {
    await bob.context.close();
    await proxy.close();
  }
});

test('what the server says about a weak link: paused shows over the composite, a bandwidth rung a small label, our own cap neither', async () => {
  const ann = await newPage(browser, 'Ann', { viewport: { width: 1280, height: 900 } });
  // The page's signaling socket goes through a route: the server's own videoQuality messages are
  // kept from the page (its moves on a busy machine would mix with the test's), the test's are
  // put in; everything else passes both ways.
  let toPage = null;
  await ann.page.routeWebSocket(/\/ws\?/, (ws) => {
    const srv = ws.connectToServer();
    ws.onMessage((m) => srv.send(m));
    srv.onMessage((m) => { if (!/"type":"videoQuality"/.test(m)) ws.send(m); });
    toPage = (msg) => ws.send(JSON.stringify({ type: 'videoQuality', ...msg }));
  });
  await ann.page.addInitScript(() => localStorage.setItem('tessera.videoQuality', 'auto'));
  await createRoomAs(server, ann);
  await waitUntil(server, () => ann.page.evaluate(() => window.tessera.pc?.connectionState === 'connected'), 'Ann to connect');
  const shown = () => ann.page.evaluate(() => ['video-paused', 'quality-badge', 'video-off'].filter((id) => !document.getElementById(id).hidden).join(','));
  const expect = (ids, what) => waitUntil(server, async () => (await shown()) === ids, `${what}: shown [${ids}]`, 5000);
  assert.equal(await shown(), '', 'nothing at first');

  toPage({ rung: 'L2', width: 320, height: 180, reason: 'bandwidth', estimateKbps: 300 });
  await expect('quality-badge', 'L2 for bandwidth');
  assert.match(await ann.page.locator('#quality-badge').innerText(), /Low bandwidth: reduced video quality/);
  toPage({ rung: 'paused', width: 0, height: 0, reason: 'loss', estimateKbps: 90 });
  await expect('video-paused', 'paused for loss');
  assert.match(await ann.page.locator('#video-paused').innerText(), /Video paused: weak connection/);
  assert.match(await ann.page.locator('#video-paused').innerText(), /Audio continues/);
  assert.equal(await ann.page.evaluate(() => document.getElementById('composite').classList.contains('stalled')), true, 'the frozen frame is dimmed');
  assert.match(await logText(ann.page), /Video paused/);
  // The notice takes no click (nothing under it is blocked).
  assert.equal(await ann.page.locator('#video-paused').evaluate((e) => getComputedStyle(e).pointerEvents), 'none');
  toPage({ rung: 'L1', width: 640, height: 360, reason: 'probe', estimateKbps: 900 });
  await expect('quality-badge', 'back up to L1, still below what Ann shows');
  assert.match(await logText(ann.page), /Video is back/);
  toPage({ rung: 'L0', width: 1280, height: 720, reason: 'probe', estimateKbps: 3000 });
  await expect('', 'back to L0');

  // With "Up to 360p", L1 is Ann's own choice: no label; a bandwidth L2 under it is labelled.
  await chooseQuality(ann, 'low');
  toPage({ rung: 'L1', width: 640, height: 360, reason: 'limit' });
  await expect('', 'L1 by our own choice');
  toPage({ rung: 'L2', width: 320, height: 180, reason: 'bandwidth' });
  await expect('quality-badge', 'L2 under our cap');
  toPage({ rung: 'L1', width: 640, height: 360, reason: 'probe' });
  await expect('', 'back at our cap');
  // Audio only: the placeholder, also when the link is weak meanwhile.
  await chooseQuality(ann, 'off');
  await expect('video-off', 'Audio only');
  toPage({ rung: 'paused', width: 0, height: 0, reason: 'limit' });
  await expect('video-off', 'Audio only, confirmed');
  // Back to Auto: covered ("Turning the video back on…") until the server sends a picture; if it
  // says nothing (its own choice for the link is a pause too), the pause is called the link's.
  await chooseQuality(ann, 'auto');
  await expect('video-off', 'Auto, before the server moves');
  assert.match(await ann.page.locator('#video-off').innerText(), /Turning the video back on/);
  await waitUntil(server, async () => (await shown()) === 'video-paused', 'the silent pause to be called a weak connection', 15000);
  toPage({ rung: 'L2', width: 320, height: 180, reason: 'probe' });
  await expect('quality-badge', 'a picture again (L2)');
  await ann.context.close();
});
