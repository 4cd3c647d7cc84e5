// The browser client's behaviour around the call (headless Chromium, fake camera/mic, the real
// server): refused joins stay on the home screen with no camera started; a denied camera and
// microphone still lets you listen, and the composite decodes; devices switch during the call
// without renegotiating; a phone-size screen has no horizontal scroll and its controls in view;
// every way of leaving releases the camera and microphone and tells the others within 5 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from './server.mjs';
import { startServerAndChromium, stopServerAndChromium, launchChromium, newPage, createRoomAs, joinAs, participantToken, waitForPicture, trackStates, inboundVideo, logText, controlClick } from './client-helpers.mjs';

let server;
let browser;

before(async () => ({ server, browser } = await startServerAndChromium()));

after(() => stopServerAndChromium(server, browser));

const waitFor = (fn, what, timeoutMs) => waitUntil(server, fn, what, timeoutMs);

async function createRoomApi(body = {}) {
  const res = await fetch(`${server.base}/api/v1/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 201);
  return res.json();
}

test('a refused join stays on the home screen, says why in plain words, and starts no camera', async (t) => {
  const ended = await createRoomApi();
  const del = await fetch(`${server.base}/api/v1/rooms/${ended.room.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ended.hostToken}` } });
  assert.ok(del.ok, `room deleted: ${del.status}`);
  const live = await createRoomApi();
  const single = await createRoomApi({ maxParticipants: 1 });
  const viewer = await (await fetch(`${server.base}/api/v1/rooms/${live.room.id}/tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Vi', role: 'viewer' }),
  })).json();
  // Someone fills the one-person room.
  const first = await newPage(browser, 'First');
  await joinAs(server, first, single.room.id);

  const cases = [
    { what: 'a wrong room id', room: 'NoSuchRoomAtAll0000000x', words: /no room with this ID/ },
    // An ended room's invitation says so itself and offers no Join.
    { what: 'an ended room', room: ended.room.id, words: /call has ended/, invitation: true },
    { what: 'a broken invitation link', room: live.room.id, token: 'not.a.token', words: /invitation link is not valid/ },
    { what: 'a viewer token', room: live.room.id, token: viewer.token, words: /does not let you/ },
    { what: 'a full room', room: single.room.id, words: /room is full/ },
  ];
  for (const c of cases) {
    const rec = await newPage(browser, 'Bob');
    let said;
    if (c.invitation) {
      await rec.page.goto(`${server.base}/?room=${encodeURIComponent(c.room)}`);
      said = await waitFor(() => rec.page.locator('#invite-note').innerText().then((s) => s.trim() && s), `the invitation to say why for ${c.what}`);
      assert.equal(await rec.page.locator('#join-room').isDisabled(), true, `${c.what}: no Join`);
    } else {
      await joinAs(server, rec, c.room, { token: c.token, wait: false });
      said = await waitFor(() => rec.page.locator('#home-error').innerText().then((s) => s.trim() && s), `the home screen to say why for ${c.what}`);
    }
    assert.match(said, c.words, `${c.what}: ${said}`);
    t.diagnostic(`${c.what}: “${said}”`);
    assert.equal(await rec.page.locator('#home').isVisible(), true, `${c.what}: still on the home screen`);
    assert.equal(await rec.page.locator('#call').isVisible(), false, `${c.what}: the call screen never opened`);
    assert.equal(await rec.page.evaluate(() => window.__gum), 0, `${c.what}: getUserMedia was never called`);
    assert.equal(await rec.page.evaluate(() => window.tessera.local), null, `${c.what}: no local stream`);
    await rec.context.close();
  }
  // The home screen still works after a refusal: the right room id joins.
  const bob = await newPage(browser, 'Bob');
  await joinAs(server, bob, 'NoSuchRoomAtAll0000000x', { wait: false });
  await waitFor(() => bob.page.locator('#home-error').innerText().then((s) => /no room/.test(s)), 'the refusal');
  await bob.page.fill('#room-id', live.room.id);
  await bob.page.click('#join-room');
  await waitFor(() => logText(bob.page).then((s) => s.includes('You joined')), 'Bob to join the right room');
  assert.equal(await bob.page.locator('#call').isVisible(), true);
  assert.ok(await bob.page.evaluate(() => window.__gum) >= 1, 'the camera starts once the room has let him in');
  await bob.context.close();
  await first.context.close();
});

test('camera and microphone refused: "Listen only" joins and decodes the composite, the camera can start later; "microphone only" sends audio', async (t) => {
  const alice = await newPage(browser, 'Alice');
  const roomId = await createRoomAs(server, alice);

  const bob = await newPage(browser, 'Bob', { deny: { name: 'NotAllowedError' } });
  await joinAs(server, bob, roomId);
  await waitFor(() => bob.page.locator('#media-choice').isVisible(), 'Bob to be offered a choice');
  const text = await bob.page.locator('#media-choice-text').innerText();
  assert.match(text, /not allowed/i, text);
  for (const id of ['join-mic-only', 'join-cam-only', 'join-listen-only']) assert.equal(await bob.page.locator(`#${id}`).isVisible(), true, id);
  assert.equal(await bob.page.evaluate(() => window.tessera.pc), null, 'nothing is sent before he chooses');
  await bob.page.click('#join-listen-only');
  await waitFor(() => bob.page.locator('#media-choice').isHidden(), 'the choice to go away');
  await waitFor(async () => !(await bob.page.locator('#share-screen').isDisabled()), 'Share screen to be usable after listen only');
  const offer = await waitFor(() => bob.sent.find((m) => m.type === 'offer'), "Bob's offer");
  assert.equal((offer.sdp.match(/^a=recvonly/gm) || []).length, 2, 'audio and video are recvonly in the offer');
  const dirs = await bob.page.evaluate(() => window.tessera.pc.getTransceivers().map((x) => `${x.receiver.track.kind}:${x.direction}`));
  assert.deepEqual(dirs, ['audio:recvonly', 'video:recvonly'], 'a receive-only offer');
  const picture = await waitForPicture(server, bob);
  t.diagnostic(`listen-only composite: ${JSON.stringify(picture)}`);
  assert.equal(picture.width, 1280);
  await waitFor(() => alice.page.locator('#people li', { hasText: 'Bob' }).count().then((n) => n === 1), 'Alice to see Bob');

  // Allowed later: "Start camera" turns the receive-only video into sendrecv (renegotiated) and
  // the server takes Bob's camera.
  await bob.page.evaluate(() => { window.__deny = null; });
  assert.equal(await bob.page.locator('#toggle-cam').innerText(), 'Start camera');
  await bob.page.click('#toggle-cam');
  await waitFor(() => bob.page.locator('#toggle-cam').innerText().then((s) => s === 'Stop camera'), "Bob's camera to start");
  await waitFor(() => bob.sent.filter((m) => m.type === 'offer').length === 2 && bob.received.filter((m) => m.type === 'answer').length === 2,
    'a second offer (sendrecv video), answered');
  await waitFor(() => server.log().includes(`id=${bob.id} name=Bob}: video input attached`), "the server to take Bob's camera", 10000);

  // Camera refused, microphone allowed: "Join with microphone only".
  const carol = await newPage(browser, 'Carol', { deny: { name: 'NotAllowedError', videoOnly: true } });
  await joinAs(server, carol, roomId);
  await waitFor(() => carol.page.locator('#media-choice').isVisible(), 'Carol to be offered a choice');
  await carol.page.click('#join-mic-only');
  await waitForPicture(server, carol);
  const senders = await carol.page.evaluate(() => window.tessera.pc.getTransceivers().map((x) => `${x.receiver.track.kind}:${x.direction}:${x.sender.track ? x.sender.track.kind : 'none'}`));
  assert.deepEqual(senders, ['audio:sendrecv:audio', 'video:sendrecv:none'], 'her microphone goes out, no camera');
  assert.equal(await carol.page.locator('#toggle-cam').innerText(), 'Start camera');
  assert.equal(await carol.page.locator('#toggle-mic').innerText(), 'Mute mic');
  for (const r of [alice, bob, carol]) await r.context.close();
});

test('permissions refused by the browser itself: the choice is offered, Listen only decodes, and once allowed the client joins with camera and microphone', async (t) => {
  // Without --use-fake-ui-for-media-stream, a headless Chromium refuses what nobody granted. A
  // page without camera permission hides its host candidates behind mDNS names, which gathers
  // nothing in the tests' loopback-only network namespace (no multicast, no default route): the
  // feature is turned off so that the listen-only page can connect there as it would on a network.
  const strict = await launchChromium({ without: ['--use-fake-ui-for-media-stream'], extra: ['--disable-features=WebRtcHideLocalIpsWithMdns'] });
  try {
    const alice = await newPage(browser, 'Alice');
    const roomId = await createRoomAs(server, alice);
    const bob = await newPage(strict, 'Bob');
    await joinAs(server, bob, roomId);
    await waitFor(() => bob.page.locator('#media-choice').isVisible(), 'Bob to be offered a choice');
    assert.equal(await bob.page.evaluate(async () => (await navigator.permissions.query({ name: 'camera' })).state), 'denied');
    assert.equal(await bob.page.evaluate(() => window.tessera.pc), null);
    await bob.context.grantPermissions(['camera', 'microphone']);
    await waitFor(() => bob.page.evaluate(() => window.tessera.pc?.connectionState === 'connected'), 'Bob to join once allowed');
    assert.equal(await bob.page.locator('#media-choice').isVisible(), false);
    const kinds = await bob.page.evaluate(() => window.tessera.local.getTracks().map((x) => `${x.kind}:${x.readyState}`).sort());
    assert.deepEqual(kinds, ['audio:live', 'video:live'], 'with his camera and microphone');
    await waitForPicture(server, bob);
    // Another page of that browser listens only, and decodes the composite.
    const carol = await newPage(strict, 'Carol');
    await joinAs(server, carol, roomId);
    await waitFor(() => carol.page.locator('#media-choice').isVisible(), 'Carol to be offered a choice');
    await carol.page.click('#join-listen-only');
    const picture = await waitForPicture(server, carol);
    t.diagnostic(`listen-only composite (permissions refused by the browser): ${JSON.stringify(picture)}`);
    assert.equal(await carol.page.evaluate(() => window.__gum), 1, 'one refused request, none after choosing to listen');
    for (const r of [alice, bob, carol]) await r.context.close();
  } finally {
    await strict.close();
  }
});

test('devices: the level meter moves, switching camera or microphone and Audio only need no renegotiation', async (t) => {
  const alice = await newPage(browser, 'Alice');
  await createRoomAs(server, alice);
  const { page } = alice;
  await waitFor(() => page.evaluate(() => window.tessera.pc?.connectionState === 'connected'), 'Alice to connect');
  const offers = () => alice.sent.filter((m) => m.type === 'offer').length;
  const before = offers();
  await page.click('#devices-button');
  assert.equal(await page.locator('#camera-select').isVisible(), true);
  const level = await waitFor(() => page.evaluate(() => window.tessera.micLevel > 0.01 && window.tessera.micLevel), 'the microphone meter to move');
  t.diagnostic(`microphone level seen: ${level}`);
  const cams = await page.locator('#camera-select option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
  const mics = await page.locator('#mic-select option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
  t.diagnostic(`cameras ${JSON.stringify(cams)}; microphones ${JSON.stringify(mics)}`);
  assert.ok(cams.length >= 2 && mics.length >= 2, 'devices are listed by name');

  const senderTrack = (kind) => page.evaluate((kind) => window.tessera.transceivers[kind].sender.track?.id ?? null, kind);
  const oldCam = await senderTrack('video');
  await page.selectOption('#camera-select', cams[1][0]);
  await waitFor(async () => { const id = await senderTrack('video'); return id && id !== oldCam; }, 'a new camera track on the same sender');
  const oldMic = await senderTrack('audio');
  await page.selectOption('#mic-select', mics[1][0]);
  await waitFor(async () => { const id = await senderTrack('audio'); return id && id !== oldMic; }, 'a new microphone track on the same sender');
  const states = await trackStates(page);
  assert.equal(states.filter((s) => s.endsWith(':live')).length, 2, `the replaced tracks ended: ${states}`);

  // Audio only: the camera is released and nothing video goes out; off again brings it back.
  await page.check('#audio-only');
  await waitFor(async () => (await senderTrack('video')) === null, 'the camera to leave the sender');
  assert.deepEqual((await trackStates(page)).filter((s) => s.startsWith('video') && s.endsWith('live')), [], 'no camera runs');
  assert.equal(await page.locator('#toggle-cam').innerText(), 'Start camera');
  await page.uncheck('#audio-only');
  await waitFor(async () => (await senderTrack('video')) !== null, 'the camera to come back');
  assert.equal(offers(), before, 'no offer was sent for any of it');
  const frames = (await inboundVideo(page)).framesDecoded;
  await waitFor(async () => (await inboundVideo(page)).framesDecoded > frames + 10, 'the composite to keep decoding');
  await alice.context.close();
});

// The page's own camera shows beside the controls (playing, mirrored), not over the composite;
// unticking "Show my own camera" in Settings hides it, ticking brings it back.
async function selfViewBesideTheCall(page) {
  const preview = page.locator('#preview');
  await waitUntil(server, () => preview.evaluate((v) => v.videoWidth > 0 && !v.paused), 'the self-view to play');
  const [p, c] = [await preview.boundingBox(), await page.locator('#composite').boundingBox()];
  const overlaps = p.x < c.x + c.width && c.x < p.x + p.width && p.y < c.y + c.height && c.y < p.y + p.height;
  assert.ok(!overlaps, `the self-view is not over the composite: ${JSON.stringify({ p, c })}`);
  assert.ok(await page.locator('.controls #preview').isVisible(), 'it is among the controls');
  await controlClick(page, '#devices-button');
  await page.uncheck('#self-view');
  assert.equal(await preview.isVisible(), false, 'Settings hides it');
  await page.check('#self-view');
  await waitUntil(server, () => preview.isVisible(), 'the self-view to come back');
  await controlClick(page, '#devices-button');
}

test('a phone-size screen: the composite fills the width, the controls are in view, no horizontal scroll', async (t) => {
  const viewport = { width: 390, height: 844 };
  const alice = await newPage(browser, 'Alice');
  const roomId = await createRoomAs(server, alice);
  const mo = await newPage(browser, 'Mo', { viewport, contextOptions: { isMobile: true, hasTouch: true } });
  await mo.page.goto(`${server.base}/?room=${roomId}`);
  const overflow = () => mo.page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
  let o = await overflow();
  assert.ok(o.scroll <= o.inner, `home: no horizontal scroll ${JSON.stringify(o)}`);
  await joinAs(server, mo, roomId);
  await waitForPicture(server, mo);
  await mo.page.screenshot({ path: '/tmp/tessera-mobile-call.png' });
  o = await overflow();
  assert.ok(o.scroll <= o.inner, `call: no horizontal scroll ${JSON.stringify(o)}`);
  const box = await mo.page.locator('#composite').boundingBox();
  assert.ok(Math.abs(box.width - viewport.width) <= 1 && box.x >= -1, `the composite fills the width: ${JSON.stringify(box)}`);
  const controls = await mo.page.locator('.controls button:visible, .controls select:visible').evaluateAll((els) => els.map((e) => {
    const r = e.getBoundingClientRect();
    return { id: e.id, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
  }));
  t.diagnostic(`controls: ${JSON.stringify(controls.map((c) => `${c.id}@${Math.round(c.top)}`))}`);
  assert.ok(controls.length >= 4);
  for (const c of controls) {
    assert.ok(c.left >= 0 && c.right <= viewport.width && c.top >= 0 && c.bottom <= viewport.height, `${c.id} is inside the screen: ${JSON.stringify(c)}`);
    assert.ok(c.top > viewport.height / 2, `${c.id} is in the lower half, within reach of a thumb`);
    assert.ok(Math.abs(c.top - controls[0].top) <= 4, `${c.id} is on the bar's one row: ${JSON.stringify(controls)}`);
  }
  assert.deepEqual(controls.map((c) => c.id), ['toggle-mic', 'toggle-cam', 'raise-hand', 'toggle-chat', 'more-button', 'hang-up'], 'the phone bar');
  // The rest is under More, which closes after a choice and on Escape; a desktop has no More.
  await mo.page.click('#more-button');
  for (const id of ['#devices-button', '#fullscreen']) assert.equal(await mo.page.locator(id).isVisible(), true, `${id} under More`);
  await mo.page.keyboard.press('Escape');
  assert.equal(await mo.page.locator('#devices-button').isVisible(), false, 'Escape closes More');
  assert.equal(await alice.page.locator('#more-button').isVisible(), false, 'no More on a desktop');
  assert.equal(await alice.page.locator('#devices-button').isVisible(), true, 'Settings is on the desktop bar');
  // The self-view sits among the controls, never over the composite; Settings can hide it.
  await selfViewBesideTheCall(mo.page);
  await selfViewBesideTheCall(alice.page);

  // The chat opens below the call and still nothing scrolls sideways.
  await mo.page.click('#toggle-chat');
  assert.equal(await mo.page.locator('#chat').isVisible(), true);
  o = await overflow();
  assert.ok(o.scroll <= o.inner, `chat open: no horizontal scroll ${JSON.stringify(o)}`);
  await mo.page.screenshot({ path: '/tmp/tessera-mobile-chat.png' });

  // Every button has a name; the composite goes full screen.
  const unnamed = await mo.page.evaluate(() => [...document.querySelectorAll('button')]
    .filter((b) => !(b.getAttribute('aria-label') || b.textContent).trim()).map((b) => b.id || b.outerHTML));
  assert.deepEqual(unnamed, [], 'every button is labelled');
  await controlClick(mo.page, '#fullscreen');
  assert.equal(await mo.page.locator('#more-items').isVisible(), false, 'the choice closes More');
  await waitFor(() => mo.page.evaluate(() => document.fullscreenElement?.id), 'the stage to go full screen');
  // The button follows the `fullscreenchange` event, which fires after fullscreenElement is set.
  await waitFor(() => mo.page.evaluate(() => document.querySelector('#fullscreen').textContent === 'Exit full screen'),
    'the button to offer "Exit full screen"');
  assert.equal(await mo.page.locator('#fullscreen').getAttribute('aria-label'), 'Exit full screen');
  await controlClick(mo.page, '#fullscreen');
  await waitFor(() => mo.page.evaluate(() => !document.fullscreenElement), 'full screen to end');
  t.diagnostic('screenshots: /tmp/tessera-mobile-call.png, /tmp/tessera-mobile-chat.png');
  for (const r of [alice, mo]) await r.context.close();
});

// Safari's ways, imitated in Chromium: H.264 offered first (the client does it on Safari, or when
// localStorage asks), and sound that may not autoplay without a tap.
function safariLike() {
  if (location.protocol !== 'http:') return; // about:blank
  localStorage.setItem('tessera.preferH264', '1');
  const play = HTMLMediaElement.prototype.play;
  document.addEventListener('click', (e) => { if (e.target.id === 'unmute') window.__tapped = true; }, true);
  HTMLMediaElement.prototype.play = function () {
    if (!this.muted && !window.__tapped) return Promise.reject(new DOMException('sound needs a tap', 'NotAllowedError'));
    return play.call(this);
  };
}

test('Safari quirks: H.264 first in the offer, and "Tap to unmute" when sound may not autoplay', async (t) => {
  const alice = await newPage(browser, 'Alice');
  await alice.page.addInitScript(safariLike);
  await createRoomAs(server, alice);
  const offer = await waitFor(() => alice.sent.find((m) => m.type === 'offer'), "Alice's offer");
  const video = offer.sdp.split(/\r\nm=/).find((m) => m.startsWith('video'));
  const firstPt = video.split('\r\n')[0].split(' ')[3];
  const rtpmap = video.match(new RegExp(`a=rtpmap:${firstPt} ([^/]+)/`))[1];
  const fmtp = (video.match(new RegExp(`a=fmtp:${firstPt} (.*)`)) || [])[1] || '';
  t.diagnostic(`first video codec offered: ${firstPt} ${rtpmap} ${fmtp}`);
  assert.equal(rtpmap, 'H264');
  assert.match(fmtp, /packetization-mode=1/);
  await waitFor(() => alice.page.locator('#unmute').isVisible(), '"Tap to unmute"');
  assert.equal(await alice.page.evaluate(() => document.getElementById('composite').muted), true, 'the composite plays muted meanwhile');
  await waitForPicture(server, alice);
  await alice.page.click('#unmute');
  await waitFor(() => alice.page.evaluate(() => { const v = document.getElementById('composite'); return !v.muted && !v.paused; }), 'sound on, still playing');
  assert.equal(await alice.page.locator('#unmute').isVisible(), false);
  const codec = await alice.page.evaluate(async () => {
    const stats = await window.tessera.pc.getStats();
    const out = [...stats.values()].find((s) => s.type === 'outbound-rtp' && s.kind === 'video');
    return out && stats.get(out.codecId)?.mimeType;
  });
  t.diagnostic(`camera sent as ${codec}`);
  assert.equal(codec, 'video/H264');
  await alice.context.close();
});

// Waits for Alice to be sent participantLeft for `rec` and says how long after `since` it came.
async function leftWithin(alice, rec, since, what) {
  const msg = await waitFor(() => alice.received.find((m) => m.type === 'participantLeft' && m.participantId === rec.id && m.at >= since), `Alice to be told ${rec.name} left (${what})`, 8000);
  const ms = msg.at - since;
  assert.ok(ms <= 5000, `${what}: Alice was told within 5 s (${ms} ms)`);
  return ms;
}

async function allEnded(rec, what) {
  const states = await waitFor(async () => {
    const s = await trackStates(rec.page);
    return s.length && s.every((x) => x.endsWith(':ended')) && s;
  }, `${rec.name}'s tracks to end (${what})`, 5000);
  assert.ok(states.length >= 2, `${what}: camera and microphone were started (${states})`);
}

test('leaving by any path releases the camera and microphone and tells the others within 5 s', async (t) => {
  const alice = await newPage(browser, 'Alice');
  const roomId = await createRoomAs(server, alice);
  const joinBob = async (name) => {
    const rec = await newPage(browser, name);
    await joinAs(server, rec, roomId);
    await waitFor(() => rec.page.evaluate(() => window.tessera.pc?.connectionState === 'connected'), `${name} to connect`);
    return rec;
  };

  // Hang up.
  let bob = await joinBob('Bob');
  let since = Date.now();
  await bob.page.click('#hang-up');
  await allEnded(bob, 'hang up');
  t.diagnostic(`hang up: told in ${await leftWithin(alice, bob, since, 'hang up')} ms`);
  assert.equal(await bob.page.locator('#home').isVisible(), true, 'back on the home screen');
  assert.match(await bob.page.locator('#home-error').innerText(), /You left the call/);
  assert.equal(await bob.page.locator('#rejoin').isVisible(), true, 'with a Rejoin button');
  // Rejoin from there works.
  await bob.page.click('#rejoin');
  await waitFor(() => bob.page.evaluate(() => window.tessera.phase === 'call' && window.tessera.selfId), 'Bob to rejoin');
  bob.id = await bob.page.evaluate(() => window.tessera.selfId);
  since = Date.now();
  await bob.page.click('#hang-up');
  await leftWithin(alice, bob, since, 'hang up after rejoining');
  await bob.context.close();

  // History back from the call to the home screen it was joined from.
  bob = await newPage(browser, 'Bob2');
  await bob.page.goto(server.base);
  await bob.page.fill('#name', 'Bob2');
  await bob.page.fill('#room-id', roomId);
  await bob.page.click('#join-room');
  await waitFor(() => bob.page.evaluate(() => window.tessera.pc?.connectionState === 'connected'), 'Bob2 to connect');
  bob.id = await bob.page.evaluate(() => window.tessera.selfId);
  since = Date.now();
  await bob.page.goBack();
  await allEnded(bob, 'history back');
  t.diagnostic(`history back: told in ${await leftWithin(alice, bob, since, 'history back')} ms`);
  assert.equal(await bob.page.locator('#home').isVisible(), true);
  await bob.context.close();

  // Tab closed (pagehide).
  bob = await joinBob('Bob3');
  since = Date.now();
  await bob.page.close({ runBeforeUnload: true });
  t.diagnostic(`tab closed: told in ${await leftWithin(alice, bob, since, 'tab closed')} ms`);
  await bob.context.close();

  // Removed by the host.
  bob = await joinBob('Bob4');
  await waitFor(() => alice.page.locator('#people li', { hasText: 'Bob4' }).locator('button', { hasText: 'Remove' }).count().then((n) => n === 1), 'the Remove button');
  since = Date.now();
  await alice.page.locator('#people li', { hasText: 'Bob4' }).locator('button', { hasText: 'Remove' }).click();
  await allEnded(bob, 'removed');
  await leftWithin(alice, bob, since, 'removed');
  await waitFor(() => bob.page.locator('#home-error').innerText().then((s) => s.includes('removed you')), 'Bob to be told he was removed, on the home screen');
  assert.equal(await bob.page.locator('#rejoin').isVisible(), false, 'no Rejoin after a removal');
  // Opening the link again does not bring him back: the host's Remove holds for the call.
  await joinAs(server, bob, roomId, { wait: false });
  await waitFor(() => bob.page.locator('#home-error').innerText().then((s) => /removed you from this call, so you cannot rejoin it/.test(s)), 'Bob to be refused');
  await bob.context.close();

  // The room ends.
  bob = await joinBob('Bob5');
  await alice.page.click('#end-all');
  await alice.page.click('#end-all');
  await allEnded(bob, 'room ended');
  await allEnded(alice, 'room ended (host)');
  await waitFor(() => bob.page.locator('#home-error').innerText().then((s) => s.includes('The call ended')), 'Bob to be told the call ended');
  assert.equal(await bob.page.locator('#home').isVisible(), true);
  assert.equal(await bob.page.locator('#rejoin').isVisible(), false, 'no Rejoin into a call that ended');
  for (const r of [alice, bob]) await r.context.close();
});
