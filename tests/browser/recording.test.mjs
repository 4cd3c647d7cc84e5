// The host records a call through the client UI (headless Chromium, fake camera/mic): the red
// indicator shows while it runs (for someone joining meanwhile too), and the finished MP4,
// played by Chromium's own <video>, has the composite's width, lasts as long as the recording
// ran, plays and seeks. A recording that cannot be written is explained to the host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitUntil } from './server.mjs';
import { launchChromium, hostMenuClick } from './client-helpers.mjs';

let server;
let browser;
let tmp;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-browser-rec-'));
  const config = path.join(tmp, 'tessera.toml');
  await fs.writeFile(config, `recordings_dir = ${JSON.stringify(path.join(tmp, 'recordings'))}\n`);
  server = await startServer(['--config', config]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const waitFor = (fn, what, timeoutMs, srv = server) => waitUntil(srv, fn, what, timeoutMs);

async function getRecording(id) {
  const res = await fetch(`${server.base}/api/v1/recordings/${id}`);
  return { status: res.status, body: await res.json() };
}

// Types `name` on the home page of `base`, presses "New room", waits to be the host.
async function hostNewRoom(base, name, srv) {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (e) => console.error(`${name}'s page error:`, e.message));
  await page.goto(base);
  await page.fill('#name', name);
  await page.click('#new-room');
  await page.waitForURL(/\?room=/);
  await waitFor(() => page.locator('#log').innerText().then((t) => t.includes('You are the host')), `${name} to be host`, 20000, srv);
  return { page, roomId: new URL(page.url()).searchParams.get('room') };
}

test('the host records the call; the MP4 plays in Chromium, is 1280 wide, lasts as recorded and seeks', async (t) => {
  const { page, roomId } = await hostNewRoom(server.base, 'Alice', server);
  // The composite is flowing (so the recording has a picture from its first second).
  await waitFor(() => page.evaluate(() => document.getElementById('composite').videoWidth), 'the composite to have a size');

  const record = page.locator('#record-button');
  const indicator = page.locator('#recording-indicator');
  assert.equal(await record.isVisible(), true, 'the host sees the Record button');
  assert.equal(await record.innerText(), 'Record');
  assert.equal(await indicator.isVisible(), false, 'no indicator before recording');

  const started = Date.now();
  await record.click();
  await waitFor(() => indicator.isVisible(), 'the recording indicator to show');
  assert.match(await indicator.innerText(), /Recording/);
  await waitFor(() => record.innerText().then((t) => t === 'Stop recording'), 'the button to offer "Stop recording"');
  await waitFor(() => record.isEnabled(), 'the button to be enabled again');
  const id = await page.evaluate(() => window.tessera.recording.id);
  assert.equal((await getRecording(id)).body.state, 'recording');

  // Bob joins while it runs (told by `welcome`): he sees the indicator but has no button.
  const bob = await (await browser.newContext()).newPage();
  bob.on('pageerror', (e) => console.error("Bob's page error:", e.message));
  await bob.goto(`${server.base}/?room=${roomId}`);
  await bob.fill('#name', 'Bob');
  await bob.click('#join-room');
  await waitFor(() => bob.locator('#log').innerText().then((t) => t.includes('You joined')), 'Bob to join');
  await waitFor(() => bob.locator('#recording-indicator').isVisible(), "Bob's recording indicator to show");
  assert.equal(await bob.locator('#record-button').isVisible(), false, 'a participant has no Record button');

  await sleep(4000);
  await record.click();
  const wall = (Date.now() - started) / 1000;
  await waitFor(() => indicator.isHidden(), 'the recording indicator to go away');
  await waitFor(() => record.innerText().then((t) => t === 'Record'), 'the button to offer "Record" again');
  await waitFor(() => bob.locator('#recording-indicator').isHidden(), "Bob's indicator to go away (recordingStopped)");
  assert.equal(await page.locator('#recording-error').isVisible(), false, 'no error banner');

  const done = await waitFor(async () => {
    const { status, body } = await getRecording(id);
    assert.equal(status, 200, JSON.stringify(body));
    assert.notEqual(body.state, 'failed', `the recording failed: ${body.reason}`);
    return body.state === 'complete' && body;
  }, 'the recording to be complete');
  assert.equal(done.parts.length, 1, JSON.stringify(done));

  // The host's list, in a side panel in the chat's place (the stage keeps its size), shows it
  // ready, and its Download button saves the MP4 (fetched with the host's token) under its name.
  assert.match(await page.locator('#log').innerText(), /Open Recordings to download it/);
  const stageBefore = await page.locator('#stage').boundingBox();
  await hostMenuClick(page, '#recordings-button');
  await waitFor(() => page.locator('#recordings').isVisible(), 'the recordings panel to open');
  assert.equal(await page.locator('#chat').isVisible(), false, 'the panel takes the chat\'s place');
  assert.deepEqual(await page.locator('#stage').boundingBox(), stageBefore, 'the stage keeps its size');
  assert.equal(await bob.locator('#recordings-button').isVisible(), false, 'a participant has no Recordings button');
  const item = page.locator(`#recordings-list li[data-recording-id="${id}"]`);
  await waitFor(() => item.getAttribute('data-state').then((s) => s === 'complete'), "the host's list to show the recording ready");
  assert.match(await item.innerText(), /ready/);
  assert.equal(await bob.locator('#recordings').isVisible(), false, 'a participant has no recordings list');
  const [saved] = await Promise.all([page.waitForEvent('download'), item.locator('button', { hasText: 'Download' }).click()]);
  assert.equal(saved.suggestedFilename(), `${id}.mp4`);
  const bytes = await fs.readFile(await saved.path());
  assert.equal(bytes.length, done.parts[0].bytes, 'the whole file');
  assert.equal(bytes.subarray(4, 8).toString('latin1'), 'ftyp', 'an MP4 file');

  // Go live: the host turns the room's HLS on from the client (PATCH with the host token), the
  // playlist at the link shown plays segments, and Stop live turns it off.
  const live = page.locator('#live-button');
  assert.equal(await live.textContent(), 'Go live');
  assert.equal(await bob.locator('#live-button').isVisible(), false, 'a participant cannot go live');
  await hostMenuClick(page, '#live-button');
  await waitFor(() => live.textContent().then((s) => s === 'Stop live'), 'Go live to turn HLS on');
  const link = await page.locator('#live-link').getAttribute('href');
  const hostToken = await page.evaluate(() => window.tessera.token);
  const playlist = `${link}${hostToken ? `?token=${encodeURIComponent(hostToken)}` : ''}`;
  await waitFor(async () => {
    const res = await fetch(playlist);
    return res.status === 200 && /\.ts/.test(await res.text());
  }, 'the live playlist to list a segment', 20000);
  await hostMenuClick(page, '#live-button');
  await waitFor(() => live.textContent().then((s) => s === 'Go live'), 'Stop live to turn HLS off');
  assert.equal(await page.locator('#live-status').isVisible(), false);

  // Chat brings the chat back in the panel's place.
  await page.click('#toggle-chat');
  await waitFor(() => page.locator('#chat').isVisible(), 'Chat to close the recordings panel');
  assert.equal(await page.locator('#recordings').isVisible(), false);

  // A fresh page plays the download in a plain <video> (media needs no same origin).
  const viewer = await (await browser.newContext()).newPage();
  viewer.on('pageerror', (e) => console.error('viewer page error:', e.message));
  const codecs = 'video/mp4; codecs="avc1.42E01F, mp4a.40.2"';
  const canPlay = await viewer.evaluate((t) => document.createElement('video').canPlayType(t), codecs);
  assert.notEqual(canPlay, '', `this Chromium cannot play H.264 + AAC in MP4 (canPlayType('${codecs}') is ""): the recording cannot be checked in it`);
  const url = `${server.base}/api/v1/recordings/${id}/file`;
  await viewer.setContent(`<video id="v" src="${url}" muted preload="auto"></video>`);
  const media = () => viewer.evaluate(() => {
    const v = document.getElementById('v');
    return { readyState: v.readyState, width: v.videoWidth, height: v.videoHeight, duration: v.duration, currentTime: v.currentTime, error: v.error && `${v.error.code} ${v.error.message}` };
  });
  try {
    await viewer.waitForFunction(() => document.getElementById('v').readyState >= 2, null, { timeout: 10000 });
  } catch (e) {
    throw new Error(`the recording did not load in <video> within 10 s: ${JSON.stringify(await media())} (${e.message})`);
  }
  const loaded = await media();
  t.diagnostic(`canPlayType: "${canPlay}"; recorded for ${wall.toFixed(2)} s; <video>: ${JSON.stringify(loaded)}`);
  assert.equal(loaded.error, null);
  assert.equal(loaded.width, 1280, `the recording is 1280 wide: ${JSON.stringify(loaded)}`);
  assert.ok(Math.abs(loaded.duration - wall) <= 1.5, `the recording lasts ${loaded.duration} s, recorded for ${wall} s`);

  await viewer.evaluate(() => document.getElementById('v').play());
  const from = (await media()).currentTime;
  await waitFor(() => media().then((m) => m.currentTime > from + 0.5 && m), 'the recording to play (currentTime to advance)', 5000);

  const half = loaded.duration / 2;
  const landed = await viewer.evaluate((to) => new Promise((resolve, reject) => {
    const v = document.getElementById('v');
    v.pause();
    const timer = setTimeout(() => reject(new Error(`no seeked event within 10 s (currentTime ${v.currentTime})`)), 10000);
    v.addEventListener('seeked', () => { clearTimeout(timer); resolve(v.currentTime); }, { once: true });
    v.currentTime = to;
  }), half);
  assert.ok(Math.abs(landed - half) < 0.5, `a seek to ${half} s lands at ${landed} s`);
  t.diagnostic(`played past ${from.toFixed(2)} s; a seek to ${half.toFixed(2)} s landed at ${landed.toFixed(2)} s`);
  assert.equal((await media()).error, null);
});

test('a recording that cannot be written is explained to the host, who can try again', async () => {
  // A file where the recordings folder should be: no recording folder can be made in it.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-browser-rec-'));
  await fs.writeFile(path.join(dir, 'not-a-folder'), '');
  const config = path.join(dir, 'tessera.toml');
  await fs.writeFile(config, `recordings_dir = ${JSON.stringify(path.join(dir, 'not-a-folder', 'recordings'))}\n`);
  const blocked = await startServer(['--config', config]);
  try {
    const { page } = await hostNewRoom(blocked.base, 'Alice', blocked);
    await page.click('#record-button');
    const banner = page.locator('#recording-error');
    await waitFor(() => banner.isVisible(), 'the error banner', 20000, blocked);
    const text = await banner.innerText();
    assert.match(text, /The recording could not start: the server's recording folder is missing or unusable\./, text);
    assert.match(text, /cannot create the recording folder/, 'the host sees the server\'s reason too');
    assert.equal(await page.locator('#recording-indicator').isVisible(), false, 'no indicator for a failed recording');
    await waitFor(() => page.locator('#record-button').isEnabled(), 'the Record button to be usable again', 20000, blocked);
    assert.equal(await page.locator('#record-button').innerText(), 'Record');
    await page.click('#recording-error-close');
    assert.equal(await banner.isVisible(), false, 'the banner can be dismissed');
  } finally {
    await blocked.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
