// Camera and microphone: starting them (only once the room has let us in), what to do when they
// are refused or missing (microphone only, camera only, listen only; retry once allowed), the
// device pickers, the microphone level meter, switching devices during a call with replaceTrack,
// the "Audio only" mode, and releasing every track when leaving.
import { $, state, log, inCall, send, setLabel } from './state.js';
import { startPeer, negotiate, renderShareButton } from './peer.js';
import { applySendCap } from './sendcap.js';

const CAMERA = { width: 640, height: 480 };
const store = {
  get camera() { return localStorage.getItem('tessera.camera') || ''; },
  set camera(v) { localStorage.setItem('tessera.camera', v); },
  get mic() { return localStorage.getItem('tessera.mic') || ''; },
  set mic(v) { localStorage.setItem('tessera.mic', v); },
};

function constraint(kind) {
  if (kind === 'audio') return store.mic ? { deviceId: { ideal: store.mic } } : true;
  return store.camera ? { ...CAMERA, deviceId: { ideal: store.camera } } : { ...CAMERA };
}

const wants = (mode, kind) => mode === 'both' || (mode === 'audio' && kind === 'audio') || (mode === 'video' && kind === 'video');

// getUserMedia for `mode` ('both', 'audio', 'video'); every track is kept in `state.tracks` so
// that leaving stops it whatever happened in between.
async function getMedia(mode) {
  if (!navigator.mediaDevices?.getUserMedia) {
    const e = new Error('no mediaDevices');
    e.name = 'NotSupportedError';
    throw e;
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: wants(mode, 'audio') ? constraint('audio') : false,
    video: wants(mode, 'video') ? constraint('video') : false,
  });
  for (const t of stream.getTracks()) state.tracks.add(t);
  refreshDevices();
  return stream;
}

// Why the camera or microphone could not start, in plain words.
export function mediaTrouble(e) {
  switch (e?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'You have not allowed this page to use your camera and microphone (or the browser blocked them). To use them, allow them in the address bar; we try again as soon as you do.';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'No camera or microphone was found on this device.';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'Your camera or microphone could not start: another app may be using it.';
    case 'NotSupportedError':
      return 'This browser cannot use a camera or microphone on this page (it needs a secure https address).';
    default:
      return `Your camera and microphone could not start (${e?.name || e}).`;
  }
}

// After `welcome` (first join): start the camera and microphone (or the microphone alone in
// "Audio only"), then the peer connection. If they are refused or missing, say so and let the
// user choose how to join; nothing is sent until then.
export async function startMedia() {
  const mode = state.audioOnly ? 'audio' : 'both';
  let stream = takeTestStream(mode);
  try {
    stream = stream || await getMedia(mode);
  } catch (e) {
    if (state.phase !== 'call') return;
    showChoice(e);
    return;
  }
  if (state.phase !== 'call') { stream.getTracks().forEach((t) => t.stop()); return; }
  useMedia(mode, stream);
}

function useMedia(mode, stream) {
  state.mode = mode;
  state.local = stream;
  $('media-choice').hidden = true;
  startPeer();
  showLocal();
  // Joined after a choice (listen only, one device): the peer connection exists now.
  renderShareButton();
}

function showChoice(e) {
  state.mediaError = e;
  log(mediaTrouble(e), true);
  $('media-choice-text').textContent = `${mediaTrouble(e)} You can still join:`;
  $('media-choice').hidden = false;
  watchPermissions();
  $('join-listen-only').focus();
}

// One of the choice buttons: microphone only, camera only, listen only (nothing started).
async function choose(mode) {
  if (state.phase !== 'call' || state.pc) return;
  if (mode === 'none') { useMedia('none', new MediaStream()); return; }
  try {
    const stream = await getMedia(mode);
    if (state.phase !== 'call' || state.pc) { stream.getTracks().forEach((t) => t.stop()); return; }
    useMedia(mode, stream);
  } catch (e) {
    showChoice(e);
  }
}

// When the camera or microphone becomes allowed while the user is still choosing, join with
// them; once in the call, start what is missing (without renegotiating).
let watching = false;
async function watchPermissions() {
  if (watching || !navigator.permissions?.query) return;
  watching = true;
  for (const name of ['camera', 'microphone']) {
    try {
      const status = await navigator.permissions.query({ name });
      status.onchange = () => { if (status.state === 'granted') permissionGranted(name === 'camera' ? 'video' : 'audio'); };
    } catch { /* this browser cannot tell */ }
  }
}

let granting = false;
async function permissionGranted(kind) {
  if (state.phase !== 'call') return;
  if (!state.pc) {
    if (granting) return; // camera and microphone are often allowed together
    granting = true;
    log('Camera and microphone allowed: joining with them.');
    const mode = state.audioOnly ? 'audio' : 'both';
    try {
      const stream = await getMedia(mode);
      if (state.phase === 'call' && !state.pc) useMedia(mode, stream);
      else stream.getTracks().forEach((t) => t.stop());
    } catch (e) {
      showChoice(e);
    } finally {
      granting = false;
    }
  } else if (state.mode !== 'none' && !(kind === 'video' && state.audioOnly) && !localTrack(kind)) {
    startKind(kind).catch((e) => log(mediaTrouble(e), true));
  }
}

const localTrack = (kind) => state.local?.getTracks().find((t) => t.kind === kind && t.readyState === 'live');

// Starts a camera or microphone during the call. With `sendrecv` transceivers it goes in with
// replaceTrack; after a listen-only join the transceiver is made `sendrecv` and renegotiated.
export async function startKind(kind) {
  const stream = await getMedia(kind === 'audio' ? 'audio' : 'video');
  const track = stream.getTracks()[0];
  if (!inCall() || !state.local) { track.stop(); return; }
  state.local.addTrack(track);
  const t = state.transceivers?.[kind];
  if (t) {
    await t.sender.replaceTrack(track);
    if (kind === 'video') applySendCap();
    if (t.direction !== 'sendrecv') {
      t.direction = 'sendrecv';
      t.sender.setStreams?.(state.local);
      state.mode = 'both';
      negotiate();
    }
  }
  if (kind === 'video' && state.audioOnly) rememberAudioOnly(false);
  showLocal();
}

// Stops sending the camera (Audio only): black frames first, so that the others' tile does not
// freeze on our last picture, then the camera is released.
async function stopCamera() {
  const track = localTrack('video');
  if (!track) return;
  track.enabled = false;
  await new Promise((r) => setTimeout(r, 400));
  await state.transceivers?.video?.sender.replaceTrack(null).catch(() => {});
  state.local.removeTrack(track);
  track.stop();
  showLocal();
}

function rememberAudioOnly(on) {
  state.audioOnly = on;
  localStorage.setItem('tessera.audioOnly', on ? '1' : '0');
  $('audio-only').checked = on;
  $('join-audio-only').checked = on;
}

export async function setAudioOnly(on) {
  rememberAudioOnly(on);
  if (!inCall() || !state.pc || state.mode === 'none') { if (testStream && on) stopTest(); return; }
  try {
    if (on) { await stopCamera(); log('Audio only: your camera is off and not sent.'); }
    else if (!localTrack('video')) { await startKind('video'); log('Your camera is on again.'); }
  } catch (e) {
    log(mediaTrouble(e), true);
  }
  renderToggles();
}

// The Mute mic / Stop camera buttons: a running track is enabled or disabled (silence or black
// frames); a missing one is started.
async function toggle(kind) {
  if (!inCall()) return;
  const track = localTrack(kind);
  if (track) track.enabled = !track.enabled;
  else if (state.pc) {
    try { await startKind(kind); } catch (e) { log(mediaTrouble(e), true); }
  }
  renderToggles();
  sendState();
}

// Raise hand / Lower hand.
function toggleHand() {
  if (!inCall()) return;
  state.handRaised = !state.handRaised;
  renderToggles();
  sendState();
}

// Tells the others our own states (`setState`): the microphone or camera off (a track that
// runs but is disabled), the hand raised. Everyone sees them in the list and on our tile.
export function sendState() {
  const mic = localTrack('audio');
  const cam = localTrack('video');
  send({ type: 'setState', micOff: Boolean(mic && !mic.enabled), cameraOff: Boolean(cam && !cam.enabled), handRaised: Boolean(state.handRaised) });
}

// Meet's shortcuts: Ctrl+D (⌘+D) the microphone, Ctrl+E (⌘+E) the camera, Ctrl+Alt+H (⌘+Alt+H)
// the hand; not while typing in a field (the chat), except for these chords.
function onShortcut(ev) {
  if (!inCall() || !(ev.ctrlKey || ev.metaKey) || ev.shiftKey) return;
  const key = ev.key.toLowerCase();
  const act = ev.altKey ? { h: toggleHand }[key] : { d: () => toggle('audio'), e: () => toggle('video') }[key];
  if (!act) return;
  ev.preventDefault();
  act();
}

export function renderToggles() {
  const mic = localTrack('audio');
  const cam = localTrack('video');
  const micOn = Boolean(mic?.enabled);
  const camOn = Boolean(cam?.enabled);
  // Muted by the host: the microphone runs but nobody hears it; only the host can undo that.
  const hostMuted = Boolean(state.participants.get(state.selfId)?.audioMuted);
  $('toggle-mic').setAttribute('aria-pressed', String(micOn && !hostMuted));
  setLabel('toggle-mic', hostMuted ? 'Muted by the host' : micOn ? 'Mute mic' : 'Unmute mic');
  $('toggle-cam').setAttribute('aria-pressed', String(camOn));
  setLabel('toggle-cam', camOn ? 'Stop camera' : 'Start camera');
  $('raise-hand').setAttribute('aria-pressed', String(Boolean(state.handRaised)));
  setLabel('raise-hand', state.handRaised ? 'Lower hand' : 'Raise hand');
  const off = state.phase === 'left' || !state.pc;
  $('toggle-mic').disabled = off || hostMuted;
  $('toggle-cam').disabled = off;
  $('raise-hand').disabled = !inCall();
}

// Our own picture beside the controls (unless Settings hides it), and the meter on our
// microphone.
export function showLocal() {
  const cam = localTrack('video');
  const shown = Boolean(cam) && $('self-view').checked;
  if (!shown) $('preview').srcObject = null;
  else if ($('preview').srcObject?.getVideoTracks()[0] !== cam) $('preview').srcObject = new MediaStream([cam]);
  $('preview').hidden = !shown;
  renderToggles();
  if (!$('devices-slot').hidden || testStream) startMeter(localTrack('audio') || testStream?.getAudioTracks()[0]);
}

// Switches the camera or microphone: a new track replaces the old on the same sender.
async function switchDevice(kind, deviceId) {
  if (kind === 'video') store.camera = deviceId; else store.mic = deviceId;
  if (testStream && !inCall()) { await startTest(); return; }
  const old = localTrack(kind);
  if (!inCall() || !old) return;
  // A phone cannot open two cameras at once: release the old one first.
  if (kind === 'video') old.stop();
  let track;
  try {
    const stream = await getMedia(kind === 'audio' ? 'audio' : 'video');
    track = stream.getTracks()[0];
  } catch (e) {
    log(mediaTrouble(e), true);
    if (kind !== 'video') return;
    track = (await getMedia('video').catch(() => null))?.getTracks()[0];
    if (!track) { state.local.removeTrack(old); showLocal(); return; }
  }
  track.enabled = old.enabled;
  await state.transceivers?.[kind]?.sender.replaceTrack(track);
  if (kind === 'video') applySendCap();
  state.local.removeTrack(old);
  old.stop();
  state.local.addTrack(track);
  log(`Now using ${track.label || 'the chosen device'}.`);
  showLocal();
}

// The pickers, refilled when devices come and go (names appear once access is allowed).
export async function refreshDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
  const fill = (select, kind, fallback, current) => {
    const list = devices.filter((d) => d.kind === kind && d.deviceId);
    select.replaceChildren(new Option(fallback, ''), ...list.map((d, i) => new Option(d.label || `${fallback.replace('Default ', '')} ${i + 1}`, d.deviceId)));
    const live = localTrack(kind === 'videoinput' ? 'video' : 'audio')?.getSettings?.().deviceId;
    select.value = [...select.options].some((o) => o.value === (live || current)) ? (live || current) : '';
  };
  fill($('camera-select'), 'videoinput', 'Default camera', store.camera);
  fill($('mic-select'), 'audioinput', 'Default microphone', store.mic);
}

// The microphone level (WebAudio AnalyserNode), drawn while the devices panel shows.
let meter = null;
function startMeter(track) {
  stopMeter();
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!track || !Ctx) return;
  const ctx = new Ctx();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const bar = $('mic-level');
  const draw = () => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    const level = Math.min(1, Math.sqrt(sum / buf.length) * 4);
    state.micLevel = track.enabled ? level : 0;
    bar.firstElementChild.style.width = `${Math.round(state.micLevel * 100)}%`;
    bar.setAttribute('aria-valuenow', String(Math.round(state.micLevel * 100)));
    meter.timer = setTimeout(draw, 100);
  };
  meter = { ctx, timer: null };
  ctx.resume().catch(() => {});
  draw();
}

function stopMeter() {
  if (!meter) return;
  clearTimeout(meter.timer);
  meter.ctx.close().catch(() => {});
  meter = null;
  $('mic-level').firstElementChild.style.width = '0';
}

// The home screen's "Test camera and microphone": the stream it starts is the one the call
// uses if the user joins while it runs.
let testStream = null;
async function startTest() {
  stopTest();
  $('device-error').textContent = '';
  try {
    testStream = await getMedia(state.audioOnly ? 'audio' : 'both');
  } catch (e) {
    $('device-error').textContent = mediaTrouble(e);
    return;
  }
  const cam = testStream.getVideoTracks()[0];
  $('device-preview').srcObject = cam ? new MediaStream([cam]) : null;
  $('device-preview').hidden = !cam;
  $('device-test').textContent = 'Stop the test';
  startMeter(testStream.getAudioTracks()[0]);
}

function stopTest() {
  if (!testStream) return;
  testStream.getTracks().forEach((t) => t.stop());
  testStream = null;
  $('device-preview').srcObject = null;
  $('device-preview').hidden = true;
  $('device-test').textContent = 'Test camera and microphone';
  stopMeter();
}

function takeTestStream(mode) {
  const s = testStream;
  if (!s || s.getTracks().some((t) => t.readyState !== 'live')) { stopTest(); return null; }
  const fits = ['audio', 'video'].every((k) => wants(mode, k) === (s.getTracks().some((t) => t.kind === k)));
  if (!fits) { stopTest(); return null; }
  testStream = null;
  $('device-preview').srcObject = null;
  $('device-preview').hidden = true;
  $('device-test').textContent = 'Test camera and microphone';
  stopMeter();
  return s;
}

// Every camera, microphone and screen track this page started ends (`ended`).
export function stopAllTracks() {
  stopMeter();
  stopTest();
  for (const t of state.tracks) t.stop();
  state.local?.getTracks().forEach((t) => t.stop());
  state.screen?.stream.getTracks().forEach((t) => t.stop());
  $('media-choice').hidden = true;
}

// The devices panel lives on the home screen before a call and under the stage during one.
export function placeDevices(where) {
  const slot = where === 'call' ? $('devices-slot') : $('home-devices-slot');
  slot.append($('devices'));
  $('device-test').hidden = where === 'call';
  $('audio-only-label').hidden = where !== 'call'; // the home screen has its own checkbox
  if (where === 'call') { stopTest(); if ($('devices-slot').hidden) stopMeter(); }
}

function toggleDevicesPanel() {
  const slot = $('devices-slot');
  slot.hidden = !slot.hidden;
  $('devices-button').setAttribute('aria-expanded', String(!slot.hidden));
  if (slot.hidden) stopMeter();
  else { refreshDevices(); startMeter(localTrack('audio')); }
}

export function initMedia() {
  placeDevices('home');
  state.audioOnly = localStorage.getItem('tessera.audioOnly') === '1';
  $('audio-only').checked = state.audioOnly;
  $('join-audio-only').checked = state.audioOnly;
  $('audio-only').onchange = (ev) => setAudioOnly(ev.target.checked);
  $('join-audio-only').onchange = (ev) => setAudioOnly(ev.target.checked);
  $('self-view').checked = localStorage.getItem('tessera.selfView') !== '0';
  $('self-view').onchange = (ev) => { localStorage.setItem('tessera.selfView', ev.target.checked ? '1' : '0'); showLocal(); };
  $('camera-select').onchange = (ev) => switchDevice('video', ev.target.value);
  $('mic-select').onchange = (ev) => switchDevice('audio', ev.target.value);
  $('device-test').onclick = () => (testStream ? stopTest() : startTest());
  $('devices-button').onclick = toggleDevicesPanel;
  $('toggle-mic').onclick = () => toggle('audio');
  $('toggle-cam').onclick = () => toggle('video');
  $('raise-hand').onclick = toggleHand;
  for (const [id, keys] of [['toggle-mic', 'Control+D'], ['toggle-cam', 'Control+E'], ['raise-hand', 'Control+Alt+H']]) {
    $(id).setAttribute('aria-keyshortcuts', keys);
    $(id).title = keys.replace('Control', 'Ctrl');
  }
  document.addEventListener('keydown', onShortcut);
  $('join-mic-only').onclick = () => choose('audio');
  $('join-cam-only').onclick = () => choose('video');
  $('join-listen-only').onclick = () => choose('none');
  $('media-retry').onclick = () => choose(state.audioOnly ? 'audio' : 'both');
  navigator.mediaDevices?.addEventListener?.('devicechange', refreshDevices);
  refreshDevices();
}
