// The signaling socket: joining (the socket first, nothing started until `welcome`), refusals
// shown on the home screen, reconnecting after a network drop (resume with `resumeToken`, back-off
// of at most 2.4 s, at once when the network or the media comes back, giving up once nothing has
// come from the server for about 40 s), and leaving by any path (tracks stopped, `leave` sent,
// socket and peer connection closed).
import { $, state, log, inCall, CLOSE_CODES, TRANSIENT, WORDS, capital, whenText, api, deviceId } from './state.js';
import { closePeer, negotiate, renderShareButton, restartIce, startPeer, stopShare, setPeerHooks } from './peer.js';
import { stopAllTracks, placeDevices, renderToggles, sendState } from './media.js';
import { renderChatState, resetChat } from './chat.js';
import { cancelUploads } from './files.js';
import { renderLayout, renderPeople, setRecording } from './people.js';
import { resetQuality } from './quality.js';
import { cancelAutoJoin, forgetCall, noSuchRoom, rememberCall } from './invite.js';

// Back-off between attempts (capped low: after a drop the call should resume within about 2 s of
// the network returning, even where no `online` event tells us), with ±20 % jitter so that a
// room's participants do not all come back in the same instant.
const BACKOFF_MS = [500, 1000, 2000];
const backoff = (n) => Math.round(BACKOFF_MS[Math.min(n, BACKOFF_MS.length - 1)] * (0.8 + 0.4 * Math.random()));
// Reconnecting stops when nothing has come from the server for this long: no socket, and no
// media on the peer connection. The server keeps a session while its media flows (up to
// `limits.resumeMaxSeconds`), so while ours arrives the client keeps resuming.
const GIVE_UP_MS = 40000;
const CONNECT_TIMEOUT_MS = 8000;
// While reconnecting, the peer connection's inbound bytes are read this often: growing, the
// media flows (the session is kept); growing again after a pause, the network is back.
const MEDIA_CHECK_MS = 1000;
// When the network looks back, a socket that has been opening for less than this is left to
// finish; an older one was opened on the dead network and is dropped.
const FRESH_SOCKET_MS = 1000;
// While reconnecting, each attempt first asks the server for `/healthz` (a small GET) and opens a
// new socket only once it answers. Browsers hold back WebSockets to a server after failed ones
// (RFC 6455 7.2.3: Firefox waits seconds, longer after each failure), so failing sockets while
// the network is away would delay the one that could get through.
const PROBE_TIMEOUT_MS = 2000;

let dispatch = () => {};
export function setDispatch(fn) { dispatch = fn; }

// --- screens -------------------------------------------------------------------------------

export function showHome({ error = '', status = '', rejoin = false, cancel = false } = {}) {
  $('call').hidden = true;
  $('home').hidden = false;
  placeDevices('home');
  $('home-error').textContent = error;
  $('home-status').textContent = status;
  $('rejoin').hidden = !rejoin;
  $('cancel-join').hidden = !cancel;
  $('home-actions').hidden = !rejoin && !cancel;
  setHomeBusy(state.phase === 'joining');
}

function setHomeBusy(busy) {
  for (const id of ['new-room', 'join-room', 'schedule-room']) $(id).disabled = busy;
}

function showCall() {
  $('home').hidden = true;
  $('call').hidden = false;
  placeDevices('call');
  $('room-label').textContent = `Room ${state.roomId}`;
  document.title = `Room ${state.roomId} — Tessera`;
  for (const id of ['hang-up', 'end-all', 'layout-select']) $(id).disabled = false;
}

// --- joining ---------------------------------------------------------------------------------

// `notice`: why this join happens by itself (the client's retry after `connection_failed`),
// shown while joining and then in the call's banner until dismissed.
export async function join(roomId, name, token, { notice = '' } = {}) {
  if (state.phase === 'joining' || inCall()) return;
  clearTimeout(state.retryTimer);
  Object.assign(state, {
    phase: 'joining', ended: true, roomId, name, token: token || null, resumeToken: null, selfId: null, isHost: false, ws: null,
    pc: null, dc: null, local: null, screen: null, mode: 'both', connectAttempt: 0, reconnect: null, notice,
    layout: { layout: 'grid', pinnedParticipantId: null, screenParticipantId: null },
    activeSpeakers: { dominantParticipantId: null, speakers: [] },
  });
  state.participants.clear();
  for (const t of state.tracks) if (t.readyState === 'ended') state.tracks.delete(t);
  $('log').replaceChildren();
  if (notice) log(notice, true);
  $('call-notice').hidden = true;
  $('composite').srcObject = null;
  $('composite').muted = false;
  $('unmute').hidden = true;
  resetQuality();
  resetChat();
  showHome({ status: notice ? `${notice} Joining…` : 'Joining…', cancel: true });
  connectJoin();
}

async function connectJoin() {
  const roomId = state.roomId;
  // In open mode anyone may have a join token; ours lets us send and download files.
  if (!state.token) state.token = await guestToken(roomId, state.name);
  if (state.phase !== 'joining' || state.roomId !== roomId || state.ws) return;
  openSocket(false);
}

async function guestToken(roomId, name) {
  try {
    const r = await api('POST', `/api/v1/rooms/${encodeURIComponent(roomId)}/tokens`, { name, ttlSeconds: 86400 });
    return r.token || null;
  } catch {
    return null; // not open mode (or no such room): the socket says why
  }
}

function openSocket(resume) {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  let query = `name=${encodeURIComponent(state.name)}&device=${deviceId()}`;
  if (state.token) query += `&token=${encodeURIComponent(state.token)}`;
  if (resume && state.resumeToken) query += `&resume=${encodeURIComponent(state.resumeToken)}`;
  const ws = new WebSocket(`${proto}://${location.host}/api/v1/rooms/${encodeURIComponent(state.roomId)}/ws?${query}`);
  state.ws = ws;
  // `lobby`: the server holds this socket in the room's lobby until a host lets us in.
  const attempt = { welcomed: false, refusal: null, lobby: false };
  // A socket that neither opens nor fails (a network black hole) is given up and retried.
  const timer = setTimeout(() => {
    if (attempt.welcomed || attempt.lobby || state.ws !== ws) return;
    ws.onclose = null;
    ws.onmessage = null;
    ws.close();
    socketClosed({ code: 1006 }, attempt);
  }, CONNECT_TIMEOUT_MS);
  ws.onmessage = (ev) => {
    if (state.ws !== ws) return;
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (!attempt.welcomed) {
      if (msg.type === 'welcome') {
        attempt.welcomed = true;
        clearTimeout(timer);
      } else if (msg.type === 'error') {
        attempt.refusal = msg; // the close that follows says what to do
        return;
      } else if (msg.type === 'lobbyWaiting') {
        attempt.lobby = true;
        showHome({ status: 'Waiting for the host to let you in… You will join as soon as they do.', cancel: true });
        return;
      }
    }
    Promise.resolve(dispatch(msg, 'socket')).catch((e) => log(`Error: ${e.message}`, true));
  };
  ws.onclose = (ev) => {
    clearTimeout(timer);
    if (state.ws === ws) socketClosed(ev, attempt);
  };
}

// Why a join was refused, in plain words (the `error` before the close, or the close code).
function refusalWords(code, refusal) {
  if (code === 'room_not_started') {
    return refusal?.startsAt ? `This room opens on ${whenText(refusal.startsAt)}. Come back then — this link will work.` : 'This room has not started yet. Come back later — this link will work.';
  }
  return `${capital(WORDS[code] || refusal?.message || 'the server refused to let you in')}.`;
}

function socketClosed(ev, attempt) {
  state.ws = null;
  const code = attempt.refusal?.code || CLOSE_CODES[ev.code];
  if (state.phase === 'joining') {
    if (code && !TRANSIENT.has(code)) {
      state.phase = 'idle';
      const words = refusalWords(code, attempt.refusal);
      forgetCall();
      log(words, true);
      if (code === 'room_not_found') noSuchRoom();
      showHome({ error: words, rejoin: code === 'room_full' || code === 'internal' });
    } else {
      retryJoin();
    }
  } else if (state.phase === 'call') {
    if (code && !TRANSIENT.has(code)) leaveCall({ sayBye: false, words: refusalWords(code, attempt.refusal) });
    else startReconnect();
  } else if (state.phase === 'reconnecting') {
    // The session is gone: the next attempt joins afresh.
    if (code === 'connection_failed') { state.resumeToken = null; scheduleReconnect(); return; }
    // The room is gone, or we may not come back: give up now. Anything else: try again.
    if (code && code !== 'internal' && code !== 'room_full' && !TRANSIENT.has(code)) leaveCall({ sayBye: false, words: `You could not get back into the call: ${refusalWords(code, attempt.refusal)}` });
    else scheduleReconnect({ transient: TRANSIENT.has(code) });
  }
}

// The server could not be reached before joining: say so and keep trying.
function retryJoin() {
  const delay = backoff(state.connectAttempt++);
  const offline = navigator.onLine === false ? ' (this device seems to be offline)' : '';
  showHome({ status: `Cannot reach the server${offline}. Trying again in ${Math.ceil(delay / 1000)} s…`, cancel: true });
  state.retryTimer = setTimeout(() => { if (state.phase === 'joining') connectJoin(); }, delay);
}

function cancelJoin() {
  if (cancelAutoJoin()) return; // waiting for a scheduled room to open
  clearTimeout(state.retryTimer);
  if (state.phase === 'joining') {
    state.phase = 'idle';
    const ws = state.ws;
    state.ws = null;
    if (ws) { ws.onclose = null; ws.close(); }
  }
  showHome({ status: '' });
}

// --- in the call -----------------------------------------------------------------------------

// `welcome` moved us from joining into the call.
export function enterCall() {
  state.phase = 'call';
  rememberCall(state.roomId, state.name);
  state.ended = false;
  clearTimeout(state.retryTimer);
  showCall();
  $('call-notice-text').textContent = state.notice || '';
  $('call-notice').hidden = !state.notice;
  renderToggles();
  // A new session starts with every state off on the server: say ours again (a hand raised
  // before a rejoin, a microphone muted before a reconnection).
  if (state.handRaised || state.local?.getTracks().some((t) => !t.enabled)) sendState();
  renderChatState();
}

// A signaling socket that looks open but is dead (no answer to an ICE restart, the browser went
// offline): drop it WITHOUT a close frame (a close frame means leaving) and resume on a new one.
export function lostSocket(why) {
  if (state.phase !== 'call') return;
  const ws = state.ws;
  state.ws = null;
  if (ws) { ws.onclose = null; ws.onmessage = null; }
  startReconnect(why);
}

function startReconnect(why) {
  state.phase = 'reconnecting';
  // `mediaSeen`: when inbound media last grew; `flowing`: it grew at the last check (assumed at
  // the loss, so only media coming back after a pause retries at once).
  const r = { since: Date.now(), attempt: 0, timer: null, probe: null, socketAt: 0, bytes: null, mediaSeen: 0, flowing: true, watch: null };
  r.watch = setInterval(() => checkMedia(r), MEDIA_CHECK_MS);
  state.reconnect = r;
  log(`Lost the connection to the server${why ? ` (${why})` : ''}; reconnecting…`, true);
  $('reconnect-rejoin').hidden = true;
  $('reconnecting').hidden = false;
  renderShareButton();
  renderChatState();
  scheduleReconnect();
}

// A refusal that passes by itself (the room is moving between servers): try again soon, not
// after the growing back-off meant for an unreachable network.
const TRANSIENT_RETRY_MS = 500;

function scheduleReconnect({ transient = false } = {}) {
  const r = state.reconnect;
  if (!r) return;
  clearTimeout(r.timer);
  r.probe?.abort();
  r.probe = null;
  if (Date.now() - Math.max(r.since, r.mediaSeen) > GIVE_UP_MS) { giveUp(); return; }
  const delay = transient ? TRANSIENT_RETRY_MS * (0.8 + Math.random() * 0.4) : backoff(r.attempt);
  r.attempt++;
  $('reconnecting-text').textContent = `Reconnecting… (attempt ${r.attempt}${navigator.onLine === false ? '; this device seems to be offline' : ''})`;
  r.timer = setTimeout(tryReconnect, delay);
}

// One attempt: the probe, then (if the server answered) a new socket; else the next back-off.
// Any HTTP answer counts (a proxy in front may not route `/healthz`), but a gateway's 502/503/504
// (the server behind it is down). The server's own 503 (`draining`, or `degraded` in a cluster
// whose Redis is away) still serves the calls it holds, so it counts as an answer.
// A 503 from the server itself, not from a gateway: its `/healthz` body says why.
async function serverSaysBusy(res) {
  if (res.status !== 503) return false;
  const body = await res.json().catch(() => null);
  return body?.status === 'draining' || body?.status === 'degraded';
}

async function tryReconnect() {
  const r = state.reconnect;
  if (!r || state.phase !== 'reconnecting' || state.ws) return; // (a socket is opening: its end reschedules)
  clearTimeout(r.timer);
  r.probe?.abort();
  const probe = new AbortController();
  r.probe = probe;
  const timer = setTimeout(() => probe.abort(), PROBE_TIMEOUT_MS);
  let reachable = false;
  try {
    const res = await fetch('/healthz', { cache: 'no-store', signal: probe.signal });
    reachable = ![502, 503, 504].includes(res.status) || (await serverSaysBusy(res));
  } catch {
    // unreachable, or no answer within PROBE_TIMEOUT_MS
  } finally {
    clearTimeout(timer);
  }
  if (state.reconnect !== r || r.probe !== probe || state.phase !== 'reconnecting') return; // superseded
  r.probe = null;
  if (reachable) {
    r.socketAt = Date.now();
    openSocket(true);
  } else scheduleReconnect();
}

async function inboundBytes(pc) {
  let bytes = 0;
  for (const s of (await pc.getStats()).values()) if (s.type === 'inbound-rtp') bytes += s.bytesReceived || 0;
  return bytes;
}

// Every MEDIA_CHECK_MS while reconnecting: is the composite (or the mix) still arriving?
async function checkMedia(r) {
  const pc = state.pc;
  if (state.reconnect !== r || !pc || pc.signalingState === 'closed') return;
  let bytes;
  try { bytes = await inboundBytes(pc); } catch { return; }
  if (state.reconnect !== r) return;
  const grew = r.bytes !== null && bytes > r.bytes;
  r.bytes = bytes;
  if (!grew) { r.flowing = false; return; }
  r.mediaSeen = Date.now();
  if (!r.flowing) {
    r.flowing = true;
    retryNow('the media flows again');
  }
}

// The network looks back (`online`, media arriving again, ICE connected again): the next attempt
// now rather than at the end of the back-off. A socket still opening is dropped (`stale`: any;
// else only one opening for FRESH_SOCKET_MS or more); an open one is awaiting its `welcome`.
function retryNow(why, { stale = false } = {}) {
  const r = state.reconnect;
  if (!r || state.phase !== 'reconnecting') return;
  const ws = state.ws;
  if (ws && (ws.readyState !== WebSocket.CONNECTING || (!stale && Date.now() - r.socketAt < FRESH_SOCKET_MS))) return;
  console.info(`reconnecting at once: ${why}`);
  r.attempt = 0;
  state.ws = null;
  if (ws) { ws.onclose = null; ws.onmessage = null; ws.close(); }
  tryReconnect();
}

// The peer connection's ICE is connected (again): while reconnecting, the network is back.
export function mediaConnected() {
  retryNow('the media connection is up');
}

function stopReconnect() {
  const r = state.reconnect;
  if (!r) return;
  clearTimeout(r.timer);
  clearInterval(r.watch);
  r.probe?.abort();
  state.reconnect = null;
}

// After about 40 s without anything from the server: stop, release the camera, and say so
// plainly, with a Rejoin button.
function giveUp() {
  const seconds = Math.round(GIVE_UP_MS / 1000);
  leaveCall({ sayBye: false, home: false });
  log(`Gave up reconnecting after ${seconds} s.`, true);
  $('reconnecting-text').textContent = `Could not reconnect to the call: the server has been unreachable for ${seconds} seconds. Check your network, then press Rejoin.`;
  $('reconnect-rejoin').hidden = false;
  $('reconnecting').hidden = false;
  $('reconnect-rejoin').focus();
}

// `welcome` on a new socket while reconnecting: the same session (keep the peer connection and
// restart ICE), or a new one (a new peer connection, the same camera and microphone).
export function reconnected(resumed) {
  stopReconnect();
  state.phase = 'call';
  state.ended = false;
  $('reconnecting').hidden = true;
  renderChatState();
  renderShareButton();
  if (resumed) {
    log('Reconnected.');
    state.onReply?.('lost'); // an offer sent on the dead socket will get no answer
    if (state.pc) negotiate({ iceRestart: true });
    return;
  }
  log('Reconnected (as a new session: the server had let the old one go).');
  if (!state.pc) return; // still choosing how to join: nothing was sent yet
  stopShare({ renegotiate: false });
  if (state.local) {
    for (const t of state.local.getTracks()) if (t.readyState !== 'live') state.local.removeTrack(t);
  }
  startPeer();
}

// Leaving by any path: Hang up, tab closed, history back, removed, room ended, gave up.
// `rejoin`: whether the home screen offers Rejoin (not after a removal or the end of the call).
export function leaveCall({ sayBye = true, words = '', home = true, rejoin = true } = {}) {
  clearTimeout(state.retryTimer);
  stopReconnect();
  const was = state.phase;
  // Leaving on purpose (not a reload or a closed tab: those leave with `home` false).
  if (home) forgetCall();
  if (was === 'idle' || was === 'left') { if (home && words) showHome({ error: words }); return; }
  state.phase = was === 'joining' ? 'idle' : 'left';
  state.handRaised = false;
  state.ended = true;
  if (sayBye && state.ws?.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify({ type: 'leave' }));
  stopAllTracks();
  cancelUploads();
  closePeer();
  const ws = state.ws;
  state.ws = null;
  if (ws) {
    ws.onclose = null;
    ws.onmessage = null;
    if (ws.readyState <= WebSocket.OPEN) ws.close(1000);
  }
  $('reconnecting').hidden = true;
  $('call-notice').hidden = true;
  for (const id of ['hang-up', 'end-all', 'layout-select']) $(id).disabled = true;
  renderShareButton();
  renderToggles();
  renderChatState();
  renderLayout();
  renderPeople();
  setRecording(null);
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  if (home) showHome({ error: words, rejoin: rejoin && was !== 'joining' });
}

function rejoin() {
  if (!state.roomId) return;
  join(state.roomId, state.name, state.token);
}

// The network came back: retry now rather than at the end of the back-off; in a call whose
// socket survived, the media path probably changed (Wi-Fi to mobile): restart ICE.
function online() {
  if (state.phase === 'reconnecting') {
    retryNow('the device is online', { stale: true }); // a socket opening on the old network: dropped
  } else if (state.phase === 'joining' && !state.ws) {
    clearTimeout(state.retryTimer);
    connectJoin();
  } else if (state.phase === 'call') {
    restartIce('the network changed');
  }
}

export function initConnection() {
  setPeerHooks({ lostSocket, mediaConnected });
  $('rejoin').onclick = rejoin;
  $('reconnect-rejoin').onclick = rejoin;
  $('cancel-join').onclick = cancelJoin;
  $('call-notice-close').onclick = () => { $('call-notice').hidden = true; };
  window.addEventListener('online', online);
  window.addEventListener('offline', () => {
    if (state.phase === 'call') lostSocket('the device went offline');
    else if (state.phase === 'reconnecting') scheduleReconnect();
  });
  // Closing the tab or navigating away: leave at once (the others are told within a second).
  window.addEventListener('pagehide', () => leaveCall({ home: false }));
  window.addEventListener('pageshow', (ev) => { if (ev.persisted && state.phase === 'left') showHome({ error: 'You left the call.', rejoin: true }); });
  // History back (or forward) away from the call's address.
  window.addEventListener('popstate', () => {
    const room = new URLSearchParams(location.search).get('room');
    $('room-id').value = room || '';
    if ((inCall() || state.phase === 'joining') && room !== state.roomId) {
      log('You left the call.');
      leaveCall({ words: 'You left the call.' });
    }
  });
}
