// Cluster mode with the real browser client (headless Chromium, three real `tessera serve`
// nodes sharing one real `redis-server` on loopback). A room created through node 1 is placed on
// one node (its owner, holder of `tessera:room:{id}:owner` = `{node}|{fence}`); two pages join
// it through the UI on the two nodes that do NOT own it, so their signaling sockets are relayed
// to the owner, and both decode the composite. Then the owner is killed with SIGKILL: the relays
// lose their upstream and close the pages' sockets, and the client's own reconnection (probe,
// back-off, resume attempt, a new session when the old one is gone) must take both pages into a
// working room on a surviving node within 20 s of the kill: both decode the composite again
// (frames counted after the kill, a lit picture), the owner key names a survivor with a larger
// fencing token, exactly one survivor runs the room, and the room holds the two pages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startServer, waitUntil } from './server.mjs';
import { launchChromium, newPage, joinAs, inboundVideo, waitForPicture, logText } from './client-helpers.mjs';

// Recovery took 5.8-7.9 s over 11 runs (printed below): the bound is about 3x that, a check that
// the pages come back by themselves (the client gives up after 40 s), not a speed target.
const RECOVERY_LIMIT_MS = 20000;
const run = promisify(execFile);

let dir;
let redis; // { port, child, log() }
let nodes = []; // { id, server }
let browser;
const pages = [];

// A free loopback TCP port (released before use, as tests/common/binary.rs does).
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function redisCli(...args) {
  const { stdout } = await run('redis-cli', ['-p', String(redis.port), '--raw', ...args], { timeout: 5000 });
  return stdout.trim();
}

// What `waitUntil` prints when it times out: the tail of every node's log and of Redis's.
const cluster = {
  log: () => [
    ...nodes.map((n) => n.server.log().split('\n').slice(-40).map((l) => `[${n.id}] ${l}`).join('\n')),
    redis ? `[redis] ${redis.log().split('\n').slice(-10).join('\n[redis] ')}` : '',
  ].join('\n'),
};
const waitFor = (fn, what, timeoutMs) => waitUntil(cluster, fn, what, timeoutMs);

async function healthz(server) {
  try {
    const res = await fetch(`${server.base}/healthz`, { signal: AbortSignal.timeout(2000) });
    return { http: res.status, ...(await res.json()) };
  } catch (e) {
    return { http: 0, error: e.message };
  }
}

// The owner lease of `room`: { node, fence } or null.
async function owner(room) {
  const v = await redisCli('get', `tessera:room:${room}:owner`);
  if (!v) return null;
  const [node, fence] = v.split('|');
  return { node, fence: Number(fence) };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-cluster-browser-'));
  // Redis, nothing persisted.
  const port = await freePort();
  let rlog = '';
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (c) => { rlog += c; });
  child.stderr.on('data', (c) => { rlog += c; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  redis = { port, child, exited, log: () => rlog };
  await waitFor(() => redisCli('ping').then((r) => r === 'PONG', () => false), 'redis-server to answer PING', 10000);

  // Three nodes, each with its own config file and folders; default (1280-wide) composite.
  const ids = ['n1', 'n2', 'n3'];
  const started = await Promise.all(ids.map(async (id) => {
    const nodeDir = path.join(dir, id);
    fs.mkdirSync(nodeDir);
    const config = path.join(nodeDir, 'tessera.toml');
    fs.writeFileSync(config, [
      `node_id = "${id}"`,
      `redis_url = "redis://127.0.0.1:${port}/"`,
      'database = ":memory:"',
      `recordings_dir = "${nodeDir}/rec"`,
      `hls_dir = "${nodeDir}/live"`,
      `files_dir = "${nodeDir}/files"`,
      '',
    ].join('\n'));
    const listen = `127.0.0.1:${await freePort()}`;
    return { id, server: await startServer(['--config', config], { listen }) };
  }));
  nodes = started;
  // Registered: in the node set, each with its live record, and each says so on /healthz.
  await waitFor(async () => {
    const members = (await redisCli('smembers', 'tessera:nodes')).split('\n').filter(Boolean).sort();
    if (members.join() !== ids.join()) return false;
    const live = await Promise.all(ids.map((id) => redisCli('exists', `tessera:node:${id}`)));
    if (!live.every((v) => v === '1')) return false;
    const health = await Promise.all(nodes.map((n) => healthz(n.server)));
    return health.every((h, i) => h.http === 200 && h.status === 'ok' && h.node === ids[i]) && members;
  }, 'the three nodes to be registered', 15000);
  browser = await launchChromium();
});

after(async () => {
  for (const p of pages) await p.context.close().catch(() => {});
  await browser?.close();
  await Promise.all(nodes.map((n) => n.server.stop()));
  if (redis) {
    if (redis.child.exitCode === null && redis.child.signalCode === null) redis.child.kill('SIGTERM');
    await redis.exited;
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// The page's current peer connection and how many composite frames it decoded.
const sample = (rec) => rec.page.evaluate(async () => {
  const pc = window.tessera.pc;
  if (!pc) return { pc: null, frames: 0 };
  if (!pc.__tag) pc.__tag = Math.random().toString(36).slice(2);
  let frames = 0;
  for (const s of (await pc.getStats()).values()) if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded || 0;
  return { pc: pc.__tag, state: pc.connectionState, frames };
});

test('two pages relayed through the non-owners; the owner killed with SIGKILL: both decode the composite again on a survivor within 20 s', async (t) => {
  const n1 = nodes[0];
  const res = await fetch(`${n1.server.base}/api/v1/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 201, 'a room created through n1');
  const roomId = (await res.json()).room.id;
  const first = await waitFor(() => owner(roomId), 'the room to be placed (an owner key)', 10000);
  const ownerNode = nodes.find((n) => n.id === first.node);
  assert.ok(ownerNode, `the owner ${first.node} is one of the nodes`);
  const others = nodes.filter((n) => n !== ownerNode);
  t.diagnostic(`room ${roomId} placed on ${first.node} (fence ${first.fence}); pages join through ${others.map((n) => n.id).join(' and ')}`);

  // Alice through one non-owner, Bob through the other: both sockets relayed to the owner.
  const alice = await newPage(browser, 'Alice');
  const bob = await newPage(browser, 'Bob');
  pages.push(alice, bob);
  const via = new Map([[alice, others[0]], [bob, others[1]]]);
  for (const [rec, node] of via) await joinAs(node.server, rec, roomId);
  for (const rec of [alice, bob]) {
    const pic = await waitForPicture(cluster, rec);
    t.diagnostic(`${rec.name} (via ${via.get(rec).id}) decodes the ${pic.width}-wide composite, ${Math.round(pic.lit * 100)} % lit`);
    assert.equal(pic.width, 1280, 'the default composite');
    const f = (await inboundVideo(rec.page)).framesDecoded;
    await waitFor(async () => (await inboundVideo(rec.page)).framesDecoded > f + 10, `${rec.name}'s composite to keep decoding`);
  }
  const healthBefore = await Promise.all(nodes.map((n) => healthz(n.server)));
  assert.deepEqual(healthBefore.map((h) => h.rooms), nodes.map((n) => (n === ownerNode ? 1 : 0)), 'only the owner runs the room before the kill');
  assert.equal(healthBefore[nodes.indexOf(ownerNode)].participantTasks, 2, 'with both pages in it');
  // The pages talk to the non-owners (their sessions run on the owner, above): relayed.
  for (const rec of [alice, bob]) {
    assert.equal(new URL(rec.page.url()).host, new URL(via.get(rec).server.base).host, `${rec.name}'s page is served by ${via.get(rec).id}`);
  }

  // The kill.
  const atKill = new Map();
  for (const rec of [alice, bob]) atKill.set(rec, await sample(rec));
  const killedAt = Date.now();
  await ownerNode.server.kill('SIGKILL');
  t.diagnostic(`${ownerNode.id} killed (SIGKILL) at ${new Date(killedAt).toISOString()}`);

  // Each page is back when its composite decodes again: on the peer connection it had at the
  // kill, 10 frames more than it had then (a dead node sends nothing; what was buffered is a
  // few frames); on a new one, 10 frames more than its first sample after the kill; and the
  // picture is lit. Measured up to 45 s (the client gives up after 40), asserted ≤ 20 s.
  const recovered = async (rec) => {
    const k = atKill.get(rec);
    let base = null; // { pc, frames }: the first post-kill sample of the current pc
    const at = await waitFor(async () => {
      const s = await sample(rec);
      if (!s.pc) return false;
      if (!base || base.pc !== s.pc) base = s.pc === k.pc ? { pc: s.pc, frames: k.frames } : s;
      return s.frames >= base.frames + 10 && Date.now();
    }, `${rec.name} to decode the composite again after the kill`, 45000);
    const pic = await waitForPicture(cluster, rec);
    const done = Date.now();
    return { ms: done - killedAt, framesMs: at - killedAt, newPc: base.pc !== k.pc, pic };
  };
  const [a, b] = await Promise.all([recovered(alice), recovered(bob)]);
  const recoveryMs = Math.max(a.ms, b.ms);
  console.log(`cluster recovery: Alice decoding again ${a.ms} ms after the kill (frames ${a.framesMs} ms, new peer connection: ${a.newPc}), Bob ${b.ms} ms (frames ${b.framesMs} ms, new: ${b.newPc}); both: ${recoveryMs} ms`);
  for (const rec of [alice, bob]) {
    const since = rec.received.filter((m) => m.at >= killedAt).map((m) => `${m.at - killedAt}ms:${m.type}${m.code ? `(${m.code})` : ''}${m.type === 'welcome' ? `(resumed=${m.resumed})` : ''}`);
    t.diagnostic(`${rec.name}'s signaling after the kill: ${since.join(' ')}`);
    t.diagnostic(`${rec.name}'s log: ${(await logText(rec.page)).split('\n').reverse().join(' | ')}`);
  }

  // What the survivors logged about the cluster since the kill (relay refusals, the take-over).
  for (const n of others) {
    const lines = n.server.log().split('\n').filter((l) => /cluster:/.test(l) && !/room placed here.*first=true/.test(l));
    t.diagnostic(`${n.id}'s cluster log: ${lines.slice(-8).join(' | ') || '(nothing)'}`);
  }
  // Where the room runs now.
  const now = await owner(roomId);
  const health = await Promise.all(others.map((n) => healthz(n.server)));
  t.diagnostic(`owner now ${JSON.stringify(now)}; survivors: ${others.map((n, i) => `${n.id} rooms=${health[i].rooms} participants=${health[i].participantTasks}`).join(', ')}`);
  assert.ok(recoveryMs <= RECOVERY_LIMIT_MS, `both pages decode the composite again within ${RECOVERY_LIMIT_MS} ms of the kill (took ${recoveryMs} ms)`);
  assert.ok(now, 'the room has an owner again');
  assert.ok(others.some((n) => n.id === now.node), `the owner key names a surviving node (${now.node})`);
  assert.ok(now.fence > first.fence, `a larger fencing token (${first.fence} -> ${now.fence})`);
  const holders = others.filter((n, i) => health[i].rooms === 1);
  assert.equal(holders.length, 1, `exactly one surviving node runs the room: ${JSON.stringify(health)}`);
  assert.deepEqual(health.map((h) => h.rooms).sort(), [0, 1], 'and the other none');
  assert.equal(holders[0].id, now.node, 'the one holding the lease');
  assert.ok(health.every((h) => h.http === 200 && h.status === 'ok'), 'the survivors are healthy');
  // Both pages are in the one room, as themselves (the sessions they have now).
  const room = await (await fetch(`${others[0].server.base}/api/v1/rooms/${roomId}`)).json();
  const ids = await Promise.all([alice, bob].map((r) => r.page.evaluate(() => window.tessera.selfId)));
  assert.deepEqual(room.participants.map((p) => p.id).sort(), ids.sort(), `the room holds the two pages: ${JSON.stringify(room.participants)}`);
  for (const rec of [alice, bob]) {
    assert.equal(await rec.page.evaluate(() => window.tessera.phase), 'call', `${rec.name} is in the call`);
    assert.equal(await rec.page.locator('#reconnecting').isHidden(), true, `${rec.name}'s reconnecting banner is gone`);
    const f = (await inboundVideo(rec.page)).framesDecoded;
    await waitFor(async () => (await inboundVideo(rec.page)).framesDecoded > f + 10, `${rec.name}'s composite to keep decoding`, 5000);
  }
});
