// Senders send what their tile needs (issue 23 §3). A headless Chromium page (the real client)
// sends a 1280x720 fake camera into a room; the load generator's synthetic participants (each
// sending H.264 video: people without video are name tiles under the grid, which leaves the
// grid to those with video) join it, so the grid goes 1 → 2x2 → 3x3, then the host pins the
// camera's owner in the `pinned` layout. At each step the server's `cameraConstraint` must
// name the tile (640x360, 426x240, 1280x432 on the 1280x720 canvas at
// 1500 kbit/s), the client must turn it into the camera sender's parameters (scale by the larger
// ratio, maxBitrate), and what Chromium really encodes must follow: outbound-rtp frames as tall
// as the tile (smaller in 3x3 than in 2x2, larger again when pinned) with a target bitrate under
// each cap. What it sends (bytes) is reported, not judged: the fake camera's simple picture
// needs far less than any cap.
//
// A second test stands for a client that is not ours (its setParameters does nothing): the
// server's REMB alone must hold its send estimate and encoder's target under the cap (camera +
// audio + headers), and let the estimate grow again when its tile does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from './server.mjs';
import { startServerAndChromium, stopServerAndChromium, newPage, createRoomAs, startLoadgen } from './client-helpers.mjs';

let server;
let browser;

before(async () => ({ server, browser } = await startServerAndChromium()));

after(() => stopServerAndChromium(server, browser));

const waitFor = (fn, what, timeoutMs = 30000) => waitUntil(server, fn, what, timeoutMs, 200);

// The camera: Chromium's fake device at 1280x720, whatever size the client asks for.
const CAMERA = { width: 1280, height: 720 };

// Installed before the client's script (after the helpers' own getUserMedia wrapper).
function hdCamera({ width, height, foreign }) {
  const md = navigator.mediaDevices;
  if (!md) return;
  const original = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => original(c.video ? { ...c, video: { ...(typeof c.video === 'object' ? c.video : {}), width: { exact: width }, height: { exact: height } } } : c);
  // A client that is not ours: it never changes its sender's parameters.
  if (foreign) RTCRtpSender.prototype.setParameters = async function ignored() {};
}

// What the page's camera sender is set to and sends now (null before it sends), and the
// connection's send estimate (`availableOutgoingBitrate`: Chromium's own, capped by our REMB).
function cameraSending(page) {
  return page.evaluate(async () => {
    const { pc, transceivers } = window.tessera;
    const sender = transceivers?.video?.sender;
    if (!pc || !sender?.track) return null;
    const enc = sender.getParameters().encodings?.[0] || {};
    let out = null;
    let available = 0;
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'outbound-rtp' && s.kind === 'video' && !out) {
        out = {
          scale: enc.scaleResolutionDownBy ?? 1,
          maxBitrate: enc.maxBitrate ?? null,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
          targetBitrate: s.targetBitrate || 0,
          bytesSent: s.bytesSent || 0,
          framesEncoded: s.framesEncoded || 0,
          limitation: s.qualityLimitationReason,
          at: s.timestamp,
        };
      }
      if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) available = s.availableOutgoingBitrate;
    }
    return out && { ...out, available };
  });
}

// `n` more participants with video in `roomId` (the load generator's), once the room's REST
// view counts `total` participants.
async function addCrowd(roomId, n, total) {
  const crowd = startLoadgen(server, { participants: n, room: roomId });
  await waitFor(async () => {
    const res = await fetch(`${server.base}/api/v1/rooms/${roomId}/participants`);
    const body = res.ok ? await res.json() : null;
    const list = Array.isArray(body) ? body : body?.participants;
    return list?.length === total;
  }, `${total} participants in the room (the load generator: ${crowd.output().slice(-300)})`);
  return crowd;
}

async function pin(roomId, id) {
  const res = await fetch(`${server.base}/api/v1/rooms/${roomId}`, {
    method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ layout: 'pinned', pin: id }),
  });
  assert.equal(res.status, 200, `PATCH pin: ${await res.text()}`);
}

// The last `cameraConstraint` the page received (the helpers keep every signaling frame).
const lastConstraint = (rec) => rec.received.filter((m) => m.type === 'cameraConstraint').at(-1);

const waitConstraint = (rec, want, label) => waitFor(() => {
  const m = lastConstraint(rec);
  return m && m.width === want.width && m.height === want.height && m;
}, `${label}: cameraConstraint ${want.width}x${want.height}`);

// The REMB the server sends for a camera cap (src/rtc/remb.rs: +10 % headers, +80 kbit/s audio).
const rembBps = (kbps) => Math.round((kbps * 1.1 + 80) * 1000);

// One layout: the constraint `want` arrives, the client sets the camera sender to it, and
// Chromium encodes frames as tall as the tile (at most, and at least 90 % of it: smaller would be
// its own adaptation, which the start-up wait rules out) with a target within the cap. Then what
// it sends is measured over 3 s.
async function step(rec, want, label) {
  const c = await waitConstraint(rec, want, label);
  assert.equal(c.shown, true, `${label}: ${JSON.stringify(c)}`);
  const scale = Math.max(1, CAMERA.width / want.width, CAMERA.height / want.height);
  const cap = c.maxBitrateKbps * 1000;
  await waitFor(async () => {
    const s = await cameraSending(rec.page);
    return s && Math.abs(s.scale - scale) < 1e-6 && s.maxBitrate === cap && s;
  }, `${label}: the camera sender set to scale ${scale.toFixed(3)} and ${c.maxBitrateKbps} kbit/s`);
  const tall = CAMERA.height / scale;
  const start = await waitFor(async () => {
    const s = await cameraSending(rec.page);
    return s && s.frameHeight <= want.height && s.frameHeight >= 0.9 * tall && s.targetBitrate > 0 && s.targetBitrate <= cap && s;
  }, `${label}: frames ${Math.round(tall)} lines tall at ≤ ${c.maxBitrateKbps} kbit/s`);
  const end = await waitFor(async () => {
    const s = await cameraSending(rec.page);
    return s && s.at - start.at >= 3000 && s;
  }, `${label}: 3 s of frames`);
  assert.ok(end.frameHeight <= want.height, `${label}: ${end.frameWidth}x${end.frameHeight} is taller than the tile`);
  assert.ok(end.targetBitrate <= cap, `${label}: target ${end.targetBitrate} over the cap ${cap}`);
  const r = {
    label,
    tile: `${want.width}x${want.height}`,
    capKbps: c.maxBitrateKbps,
    scale: Number(scale.toFixed(3)),
    frame: `${end.frameWidth}x${end.frameHeight}`,
    frameHeight: end.frameHeight,
    targetKbps: Math.round(end.targetBitrate / 1000),
    sentKbps: Math.round(((end.bytesSent - start.bytesSent) * 8) / (end.at - start.at)),
    estimateKbps: Math.round(end.available / 1000),
    limitation: end.limitation,
  };
  console.log(`sender-cap: ${JSON.stringify(r)}`);
  return r;
}

test('the camera is sent at the size and bitrate of its tile: 2x2, 3x3, pinned', async () => {
  const alice = await newPage(browser, 'Alice');
  await alice.page.addInitScript(hdCamera, { ...CAMERA, foreign: false });
  const roomId = await createRoomAs(server, alice);

  // Alone: the whole canvas, at most 2500 kbit/s. Chromium starts a camera small (its first
  // estimate is low) and takes it back up to 720p by itself; measured from there.
  const alone = await waitConstraint(alice, CAMERA, 'alone');
  assert.equal(alone.maxBitrateKbps, 2500);
  await waitFor(async () => {
    const s = await cameraSending(alice.page);
    return s && s.frameHeight === CAMERA.height && s.limitation === 'none' && s;
  }, 'Chromium to send its camera at 720p', 90000);

  const crowd = [await addCrowd(roomId, 3, 4)];
  const grid2 = await step(alice, { width: 640, height: 360 }, '2x2');
  crowd.push(await addCrowd(roomId, 5, 9));
  const grid3 = await step(alice, { width: 426, height: 240 }, '3x3');
  await pin(roomId, alice.id);
  // Pinned with nine people: the slot is 1280x432 (1280x540 up to seven).
  const pinned = await step(alice, { width: 1280, height: 432 }, 'pinned');

  // The caps follow the tiles' areas (src/room/actor/senders.rs), and so do the frames encoded.
  // (The encoder's target is only checked against each cap: under it, Chromium's own estimate
  // decides, and the fake camera's simple picture needs little, so its estimate stays low.)
  assert.deepEqual([grid2.capKbps, grid3.capKbps, pinned.capKbps], [750, 332, 1080]);
  assert.ok(grid3.frameHeight < grid2.frameHeight, `3x3 ${grid3.frame} is not smaller than 2x2 ${grid2.frame}`);
  assert.ok(pinned.frameHeight > grid2.frameHeight, `pinned ${pinned.frame} is not larger than 2x2 ${grid2.frame}`);
  await alice.context.close();
  for (const c of crowd) await c.kill();
});

test('a client that ignores cameraConstraint is held to it by REMB', async () => {
  const frank = await newPage(browser, 'Frank');
  await frank.page.addInitScript(hdCamera, { ...CAMERA, foreign: true });
  const roomId = await createRoomAs(server, frank);
  await waitConstraint(frank, CAMERA, 'alone');
  const crowd = await addCrowd(roomId, 8, 9);

  // 3x3: 426x240, 332 kbit/s. Its sender keeps its parameters; the estimate it sends on is the
  // REMB, and its encoder's target stays under it.
  const c3 = await waitConstraint(frank, { width: 426, height: 240 }, '3x3');
  const remb3 = rembBps(c3.maxBitrateKbps);
  const s3 = await waitFor(async () => {
    const s = await cameraSending(frank.page);
    return s && s.available > 0 && s.available <= remb3 * 1.01 && s.targetBitrate > 0 && s.targetBitrate <= remb3 && s;
  }, `Frank's estimate and target at most the REMB of ${remb3} bit/s`);
  assert.equal(s3.scale, 1, 'a client that ignores the constraint keeps its scale');
  assert.equal(s3.maxBitrate, null, 'and sets no maxBitrate');

  // Pinned with nine tiles: 1280x432, 1080 kbit/s. The REMB goes up with it, so the estimate
  // grows past the 3x3 REMB, which it could not while that held (how far and how fast is
  // Chromium's business: it grows with what it sends).
  await pin(roomId, frank.id);
  const cp = await waitConstraint(frank, { width: 1280, height: 432 }, 'pinned');
  const rembP = rembBps(cp.maxBitrateKbps);
  const sp = await waitFor(async () => {
    const s = await cameraSending(frank.page);
    return s && s.available > remb3 * 1.02 && s.available <= rembP * 1.01 && s;
  }, `Frank's estimate to rise past the 3x3 REMB of ${remb3} bit/s (pinned: ${rembP})`, 45000);
  console.log(`sender-cap (REMB only): 3x3 estimate ${Math.round(s3.available / 1000)} kbit/s, target ${Math.round(s3.targetBitrate / 1000)}; `
    + `pinned estimate ${Math.round(sp.available / 1000)} kbit/s, target ${Math.round(sp.targetBitrate / 1000)}`);
  await frank.context.close();
  await crowd.kill();
});
