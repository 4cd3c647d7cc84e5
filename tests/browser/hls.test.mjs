// A room with `hls` publishes its composite as HLS while one headless Chromium page is in the
// call (fake camera/mic): the playlist needs a token of the room (the server has an API key, so
// it is not in open mode), its segment links carry the viewer token, and hls.js in a second
// page plays it from the same origin: 1280 wide, time advancing, a picture that is not black.
// Ending the room removes its HLS files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startServer, waitUntil } from './server.mjs';
import { launchChromium } from './client-helpers.mjs';

const require = createRequire(import.meta.url);
const API_KEY = 'hls-test:hls-test-secret-0123456789';
const admin = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

let server;
let browser;
let tmp;
let hlsDir;
let room; // set by the first test: { id, viewer }

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-browser-hls-'));
  hlsDir = path.join(tmp, 'live');
  const config = path.join(tmp, 'tessera.toml');
  const [id, secret] = API_KEY.split(':');
  await fs.writeFile(config, [
    `recordings_dir = ${JSON.stringify(path.join(tmp, 'rec'))}`,
    `hls_dir = ${JSON.stringify(hlsDir)}`,
    '[[api_keys]]',
    `id = ${JSON.stringify(id)}`,
    `secret = ${JSON.stringify(secret)}`,
    '',
  ].join('\n'));
  server = await startServer(['--config', config]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const waitFor = (fn, what, timeoutMs) => waitUntil(server, fn, what, timeoutMs, 200);

async function api(method, url, body) {
  const res = await fetch(`${server.base}${url}`, { method, headers: admin, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  assert.ok(res.ok, `${method} ${url} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

async function playlist(roomId, token) {
  const q = token === undefined ? '' : `?token=${encodeURIComponent(token)}`;
  const res = await fetch(`${server.base}/live/${roomId}/index.m3u8${q}`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

const extinf = (text) => text.split('\n').filter((l) => l.startsWith('#EXTINF')).length;

test('a room with hls: a viewer token reads the playlist and hls.js plays it in Chromium', async (t) => {
  // hls.js is a devDependency: `npm ci` in tests/browser installs it.
  let hlsJs;
  try {
    hlsJs = require.resolve('hls.js/dist/hls.min.js');
  } catch (e) {
    throw new Error(`hls.js is not installed: run \`npm ci\` in tests/browser (${e.message})`);
  }

  const created = await api('POST', '/api/v1/rooms', { name: 'hls', hls: true });
  const roomId = created.room.id;
  assert.equal(created.room.hls, true, JSON.stringify(created.room));
  assert.equal((await playlist(roomId)).status, 401, 'no token, no API key: 401 (even before HLS runs)');

  // The host joins through the client with its token: the room's media (and so HLS) starts.
  const host = await (await browser.newContext()).newPage();
  host.on('pageerror', (e) => console.error("host's page error:", e.message));
  await host.goto(`${server.base}/?room=${roomId}&token=${encodeURIComponent(created.hostToken)}`);
  await host.fill('#name', 'Alice');
  await host.click('#join-room');
  await waitFor(() => host.locator('#log').innerText().then((x) => x.includes('You joined')), 'Alice to join');
  await waitFor(() => host.evaluate(() => document.getElementById('composite').videoWidth), "the host's composite to have a size");

  const { token: viewer } = await api('POST', `/api/v1/rooms/${roomId}/tokens`, { name: 'v', role: 'viewer' });
  room = { id: roomId, viewer };
  const started = Date.now();
  const ready = await waitFor(async () => {
    const p = await playlist(roomId, viewer);
    return p.status === 200 && extinf(p.text) >= 2 && p;
  }, 'the playlist to list 2 segments', 30000);
  t.diagnostic(`playlist with ${extinf(ready.text)} segments ${((Date.now() - started) / 1000).toFixed(1)} s after the viewer token`);
  assert.equal(ready.type, 'application/vnd.apple.mpegurl');
  const segments = ready.text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(segments.length >= 2, ready.text);
  for (const s of segments) assert.match(s, new RegExp(`^segment\\d+\\.ts\\?token=${viewer.replace(/\./g, '\\.')}$`), 'segment links carry the viewer token');

  // Access: the token is required (the server has an API key, so it is not open).
  assert.equal((await playlist(roomId)).status, 401, 'no token: 401');
  assert.equal((await playlist(roomId, `${viewer.slice(0, -4)}AAAA`)).status, 401, 'a forged token: 401');
  const other = await api('POST', '/api/v1/rooms', { name: 'other' });
  assert.equal((await playlist(roomId, other.hostToken)).status, 403, "another room's token: 403");
  const seg = await fetch(`${server.base}/live/${roomId}/${segments.at(-1)}`);
  assert.equal(seg.status, 200);
  assert.equal(seg.headers.get('content-type'), 'video/mp2t');
  const ts = new Uint8Array(await seg.arrayBuffer());
  assert.ok(ts.length >= 188 && ts.length % 188 === 0 && ts[0] === 0x47 && ts[188] === 0x47, `a segment is MPEG-TS (${ts.length} bytes)`);
  assert.equal((await fetch(`${server.base}/live/${roomId}/${segments.at(-1).split('?')[0]}`)).status, 401, 'a segment without the token: 401');

  // A second page on the server's origin (no CORS) plays it with hls.js.
  const viewerPage = await (await browser.newContext()).newPage();
  viewerPage.on('pageerror', (e) => console.error("viewer's page error:", e.message));
  await viewerPage.goto(`${server.base}/`);
  await viewerPage.addScriptTag({ path: hlsJs });
  const supported = await viewerPage.evaluate(() => ({
    hls: window.Hls.isSupported(),
    version: window.Hls.version,
    mse: window.MediaSource?.isTypeSupported('video/mp4; codecs="avc1.42e01f, mp4a.40.2"') ?? false,
  }));
  t.diagnostic(`hls.js ${supported.version}; MSE H.264 + AAC: ${supported.mse}`);
  assert.equal(supported.hls, true, 'Hls.isSupported() in this Chromium');

  await viewerPage.evaluate((src) => {
    const video = document.createElement('video');
    video.id = 'hls-video';
    video.muted = true;
    video.playsInline = true;
    document.body.prepend(video);
    const s = { errors: [], fatal: [], playError: null };
    window.__hls = s;
    const hls = new window.Hls();
    window.__player = hls;
    hls.on(window.Hls.Events.ERROR, (_, data) => {
      const e = { type: data.type, details: data.details, fatal: data.fatal, reason: data.reason || data.error?.message || null, url: data.url || data.frag?.url || null };
      s.errors.push(e);
      if (data.fatal) s.fatal.push(e);
    });
    hls.attachMedia(video);
    hls.loadSource(src);
    video.play().catch((e) => { s.playError = `${e.name}: ${e.message}`; });
  }, `/live/${roomId}/index.m3u8?token=${viewer}`);

  const media = () => viewerPage.evaluate(() => {
    const v = document.getElementById('hls-video');
    return {
      width: v.videoWidth, height: v.videoHeight, currentTime: v.currentTime, readyState: v.readyState, paused: v.paused,
      error: v.error && `${v.error.code} ${v.error.message}`, fatal: window.__hls.fatal, errors: window.__hls.errors.length, playError: window.__hls.playError,
    };
  });
  // Mean luma and spread of the current frame, drawn at 320x180.
  const frame = () => viewerPage.evaluate(() => {
    const v = document.getElementById('hls-video');
    const c = document.createElement('canvas');
    c.width = 320;
    c.height = 180;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let sq = 0;
    let min = 255;
    let max = 0;
    const n = d.length / 4;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      sum += y;
      sq += y * y;
      if (y < min) min = y;
      if (y > max) max = y;
    }
    const mean = sum / n;
    return { mean, sd: Math.sqrt(Math.max(0, sq / n - mean * mean)), min, max, time: v.currentTime };
  });
  const noFatal = async () => {
    const m = await media();
    assert.deepEqual(m.fatal, [], `no fatal hls.js error: ${JSON.stringify(m)}`);
    assert.equal(m.error, null, `no <video> error: ${JSON.stringify(m)}`);
    return m;
  };

  const deadline = Date.now() + 20000;
  const left = () => Math.max(0, deadline - Date.now());
  const playing = await waitFor(async () => {
    const m = await noFatal();
    return m.readyState >= 2 && m.width > 0 && !m.paused && m;
  }, 'hls.js to start playing', left());
  assert.equal(playing.width, 1280, `the stream is 1280 wide: ${JSON.stringify(playing)}`);
  assert.equal(playing.height, 720, `the stream is 720 high: ${JSON.stringify(playing)}`);
  const from = playing.currentTime;
  const later = await waitFor(async () => {
    const m = await noFatal();
    return m.currentTime >= from + 1 && m;
  }, 'currentTime to advance by 1 s', left());
  // The first segments may be black (before the camera's first frame reached the composite):
  // some frame within the deadline shows the fake camera's picture.
  let brightest = null;
  const lit = await waitFor(async () => {
    await noFatal();
    const f = await frame();
    if (!brightest || f.mean > brightest.mean) brightest = f;
    return f.mean > 16 && f.sd > 2 && f;
  }, 'a frame that is not black', Math.max(left(), 1000)).catch((e) => {
    throw new Error(`${e.message}; the brightest frame seen: ${JSON.stringify(brightest)}`);
  });
  const end = await noFatal();
  t.diagnostic(`played ${from.toFixed(2)} → ${later.currentTime.toFixed(2)} s; frame luma mean ${lit.mean.toFixed(1)}, sd ${lit.sd.toFixed(1)}, range ${lit.min.toFixed(0)}..${lit.max.toFixed(0)} at ${lit.time.toFixed(2)} s; non-fatal hls.js errors: ${end.errors}`);
  await viewerPage.evaluate(() => window.__player.destroy());
});

test('ending the room stops its HLS: the playlist answers 409 and the files are removed', async (t) => {
  if (!room) return t.skip('the first test did not get a room publishing HLS');
  const dir = path.join(hlsDir, room.id);
  // Under hls_dir/<roomId>/ (directly, or in a folder per output).
  const files = await fs.readdir(dir, { recursive: true });
  assert.ok(files.some((f) => f.endsWith('.ts')) && files.some((f) => f.endsWith('index.m3u8')), `segments and playlist in ${dir}: ${files}`);
  await api('DELETE', `/api/v1/rooms/${room.id}`);
  const after = await playlist(room.id, room.viewer);
  assert.equal(after.status, 409, after.text);
  assert.equal(JSON.parse(after.text).code, 'room_ended', after.text);
  await waitFor(() => fs.access(dir).then(() => false, () => true), `the HLS folder ${dir} to be removed`, 10000);
});
