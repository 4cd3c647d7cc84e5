// Reconnection in Firefox ESR (headless, WebDriver: see firefox.mjs), the Firefox variant of
// reconnect.test.mjs's first test. Alice (headless Chromium) creates the room; Bob (Firefox)
// joins it through a TCP proxy to the server, the same mechanism as the Chromium test (nothing
// Chromium-only in it): cutting the proxy breaks Bob's signaling socket without a close frame, as
// a network drop does, and refuses new connections until it is restored. Bob's media goes over
// UDP straight to the server: an nftables table drops UDP to and from his selected candidate
// pair's local port for the same 10 s (only as root in a loopback-only namespace, as
// rejoin.test.mjs; elsewhere only the socket is cut, said in a diagnostic). After 10 s the
// network returns: Bob is back in the same session (same participant id, `resumed`) within 6 s,
// Alice was told only "reconnecting" and back (no participantLeft or participantJoined), Bob's
// picture stalled during the drop and decodes again within 3 s of the network returning, his
// client restarts ICE; then a network change (`online`) restarts ICE on the same socket.
//
// WebDriver has no WebSocket events or init scripts: Bob's page gets a recording WebSocket
// (every JSON frame in and out, timestamped) after loading and before Join opens the socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitUntil } from './server.mjs';
import { launchChromiumAndFirefox } from './firefox.mjs';
import {
  newPage, createRoomAs, tcpProxy, iceUfrag as ufrag, cannotUseNft, udpPortCut, selectedLocalCandidate,
} from './client-helpers.mjs';

let server;
let browser;
let ff;
let proxy;
const mediaCut = udpPortCut('ffreconnect');
const noMediaCut = cannotUseNft();

before(async () => {
  server = await startServer();
  proxy = await tcpProxy(server.base);
  ({ browser, ff } = await launchChromiumAndFirefox());
});

after(async () => {
  if (!noMediaCut) mediaCut.allow();
  await ff?.quit();
  await browser?.close();
  await proxy?.close();
  await server?.stop();
});

const waitFor = (fn, what, timeoutMs) => waitUntil(server, fn, what, timeoutMs);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// In the page, before the client opens its socket: every JSON frame received (`dir: 'in'`) or
// sent (`out`) on any WebSocket is kept in `window.__frames` with `at` (Date.now()).
function recordSocket() {
  if (window.__frames) return;
  const frames = (window.__frames = []);
  window.__sockets = { n: 0, log: [] }; // when each socket was made, opened, closed
  const keep = (dir, data) => {
    try { frames.push({ dir, at: Date.now(), ...JSON.parse(data) }); } catch { /* not JSON */ }
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      const n = ++window.__sockets.n;
      window.__sockets.log.push(`${Date.now()} s${n} new`);
      this.addEventListener('open', () => window.__sockets.log.push(`${Date.now()} s${n} open`));
      this.addEventListener('close', (ev) => window.__sockets.log.push(`${Date.now()} s${n} close ${ev.code}`));
      this.addEventListener('message', (ev) => keep('in', ev.data));
    }

    send(data) {
      keep('out', data);
      return super.send(data);
    }
  };
}

// Bob's frames of `type` in direction `dir` since `since` (ms), oldest first.
const bobFrames = (dir, type, since = 0) => ff.evaluate(({ dir, type, since }) =>
  window.__frames.filter((m) => m.dir === dir && m.type === type && m.at >= since), { dir, type, since });

async function ffInbound() {
  return ff.evaluate(async () => {
    const pc = window.tessera.pc;
    if (!pc) return { framesDecoded: 0 };
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video') return { framesDecoded: s.framesDecoded || 0, connection: pc.connectionState };
    }
    return { framesDecoded: 0, connection: pc.connectionState };
  });
}

async function participants(roomId) {
  const res = await fetch(`${server.base}/api/v1/rooms/${roomId}/participants`);
  assert.equal(res.status, 200, 'the participant list');
  return (await res.json()).participants;
}

// What Alice was told about Bob after `since`.
const aboutBob = (alice, bobId, since) => alice.received.filter((m) => m.at >= since && (
  (m.type === 'participantLeft' && m.participantId === bobId)
  || ((m.type === 'participantJoined' || m.type === 'participantUpdated') && m.participant?.name === 'Bob')));

const bobMarkedReconnecting = (alice, bobId) => alice.page.locator(`#people li[data-participant-id="${bobId}"]`)
  .evaluate((li) => li.classList.contains('reconnecting'));

test('Firefox: a 10 s network drop (signaling and media): same session, nobody saw Bob leave, ICE restarted, decoding again within 3 s', { timeout: 120000 }, async (t) => {
  t.diagnostic(`Firefox ${ff.version}`);
  const alice = await newPage(browser, 'Alice');
  try {
    const roomId = await createRoomAs(server, alice);
    await ff.goto(`${proxy.base}/?room=${roomId}`);
    await ff.watchConsole();
    await ff.evaluate(recordSocket);
    await ff.fill('#name', 'Bob');
    await ff.click('#join-room');
    await waitFor(() => ff.text('#log').then((s) => s?.includes('You joined')), 'Bob (Firefox) to join');
    const bobId = await ff.evaluate(() => window.tessera.selfId);
    assert.ok(bobId, "Bob's participant id");
    await waitFor(() => ff.evaluate(() => window.tessera.pc?.connectionState === 'connected'), 'Bob (Firefox) to connect');
    await waitFor(() => alice.page.evaluate(() => window.tessera.pc?.connectionState === 'connected'), 'Alice to connect');
    await waitFor(async () => (await ffInbound()).framesDecoded > 10, 'Bob (Firefox) to decode');
    const offersBefore = await bobFrames('out', 'offer');
    assert.ok(offersBefore.length >= 1, 'the recording WebSocket saw Bob\'s offer');

    // Bob's media is cut too: UDP to and from his selected candidate pair's local port (Alice's
    // media keeps flowing).
    const local = await ff.evaluate(selectedLocalCandidate);
    assert.ok(local?.port, `Bob's selected local candidate (${JSON.stringify(local)})`);
    if (noMediaCut) t.diagnostic(`media NOT cut, only the signaling socket: ${noMediaCut}`);
    const since = Date.now();
    const framesAtCut = (await ffInbound()).framesDecoded;
    if (!noMediaCut) mediaCut.drop(local.port);
    proxy.cut();
    if (!noMediaCut) t.diagnostic(`cut: the signaling socket and UDP port ${local.port} (${local.address}, ${local.type})`);
    await waitFor(() => ff.evaluate(() => !document.getElementById('reconnecting').hidden), 'Bob to show "Reconnecting…"', 5000);
    assert.match(await ff.text('#reconnecting-text'), /Reconnecting…/);
    await waitFor(() => bobMarkedReconnecting(alice, bobId), "Alice's people list to mark Bob reconnecting", 20000);
    t.diagnostic(`Alice saw Bob reconnecting after ${Date.now() - since} ms`);
    const during = await participants(roomId);
    assert.deepEqual(during.map((p) => [p.id, p.connection]).sort(), [[alice.id, 'connected'], [bobId, 'reconnecting']].sort(),
      'the server keeps Bob\'s session, reconnecting');
    // The outage lasts 10 s (the test's subject, not a wait for something); 3 s in, what was in
    // flight has been decoded.
    await sleep(Math.max(0, since + 3000 - Date.now()));
    const framesSettled = (await ffInbound()).framesDecoded;
    await sleep(Math.max(0, since + 10000 - Date.now()));
    const framesAtRestore = (await ffInbound()).framesDecoded;
    t.diagnostic(`Bob decoded ${framesSettled - framesAtCut} frames in the first 3 s of the outage, ${framesAtRestore - framesSettled} in the last 7 s`);
    if (!noMediaCut) assert.ok(framesAtRestore - framesSettled <= 3, `Bob's picture stalled during the outage (${framesAtRestore - framesSettled} frames decoded in its last 7 s)`);
    const back = Date.now();
    mediaCut.allow();
    proxy.restore();
    // Decoding again (as soon as the network returns or after the ICE restart), within 3 s.
    const decodingAgain = waitFor(async () => (await ffInbound()).framesDecoded > framesAtRestore + 10, 'Bob (Firefox) to decode again within 3 s of the network returning', 3000)
      .then(() => Date.now() - back, (e) => e);

    const [welcome] = await waitFor(() => bobFrames('in', 'welcome', back).then((w) => w.length && w), 'Bob to be welcomed back', 15000);
    t.diagnostic(`welcomed back ${welcome.at - back} ms after the network returned`);
    const sockets = await ff.evaluate(() => window.__sockets.log);
    t.diagnostic(`Bob's sockets (ms from the cut): ${sockets.map((l) => l.replace(/^\d+/, (at) => at - since)).join('; ')}`);
    // Firefox delays a WebSocket to a host:port whose last ones failed (RFC 6455 7.2.3; its pref
    // network.websocket.delay-failed-reconnects), longer after each failure: when the client
    // opened a socket at each back-off step of the drop, Bob came back 0.5 to 3.7 s after the
    // network returned. The client now probes `/healthz` first and opens a socket only once the
    // server answers, so no socket fails while the network is away.
    const openedWhileAway = sockets.filter((l) => / new$/.test(l) && Number(l.split(' ')[0]) < back);
    assert.equal(openedWhileAway.length, 1, `no socket opened while the network was away, only the first (${openedWhileAway})`);
    // About 1.9 s (the back-off is capped at 2 s ± 20 %): 6 s leaves room for a busy machine.
    assert.ok(welcome.at - back <= 6000, `back within 6 s of the network returning (${welcome.at - back} ms)`);
    assert.equal(welcome.resumed, true, 'the session was resumed');
    assert.equal(welcome.participantId, bobId, 'the same participant id');
    const decoding = await decodingAgain;
    if (decoding instanceof Error) throw decoding;
    t.diagnostic(`decoding again ${decoding} ms after the network returned`);
    await waitFor(() => ff.evaluate(() => document.getElementById('reconnecting').hidden), 'the banner to go away');
    const [restart] = await waitFor(() => bobFrames('out', 'offer', back).then((o) => o.length && o), "Bob's ICE restart offer");
    assert.notEqual(ufrag(restart.sdp), ufrag(offersBefore.at(-1).sdp), 'the offer restarts ICE (new ufrag)');
    await waitFor(() => bobFrames('in', 'answer', back).then((a) => a.length), 'its answer');
    const frames = (await ffInbound()).framesDecoded;
    await waitFor(async () => (await ffInbound()).framesDecoded > frames + 10, 'Bob (Firefox) to keep decoding after the ICE restart', 3000);
    t.diagnostic(`ICE restarted and decoding ${Date.now() - back} ms after the network returned`);
    await waitFor(async () => !(await bobMarkedReconnecting(alice, bobId)), "Alice's people list to show Bob back");
    const told = aboutBob(alice, bobId, since);
    t.diagnostic(`Alice was told: ${JSON.stringify(told.map((m) => `${m.type}${m.participant ? `:${m.participant.connection}` : ''}`))}`);
    assert.deepEqual(told.filter((m) => m.type !== 'participantUpdated'), [], 'no participantLeft or participantJoined for Bob');
    assert.ok(told.some((m) => m.participant?.connection === 'reconnecting'), 'Alice was told Bob was reconnecting');
    assert.equal(await ff.evaluate(() => window.tessera.selfId), bobId);
    await waitFor(async () => {
      const list = await participants(roomId);
      return list.length === 2 && list.find((p) => p.id === bobId)?.connection === 'connected';
    }, 'the server to list Bob, same id, connected');

    // Chat still works on the same session.
    await ff.fill('#chat-input', 'I am back');
    await ff.evaluate(() => document.getElementById('chat-form').requestSubmit());
    await waitFor(() => alice.page.locator('#chat-messages').innerText().then((s) => s.includes('I am back')), 'Alice to read Bob after his return');

    // A network change (Wi-Fi to mobile): ICE restarts on the same socket.
    const before = Date.now();
    await ff.evaluate(() => { window.__ws = window.tessera.ws; window.dispatchEvent(new Event('online')); });
    const [offer] = await waitFor(() => bobFrames('out', 'offer', before).then((o) => o.length && o), 'an ICE restart offer after `online`');
    assert.notEqual(ufrag(offer.sdp), ufrag(restart.sdp), 'new ICE credentials');
    await waitFor(() => bobFrames('in', 'answer', before).then((a) => a.length), 'its answer');
    assert.equal(await ff.evaluate(() => window.__ws === window.tessera.ws), true, 'on the same socket');
    const f2 = (await ffInbound()).framesDecoded;
    await waitFor(async () => (await ffInbound()).framesDecoded > f2 + 10, 'Bob (Firefox) to keep decoding');
    assert.deepEqual(aboutBob(alice, bobId, before), [], 'Alice was told nothing');
    const errors = await ff.consoleErrors();
    if (errors.length) t.diagnostic(`Firefox console: ${JSON.stringify(errors)}`);
  } catch (e) {
    console.error(`Firefox console: ${JSON.stringify(await ff.consoleErrors())}`);
    console.error(`Firefox's call log: ${JSON.stringify(await ff.text('#log').catch(() => null))}`);
    throw e;
  } finally {
    mediaCut.allow();
    await ff.click('#hang-up').catch(() => {});
    await alice.context.close();
  }
});
