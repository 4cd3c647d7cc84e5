// The watch page (`/watch.html?room=ID&token=VIEWER_TOKEN`): a WHEP player of a room's
// composite and whole mix. It asks for no camera or microphone and sends nothing; the server
// counts it as a viewer, not a participant. `window.tessera` exposes the peer connection and
// the session URL (tests read them).

const params = new URLSearchParams(location.search);
const room = params.get('room');
const token = params.get('token');
const video = document.getElementById('composite');
const status = document.getElementById('watch-status');
const sound = document.getElementById('watch-sound');
const stop = document.getElementById('watch-stop');
window.tessera = { pc: null, session: null };

const say = (text) => { status.textContent = text; };

// What a refusal means to someone holding a link.
function refusal(statusCode, body) {
  switch (body.code) {
    case 'unauthorized': case 'invalid_credentials': return 'This link does not let you watch this call: ask for a new one.';
    case 'token_expired': return 'This link has expired: ask for a new one.';
    case 'wrong_room': return 'This link is for another call.';
    case 'room_not_found': return 'There is no call at this link: check that you copied all of it.';
    case 'room_ended': return 'The call has ended.';
    case 'room_not_started': return 'The call has not started yet: come back at its start time.';
    case 'too_many_viewers': return 'Too many people are watching right now: try again in a minute.';
    default: return body.message || `The server refused (${statusCode}).`;
  }
}

// Resolves once ICE gathering is complete, or after `ms` (the server needs no candidate of ours
// to connect: it answers with all of its own).
function gathered(pc, ms) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') { resolve(); return; }
    const t = setTimeout(resolve, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
}

async function start() {
  if (!room) { say('This link names no call.'); stop.hidden = true; return; }
  const pc = new RTCPeerConnection();
  window.tessera.pc = pc;
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    video.srcObject = stream;
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected') say('Watching');
    if (pc.connectionState === 'disconnected') say('Reconnecting…');
    if (pc.connectionState === 'failed') say('The connection was lost. Reload the page to watch again.');
  };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, 2000);
  const headers = { 'Content-Type': 'application/sdp' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(`/api/v1/rooms/${encodeURIComponent(room)}/whep`, { method: 'POST', headers, body: pc.localDescription.sdp });
  } catch {
    say('The server cannot be reached. Check your connection and reload the page.');
    pc.close();
    return;
  }
  if (res.status !== 201) {
    say(refusal(res.status, await res.json().catch(() => ({}))));
    pc.close();
    stop.hidden = true;
    return;
  }
  window.tessera.session = res.headers.get('Location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  // Browsers play sound only after a click, unless told otherwise: offer the click.
  video.muted = false;
  video.play().catch(() => {
    video.muted = true;
    video.play().catch(() => {});
    sound.hidden = false;
  });
}

// Ends the session on the server (also when the page goes away).
function end(keepalive) {
  const url = window.tessera.session;
  window.tessera.session = null;
  if (url) fetch(url, { method: 'DELETE', keepalive }).catch(() => {});
  window.tessera.pc?.close();
}

sound.onclick = () => { video.muted = false; video.play().catch(() => {}); sound.hidden = true; };
stop.onclick = () => { end(false); stop.hidden = true; sound.hidden = true; say('You stopped watching. Reload the page to watch again.'); };
addEventListener('pagehide', () => end(true));
start().catch((e) => say(`Could not start: ${e.message}`));
