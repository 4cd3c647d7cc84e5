// Tessera browser client: joins a room over the signaling WebSocket (docs/signaling.md),
// sends camera + mic, shows the one composite the server sends back.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { ws: null, pc: null, local: null, participants: new Map(), selfId: null, ended: false };
window.tessera = state; // for tests and debugging

function log(text, isError = false) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} — ${text}`;
  if (isError) li.className = 'error';
  $('log').prepend(li);
}

function showHomeError(text) { $('home-error').textContent = text; }

function roomFromUrl() { return new URLSearchParams(location.search).get('room'); }

async function createRoom() {
  const res = await fetch('/api/v1/rooms', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({}),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `the server said ${res.status}`);
  return body.id;
}

function goToRoom(id) {
  const name = $('name').value.trim();
  if (!name) { showHomeError('Please type your name first.'); return; }
  localStorage.setItem('tessera.name', name);
  history.pushState({}, '', `/?room=${encodeURIComponent(id)}`);
  join(id, name);
}

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

function nameOf(id) { return state.participants.get(id) || 'Someone'; }

async function join(roomId, name) {
  $('home').hidden = true;
  $('call').hidden = false;
  $('room-label').textContent = `Room ${roomId}`;
  state.local = await getMedia();
  if (state.local) $('preview').srcObject = state.local;
  else $('preview').hidden = true;
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/api/v1/rooms/${encodeURIComponent(roomId)}/ws?name=${encodeURIComponent(name)}`);
  state.ws = ws;
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data)).catch((e) => log(`Error: ${e.message}`, true));
  ws.onclose = (ev) => {
    if (!state.ended) {
      const why = ev.code === 4404 ? 'this room does not exist' : ev.code === 4409 ? 'the room is full' : 'the connection to the server closed';
      log(`Disconnected: ${why}.`, true);
    }
    finish(false);
  };
}

async function onMessage(msg) {
  switch (msg.type) {
    case 'welcome': {
      state.selfId = msg.participantId;
      for (const p of msg.participants) state.participants.set(p.id, p.name);
      log(msg.participants.length ? `You joined. Here already: ${msg.participants.map((p) => p.name).join(', ')}.` : 'You joined. Waiting for others…');
      await startPeer(msg.iceServers);
      break;
    }
    case 'answer':
      await state.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
      break;
    case 'candidate':
      await state.pc.addIceCandidate({ candidate: msg.candidate, sdpMid: msg.sdpMid, sdpMLineIndex: msg.sdpMLineIndex });
      break;
    case 'participantJoined':
      state.participants.set(msg.participant.id, msg.participant.name);
      log(`${msg.participant.name} joined.`);
      break;
    case 'participantLeft':
      log(`${nameOf(msg.participantId)} ${msg.reason === 'disconnected' ? 'lost their connection' : 'left'}.`);
      state.participants.delete(msg.participantId);
      break;
    case 'roomEnded':
      log(`The call ended (${msg.reason}).`);
      state.ended = true;
      finish(false);
      break;
    case 'error':
      log(`Error: ${msg.message}`, true);
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
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  send({ type: 'offer', sdp: pc.localDescription.sdp });
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
  if (state.pc) state.pc.close();
  if (state.ws && state.ws.readyState <= WebSocket.OPEN) state.ws.close(1000);
  $('hang-up').disabled = true;
}

$('new-room').onclick = async () => {
  try { goToRoom(await createRoom()); } catch (e) { showHomeError(`Could not create a room: ${e.message}`); }
};
$('join-room').onclick = () => {
  const id = $('room-id').value.trim();
  if (!id) { showHomeError('Type a room ID to join.'); return; }
  goToRoom(id);
};
$('toggle-mic').onclick = () => toggle('audio', $('toggle-mic'), 'Mute mic', 'Unmute mic');
$('toggle-cam').onclick = () => toggle('video', $('toggle-cam'), 'Stop camera', 'Start camera');
$('hang-up').onclick = () => { log('You left the call.'); finish(true); };
$('copy-link').onclick = () => navigator.clipboard.writeText(location.href).then(() => log('Link copied.'), () => log(location.href));

$('name').value = localStorage.getItem('tessera.name') || '';
const linked = roomFromUrl();
if (linked) $('room-id').value = linked;
