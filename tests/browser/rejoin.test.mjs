// The client joins again by itself after `connection_failed` (headless Chromium, the real server).
// While an nftables rule drops every UDP packet (loopback included), the page joins: its
// signaling socket (TCP) works, its media (UDP) cannot get through, so the server gives the peer
// connection up (after `connect_timeout_seconds`, 5 s here, the least it accepts; or sooner if
// its ICE agent fails first) and sends `connection_failed`. The test then deletes the rule; the client's own retry (a new session, a
// new peer connection) must end in a working call: the composite decodes and shows a picture, the
// room holds one participant (the failed session was let go) and it is the new session, and the
// page says it tried again ("trying again (1 of 2)", in the call's banner and log).
//
// The rule acts on a whole network namespace, so the test runs only as root in a loopback-only
// namespace of its own (scripts/test.sh runs the browser tests in one: `unshare -n`); elsewhere it
// is skipped rather than cut the machine's UDP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitUntil } from './server.mjs';
import { launchChromium, newPage, joinAs, inboundVideo, waitForPicture, logText, iceUfrag as ufrag, cannotUseNft, nft } from './client-helpers.mjs';

const CONNECT_TIMEOUT_S = 5; // the server's minimum
const TABLE = `tessera_rejoin_${process.pid}`;

let server;
let browser;
let configDir;

// Every UDP packet is dropped as it is sent (on loopback each packet passes `output` once).
const dropUdp = () => nft(['-f', '-'], `add table inet ${TABLE}
add chain inet ${TABLE} out { type filter hook output priority 0; }
add rule inet ${TABLE} out meta l4proto udp drop
`);
const tableExists = () => spawnSync('nft', ['list', 'table', 'inet', TABLE], { encoding: 'utf8' }).status === 0;
const allowUdp = () => { if (tableExists()) nft(['delete', 'table', 'inet', TABLE]); };

const skip = cannotUseNft();

before(async () => {
  if (skip) return;
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-rejoin-'));
  const config = path.join(configDir, 'tessera.toml');
  fs.writeFileSync(config, `connect_timeout_seconds = ${CONNECT_TIMEOUT_S}\n`);
  server = await startServer(['--config', config]);
  browser = await launchChromium();
});

after(async () => {
  if (!skip) allowUdp();
  await browser?.close();
  await server?.stop();
  if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
});

const waitFor = (fn, what, timeoutMs) => waitUntil(server, fn, what, timeoutMs);

async function participants(roomId) {
  const res = await fetch(`${server.base}/api/v1/rooms/${roomId}/participants`);
  assert.equal(res.status, 200, 'the participant list');
  return (await res.json()).participants;
}

test('a first handshake that cannot get through: connection_failed, the client joins again by itself, and the call works', async (t) => {
  if (skip) { t.skip(skip); return; }
  const res = await fetch(`${server.base}/api/v1/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 201, 'a room');
  const roomId = (await res.json()).room.id;
  const bob = await newPage(browser, 'Bob');
  try {
    dropUdp();
    assert.ok(tableExists(), 'the drop rule is in place');
    const since = Date.now();
    await joinAs(server, bob, roomId); // the signaling socket is TCP: the welcome comes
    const firstId = bob.id;
    assert.ok(firstId, 'a first participant id');
    const firstAnswer = await waitFor(() => bob.received.find((m) => m.type === 'answer'), 'the first answer', 10000);
    const failed = await waitFor(() => bob.received.find((m) => m.type === 'error' && m.code === 'connection_failed'),
      'the server to give the first attempt up (connection_failed)', (CONNECT_TIMEOUT_S + 10) * 1000);
    t.diagnostic(`connection_failed ${failed.at - firstAnswer.at} ms after the first answer (${failed.at - since} ms after joining): “${failed.message}”`);
    assert.equal(await bob.page.evaluate(() => window.tessera.mediaEverConnected), false, 'the first peer connection never connected');
    allowUdp();
    assert.ok(!tableExists(), 'the drop rule is gone');
    const back = Date.now();
    t.diagnostic(`UDP allowed again ${back - failed.at} ms after connection_failed`);

    // The client's own retry: a new session (a new welcome, a new id) and a new peer connection.
    const welcome = await waitFor(() => bob.received.find((m) => m.type === 'welcome' && m.at >= failed.at), 'the client to join again by itself', 10000);
    assert.notEqual(welcome.participantId, firstId, 'a fresh join (a new participant id)');
    assert.equal(welcome.resumed, false, 'not a resume');
    await waitFor(() => bob.page.evaluate(() => window.tessera.phase === 'call' && window.tessera.pc?.connectionState === 'connected'),
      'the new peer connection to connect', (CONNECT_TIMEOUT_S + 5) * 1000);
    t.diagnostic(`connected ${Date.now() - back} ms after UDP came back`);
    // The user is told, and it survives the rejoin: the call's banner, and its (new) log.
    const notice = await waitFor(async () => (await bob.page.locator('#call-notice').isVisible()) && bob.page.locator('#call-notice-text').innerText(),
      'the call to show the retry notice', 5000);
    t.diagnostic(`notice: “${notice}”`);
    assert.match(notice, /could not be set up; trying again \(1 of 2\)/, 'the banner says the client tried again');
    assert.match(await logText(bob.page), /trying again \(1 of 2\)/, 'so does the call log');
    await bob.page.click('#call-notice-close');
    assert.equal(await bob.page.locator('#call-notice').isHidden(), true, 'the notice can be dismissed');
    const picture = await waitForPicture(server, bob);
    t.diagnostic(`composite ${picture.width} px wide, ${Math.round(picture.lit * 100)} % lit, ${Date.now() - back} ms after UDP came back`);
    const frames = (await inboundVideo(bob.page)).framesDecoded;
    await waitFor(async () => (await inboundVideo(bob.page)).framesDecoded > frames + 10, 'the composite to keep decoding');

    const selfId = await bob.page.evaluate(() => window.tessera.selfId);
    assert.equal(selfId, welcome.participantId, 'the page is the new session');
    const list = await participants(roomId);
    assert.deepEqual(list.map((p) => p.id), [selfId], 'one participant in the room, the new session (the failed one was let go)');
    assert.equal(bob.received.filter((m) => m.type === 'error' && m.code === 'connection_failed').length, 1, 'only the first attempt failed');
    assert.equal(await bob.page.locator('#home').isVisible(), false, 'still in the call, not sent home');
    // The retry offered on a new peer connection (new ICE credentials), not on the failed one.
    const first = bob.sent.find((m) => m.type === 'offer');
    const retry = bob.sent.find((m) => m.type === 'offer' && m.at >= failed.at);
    assert.ok(first && retry, 'an offer in each attempt');
    assert.notEqual(ufrag(retry.sdp), ufrag(first.sdp), 'the retry is a new peer connection');
  } finally {
    allowUdp();
    await bob.context.close();
  }
});
