// Chromium and Firefox in one call through the client UI. Headless Chromium (playwright-core,
// Debian's /usr/bin/chromium) creates the room; headless Firefox ESR (Debian's firefox-esr,
// WebDriver through geckodriver: see firefox.mjs) joins it by ID. Debian's Firefox has no
// OpenH264, so it offers VP8 (and VP9, AV1) and gets the VP8 composite; Chromium offers H.264 and
// gets the H.264 one. Each decodes its composite and sees the other's camera in it: Firefox's
// fake camera (a solid frame of drifting colour) and Chromium's, each found by stopping it (its
// half of the grid goes dark for both, the other half stays lit). Each hears the other: Firefox's
// fake microphone is a 1 kHz sine, Chromium's microphone is replaced by a 660 Hz oscillator, and
// the mix-minus each receives peaks at the other's tone (an AnalyserNode on the received audio).
// Firefox hangs up: its camera and microphone end and Chromium is told. No Firefox or geckodriver
// process is left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, waitUntil } from './server.mjs';
import { launchChromiumAndFirefox, FIREFOX_FAKE_TONE_HZ } from './firefox.mjs';

const CHROMIUM_TONE_HZ = 660;

let server;
let browser;
let ff;
let ffProcesses = [];

before(async () => {
  server = await startServer();
  ({ browser, ff } = await launchChromiumAndFirefox());
});

after(async () => {
  await ff?.quit();
  await browser?.close();
  await server?.stop();
});

const waitFor = (fn, what, timeoutMs) => waitUntil(server, fn, what, timeoutMs);

// Installed in Chromium before the client's script: getUserMedia's microphone is a sine of `hz`
// (the camera stays Chromium's fake one), so that Firefox can tell Chromium's sound from its own.
function toneMicrophone(hz) {
  const md = navigator.mediaDevices;
  const original = md.getUserMedia.bind(md);
  md.getUserMedia = async (c = {}) => {
    const video = c.video ? (await original({ video: c.video })).getVideoTracks() : [];
    const audio = [];
    if (c.audio) {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      osc.frequency.value = hz;
      const gain = ctx.createGain();
      gain.gain.value = 0.3;
      const dst = ctx.createMediaStreamDestination();
      osc.connect(gain).connect(dst);
      osc.start();
      audio.push(...dst.stream.getAudioTracks());
    }
    return new MediaStream([...audio, ...video]);
  };
}

// In the page: the peer connection's state, the video codec the server answered with, inbound
// video and audio counts, and the composite's size.
async function mediaState() {
  const pc = window.tessera && window.tessera.pc;
  if (!pc) return null;
  const out = { connection: pc.connectionState, framesDecoded: 0, videoPackets: 0, audioPackets: 0 };
  const stats = await pc.getStats();
  for (const s of stats.values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      const codec = s.codecId && stats.get(s.codecId);
      out.codec = codec ? codec.mimeType.replace(/^video\//i, '') : null;
      out.framesDecoded = s.framesDecoded || 0;
      out.videoPackets = s.packetsReceived || 0;
      out.keyFrames = s.keyFramesDecoded;
      out.pli = s.pliCount;
    }
    if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audioPackets = s.packetsReceived || 0;
    if (s.type === 'outbound-rtp' && s.kind === 'video') out.framesEncoded = s.framesEncoded || 0;
  }
  const sdp = (pc.currentRemoteDescription && pc.currentRemoteDescription.sdp) || '';
  out.answer = (sdp.split(/\r\nm=/).find((m) => m.startsWith('video')) || '').split('\r\n').filter((l) => /^video|^a=rtpmap/.test(l)).join(' | ');
  const v = document.getElementById('composite');
  out.width = v.videoWidth;
  out.height = v.videoHeight;
  return out;
}

// In the page: the composite's mean colour in each of `rects` ({name: [x0, y0, x1, y1]}), as
// {r, g, b, max}; null while the composite is not 1280x720.
function regionColours(rects) {
  const v = document.getElementById('composite');
  if (v.videoWidth !== 1280 || v.videoHeight !== 720) return null;
  const c = document.createElement('canvas');
  c.width = v.videoWidth;
  c.height = v.videoHeight;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(v, 0, 0);
  const out = {};
  for (const [name, [x0, y0, x1, y1]] of Object.entries(rects)) {
    const d = g.getImageData(x0, y0, x1 - x0, y1 - y0).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) { sum[0] += d[i]; sum[1] += d[i + 1]; sum[2] += d[i + 2]; }
    const [r, gr, b] = sum.map((x) => Math.round(x / (d.length / 4)));
    out[name] = { r, g: gr, b, max: Math.max(r, gr, b) };
  }
  return out;
}

// In the page: the received audio's spectrum, averaged (as power) over `ms`, through an
// AnalyserNode on the composite's audio track: the loudest frequency, the level at each of
// `freqs` (dB, the loudest bin within 20 Hz) and the median level (the noise floor).
async function spectrum({ ms, freqs }) {
  const track = document.getElementById('composite').srcObject?.getAudioTracks()[0];
  if (!track) return { error: 'no audio track in the composite' };
  if (!window.__spectrum) {
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    window.__spectrum = { ctx, analyser };
  }
  const { ctx, analyser } = window.__spectrum;
  if (ctx.state !== 'running') await ctx.resume().catch(() => {});
  const bins = new Float32Array(analyser.frequencyBinCount);
  const power = new Float64Array(bins.length);
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    analyser.getFloatFrequencyData(bins);
    for (let i = 0; i < bins.length; i++) power[i] += 10 ** (Math.max(bins[i], -200) / 10);
    n++;
    await new Promise((r) => setTimeout(r, 40));
  }
  const hzPerBin = ctx.sampleRate / analyser.fftSize;
  const db = Array.from(power, (p) => 10 * Math.log10(p / n));
  let peak = 1;
  for (let i = 1; i < db.length; i++) if (db[i] > db[peak]) peak = i;
  const at = (hz) => {
    const lo = Math.max(0, Math.floor((hz - 20) / hzPerBin));
    const hi = Math.min(db.length - 1, Math.ceil((hz + 20) / hzPerBin));
    return Math.round(Math.max(...db.slice(lo, hi + 1)));
  };
  const sorted = [...db].sort((a, b) => a - b);
  return {
    state: ctx.state,
    peakHz: Math.round(peak * hzPerBin),
    peakDb: Math.round(db[peak]),
    levels: Object.fromEntries(freqs.map((hz) => [hz, at(hz)])),
    floorDb: Math.round(sorted[Math.floor(sorted.length / 2)]),
    polls: n,
  };
}

// The two halves of the 1280x720 grid of two: 640x720 cells, each 640x480 camera letterboxed at
// y 120..600; the regions keep clear of the edges and name labels.
const GRID = { left: [80, 140, 560, 540], right: [720, 140, 1200, 540] };
const dark = (c) => c.max < 70; // black frames, or the server's grey placeholder (48, 51, 56)
const lit = (c) => c.max > 90;
const other = (side) => (side === 'left' ? 'right' : 'left');

test('Chromium (H.264) and Firefox ESR (VP8) in one call: both decode the composite, see each other\'s camera and hear each other', { timeout: 120000 }, async (t) => {
  const started = Date.now();
  const step = (what) => t.diagnostic(`${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`);
  t.diagnostic(`Firefox ${ff.version}`);

  const chrome = await (await browser.newContext()).newPage();
  const chromeErrors = [];
  chrome.on('pageerror', (e) => chromeErrors.push(`uncaught: ${e.message}`));
  chrome.on('console', (m) => { if (m.type() === 'error') chromeErrors.push(`error: ${m.text()}`); });
  await chrome.addInitScript(toneMicrophone, CHROMIUM_TONE_HZ);

  const pages = {
    Chromium: { evaluate: (fn, arg) => chrome.evaluate(fn, arg), click: (sel) => chrome.click(sel), log: () => chrome.locator('#log').innerText() },
    Firefox: { evaluate: (fn, arg) => ff.evaluate(fn, arg), click: (sel) => ff.click(sel), log: () => ff.text('#log') },
  };

  try {
    // Chromium creates the room (and is its host); Firefox joins it by ID.
    await chrome.goto(server.base);
    await chrome.fill('#name', 'Chromium');
    await chrome.click('#new-room');
    await chrome.waitForURL(/\?room=/);
    const roomId = new URL(chrome.url()).searchParams.get('room');
    await waitFor(() => pages.Chromium.log().then((s) => s.includes('You joined')), 'Chromium to be in the room');
    step('Chromium in the room');

    await ff.goto(server.base);
    await ff.watchConsole();
    await ff.fill('#name', 'Firefox');
    await ff.fill('#room-id', roomId);
    await ff.click('#join-room');
    await waitFor(() => pages.Firefox.log().then((s) => s?.includes('You joined')), 'Firefox to be in the room');
    await waitFor(() => pages.Chromium.log().then((s) => s.includes('Firefox joined')), 'Chromium to be told Firefox joined');
    step('Firefox in the room');

    // Each decodes its composite, in the codec it offered.
    const codecs = {};
    for (const [name, page] of Object.entries(pages)) {
      let last;
      const first = await waitFor(async () => {
        last = await page.evaluate(mediaState);
        return last && last.framesDecoded > 0 && last.width === 1280 && last.height === 720 && last;
      }, `${name} to decode a 1280x720 composite`).catch((e) => { throw new Error(`${e.message}; last: ${JSON.stringify(last)}`); });
      const later = await waitFor(async () => {
        const s = await page.evaluate(mediaState);
        return s.framesDecoded >= first.framesDecoded + 20 && s;
      }, `${name}'s decoded frame count to grow`);
      step(`${name} decodes: ${JSON.stringify(later)}`);
      codecs[name] = later.codec;
      assert.ok(later.audioPackets > 0, `${name} receives audio: ${JSON.stringify(later)}`);
    }
    assert.equal(codecs.Firefox, 'VP8', 'Firefox (no OpenH264) gets the VP8 composite');
    assert.equal(codecs.Chromium, 'H264', 'Chromium gets the H.264 composite');

    // Both cameras in both composites.
    const colours = async (name, test, what) => {
      let last;
      try {
        return await waitFor(async () => {
          last = await pages[name].evaluate(regionColours, GRID);
          return last && test(last) && last;
        }, what);
      } catch (e) {
        throw new Error(`${e.message}; last measured: ${JSON.stringify(last)}`);
      }
    };
    for (const name of Object.keys(pages)) {
      const both = await colours(name, (c) => lit(c.left) && lit(c.right), `both cameras in ${name}'s composite`);
      step(`${name}'s composite, both cameras: ${JSON.stringify(both)}`);
    }

    // Firefox stops its camera: its half goes dark for both, Chromium's stays lit (so Firefox
    // sees Chromium's camera). Then Firefox starts it again and Chromium stops its own: the other
    // half goes dark for both and Firefox's is lit again (so Chromium sees Firefox's camera).
    await pages.Firefox.click('#toggle-cam');
    const oneDark = (c) => (dark(c.left) && lit(c.right)) || (lit(c.left) && dark(c.right));
    const seen = await colours('Chromium', oneDark, "Firefox's half of the grid to go dark in Chromium's composite");
    const ffSide = dark(seen.left) ? 'left' : 'right';
    step(`Firefox's camera off, Chromium's composite: ${JSON.stringify(seen)} (Firefox is ${ffSide})`);
    const inFirefox = await colours('Firefox', (c) => dark(c[ffSide]) && lit(c[other(ffSide)]),
      `Firefox's composite to show its own half dark and Chromium's camera (${other(ffSide)}) lit`);
    step(`Firefox's camera off, Firefox's composite: ${JSON.stringify(inFirefox)}`);

    await pages.Firefox.click('#toggle-cam');
    await pages.Chromium.click('#toggle-cam');
    for (const name of Object.keys(pages)) {
      const swapped = await colours(name, (c) => lit(c[ffSide]) && dark(c[other(ffSide)]),
        `${name}'s composite to show Firefox's camera (${ffSide}) lit and Chromium's half dark`);
      step(`Chromium's camera off, ${name}'s composite: ${JSON.stringify(swapped)}`);
    }
    await pages.Chromium.click('#toggle-cam');

    // Each hears the other's tone (and not its own: the mix-minus leaves it out).
    const tones = { Firefox: CHROMIUM_TONE_HZ, Chromium: FIREFOX_FAKE_TONE_HZ };
    for (const [name, hz] of Object.entries(tones)) {
      let last;
      await waitFor(async () => {
        last = await pages[name].evaluate(spectrum, { ms: 600, freqs: [CHROMIUM_TONE_HZ, FIREFOX_FAKE_TONE_HZ] });
        return last && !last.error && Math.abs(last.peakHz - hz) <= 20 && last.levels[hz] - last.floorDb > 30 && last;
      }, `${name} to hear the other's ${hz} Hz tone`, 10000).catch((e) => { throw new Error(`${e.message}; last: ${JSON.stringify(last)}`); });
      step(`${name} hears ${hz} Hz: ${JSON.stringify(last)}`);
    }

    // Firefox hangs up: its camera and microphone end, and Chromium is told.
    await pages.Firefox.click('#hang-up');
    const tracks = await ff.evaluate(() => {
      const s = window.tessera;
      return [...(s.tracks || []), ...(s.local ? s.local.getTracks() : [])].map((tr) => `${tr.kind}:${tr.readyState}`);
    });
    assert.ok(tracks.length >= 2, `Firefox had a camera and a microphone: ${tracks}`);
    assert.ok(tracks.every((s) => s.endsWith(':ended')), `hanging up ends Firefox's camera and microphone: ${tracks}`);
    await waitFor(() => pages.Chromium.log().then((s) => s.includes('Firefox left')), 'Chromium to be told Firefox left', 5000);
    step('Firefox hung up');
  } catch (e) {
    // What the pages said: their console errors and the client's own log.
    console.error(`Firefox console: ${JSON.stringify(await ff.consoleErrors())}`);
    console.error(`Firefox's call log: ${JSON.stringify(await ff.text('#log').catch(() => null))}`);
    console.error(`Chromium console: ${JSON.stringify(chromeErrors)}`);
    console.error(`Chromium's call log: ${JSON.stringify(await chrome.locator('#log').innerText().catch(() => null))}`);
    throw e;
  }
  const consoleErrors = await ff.consoleErrors();
  if (consoleErrors.length) t.diagnostic(`Firefox console: ${JSON.stringify(consoleErrors)}`);
  ffProcesses = ff.processes();
});

test('Firefox and geckodriver leave no process behind', async (t) => {
  const before = ffProcesses.length ? ffProcesses : ff.processes();
  assert.ok(before.some((p) => p.pid === ff.pid), `Firefox (${ff.pid}) was running: ${JSON.stringify(before)}`);
  const killed = await ff.quit();
  t.diagnostic(`${before.length} processes before quitting (${[...new Set(before.map((p) => p.comm))].join(', ')}); killed after SIGTERM: ${JSON.stringify(killed)}`);
  assert.deepEqual(ff.processes(), [], 'nothing is left in the process group');
  assert.deepEqual(before.filter((p) => running(p.pid)), [], 'none of the processes seen during the call is alive');
});

// Whether `pid` is a live process (not a zombie).
function running(pid) {
  try {
    return !/^\d+ \(.*\) Z /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
