// Chat and file sharing through the client UI (headless Chromium, the real server started with a
// 1 MiB file limit). Messages go on the `chat` data channel (or on the signaling socket for a page
// without one) and arrive on either; they are shown as text (HTML never interpreted), with safe
// links; a late joiner gets the history; the host turns chat off and on; limits are explained. A
// file sent by one page downloads byte-identical in another; an oversized one is refused before
// any byte goes out (and by the server); an upload can be cancelled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { waitUntil } from './server.mjs';
import { startServerAndChromium, stopServerAndChromium, newPage, createRoomAs, joinAs, participantToken } from './client-helpers.mjs';

const MAX_FILE = 1024 * 1024;
let server;
let browser;

before(async () => ({ server, browser } = await startServerAndChromium(['--max-file-bytes', String(MAX_FILE)])));

after(() => stopServerAndChromium(server, browser));

const waitFor = (fn, what, timeoutMs) => waitUntil(server, fn, what, timeoutMs);

// The chat as a page shows it: [{name, time, datetime, text, html, links: [{href, target, rel, text}], file}].
const chatOf = (page) => page.locator('#chat-messages li').evaluateAll((lis) => lis.map((li) => {
  const text = li.querySelector('.chat-text');
  const file = li.querySelector('.chat-file a');
  return {
    name: li.querySelector('.chat-name')?.textContent,
    time: li.querySelector('.chat-time')?.textContent,
    datetime: li.querySelector('.chat-time')?.getAttribute('datetime'),
    text: text?.textContent ?? null,
    elements: text ? [...text.querySelectorAll('*')].map((e) => e.tagName) : [],
    links: text ? [...text.querySelectorAll('a')].map((a) => ({ href: a.getAttribute('href'), target: a.target, rel: a.rel, text: a.textContent })) : [],
    file: file ? { name: file.textContent, href: file.getAttribute('href'), download: file.getAttribute('download'), size: li.querySelector('.chat-size')?.textContent.trim() } : null,
  };
}));

async function say(page, text, { button = false } = {}) {
  await page.fill('#chat-input', text);
  if (button) await page.click('#chat-send');
  else await page.press('#chat-input', 'Enter');
}

// Without a data channel (createDataChannel throws), the client chats over the signaling socket.
function noDataChannel() {
  RTCPeerConnection.prototype.createDataChannel = () => { throw new DOMException('disabled by the test', 'NotSupportedError'); };
}

async function startCall() {
  const alice = await newPage(browser, 'Alice');
  const roomId = await createRoomAs(server, alice);
  const bob = await newPage(browser, 'Bob');
  const bobToken = await participantToken(server, roomId, 'Bob');
  await joinAs(server, bob, roomId, { token: bobToken });
  for (const r of [alice, bob]) await waitFor(() => r.page.evaluate(() => window.tessera.dc?.readyState === 'open'), `${r.name}'s chat channel to open`);
  return { alice, bob, roomId, bobToken };
}

const HOSTILE = 'hi <b>x</b> <img src=x onerror="window.__pwned=1"> see https://example.com/a?b=1. or javascript:window.__pwned=2 (ok)';

test('chat between pages: escaped text, safe links, a late joiner sees the history, the socket path works too', async (t) => {
  const { alice, bob, roomId } = await startCall();
  assert.equal(await alice.page.locator('#chat-toggle').isVisible(), true, 'the host can turn chat off');
  assert.equal(await bob.page.locator('#chat-toggle').isVisible(), false, 'a participant cannot');

  await say(alice.page, HOSTILE);
  for (const r of [alice, bob]) await waitFor(() => chatOf(r.page).then((m) => m.length === 1), `${r.name} to show Alice's message`);
  const [shown] = await chatOf(bob.page);
  t.diagnostic(`Bob shows: ${JSON.stringify(shown)}`);
  assert.equal(shown.name, 'Alice');
  assert.equal(shown.text, HOSTILE, 'the text exactly as typed, <b> and <img> literally');
  assert.deepEqual(shown.elements, ['A'], 'the only element in it is the link');
  assert.deepEqual(shown.links, [{ href: 'https://example.com/a?b=1', target: '_blank', rel: 'noopener noreferrer', text: 'https://example.com/a?b=1' }]);
  assert.ok(shown.time && !Number.isNaN(Date.parse(shown.datetime)), `a time is shown: ${shown.time} ${shown.datetime}`);
  assert.equal(await bob.page.evaluate(() => window.__pwned ?? null), null, 'nothing ran');
  assert.equal((await chatOf(alice.page))[0].name, 'Alice (you)', 'the echo is Alice\'s confirmation');
  assert.equal(alice.sent.filter((m) => m.type === 'chat').length, 0, "Alice's message went on the data channel, not the socket");
  assert.equal(bob.received.filter((m) => m.type === 'chat').length, 0, 'and reached Bob on his data channel');

  await say(bob.page, 'Hello Alice', { button: true });
  await waitFor(() => chatOf(alice.page).then((m) => m.length === 2 && m[1].text === 'Hello Alice' && m[1].name === 'Bob'), 'Alice to get Bob\'s reply');
  assert.equal(await bob.page.locator('#chat-input').inputValue(), '', 'the box is emptied once sent');

  // Carol joins late, without a data channel: she gets the history in `welcome`, chats over the
  // socket, and everyone sees her message.
  const carol = await newPage(browser, 'Carol');
  await carol.page.addInitScript(noDataChannel);
  await joinAs(server, carol, roomId);
  await waitFor(() => chatOf(carol.page).then((m) => m.length === 2), 'Carol to see the history');
  const history = await chatOf(carol.page);
  assert.deepEqual(history.map((m) => [m.name, m.text]), [['Alice', HOSTILE], ['Bob', 'Hello Alice']], 'the history, oldest first');
  assert.deepEqual(history[0].links.map((l) => l.href), ['https://example.com/a?b=1']);
  await say(carol.page, 'Sorry I am late — https://example.org/x');
  for (const r of [alice, bob, carol]) {
    await waitFor(() => chatOf(r.page).then((m) => m.length === 3 && m[2].text.startsWith('Sorry I am late')), `${r.name} to see Carol's message`);
  }
  assert.equal(carol.sent.filter((m) => m.type === 'chat').length, 1, 'Carol chatted over the socket');
  assert.ok(carol.received.some((m) => m.type === 'chat' && m.message.participantId === carol.id), 'and got her echo there');
  for (const r of [alice, bob, carol]) await r.context.close();
});

test('limits and the host switch: too long, too fast, chat off and on', async (t) => {
  const { alice, bob, roomId } = await startCall();
  // Too long: refused by the client before sending; and by the server when sent anyway.
  await say(bob.page, '€'.repeat(1400));
  await waitFor(() => bob.page.locator('#chat-error').innerText().then((s) => /too long/.test(s)), 'Bob to be told it is too long');
  t.diagnostic(`client: ${await bob.page.locator('#chat-error').innerText()}`);
  await bob.page.evaluate(() => window.tessera.dc.send(JSON.stringify({ type: 'chat', text: 'x'.repeat(5000) })));
  await waitFor(() => bob.page.locator('#chat-error').innerText().then((s) => /at most 4096/.test(s)), "the server's chat_too_long to be shown");

  // Too fast: a burst of 10, then 2 a second.
  await bob.page.evaluate(() => {
    for (let i = 0; i < 16; i++) {
      document.getElementById('chat-input').value = `spam ${i}`;
      document.getElementById('chat-form').requestSubmit();
    }
  });
  const fast = await waitFor(() => bob.page.locator('#chat-error').innerText().then((s) => /too fast/.test(s) && s), 'Bob to be told he sends too fast');
  t.diagnostic(`rate limit: ${fast}`);

  // The host turns chat off: Bob's box and file button are disabled, the server refuses what he
  // sends anyway, and the room says so.
  await alice.page.click('#chat-toggle');
  await waitFor(() => bob.page.locator('#chat-off').isVisible(), "Bob to see that chat is off");
  assert.equal(await bob.page.locator('#chat-input').isDisabled(), true);
  assert.equal(await bob.page.locator('#file-button').isDisabled(), true);
  assert.equal(await alice.page.locator('#chat-toggle').innerText(), 'Turn chat on');
  assert.equal((await (await fetch(`${server.base}/api/v1/rooms/${roomId}`)).json()).chatEnabled, false);
  await bob.page.evaluate(() => window.tessera.ws.send(JSON.stringify({ type: 'chat', text: 'sneaky' })));
  await waitFor(() => bob.page.locator('#chat-error').innerText().then((s) => /turned chat off/.test(s)), 'chat_disabled to be shown');
  await alice.page.click('#chat-toggle');
  await waitFor(() => bob.page.locator('#chat-input').isEnabled(), 'chat to be on again for Bob');
  await new Promise((r) => setTimeout(r, 1000)); // the rate limit refills
  await say(bob.page, 'back on');
  await waitFor(() => chatOf(alice.page).then((m) => m.some((x) => x.text === 'back on')), 'Alice to get "back on"');
  assert.ok(!(await chatOf(alice.page)).some((x) => x.text === 'sneaky'), 'nothing sent while off went through');
  for (const r of [alice, bob]) await r.context.close();
});

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

test('a file sent by one page downloads byte-identical in another; an oversized one is refused; an upload can be cancelled', async (t) => {
  const { alice, bob, roomId, bobToken } = await startCall();
  const data = crypto.randomBytes(300 * 1024 + 17);
  const name = 'report <1> "é".bin';
  await alice.page.setInputFiles('#file-input', { name, mimeType: 'application/octet-stream', buffer: data });
  const msg = await waitFor(() => chatOf(bob.page).then((m) => m.find((x) => x.file)), 'Bob to see the file in the chat');
  t.diagnostic(`Bob shows: ${JSON.stringify(msg)}`);
  assert.equal(msg.name, 'Alice');
  assert.equal(msg.file.name, name);
  assert.equal(msg.file.download, name, 'the link downloads (download attribute)');
  assert.equal(msg.file.size, '300 KB');
  assert.match(msg.file.href, /^\/api\/v1\/rooms\/[^/]+\/files\/[^/?]+\?token=/);
  assert.ok(msg.file.href.endsWith(`?token=${encodeURIComponent(bobToken)}`), "the link carries Bob's own token");
  const got = await bob.page.evaluate(async (href) => {
    const res = await fetch(href);
    const buf = await res.arrayBuffer();
    const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((b) => b.toString(16).padStart(2, '0')).join('');
    return { status: res.status, size: buf.byteLength, hash, disposition: res.headers.get('content-disposition'), nosniff: res.headers.get('x-content-type-options') };
  }, msg.file.href);
  t.diagnostic(`download: ${JSON.stringify(got)}`);
  assert.equal(got.status, 200);
  assert.equal(got.size, data.length);
  assert.equal(got.hash, sha256(data), 'byte-identical (SHA-256 computed in the page)');
  assert.match(got.disposition, /^attachment/);
  assert.equal(got.nosniff, 'nosniff');
  assert.ok(await alice.page.locator('#log').innerText().then((s) => s.includes(`Sent “${name}”`)), 'Alice is told it went');

  // Dropped onto Bob's call page.
  await bob.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped text\n'], 'notes.txt', { type: 'text/plain' }));
    document.getElementById('stage').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  const dropped = await waitFor(() => chatOf(alice.page).then((m) => m.find((x) => x.file?.name === 'notes.txt')), 'Alice to see the dropped file');
  assert.equal(dropped.name, 'Bob');
  assert.equal(await alice.page.evaluate((href) => fetch(href).then((r) => r.text()), dropped.file.href), 'dropped text\n');

  // Oversized: refused in the page, nothing sent; the server refuses it too (413).
  const uploads = [];
  alice.page.on('request', (r) => { if (r.url().includes('/files')) uploads.push(r.url()); });
  await alice.page.setInputFiles('#file-input', { name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(MAX_FILE + 1) });
  const refused = await waitFor(() => alice.page.locator('#chat-error').innerText().then((s) => s.includes('big.bin') && s), 'Alice to be told the file is too large');
  t.diagnostic(`oversized: ${refused}`);
  assert.match(refused, /is 1,048,577 bytes; the largest file you can send here is 1,048,576 bytes/);
  assert.deepEqual(uploads, [], 'no upload was attempted');
  const aliceToken = await alice.page.evaluate(() => window.tessera.token);
  const res = await fetch(`${server.base}/api/v1/rooms/${roomId}/files?name=big.bin`, {
    method: 'POST', headers: { authorization: `Bearer ${aliceToken}` }, body: Buffer.alloc(MAX_FILE + 1),
  });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).code, 'file_too_large');

  // Cancelled: the upload is held back by the test, the Cancel button aborts it.
  await alice.page.route('**/files?**', async (route) => {
    await new Promise((r) => setTimeout(r, 4000));
    await route.continue().catch(() => {});
  });
  await alice.page.setInputFiles('#file-input', { name: 'slow.bin', mimeType: 'application/octet-stream', buffer: crypto.randomBytes(64 * 1024) });
  await waitFor(() => alice.page.locator('#upload').isVisible(), 'the progress bar');
  assert.equal(await alice.page.locator('#upload-progress').isVisible(), true);
  await alice.page.click('#upload-cancel');
  await waitFor(() => alice.page.locator('#log').innerText().then((s) => s.includes('Stopped sending “slow.bin”')), 'Alice to be told it stopped');
  assert.equal(await alice.page.locator('#upload').isVisible(), false);
  await new Promise((r) => setTimeout(r, 5000));
  assert.ok(!(await chatOf(bob.page)).some((m) => m.file?.name === 'slow.bin'), 'a cancelled file never arrives');
  for (const r of [alice, bob]) await r.context.close();
});
