// The client in Firefox ESR (headless, WebDriver: see firefox.mjs) with a Chromium page, against
// the real server: a wrong room id keeps Firefox on the home screen with no camera started; Firefox
// knocks (the host's Ask to join), is let in late and sees the chat's history, chats both ways with Chromium (each on its data
// channel), and a file Firefox drops on its call page downloads byte-identical in Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, waitUntil } from './server.mjs';
import { launchChromiumAndFirefox } from './firefox.mjs';
import { newPage, createRoomAs, hostMenuClick } from './client-helpers.mjs';

let server;
let browser;
let ff;

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

// In the page (either browser): the chat as shown, [[name, text or file name]].
function chatShown() {
  return [...document.querySelectorAll('#chat-messages li')].map((li) => [
    li.querySelector('.chat-name')?.textContent,
    li.querySelector('.chat-text')?.textContent ?? li.querySelector('.chat-file a')?.textContent ?? null,
  ]);
}

// In Firefox, before the client starts: count getUserMedia calls.
function countGum() {
  window.__gum = 0;
  const md = navigator.mediaDevices;
  const original = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => { window.__gum++; return original(c); };
}

test('Firefox: a wrong room stays home; a late joiner sees the history, chats with Chromium, and shares a file', async (t) => {
  t.diagnostic(`Firefox ${ff.version}`);
  // A wrong room id: home screen, plain words, no camera. (The counter is installed after load:
  // the client only calls getUserMedia after `welcome`.)
  await ff.goto(`${server.base}/?room=NoSuchRoomAtAll0000000x`);
  await ff.watchConsole();
  await ff.evaluate(countGum);
  await ff.fill('#name', 'Fox');
  await ff.click('#join-room');
  const said = await waitFor(() => ff.text('#home-error').then((s) => s && s.trim()), 'Firefox to say why');
  assert.match(said, /no room with this ID/);
  assert.equal(await ff.evaluate(() => window.__gum), 0, 'Firefox started no camera');
  assert.equal(await ff.evaluate(() => document.getElementById('call').hidden), true);

  const alice = await newPage(browser, 'Alice');
  const roomId = await createRoomAs(server, alice);
  await waitFor(() => alice.page.evaluate(() => window.tessera.dc?.readyState === 'open'), "Alice's chat channel");
  await alice.page.fill('#chat-input', 'Before you came: <i>see</i> https://example.com/x');
  await alice.page.press('#chat-input', 'Enter');
  await waitFor(() => alice.page.evaluate(chatShown).then((m) => m.length === 1), "Alice's echo");

  // Alice asks newcomers to knock: Firefox waits on the invitation page until she admits it.
  await hostMenuClick(alice.page, '#lobby-button');
  await waitFor(() => alice.page.locator('#lobby-indicator').isVisible(), 'the lobby to be on');
  await ff.goto(`${server.base}/?room=${roomId}`);
  await ff.watchConsole();
  await waitFor(() => ff.text('#invite-note').then((s) => s && s.includes('lets people in')), "Firefox's invitation to say the host lets people in");
  await ff.fill('#name', 'Fox');
  await ff.click('#join-room');
  await waitFor(() => ff.text('#home-status').then((s) => s && s.includes('Waiting for the host')), 'Firefox to wait in the lobby');
  const knock = alice.page.locator('#lobby-requests li', { hasText: 'Fox asks to join' });
  await waitFor(() => knock.isVisible(), "Alice to see Firefox's request");
  await knock.locator('button', { hasText: 'Admit' }).click();
  await waitFor(() => ff.evaluate(chatShown).then((m) => m.length === 1), 'Firefox to see the history');
  assert.deepEqual(await ff.evaluate(chatShown), [['Alice', 'Before you came: <i>see</i> https://example.com/x']]);
  assert.deepEqual(await ff.evaluate(() => [...document.querySelectorAll('#chat-messages .chat-text a')].map((a) => [a.href, a.target, a.rel])),
    [['https://example.com/x', '_blank', 'noopener noreferrer']]);
  await waitFor(() => ff.evaluate(() => window.tessera.dc?.readyState === 'open'), "Firefox's chat channel to open");

  await ff.fill('#chat-input', 'Hello from Firefox');
  await ff.evaluate(() => document.getElementById('chat-form').requestSubmit());
  await waitFor(() => alice.page.evaluate(chatShown).then((m) => m.some(([n, x]) => n === 'Fox' && x === 'Hello from Firefox')), 'Chromium to read Firefox');
  await alice.page.fill('#chat-input', 'Hello Fox');
  await alice.page.press('#chat-input', 'Enter');
  await waitFor(() => ff.evaluate(chatShown).then((m) => m.some(([n, x]) => n === 'Alice' && x === 'Hello Fox')), 'Firefox to read Chromium');
  assert.equal(alice.sent.filter((m) => m.type === 'chat').length, 0, 'Chromium chatted on its data channel');

  // A file dropped on Firefox's call page.
  const bytes = [...crypto.randomBytes(50000)];
  await ff.evaluate((bytes) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], 'fox.bin', { type: 'application/octet-stream' }));
    document.getElementById('stage').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  const href = await waitFor(() => alice.page.evaluate(() => document.querySelector('#chat-messages .chat-file a')?.getAttribute('href')), 'Chromium to see the file');
  const hash = await alice.page.evaluate(async (href) => {
    const buf = await (await fetch(href)).arrayBuffer();
    return [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, href);
  assert.equal(hash, crypto.createHash('sha256').update(Buffer.from(bytes)).digest('hex'), 'byte-identical');

  await ff.click('#hang-up');
  await waitFor(() => alice.page.locator('#log').innerText().then((s) => s.includes('Fox left')), 'Chromium to be told Firefox left', 5000);
  const errors = await ff.consoleErrors();
  if (errors.length) t.diagnostic(`Firefox console: ${JSON.stringify(errors)}`);
  await alice.context.close();
});
