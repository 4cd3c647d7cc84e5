// A participant whose network lets nothing through but TURN: Chromium forced to relay
// (`iceTransportPolicy: "relay"`) joins through Debian's coturn (`use-auth-secret`) with the
// credentials the server made for it, and decodes the composite. coturn refuses a credential
// past its expiry and one made with another secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitUntil } from './server.mjs';
import { launchChromium, newPage, createRoomAs, waitForPicture, selectedLocalCandidate } from './client-helpers.mjs';

const SECRET = `turn-test-${crypto.randomBytes(12).toString('hex')}`;
const TTL = 600;
// The test runs in a network namespace of its own: a fixed port range is free.
const PORT = 34780;
const URL_ = `turn:127.0.0.1:${PORT}?transport=udp`;

let turn;
let turnLog = '';
let server;
let browser;
let dir;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-turn-'));
  turn = spawn('turnserver', [
    `--db=${path.join(dir, 'turndb')}`,
    '-n', '--listening-ip=127.0.0.1', `--listening-port=${PORT}`, '--relay-ip=127.0.0.1',
    `--min-port=${PORT + 1}`, `--max-port=${PORT + 100}`, '--use-auth-secret', `--static-auth-secret=${SECRET}`,
    '--realm=tessera.test', '--allow-loopback-peers', '--no-tls', '--no-dtls', '--no-cli', '--log-file=stdout', '--simple-log', '--verbose',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  turn.stdout.on('data', (c) => { turnLog += c; });
  turn.stderr.on('data', (c) => { turnLog += c; });
  const exited = new Promise((_, reject) => turn.once('exit', (code) => reject(new Error(`turnserver exited (${code}):\n${turnLog}`))));
  const listening = (async () => {
    // Its last start-up line (the listeners are opened before it).
    while (!/Total General servers/.test(turnLog)) await new Promise((r) => setTimeout(r, 50));
  })();
  await Promise.race([listening, exited]);
  const config = path.join(dir, 'tessera.toml');
  await fs.writeFile(config, `ice_servers = []\n\n[[turn]]\nurls = ["${URL_}"]\nsecret = "${SECRET}"\nttl_seconds = ${TTL}\n`);
  server = await startServer(['--config', config]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  turn?.kill('SIGTERM');
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const credential = (username, secret = SECRET) => crypto.createHmac('sha1', secret).update(username).digest('base64');

// Gathers candidates in `page` through the TURN server with `username`/`password`, relay only:
// the candidate types found and the errors reported.
function gather(page, username, password) {
  return page.evaluate(async ({ urls, username, password }) => {
    const pc = new RTCPeerConnection({ iceServers: [{ urls, username, credential: password }], iceTransportPolicy: 'relay' });
    const found = [];
    const errors = [];
    pc.onicecandidate = (e) => { if (e.candidate) found.push(e.candidate.type); };
    pc.onicecandidateerror = (e) => errors.push(e.errorCode);
    pc.createDataChannel('probe');
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    });
    pc.close();
    return { found, errors };
  }, { urls: URL_, username, password });
}

test('a client forced to relay joins through coturn with its own short-lived credential', async () => {
  const alice = await newPage(browser, 'Alice');
  // Nothing but TURN: every peer connection the page makes is relay-only.
  await alice.page.addInitScript(() => {
    const Original = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Original {
      constructor(config = {}) { super({ ...config, iceTransportPolicy: 'relay' }); }
    };
  });
  const before = Math.floor(Date.now() / 1000);
  await createRoomAs(server, alice);
  const welcome = alice.received.find((m) => m.type === 'welcome');
  assert.ok(welcome, 'a welcome');
  assert.equal(welcome.iceServers.length, 1, `only the TURN server: ${JSON.stringify(welcome.iceServers)}`);
  const [ice] = welcome.iceServers;
  assert.deepEqual(ice.urls, [URL_]);
  const [expiry, who] = ice.username.split(':');
  assert.equal(who, welcome.participantId, 'the username names the participant');
  assert.ok(Number(expiry) >= before + TTL && Number(expiry) <= Math.ceil(Date.now() / 1000) + TTL, `expiry ${expiry} is now + ttl_seconds`);
  assert.equal(ice.credential, credential(ice.username), 'the password is base64 HMAC-SHA1 of the username');
  assert.ok(alice.received.every((m) => !JSON.stringify(m).includes(SECRET)), 'the secret never reaches the client');

  await waitForPicture(server, alice);
  const local = await waitUntil(server, () => alice.page.evaluate(selectedLocalCandidate), 'the selected candidate pair');
  assert.equal(local.type, 'relay', `the media goes through the TURN server: ${JSON.stringify(local)}`);
  assert.match(turnLog, /ALLOCATE processed, success/, 'coturn made an allocation');

  // Credentials made by the same recipe: refused once expired, or with another secret.
  const now = Math.floor(Date.now() / 1000);
  const fresh = `${now + 60}:probe`;
  const valid = await gather(alice.page, fresh, credential(fresh));
  assert.ok(valid.found.includes('relay'), `a valid credential gets a relay candidate: ${JSON.stringify(valid)}`);
  const stale = `${now - 60}:probe`;
  const expired = await gather(alice.page, stale, credential(stale));
  assert.deepEqual(expired.found, [], `an expired credential gets nothing: ${JSON.stringify(expired)}`);
  const forged = await gather(alice.page, fresh, credential(fresh, 'another-secret-of-sixteen'));
  assert.deepEqual(forged.found, [], `a credential made with another secret gets nothing: ${JSON.stringify(forged)}`);
  await alice.context.close();
});
