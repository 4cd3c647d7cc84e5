// A screenshot tour of the client (not a test: nothing is asserted beyond reaching each screen).
// Starts its own server, a host on a desktop (1366×768), a guest on a phone (390×844) and three
// synthetic participants (five people), and saves a PNG of every screen a person meets:
//
//   node tests/browser/tour.mjs [out-dir]        (default: target/tour)
//
// Run from the repository root after `cargo build` (it starts target/debug/tessera, or
// TESSERA_BIN). Look at the pictures; `make test` keeps the script working (tour.test.mjs).
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, waitUntil } from './server.mjs';
import { launchChromium, newPage, startLoadgen, logText, inboundVideo, hostMenuClick, openMore } from './client-helpers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

/// Runs the tour into `out`; returns the names of the screenshots taken, in order.
export async function tour(out) {
  await fs.mkdir(out, { recursive: true });
  const taken = [];
  const server = await startServer();
  const browser = await launchChromium();
  let load;
  const shot = async (rec, name) => {
    await rec.page.screenshot({ path: path.join(out, `${String(taken.length + 1).padStart(2, '0')}-${name}.png`) });
    taken.push(name);
  };
  const wait = (fn, what, ms = 30000) => waitUntil(server, fn, what, ms);
  // The composite has moved on by `n` frames on `rec`'s page (a picture that shows the latest).
  const frames = async (rec, n = 30) => {
    const start = (await inboundVideo(rec.page)).framesDecoded;
    await wait(async () => (await inboundVideo(rec.page)).framesDecoded >= start + n, `${rec.name}'s composite to move on`);
  };
  try {
    const host = await newPage(browser, 'Ada', { viewport: DESKTOP });
    const guest = await newPage(browser, 'Grace', { viewport: PHONE, contextOptions: { isMobile: true, hasTouch: true } });

    // Home, on both screens.
    await host.page.goto(server.base);
    await shot(host, 'home-desktop');
    await guest.page.goto(server.base);
    await shot(guest, 'home-phone');

    // The host starts a room.
    await host.page.fill('#name', 'Ada');
    await host.page.click('#new-room');
    await host.page.waitForURL(/\?room=/);
    await wait(() => logText(host.page).then((t) => t.includes('You joined')), 'the host to be in');
    const roomId = new URL(host.page.url()).searchParams.get('room');
    await shot(host, 'call-alone-desktop');

    // A scheduled room's invitation, on a phone: its name and countdown.
    const res = await fetch(`${server.base}/api/v1/rooms`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Design review', startsAt: new Date(Date.now() + 2 * 3600_000).toISOString() }),
    });
    const scheduled = (await res.json()).room.id;
    await guest.page.goto(`${server.base}/?room=${encodeURIComponent(scheduled)}`);
    await wait(() => guest.page.locator('#invite-countdown').innerText().then((t) => t.includes('opens in')), 'the countdown');
    await shot(guest, 'invitation-scheduled-phone');

    // The host turns Ask to join on; the invitation, opened on a phone, waits in the lobby.
    await hostMenuClick(host.page, '#lobby-button');
    await wait(() => host.page.locator('#lobby-indicator').isVisible(), 'the lobby to be on');
    await guest.page.goto(`${server.base}/?room=${encodeURIComponent(roomId)}`);
    await wait(() => guest.page.locator('#invite-note').innerText().then((t) => t.includes('lets people in')), 'the invitation');
    await shot(guest, 'invitation-phone');
    await guest.page.fill('#name', 'Grace');
    await guest.page.press('#name', 'Enter');
    await wait(() => guest.page.locator('#home-status').innerText().then((t) => t.includes('Waiting for the host')), 'the guest to wait');
    await shot(guest, 'lobby-waiting-phone');
    const asks = host.page.locator('#lobby-requests li', { hasText: 'Grace' });
    await wait(() => asks.isVisible(), 'the request');
    await shot(host, 'lobby-request-desktop');
    await asks.locator('button', { hasText: 'Admit' }).click();
    await wait(() => logText(guest.page).then((t) => t.includes('You joined')), 'the guest to join');
    await hostMenuClick(host.page, '#lobby-button');
    await wait(() => host.page.locator('#lobby-indicator').isHidden(), 'the lobby to be off');

    // Three more people (synthetic: the load generator's camera and tone).
    load = startLoadgen(server, { participants: 3, room: roomId });
    await wait(() => host.page.locator('#people li').count().then((n) => n >= 5), 'five people in the call', 60000);
    await wait(() => host.page.evaluate(() => document.getElementById('composite').videoWidth > 0), 'the host to see the call');
    await wait(() => guest.page.evaluate(() => document.getElementById('composite').videoWidth > 0), 'the guest to see the call');
    await frames(host);
    await frames(guest);
    await shot(host, 'call-five-desktop');
    await shot(guest, 'call-five-phone');

    // States: the guest mutes and raises a hand; the host sees both.
    await guest.page.click('#toggle-mic');
    await guest.page.click('#raise-hand');
    await wait(() => host.page.locator('#people').innerText().then((t) => /hand/i.test(t)), 'the hand to show');
    await frames(host);
    await shot(host, 'states-desktop');
    await shot(guest, 'states-phone');

    // Panels: settings, chat closed, the host's recordings after a short recording.
    await host.page.click('#devices-button');
    await shot(host, 'settings-desktop');
    await host.page.click('#devices-button');
    await host.page.click('#record-button');
    await wait(() => host.page.locator('#recording-indicator').isVisible(), 'the recording to start');
    await frames(host, 60);
    await host.page.click('#record-button');
    await wait(() => host.page.locator('#recording-indicator').isHidden(), 'the recording to stop');
    await hostMenuClick(host.page, '#recordings-button');
    await wait(() => host.page.locator('#recordings-list li[data-state="complete"]').count().then((n) => n > 0), 'the recording to be ready');
    await shot(host, 'recordings-desktop');
    await guest.page.click('#toggle-chat');
    await shot(guest, 'chat-phone');

    // The host makes the guest a co-host (her controls grow), takes it back, mutes her, then
    // removes her.
    const row = host.page.locator('#people li', { hasText: 'Grace' });
    await row.locator('button', { hasText: 'Make co-host' }).click();
    // (On the phone, End for everyone is under More.)
    const endAll = () => guest.page.evaluate(() => !document.getElementById('end-all').hidden);
    await wait(endAll, 'the guest to be a co-host');
    await shot(guest, 'co-host-phone');
    await openMore(guest.page, '#end-all');
    await shot(guest, 'co-host-more-phone');
    await guest.page.keyboard.press('Escape');
    await row.locator('button', { hasText: 'Remove host powers' }).click();
    await wait(async () => !(await endAll()), 'the guest to be a participant again');
    await row.locator('button', { hasText: /^Mute/ }).first().click();
    await wait(() => guest.page.locator('#toggle-mic').isDisabled(), 'the guest to be muted by the host');
    await shot(guest, 'muted-by-host-phone');
    await row.locator('button', { hasText: 'Remove' }).click();
    await wait(() => guest.page.locator('#home').isVisible(), 'the guest to be removed');
    await shot(guest, 'removed-phone');

    // The host ends the call for everyone.
    await host.page.click('#end-all');
    await host.page.click('#end-all');
    await wait(() => host.page.locator('#home').isVisible(), 'the call to end');
    await shot(host, 'ended-desktop');
    return taken;
  } finally {
    await load?.kill();
    await browser.close();
    await server.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = path.resolve(process.argv[2] || path.join(root, 'target/tour'));
  const taken = await tour(out);
  console.log(`${taken.length} screenshots in ${out}:\n${taken.join('\n')}`);
}
