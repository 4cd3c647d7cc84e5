// Two headless Chromium pages join one room through the client UI with fake camera/mic, each
// decodes the composite, and hanging up ends the camera and tells the other page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from './server.mjs';
import { startServerAndChromium, stopServerAndChromium } from './client-helpers.mjs';

let server;
let browser;

before(async () => ({ server, browser } = await startServerAndChromium()));

after(() => stopServerAndChromium(server, browser));

async function inboundVideo(page) {
  return page.evaluate(async () => {
    const pc = window.tessera.pc;
    if (!pc) return { framesDecoded: 0 };
    const stats = await pc.getStats();
    for (const s of stats.values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        // Kept for the failure report: what the receiver got when it did not decode.
        window.__lastInbound = { packetsReceived: s.packetsReceived, framesReceived: s.framesReceived, framesDecoded: s.framesDecoded, keyFramesDecoded: s.keyFramesDecoded, pliCount: s.pliCount, packetsLost: s.packetsLost, connection: pc.connectionState };
        return { framesDecoded: s.framesDecoded || 0, codec: s.codecId };
      }
    }
    return { framesDecoded: 0 };
  });
}

const waitFor = (fn, what, timeoutMs) => waitUntil(server, fn, what, timeoutMs);

// Types `name` on the home page, presses "New room", and returns the room id from the URL.
async function createRoomAs(page, name) {
  await page.goto(server.base);
  await page.fill('#name', name);
  await page.click('#new-room');
  await page.waitForURL(/\?room=/);
  return new URL(page.url()).searchParams.get('room');
}

test('two browsers join through the UI, decode the composite, and hang up', async () => {
  const alice = await (await browser.newContext()).newPage();
  const bob = await (await browser.newContext()).newPage();
  for (const p of [alice, bob]) p.on('pageerror', (e) => console.error('page error:', e.message));

  const roomId = await createRoomAs(alice, 'Alice');
  assert.match(roomId, /^[A-Za-z0-9]{22}$/);
  // Alice is in (welcome received) before Bob joins, so she is the one told "Bob joined".
  await waitFor(() => alice.locator('#log').innerText().then((t) => t.includes('You joined')), 'Alice to be in the room');

  await bob.goto(server.base);
  await bob.fill('#name', 'Bob');
  await bob.fill('#room-id', roomId);
  await bob.click('#join-room');

  await waitFor(() => alice.locator('#log').innerText().then((t) => t.includes('Bob joined')), 'Alice to hear that Bob joined');

  for (const [who, page] of [['Alice', alice], ['Bob', bob]]) {
    let first;
    try {
      first = await waitFor(async () => { const s = await inboundVideo(page); return s.framesDecoded > 0 && s; }, `${who} to decode composite frames`);
    } catch (e) {
      // A rare failure: say what the browser received (waitFor printed the server's log).
      console.error(`${who}'s inbound video:`, JSON.stringify(await page.evaluate(() => window.__lastInbound ?? null)));
      throw e;
    }
    const later = await waitFor(async () => { const s = await inboundVideo(page); return s.framesDecoded > first.framesDecoded + 20 && s; }, `${who}'s decoded frame count to grow`);
    assert.ok(later.framesDecoded > first.framesDecoded);
    const width = await waitFor(() => page.evaluate(() => document.getElementById('composite').videoWidth), `${who}'s composite to have a size`);
    assert.equal(width, 1280, `${who}'s composite is 1280 wide`);
  }

  await bob.click('#hang-up');
  const states = await bob.evaluate(() => window.tessera.local.getTracks().map((t) => t.readyState));
  assert.ok(states.length >= 1);
  assert.deepEqual([...new Set(states)], ['ended'], 'hang up stops the camera and mic');
  await waitFor(() => alice.locator('#log').innerText().then((t) => t.includes('Bob left')), 'Alice to be told Bob left');

  const health = await (await fetch(`${server.base}/api/v1/rooms/${roomId}`)).json();
  assert.deepEqual(health.participants.map((p) => p.name), ['Alice']);
});

test('the creator is host: sees people, ends the call for everyone; a scheduled link says when it opens', async () => {
  const alice = await (await browser.newContext()).newPage();
  const bob = await (await browser.newContext()).newPage();
  for (const p of [alice, bob]) p.on('pageerror', (e) => console.error('page error:', e.message));

  const roomId = await createRoomAs(alice, 'Alice');
  await waitFor(() => alice.locator('#log').innerText().then((t) => t.includes('You are the host')), 'Alice to be host');
  assert.equal(await alice.locator('#end-all').isVisible(), true, 'the host sees "End for everyone"');

  await bob.goto(`${server.base}/?room=${roomId}`);
  await bob.fill('#name', 'Bob');
  await bob.click('#join-room');
  await waitFor(() => bob.locator('#log').innerText().then((t) => t.includes('You joined')), 'Bob to join');
  assert.equal(await bob.locator('#end-all').isVisible(), false, 'a participant has no host controls');
  await waitFor(() => alice.locator('#people li', { hasText: 'Bob' }).locator('button', { hasText: 'Remove' }).count().then((n) => n === 1),
    'Alice to see Bob with a Remove button');

  // The first press only asks again.
  await alice.click('#end-all');
  assert.equal(await alice.locator('#end-all').innerText(), 'Press again to end for everyone');
  assert.equal((await (await fetch(`${server.base}/api/v1/rooms/${roomId}`)).json()).state, 'open', 'one press ends nothing');
  await alice.click('#end-all');
  await waitFor(() => bob.locator('#log').innerText().then((t) => t.includes('The call ended')), 'Bob to be told the call ended');
  await waitFor(() => bob.evaluate(() => window.tessera.pc && window.tessera.pc.connectionState === 'closed'), "Bob's peer connection to close");
  const room = await (await fetch(`${server.base}/api/v1/rooms/${roomId}`)).json();
  assert.equal(room.state, 'ended');
  assert.equal(room.endReason, 'deleted');

  // Schedule a room for tomorrow; its link, opened early, says when the room opens, and Join
  // then waits for it to open (invite.test.mjs sees it join by itself).
  const carol = await (await browser.newContext()).newPage();
  await carol.goto(server.base);
  await carol.fill('#name', 'Carol');
  await carol.click('#schedule summary');
  const tomorrow = new Date(Date.now() + 86400000);
  const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  await carol.fill('#starts-at', local);
  await carol.click('#schedule-room');
  const link = await waitFor(() => carol.locator('#scheduled-link').inputValue(), 'the shareable link');
  assert.match(link, /\?room=[A-Za-z0-9]{22}$/);
  await carol.goto(link);
  await carol.fill('#name', 'Carol');
  await waitFor(() => carol.locator('#invite-countdown').innerText().then((t) => /opens in \d/.test(t)), 'Carol to be told when the room opens');
  assert.ok((await carol.locator('#invite-starts').innerText()).length > 0);
  await carol.click('#join-room');
  await waitFor(() => carol.locator('#home-status').innerText().then((t) => t.includes('you will join by yourself')), 'Carol to be told she will join when it opens');
  assert.equal(await carol.locator('#cancel-join').isVisible(), true, 'and she can cancel');
});
