// Visible states (issue 24 §5), two headless Chromium pages in one call: what one does with its
// buttons and Meet's shortcuts, the other sees in its people list and on the composite (a red
// "muted" mark on the tile, found by its pixels; a yellow "hand" mark), and its log tells a
// raised hand. The buttons say what they will do and carry aria-pressed and aria-keyshortcuts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from './server.mjs';
import { startServerAndChromium, stopServerAndChromium, newPage, createRoomAs, joinAs, waitForPicture, logText } from './client-helpers.mjs';

let server;
let browser;

before(async () => ({ server, browser } = await startServerAndChromium()));

after(() => stopServerAndChromium(server, browser));

const waitFor = (fn, what, timeoutMs = 15000) => waitUntil(server, fn, what, timeoutMs);

// The people list's line for `name` on `page`: its name text and its visible badges.
const personText = (page, name) => page.evaluate((n) => {
  for (const li of document.querySelectorAll('#people li')) {
    const text = li.querySelector('.name')?.textContent || '';
    if (!text.startsWith(n)) continue;
    const badges = [...li.querySelectorAll('.badge')].filter((b) => !b.hidden).map((b) => b.textContent);
    return [text, ...badges].join(' | ');
  }
  return '';
}, name);

// How many pixels of the composite (sampled at 640x360) are near `rgb`.
function countColour(page, rgb) {
  return page.evaluate((want) => {
    const v = document.getElementById('composite');
    if (!v.videoWidth) return 0;
    const c = document.createElement('canvas');
    c.width = 640;
    c.height = 360;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const dist = Math.hypot(d[i] - want[0], d[i + 1] - want[1], d[i + 2] - want[2]);
      if (dist < 60) n++;
    }
    return n;
  }, rgb);
}

// The marks' colours (src/media/tile.rs): "muted" white on red, the hand black on yellow.
const MUTED_RGB = [0xc5, 0x22, 0x1f];

test("mute, camera off and a raised hand show in the others' list and on the composite", async () => {
  const ada = await newPage(browser, 'Ada');
  const bo = await newPage(browser, 'Bo');
  const room = await createRoomAs(server, ada);
  await joinAs(server, bo, room);
  await waitForPicture(server, ada);
  // Bo's camera reached the server (it is told its tile's size then): its tile is its picture.
  await waitFor(() => bo.received.some((m) => m.type === 'cameraConstraint'), "Bo's camera to reach the server");
  for (const [id, keys, text] of [['toggle-mic', 'Control+D', 'Mute mic'], ['toggle-cam', 'Control+E', 'Stop camera'], ['raise-hand', 'Control+Alt+H', 'Raise hand']]) {
    const b = bo.page.locator(`#${id}`);
    assert.equal(await b.getAttribute('aria-keyshortcuts'), keys, id);
    assert.equal(await b.innerText(), text, id);
  }
  const redBefore = await countColour(ada.page, MUTED_RGB);

  // Bo mutes with the button: Ada's list says so, and Bo's tile on the composite gets its mark.
  await bo.page.click('#toggle-mic');
  assert.equal(await bo.page.locator('#toggle-mic').innerText(), 'Unmute mic');
  await waitFor(async () => /^Bo — muted$/.test(await personText(ada.page, 'Bo')), "Ada's list to say Bo is muted");
  await waitFor(async () => (await countColour(ada.page, MUTED_RGB)) > redBefore + 30, "the muted mark on Bo's tile").catch(async (e) => {
    if (process.env.STATES_SHOT) await ada.page.locator('#composite').screenshot({ path: process.env.STATES_SHOT });
    throw new Error(`${e.message}: ${await countColour(ada.page, MUTED_RGB)} red pixels, ${redBefore} before`);
  });

  // Bo raises a hand with Meet's shortcut: Ada's list shows it and her log tells her.
  await bo.page.keyboard.press('Control+Alt+KeyH');
  assert.equal(await bo.page.locator('#raise-hand').getAttribute('aria-pressed'), 'true');
  assert.equal(await bo.page.locator('#raise-hand').innerText(), 'Lower hand');
  await waitFor(async () => (await personText(ada.page, 'Bo')).includes('hand raised'), "Ada's list to show Bo's hand");
  assert.match(await logText(ada.page), /Bo raised their hand\./);

  // Camera off by the shortcut: "camera off" in the list.
  await bo.page.keyboard.press('Control+KeyE');
  assert.equal(await bo.page.locator('#toggle-cam').innerText(), 'Start camera');
  await waitFor(async () => /^Bo — muted, camera off \| hand raised$/.test(await personText(ada.page, 'Bo')), "Ada's list to say Bo's camera is off");

  // All back: nothing shown any more, and the mark leaves the composite.
  await bo.page.keyboard.press('Control+KeyD');
  await bo.page.keyboard.press('Control+KeyE');
  await bo.page.click('#raise-hand');
  await waitFor(async () => (await personText(ada.page, 'Bo')) === 'Bo', "Ada's list to show Bo plainly", 15000);
  await waitFor(async () => (await countColour(ada.page, MUTED_RGB)) <= redBefore + 5, 'the muted mark to leave the composite');
  const server_view = await (await fetch(`${server.base}/api/v1/rooms/${room}/participants`)).json();
  const b = server_view.participants.find((p) => p.name === 'Bo');
  assert.deepEqual([b.micOff, b.cameraOff, b.handRaised], [false, false, false], JSON.stringify(b));
  await ada.context.close();
  await bo.context.close();
});

test("Enter in the name field joins, the page is titled and labelled, and a host's mute shows on the muted person's button", async () => {
  const ada = await newPage(browser, 'Ada');
  const cy = await newPage(browser, 'Cy');
  const room = await createRoomAs(server, ada);
  assert.equal(await ada.page.title(), `Room ${room} — Tessera`);
  assert.equal(await ada.page.locator('#composite').getAttribute('aria-label'), "The call: everyone's video");
  // The invitation link, a name and Enter: in the call.
  await cy.page.goto(`${server.base}/?room=${encodeURIComponent(room)}`);
  await cy.page.fill('#name', 'Cy');
  await cy.page.press('#name', 'Enter');
  await waitFor(async () => (await logText(cy.page)).includes('You joined'), 'Cy to join by pressing Enter');
  const cyId = await cy.page.evaluate(() => window.tessera.selfId);
  // The host mutes Cy: Cy's button says so and cannot undo it; the host's unmute gives it back.
  const mute = (audio) => fetch(`${server.base}/api/v1/rooms/${room}/participants/${cyId}/mute`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ audio }),
  });
  assert.equal((await mute(true)).status, 200);
  await waitFor(async () => (await cy.page.locator('#toggle-mic').innerText()) === 'Muted by the host', "Cy's button to say the host muted her");
  assert.equal(await cy.page.locator('#toggle-mic').isDisabled(), true);
  assert.match(await logText(cy.page), /nobody hears you until the host unmutes you/);
  assert.equal((await mute(false)).status, 200);
  await waitFor(async () => (await cy.page.locator('#toggle-mic').innerText()) === 'Mute mic', "Cy's button back");
  assert.equal(await cy.page.locator('#toggle-mic').isDisabled(), false);
  await ada.context.close();
  await cy.context.close();
});
