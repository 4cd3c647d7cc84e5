// The invitation page and coming back (headless Chromium): a link to a scheduled room shows
// its name and a countdown, Join pressed early (Enter in the name field) waits and joins by
// itself when the room opens, without starting the camera before; a reload in the call returns
// into it, a reload after hanging up does not; an ended room's invitation says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from './server.mjs';
import { startServerAndChromium, stopServerAndChromium, newPage, logText } from './client-helpers.mjs';

let server;
let browser;
before(async () => ({ server, browser } = await startServerAndChromium()));
after(() => stopServerAndChromium(server, browser));

const waitFor = (fn, what, timeoutMs) => waitUntil(server, fn, what, timeoutMs);

// Every visible button with a background of its own has text at 4.5:1 or more against it
// (WCAG AA for normal text).
async function buttonsReadable(page, where) {
  const low = await page.evaluate(() => {
    const lum = (css) => {
      const [r, g, b] = css.match(/[\d.]+/g).slice(0, 3).map((v) => Number(v) / 255)
        .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    return [...document.querySelectorAll('button')].filter((b) => b.offsetParent !== null).flatMap((b) => {
      const s = getComputedStyle(b);
      const alpha = (s.backgroundColor.match(/[\d.]+/g) || [])[3];
      if (s.backgroundColor === 'transparent' || alpha === '0') return [];
      const [hi, lo] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
      const ratio = (hi + 0.05) / (lo + 0.05);
      return ratio < 4.5 ? [`${b.id || b.textContent}: ${ratio.toFixed(2)}`] : [];
    });
  });
  assert.deepEqual(low, [], `${where}: buttons under 4.5:1`);
}

async function createRoom(body) {
  const res = await fetch(`${server.base}/api/v1/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 201);
  return res.json();
}

test('a scheduled room: the invitation counts down, Join waits and joins by itself; a reload returns into the call', async () => {
  // It lets people in 10 minutes early (the server's default): so in about 6 s.
  const opens = Date.now() + 6000;
  const { room } = await createRoom({ name: 'Standup', startsAt: new Date(opens + 600_000).toISOString() });
  const ada = await newPage(browser, 'Ada');
  await ada.page.goto(`${server.base}/?room=${room.id}`);
  await waitFor(() => ada.page.locator('#invite-name').innerText().then((s) => s === 'Standup'), 'the room name');
  assert.match(await ada.page.locator('#invite-countdown').innerText(), /opens in 0:0\d/);
  assert.equal(await ada.page.title(), 'Standup — Tessera');
  assert.equal(await ada.page.locator('#join-room').innerText(), 'Join');
  for (const id of ['#new-room', '#room-id', '#schedule']) assert.equal(await ada.page.locator(id).isVisible(), false, `${id} is not on an invitation`);
  assert.equal(await ada.page.locator('#device-test').isVisible(), true, 'the camera and microphone check is at hand');
  await buttonsReadable(ada.page, 'the invitation');

  await ada.page.fill('#name', 'Ada');
  await ada.page.press('#name', 'Enter');
  await waitFor(() => ada.page.locator('#home-status').innerText().then((s) => s.includes('join by yourself')), 'Ada to be told she will join when it opens');
  assert.equal(await ada.page.evaluate(() => window.__gum), 0, 'no camera before the room lets her in');
  await waitFor(() => logText(ada.page).then((t) => t.includes('You joined')), 'Ada to join by herself when the room opens', 20000);
  assert.ok(Date.now() >= opens - 1500, 'not before it opened');

  // A reload returns into the call, without pressing anything.
  await ada.page.reload();
  await waitFor(() => logText(ada.page).then((t) => t.includes('You joined')), 'the reload to return into the call');
  assert.equal(await ada.page.locator('#call').isVisible(), true);
  await buttonsReadable(ada.page, 'the call');
  // After hanging up, a reload stays on the invitation.
  await ada.page.click('#hang-up');
  await waitFor(() => ada.page.locator('#home').isVisible(), 'Ada to be home');
  await ada.page.reload();
  await waitFor(() => ada.page.locator('#invite-name').innerText().then((s) => s === 'Standup'), 'the invitation again');
  assert.equal(await ada.page.evaluate(() => window.tessera.phase), 'idle', 'not joined by itself');
  await ada.context.close();
});

test("an ended room's invitation says so and offers no Join", async () => {
  const created = await createRoom({ name: 'Retro' });
  const res = await fetch(`${server.base}/api/v1/rooms/${created.room.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${created.hostToken}` } });
  assert.equal(res.status, 200);
  const bo = await newPage(browser, 'Bo');
  await bo.page.goto(`${server.base}/?room=${created.room.id}`);
  await waitFor(() => bo.page.locator('#invite-note').innerText().then((s) => s.includes('This call has ended')), 'the note');
  assert.equal(await bo.page.locator('#join-room').isDisabled(), true);
  // "Start a new room instead" leads to the home page.
  await bo.page.click('#new-room-instead');
  assert.equal(await bo.page.locator('#new-room').isVisible(), true);
  await buttonsReadable(bo.page, 'the home page');
  await bo.context.close();
});
