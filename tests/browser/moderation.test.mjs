// The host's moderation in the client (headless Chromium): locking the call keeps newcomers out
// (told why, on the home screen) while someone already in comes back after a reload; unlocking
// lets them in; everyone sees the lock in the header.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from './server.mjs';
import { startServerAndChromium, stopServerAndChromium, newPage, createRoomAs, joinAs, logText, hostMenuClick } from './client-helpers.mjs';

let server;
let browser;
before(async () => ({ server, browser } = await startServerAndChromium()));
after(() => stopServerAndChromium(server, browser));

const waitFor = (fn, what, timeoutMs) => waitUntil(server, fn, what, timeoutMs);

test('the host locks the call: a newcomer is refused, a reload comes back in, unlocking lets people in', async () => {
  const alice = await newPage(browser, 'Alice');
  const roomId = await createRoomAs(server, alice);
  const bob = await newPage(browser, 'Bob');
  await joinAs(server, bob, roomId);
  assert.equal(await bob.page.locator('#lock-button').isVisible(), false, 'only the host can lock');
  assert.equal(await alice.page.locator('#lock-button').textContent(), 'Lock call');

  await hostMenuClick(alice.page, '#lock-button');
  await waitFor(() => alice.page.locator('#lock-button').textContent().then((s) => s === 'Unlock call'), 'the call to lock');
  assert.equal(await alice.page.locator('#lock-button').getAttribute('aria-pressed'), 'true');
  for (const r of [alice, bob]) {
    await waitFor(() => r.page.locator('#locked-indicator').isVisible(), `${r.name} to see the lock`);
  }
  await waitFor(() => logText(bob.page).then((t) => t.includes('The call is locked')), 'Bob to be told');

  // Carol, new, is refused and told why; no Rejoin to press.
  const carol = await newPage(browser, 'Carol');
  await joinAs(server, carol, roomId, { wait: false });
  await waitFor(() => carol.page.locator('#home-error').innerText().then((s) => s.includes('locked this call')), 'Carol to be refused');
  assert.equal(await carol.page.locator('#rejoin').isVisible(), false);

  // Bob reloads: he is back in by himself (this browser was in the call).
  await bob.page.reload();
  await waitFor(() => logText(bob.page).then((t) => t.includes('You joined')), 'Bob to come back in after a reload');
  assert.equal(await bob.page.locator('#locked-indicator').isVisible(), true, 'told on joining that the call is locked');

  // Unlocked: Carol joins.
  await hostMenuClick(alice.page, '#lock-button');
  await waitFor(() => alice.page.locator('#locked-indicator').isHidden(), 'the lock to go');
  await carol.page.click('#join-room');
  await waitFor(() => logText(carol.page).then((t) => t.includes('You joined')), 'Carol to join once unlocked');
  for (const r of [alice, bob, carol]) await r.context.close();
});

test('co-hosts: the host makes Bob a co-host and takes it back; the host link opens host powers on another device', async () => {
  const alice = await newPage(browser, 'Alice', { contextOptions: { permissions: ['clipboard-read', 'clipboard-write'] } });
  const roomId = await createRoomAs(server, alice);
  const bob = await newPage(browser, 'Bob');
  await joinAs(server, bob, roomId);
  assert.equal(await bob.page.locator('#end-all').isVisible(), false);
  const bobRow = alice.page.locator('#people li', { hasText: 'Bob' });
  await bobRow.locator('button', { hasText: 'Make co-host' }).click();
  await waitFor(() => bob.page.locator('#end-all').isVisible(), 'Bob to get the host controls');
  assert.match(await logText(bob.page), /made you a co-host/);
  await waitFor(() => alice.page.locator('#people li', { hasText: 'Bob' }).locator('.badge.host').isVisible(), 'Alice to see Bob as a host');
  // Bob's powers are real: he locks the call, everyone sees it.
  await hostMenuClick(bob.page, '#lock-button');
  await waitFor(() => alice.page.locator('#locked-indicator').isVisible(), 'the lock Bob set');
  await hostMenuClick(bob.page, '#lock-button');
  await waitFor(() => alice.page.locator('#locked-indicator').isHidden(), 'Bob to unlock');
  // Taken back.
  await alice.page.locator('#people li', { hasText: 'Bob' }).locator('button', { hasText: 'Remove host powers' }).click();
  await waitFor(() => bob.page.locator('#end-all').isHidden(), 'Bob to lose the host controls');
  assert.equal(await bob.page.locator('#lock-button').isVisible(), false);

  // Alice's host link, opened in another browser, joins as the host (this tab is replaced).
  await alice.page.click('#copy-host-link');
  const link = await alice.page.evaluate(() => navigator.clipboard.readText());
  assert.match(link, /\?room=.+&token=/);
  const other = await newPage(browser, 'Alice (phone)');
  await other.page.goto(link);
  await other.page.fill('#name', 'Alice');
  await other.page.click('#join-room');
  await waitFor(() => logText(other.page).then((t) => t.includes('You are the host')), 'the host link to give host powers');
  await waitFor(() => alice.page.locator('#home-error').innerText().then((s) => s.includes('another tab or device')), 'the first tab to be replaced');
  for (const r of [alice, bob, other]) await r.context.close();
});

test('Ask to join: newcomers wait on the home screen; the host admits one and denies another', async () => {
  const alice = await newPage(browser, 'Alice');
  const roomId = await createRoomAs(server, alice);
  await hostMenuClick(alice.page, '#lobby-button');
  await waitFor(() => alice.page.locator('#lobby-button').textContent().then((s) => s === 'Ask to join: on'), 'the lobby to turn on');
  assert.equal(await alice.page.locator('#lobby-indicator').isVisible(), true);

  const bob = await newPage(browser, 'Bob');
  await joinAs(server, bob, roomId, { wait: false });
  await waitFor(() => bob.page.locator('#home-status').innerText().then((s) => s.includes('Waiting for the host')), 'Bob to be told he waits');
  const request = alice.page.locator('#lobby-requests li', { hasText: 'Bob asks to join' });
  await waitFor(() => request.isVisible(), "Alice to see Bob's request");
  await request.locator('button', { hasText: 'Admit' }).click();
  await waitFor(() => logText(bob.page).then((t) => t.includes('You joined')), 'Bob to be let in');
  await waitFor(() => alice.page.locator('#lobby-requests').isHidden(), 'the request to go');

  const carol = await newPage(browser, 'Carol');
  await joinAs(server, carol, roomId, { wait: false });
  const carolAsks = alice.page.locator('#lobby-requests li', { hasText: 'Carol asks to join' });
  await waitFor(() => carolAsks.isVisible(), "Alice to see Carol's request");
  await carolAsks.locator('button', { hasText: 'Deny' }).click();
  await waitFor(() => carol.page.locator('#home-error').innerText().then((s) => s.includes('did not let you in')), 'Carol to be told');
  assert.equal(await carol.page.locator('#rejoin').isVisible(), false);
  for (const r of [alice, bob, carol]) await r.context.close();
});
