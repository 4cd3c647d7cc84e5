// Tessera browser client: joins a room over the signaling WebSocket (docs/signaling.md),
// sends camera + mic (and a screen when sharing), shows the one composite the server sends back.
'use strict';

const $ = (id) => document.getElementById(id);
const state = {
  ws: null, pc: null, local: null, participants: new Map(), selfId: null, ended: false, roomId: null, isHost: false,
  recording: null, lastRecordingId: null, recordBusy: false, failedRecordingId: null,
  // The room's effective layout, as in `welcome.layout` and `layoutChanged`.
  layout: { layout: 'grid', pinnedParticipantId: null, screenParticipantId: null },
  // The last `activeSpeakers`: who is talking, loudest first.
  activeSpeakers: { dominantParticipantId: null, speakers: [] },
  screen: null, // while sharing: {stream, track, sender, confirmed}
  shareBusy: false, // the browser's screen picker is open
  negotiation: Promise.resolve(), // offers go out one at a time (see negotiate)
  onReply: null, // settles the wait for the server's reply to the offer in flight
};
window.tessera = state; // for tests and debugging

function log(text, isError = false) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} — ${text}`;
  if (isError) li.className = 'error';
  $('log').prepend(li);
}

function showHomeError(text) { $('home-error').textContent = text; }

const params = new URLSearchParams(location.search);
function roomFromUrl() { return params.get('room'); }

// The creator of a room keeps its host token (end for everyone, kick, mute) in this browser.
const hostKey = (id) => `tessera.host.${id}`;
function hostToken(id) { return localStorage.getItem(hostKey(id)); }

function plainError(body, status) {
  const words = {
    unauthorized: 'this server needs an API key to create rooms; ask whoever runs it for an invitation link',
    invalid_credentials: 'the credentials were not accepted',
    token_expired: 'your access has expired',
    forbidden: 'you are not allowed to do that',
    too_many_rooms: 'the server has too many rooms right now; try again later',
    room_ended: 'the room has already ended',
    room_not_found: 'the room does not exist',
    recording_running: 'a recording is already running',
    recording_not_found: 'that recording does not exist',
    too_many_recordings: 'the server is recording as many calls as it can; try again later',
    media_unavailable: "the room's media could not start",
    participant_not_found: 'that person is no longer in the call',
  };
  return words[body.code] || body.message || `the server said ${status}`;
}

async function api(method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(plainError(json, res.status));
  return json;
}

async function createRoom(startsAt) {
  const body = await api('POST', '/api/v1/rooms', startsAt ? { startsAt } : {});
  localStorage.setItem(hostKey(body.room.id), body.hostToken);
  return body;
}

function goToRoom(id, token) {
  const name = $('name').value.trim();
  if (!name) { showHomeError('Please type your name first.'); return; }
  localStorage.setItem('tessera.name', name);
  const link = `/?room=${encodeURIComponent(id)}${token ? `&token=${encodeURIComponent(token)}` : ''}`;
  history.pushState({}, '', link);
  join(id, name, token || hostToken(id));
}

function whenText(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString([], { dateStyle: 'full', timeStyle: 'short' });
}

// Close codes of docs/signaling.md in plain words.
const CLOSE_WORDS = {
  4001: 'you were removed from the room',
  4401: 'your invitation link is not valid or has expired',
  4403: 'this invitation does not let you join this call (it is for another room, or for watching the live stream only)',
  4404: 'this room does not exist',
  4409: 'the room is full',
  4410: 'the room has ended',
  4425: 'the room has not started yet',
  4500: 'the server could not set up your connection',
};

async function getMedia() {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  } catch (e) {
    log(`Camera/microphone unavailable (${e.name}); joining to watch and listen only.`, true);
    return null;
  }
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function nameOf(id) { return (state.participants.get(id) || {}).name || 'Someone'; }

// Host actions on the room itself (layout, pin) go to PATCH with the host's join token.
function patchRoom(body) {
  return api('PATCH', `/api/v1/rooms/${encodeURIComponent(state.roomId)}`, body, state.token);
}

async function join(roomId, name, token) {
  $('home').hidden = true;
  $('call').hidden = false;
  state.roomId = roomId;
  $('room-label').textContent = `Room ${roomId}`;
  state.local = await getMedia();
  if (state.local) $('preview').srcObject = state.local;
  else $('preview').hidden = true;
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  let query = `name=${encodeURIComponent(name)}`;
  if (token) query += `&token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(`${proto}://${location.host}/api/v1/rooms/${encodeURIComponent(roomId)}/ws?${query}`);
  state.ws = ws;
  state.token = token;
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data)).catch((e) => log(`Error: ${e.message}`, true));
  ws.onclose = (ev) => {
    if (!state.ended) {
      log(`Disconnected: ${CLOSE_WORDS[ev.code] || 'the connection to the server closed'}.`, true);
    }
    finish(false);
  };
}

// The people list: who is pinned and who shares their screen; a host gets a Pin button for
// everyone, and kick and mute buttons for everyone else. Who is talking is drawn by renderSpeaking.
function renderPeople() {
  const ul = $('people');
  ul.replaceChildren();
  for (const [id, p] of state.participants) ul.append(personItem(id, p));
  renderSpeaking();
}

function personItem(id, p) {
  const li = document.createElement('li');
  li.dataset.participantId = id;
  const pinned = id === state.layout.pinnedParticipantId;
  const sharing = id === state.layout.screenParticipantId;
  li.classList.toggle('pinned', pinned);
  li.classList.toggle('sharing', sharing);
  const muted = [p.audioMuted && 'muted', p.videoMuted && 'video off'].filter(Boolean).join(', ');
  li.append(textSpan('name', `${p.name}${id === state.selfId ? ' (you)' : ''}${muted ? ` — ${muted}` : ''}`));
  li.append(levelBar(), badge('dominant', 'has the floor'));
  if (pinned) li.append(badge('pinned', 'pinned'));
  if (sharing) li.append(badge('sharing', 'sharing screen'));
  if (state.isHost) li.append(...hostButtons(id, p));
  return li;
}

function textSpan(className, text) {
  const span = document.createElement('span');
  span.className = className;
  span.textContent = text;
  return span;
}

function badge(kind, text) {
  const span = textSpan(`badge ${kind}`, text);
  span.hidden = kind === 'dominant'; // shown by renderSpeaking
  return span;
}

// How loud someone is now (filled by renderSpeaking).
function levelBar() {
  const bar = document.createElement('span');
  bar.className = 'level';
  bar.setAttribute('aria-hidden', 'true');
  bar.append(document.createElement('span'));
  return bar;
}

function actionButton(label, fn) {
  const b = document.createElement('button');
  b.textContent = label;
  b.onclick = () => fn().catch((e) => log(`Could not ${label.toLowerCase()}: ${e.message}`, true));
  return b;
}

function hostButtons(id, p) {
  const buttons = [pinButton(id)];
  if (id === state.selfId) return buttons;
  const base = `/api/v1/rooms/${encodeURIComponent(state.roomId)}/participants/${encodeURIComponent(id)}`;
  buttons.push(
    actionButton(p.audioMuted ? 'Unmute' : 'Mute', () => api('POST', `${base}/mute`, { audio: !p.audioMuted }, state.token)),
    actionButton(p.videoMuted ? 'Show video' : 'Hide video', () => api('POST', `${base}/mute`, { video: !p.videoMuted }, state.token)),
    actionButton('Remove', () => api('DELETE', base, undefined, state.token)),
  );
  return buttons;
}

// Pinning someone also switches the room to the `pinned` layout (a pin alone does not).
function pinButton(id) {
  const pinned = id === state.layout.pinnedParticipantId;
  const b = actionButton(pinned ? 'Unpin' : 'Pin', () => patchRoom(pinned ? { pin: null } : { layout: 'pinned', pin: id }));
  b.dataset.pin = id;
  return b;
}

// Who is talking, drawn onto the people list in place: it changes a few times a second, and
// rebuilding the list (and its buttons) that often would swallow the host's clicks.
function renderSpeaking() {
  const { dominantParticipantId, speakers } = state.activeSpeakers;
  const levels = new Map(speakers.map((s) => [s.participantId, s.level]));
  for (const li of $('people').children) {
    const id = li.dataset.participantId;
    const dominant = id === dominantParticipantId;
    li.classList.toggle('speaking', levels.has(id));
    li.classList.toggle('dominant', dominant);
    li.querySelector('.badge.dominant').hidden = !dominant;
    li.querySelector('.level > span').style.width = `${Math.round((levels.get(id) || 0) * 100)}%`;
  }
}

function setActiveSpeakers(msg) {
  const level = (x) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
  const speakers = (Array.isArray(msg.speakers) ? msg.speakers : [])
    .filter((s) => s && typeof s.participantId === 'string')
    .map((s) => ({ participantId: s.participantId, level: level(s.level) }));
  state.activeSpeakers = { dominantParticipantId: msg.dominantParticipantId ?? null, speakers };
  renderSpeaking();
}

// The layout object of `welcome.layout` or `layoutChanged`.
function layoutFrom(m) {
  const l = m || {};
  return {
    layout: typeof l.layout === 'string' && l.layout ? l.layout : 'grid',
    pinnedParticipantId: l.pinnedParticipantId ?? null,
    screenParticipantId: l.screenParticipantId ?? null,
  };
}

function setLayout(next) {
  const before = state.layout;
  state.layout = next;
  announceLayout(before, next);
  followServerShare();
  renderLayout();
  renderPeople();
}

function announceLayout(before, next) {
  const self = (id) => id === state.selfId;
  if (next.screenParticipantId !== before.screenParticipantId) {
    if (before.screenParticipantId) log(self(before.screenParticipantId) ? 'Your screen is no longer shared.' : `${nameOf(before.screenParticipantId)} stopped sharing their screen.`);
    if (next.screenParticipantId) log(self(next.screenParticipantId) ? 'Your screen is being shared.' : `${nameOf(next.screenParticipantId)} is sharing their screen.`);
  }
  if (next.pinnedParticipantId !== before.pinnedParticipantId) {
    log(next.pinnedParticipantId ? `${self(next.pinnedParticipantId) ? 'You are' : `${nameOf(next.pinnedParticipantId)} is`} pinned.` : 'Nobody is pinned now.');
  }
  if (next.layout !== before.layout) log(`The layout is now ${next.layout}.`);
}

// The host's layout selector, or the layout's name for everyone else. Layouts an operator added
// (pipelines/layouts.json) are shown by their names.
function renderLayout() {
  const { layout } = state.layout;
  const select = $('layout-select');
  if (![...select.options].some((o) => o.value === layout)) select.append(new Option(layout, layout));
  select.value = layout;
  select.disabled = state.ended;
  $('layout-control').hidden = !state.isHost;
  $('layout-label').hidden = state.isHost;
  $('layout-label').textContent = `Layout: ${layout}`;
}

// The recording running now ({id, startedAt}) or null: the red indicator, and the host's button.
function setRecording(rec) {
  state.recording = rec;
  if (rec) state.lastRecordingId = rec.id;
  $('recording-indicator').hidden = !rec;
  $('recording-indicator').title = rec ? `Recording since ${new Date(rec.startedAt).toLocaleTimeString()}` : '';
  if (rec) $('recording-error').hidden = true;
  renderRecordButton();
}

function renderRecordButton() {
  const b = $('record-button');
  b.hidden = !state.isHost;
  b.textContent = state.recording ? 'Stop recording' : 'Record';
  b.disabled = state.recordBusy || state.ended;
}

// A recording's failure reason (server words, e.g. an OS error) in plain words.
function recordingTrouble(reason = '') {
  if (/no space left|os error 28/i.test(reason)) return "the server's disk is full";
  if (/permission denied|os error 13/i.test(reason)) return 'the server is not allowed to write the recording';
  if (/recording folder|no such file|os error 2\b/i.test(reason)) return "the server's recording folder is missing or unusable";
  return 'the server could not write the file';
}

// The banner under the header, for recording trouble; it stays until dismissed.
function showRecordingError(text) {
  $('recording-error-text').textContent = text;
  $('recording-error').hidden = false;
  log(text, true);
}

// Told once per recording, whether by signaling or by the host's own request; it may fail
// as it starts, while it runs, or while its file is being closed after a stop.
function recordingFailed(id, reason) {
  if (state.failedRecordingId === id) return;
  state.failedRecordingId = id;
  const started = state.lastRecordingId === id;
  let text = `${started ? 'The recording failed' : 'The recording could not start'}: ${recordingTrouble(reason)}.`;
  if (state.isHost) {
    if (started) text += ' What was recorded until then is kept.';
    text += ` The server said: ${(reason || 'nothing more').replace(/\.$/, '')}. You can press Record to try again.`;
  }
  if (state.recording?.id === id) setRecording(null);
  showRecordingError(text);
}

async function onMessage(msg) {
  switch (msg.type) {
    case 'welcome': {
      state.selfId = msg.participantId;
      state.isHost = msg.you.role === 'host';
      $('end-all').hidden = !state.isHost;
      setRecording(msg.recording || null);
      state.participants.set(msg.you.id, msg.you);
      for (const p of msg.participants) state.participants.set(p.id, p);
      state.layout = layoutFrom(msg.layout);
      renderLayout();
      renderPeople();
      if (state.isHost) log('You are the host: you can mute or remove people, choose the layout, pin someone, record the call and end it for everyone.');
      log(msg.participants.length ? `You joined. Here already: ${msg.participants.map((p) => p.name).join(', ')}.` : 'You joined. Waiting for others…');
      if (msg.recording) log('This call is being recorded.');
      if (state.layout.screenParticipantId) log(`${nameOf(state.layout.screenParticipantId)} is sharing their screen.`);
      await startPeer(msg.iceServers);
      renderShareButton();
      break;
    }
    case 'answer':
      await onAnswer(msg.sdp);
      break;
    case 'candidate':
      await state.pc.addIceCandidate({ candidate: msg.candidate, sdpMid: msg.sdpMid, sdpMLineIndex: msg.sdpMLineIndex });
      break;
    case 'participantJoined':
      state.participants.set(msg.participant.id, msg.participant);
      log(`${msg.participant.name} joined.`);
      renderPeople();
      break;
    case 'participantLeft': {
      const how = { disconnected: 'lost their connection', kicked: 'was removed by the host', replaced: 'rejoined from elsewhere' };
      log(`${nameOf(msg.participantId)} ${how[msg.reason] || 'left'}.`);
      state.participants.delete(msg.participantId);
      renderPeople();
      break;
    }
    case 'participantUpdated': {
      const p = msg.participant;
      const who = p.id === state.selfId ? 'The host' : nameOf(p.id);
      const before = state.participants.get(p.id) || {};
      state.participants.set(p.id, p);
      if (p.id === state.selfId && before.audioMuted !== p.audioMuted) log(`${who} ${p.audioMuted ? 'muted' : 'unmuted'} your microphone.`);
      else if (p.id === state.selfId && before.videoMuted !== p.videoMuted) log(`${who} ${p.videoMuted ? 'hid' : 'showed'} your video.`);
      else log(`${who} is now ${[p.audioMuted ? 'muted' : 'unmuted', p.videoMuted ? 'with video hidden' : ''].join(' ').trim()}.`);
      renderPeople();
      break;
    }
    case 'layoutChanged':
      setLayout(layoutFrom(msg));
      break;
    case 'activeSpeakers':
      setActiveSpeakers(msg);
      break;
    case 'recordingStarted':
      if (state.recording?.id !== msg.recording.id) log('Recording started: this call is being recorded.');
      setRecording(msg.recording);
      break;
    case 'recordingStopped':
      if (msg.state === 'failed') recordingFailed(msg.recordingId, msg.reason);
      else if (state.recording?.id === msg.recordingId) { log('Recording stopped.'); setRecording(null); }
      break;
    case 'removed':
      log(msg.reason === 'replaced' ? 'You joined this call from another tab or device, so this one left.' : 'The host removed you from the call.', true);
      state.ended = true;
      finish(false);
      break;
    case 'roomEnded':
      log(`The call ended: ${msg.message}.`);
      state.ended = true;
      finish(false);
      break;
    case 'error':
      if (msg.code === 'room_not_started') {
        log(`This room opens on ${whenText(msg.startsAt)}. Come back then — this link will work.`, true);
        state.ended = true;
      } else if (msg.code === 'screen_share_busy' || msg.code === 'screen_share_failed') {
        await screenShareRefused(msg);
      } else {
        // These refuse the offer in flight: no answer will come for it.
        if (msg.code === 'bad_sdp' || msg.code === 'bad_message') state.onReply?.();
        log(`Error: ${msg.message}`, true);
      }
      break;
    default:
      break;
  }
}

async function startPeer(iceServers) {
  const pc = new RTCPeerConnection({ iceServers });
  state.pc = pc;
  const composite = new MediaStream();
  $('composite').srcObject = composite;
  pc.ontrack = (ev) => {
    // One composite video and one mix; a later m-line (the screen's, once renegotiated) brings
    // nothing to show.
    if (composite.getTracks().some((t) => t.kind === ev.track.kind)) return;
    composite.addTrack(ev.track);
    $('composite').play().catch(() => {});
  };
  pc.onicecandidate = (ev) => { if (ev.candidate) send({ type: 'candidate', ...ev.candidate.toJSON() }); };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed') log('The media connection failed.', true);
    if (pc.connectionState === 'connected') log('Media connected.');
  };
  if (state.local) {
    for (const t of state.local.getTracks()) pc.addTransceiver(t, { direction: 'sendrecv', streams: [state.local] });
  } else {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  }
  negotiate();
}

// Sends an offer for the peer connection as it is now, after the server has replied to the
// previous one, so that an answer is never applied to the wrong offer. Every offer sent while
// sharing names the screen's track; one without it ends the share.
function negotiate() {
  state.negotiation = state.negotiation.then(sendOffer).catch((e) => {
    if (!state.ended) log(`Could not set up the media connection: ${e.message}`, true);
  });
  return state.negotiation;
}

async function sendOffer() {
  const pc = state.pc;
  if (!pc || pc.signalingState === 'closed') return;
  await pc.setLocalDescription(await pc.createOffer());
  const replied = serverReply();
  const msg = { type: 'offer', sdp: pc.localDescription.sdp };
  if (state.screen) msg.screenTrackId = state.screen.track.id;
  send(msg);
  await replied;
}

// Resolves when the server has replied to the offer just sent (its answer, or an error refusing
// it), or after ANSWER_WAIT_MS without a reply: then the next offer goes anyway, and a late
// answer is still applied if no other offer went out meanwhile.
const ANSWER_WAIT_MS = 10000;
function serverReply() {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      if (state.onReply === done) state.onReply = null;
      resolve();
    };
    const timer = setTimeout(done, ANSWER_WAIT_MS);
    state.onReply = done;
  });
}

// The first answer and every renegotiation's; ICE candidates keep flowing both ways throughout
// (one bundled transport: a renegotiation gathers no new ones).
async function onAnswer(sdp) {
  const pc = state.pc;
  if (!pc || pc.signalingState !== 'have-local-offer') return; // no offer is waiting for it
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } finally {
    state.onReply?.();
  }
}

const canShareScreen = () => Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);

function renderShareButton() {
  const b = $('share-screen');
  b.hidden = !canShareScreen();
  b.textContent = state.screen ? 'Stop sharing' : 'Share screen';
  b.disabled = state.shareBusy || state.ended || !state.pc;
}

// Adds the screen to the same peer connection and renegotiates. Cancelling the browser's
// picker is not an error.
async function startShare() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true });
  } catch (e) {
    if (e.name !== 'NotAllowedError' && e.name !== 'AbortError') log(`Could not share your screen (${e.name}).`, true);
    return;
  }
  const [track] = stream.getVideoTracks();
  if (!track || state.screen || state.ended || !state.pc) { // the call ended while the picker was open
    stream.getTracks().forEach((t) => t.stop());
    return;
  }
  track.contentHint = 'detail';
  track.onended = () => stopShare(); // the browser's own "Stop sharing"
  state.screen = { stream, track, sender: state.pc.addTrack(track, stream), confirmed: false };
  renderShareButton();
  negotiate();
}

// Removes the screen and renegotiates without `screenTrackId`, which ends the share.
function stopShare() {
  const share = state.screen;
  if (!share) return Promise.resolve();
  state.screen = null;
  share.track.onended = null;
  share.stream.getTracks().forEach((t) => t.stop());
  renderShareButton();
  if (!state.pc || state.pc.signalingState === 'closed') return Promise.resolve();
  state.pc.removeTrack(share.sender);
  return negotiate();
}

// `screen_share_busy` (someone else shares) or `screen_share_failed`: the server ignores our
// screen, so stop sending it.
async function screenShareRefused(msg) {
  const busy = msg.code === 'screen_share_busy';
  const why = (msg.message || (busy ? 'someone else is already sharing their screen' : 'the server could not show your screen')).replace(/\.$/, '');
  log(`${busy ? 'Could not share your screen' : 'Screen sharing stopped'}: ${why}.`, true);
  await stopShare();
}

// Once the server has shown our screen, its saying that someone else (or nobody) shares means
// our share ended there; stop sending it.
function followServerShare() {
  const share = state.screen;
  if (!share) return;
  if (state.layout.screenParticipantId === state.selfId) share.confirmed = true;
  else if (share.confirmed) stopShare();
}

function toggle(kind, button, onLabel, offLabel) {
  if (!state.local) return;
  for (const t of state.local.getTracks().filter((t) => t.kind === kind)) t.enabled = !t.enabled;
  const on = state.local.getTracks().some((t) => t.kind === kind && t.enabled);
  button.setAttribute('aria-pressed', String(on));
  button.textContent = on ? onLabel : offLabel;
}

function finish(sayBye) {
  if (sayBye) send({ type: 'leave' });
  state.ended = true;
  if (state.local) state.local.getTracks().forEach((t) => t.stop());
  if (state.screen) state.screen.stream.getTracks().forEach((t) => t.stop());
  state.screen = null;
  if (state.pc) state.pc.close();
  if (state.ws && state.ws.readyState <= WebSocket.OPEN) state.ws.close(1000);
  $('hang-up').disabled = true;
  $('end-all').disabled = true;
  $('layout-select').disabled = true;
  renderShareButton();
  setRecording(null);
}

$('new-room').onclick = async () => {
  if (!$('name').value.trim()) { showHomeError('Please type your name first.'); return; }
  try { goToRoom((await createRoom()).room.id); } catch (e) { showHomeError(`Could not create a room: ${e.message}`); }
};
$('schedule-room').onclick = async () => {
  const when = new Date($('starts-at').value);
  if (Number.isNaN(when.getTime())) { showHomeError('Pick a date and time for the room.'); return; }
  if (when.getTime() < Date.now()) { showHomeError('Pick a time in the future.'); return; }
  try {
    const created = await createRoom(when.toISOString());
    $('scheduled-when').textContent = whenText(created.room.startsAt);
    $('scheduled-link').value = created.joinUrl;
    $('scheduled').hidden = false;
    showHomeError('');
  } catch (e) { showHomeError(`Could not schedule a room: ${e.message}`); }
};
$('join-room').onclick = () => {
  const id = $('room-id').value.trim();
  if (!id) { showHomeError('Type a room ID to join.'); return; }
  goToRoom(id, id === roomFromUrl() ? params.get('token') : null);
};
$('end-all').onclick = () => {
  api('DELETE', `/api/v1/rooms/${encodeURIComponent(state.roomId)}`, undefined, state.token)
    .catch((e) => log(`Could not end the call: ${e.message}`, true));
};
$('record-button').onclick = async () => {
  const running = state.recording;
  state.recordBusy = true;
  renderRecordButton();
  try {
    if (running) {
      await api('POST', `/api/v1/recordings/${encodeURIComponent(running.id)}/stop`, undefined, state.token);
      if (state.recording?.id === running.id) { log('Recording stopped.'); setRecording(null); }
    } else {
      const rec = await api('POST', `/api/v1/rooms/${encodeURIComponent(state.roomId)}/recordings`, undefined, state.token);
      if (rec.state === 'failed') recordingFailed(rec.id, rec.reason);
      else if (state.recording?.id !== rec.id) { log('Recording started: this call is being recorded.'); setRecording({ id: rec.id, startedAt: rec.startedAt }); }
    }
  } catch (e) {
    showRecordingError(`Could not ${running ? 'stop' : 'start'} the recording: ${e.message}`);
  } finally {
    state.recordBusy = false;
    renderRecordButton();
  }
};
$('share-screen').onclick = async () => {
  if (state.screen) { stopShare(); return; }
  state.shareBusy = true;
  renderShareButton();
  try {
    await startShare();
  } finally {
    state.shareBusy = false;
    renderShareButton();
  }
};
// The host picks the room's layout. While a screen is shared the room shows `presentation`;
// the choice applies when the sharing stops.
$('layout-select').onchange = async (ev) => {
  const layout = ev.target.value;
  try {
    await patchRoom({ layout });
    if (state.layout.screenParticipantId && layout !== 'presentation') {
      log(`The room will use the ${layout} layout when the screen sharing stops.`);
      renderLayout();
    } else if (layout === 'pinned' && !state.layout.pinnedParticipantId) {
      log('Choose whom to show large with a Pin button in the people list.');
    }
  } catch (e) {
    log(`Could not change the layout: ${e.message}`, true);
    renderLayout();
  }
};
$('recording-error-close').onclick = () => { $('recording-error').hidden = true; };
$('toggle-mic').onclick = () => toggle('audio', $('toggle-mic'), 'Mute mic', 'Unmute mic');
$('toggle-cam').onclick = () => toggle('video', $('toggle-cam'), 'Stop camera', 'Start camera');
$('hang-up').onclick = () => { log('You left the call.'); finish(true); };
$('copy-link').onclick = () => navigator.clipboard.writeText(location.href).then(() => log('Link copied.'), () => log(location.href));

$('name').value = localStorage.getItem('tessera.name') || '';
const linked = roomFromUrl();
if (linked) $('room-id').value = linked;
