// The watch page: a viewer link (`/watch.html?room=…&token=…`, a `viewer` token's joinUrl)
// plays the room's composite and sound over WHEP in Chromium, asking for no camera or
// microphone. The server counts a viewer, not a participant; "Stop watching" DELETEs the
// session and the count goes back; a link for a room that does not exist says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitUntil } from './server.mjs';
import { launchChromium, newPage, createRoomAs, waitForPicture } from './client-helpers.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const room = async (id) => (await fetch(`${server.base}/api/v1/rooms/${id}`)).json();

// The inbound audio's total energy (grows while sound arrives).
const audioEnergy = (page) => page.evaluate(async () => {
  for (const s of (await window.tessera.pc.getStats()).values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') return { energy: s.totalAudioEnergy || 0, packets: s.packetsReceived || 0 };
  }
  return { energy: 0, packets: 0 };
});

test('a viewer link plays the composite and the sound, and stopping ends the session', async () => {
  // A participant in Chromium (its fake camera and microphone: a bright picture, a beep).
  const alice = await newPage(browser, 'Alice');
  const id = await createRoomAs(server, alice);
  const tokenRes = await fetch(`${server.base}/api/v1/rooms/${id}/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Watcher', role: 'viewer' }) });
  const { joinUrl, token } = await tokenRes.json();
  assert.equal(new URL(joinUrl).pathname, '/watch.html', `a viewer's link opens the watch page: ${joinUrl}`);

  const context = await browser.newContext();
  const page = await context.newPage();
  let asked = 0;
  await page.exposeFunction('__askedForMedia', () => { asked += 1; });
  await page.addInitScript(() => {
    const original = navigator.mediaDevices?.getUserMedia?.bind(navigator.mediaDevices);
    if (original) navigator.mediaDevices.getUserMedia = (c) => { window.__askedForMedia(); return original(c); };
  });
  await page.goto(`${server.base}/watch.html?room=${id}&token=${token}`);
  await waitForPicture(server, { page, name: 'the viewer' });
  await waitUntil(server, async () => (await page.locator('#watch-status').innerText()) === 'Watching', 'the page to say Watching');
  const first = await audioEnergy(page);
  const later = await waitUntil(server, async () => {
    const a = await audioEnergy(page);
    return a.packets > first.packets + 100 && a.energy > first.energy && a;
  }, 'the mix to keep arriving with sound in it');
  assert.ok(later.energy > first.energy, `sound arrives: ${JSON.stringify({ first, later })}`);
  assert.equal(asked, 0, 'the watch page never asks for a camera or a microphone');

  const live = await room(id);
  assert.equal(live.numViewers, 1, 'one viewer');
  assert.equal(live.numParticipants, 1, 'a viewer is not a participant');
  assert.ok(live.participants.every((p) => p.role !== 'viewer'), 'nor in the participant list');
  const metrics = await (await fetch(`${server.base}/metrics`)).text();
  assert.match(metrics, /^tessera_whep_viewers\{[^}]*\} 1$/m);

  await page.click('#watch-stop');
  await waitUntil(server, async () => (await room(id)).numViewers === 0, 'the viewer to be gone after Stop watching');
  assert.match(await page.locator('#watch-status').innerText(), /stopped watching/);
  assert.equal((await room(id)).numParticipants, 1, 'the call goes on');

  // A link for a room that does not exist says so.
  await page.goto(`${server.base}/watch.html?room=nosuchroomnosuchroom00`);
  await waitUntil(server, async () => /no call at this link/.test(await page.locator('#watch-status').innerText()), 'the page to say there is no call');
  await context.close();
  await alice.context.close();
});
