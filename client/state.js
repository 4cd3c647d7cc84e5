// The client's shared state and small helpers (no imports: every other module builds on this).
export const $ = (id) => document.getElementById(id);

export const state = {
  // `phase`: 'idle' (home screen), 'joining' (socket opening, nothing started), 'call',
  // 'reconnecting' (in a call, the socket is being reopened), 'left' (the call is over).
  phase: 'idle',
  ws: null, pc: null, local: null, participants: new Map(), selfId: null, ended: true, roomId: null, isHost: false,
  name: null, token: null, resumeToken: null,
  limits: { chatMessageBytes: 4096, fileBytes: 104857600, resumeSeconds: 30, resumeMaxSeconds: 300 },
  recording: null, lastRecordingId: null, recordBusy: false, failedRecordingId: null,
  // The room's effective layout, as in `welcome.layout` and `layoutChanged`.
  layout: { layout: 'grid', pinnedParticipantId: null, screenParticipantId: null },
  // The last `activeSpeakers`: who is talking, loudest first.
  activeSpeakers: { dominantParticipantId: null, speakers: [] },
  screen: null, // while sharing: {stream, track, sender, confirmed}
  shareBusy: false, // the browser's screen picker is open
  negotiation: Promise.resolve(), // offers go out one at a time (see peer.js negotiate)
  onReply: null, // settles the wait for the server's reply to the offer in flight
  // What we send: 'both', 'audio' (microphone only; also the "Audio only" mode), 'video'
  // (camera only) or 'none' (listen only, a receive-only offer).
  mode: 'both',
  audioOnly: false,
  chat: { enabled: true, ids: new Set(), messages: [] },
  dc: null, // the `chat` data channel
  upload: null, // the XMLHttpRequest of the upload in progress
  reconnect: null, // while reconnecting: {since, attempt, timer, probe}
  notice: '', // why this join happened by itself (a retry after connection_failed), or ''
  tracks: new Set(), // every local track this page started, stopped when leaving
  handRaised: false, // our hand (told with setState)
};
window.tessera = state; // for tests and debugging

// A control's words: its `.label` (the bar's icon buttons keep an icon beside it) or its text.
export function setLabel(id, text) {
  const el = $(id);
  (el.querySelector('.label') ?? el).textContent = text;
}

export function log(text, isError = false) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} — ${text}`;
  if (isError) li.className = 'error';
  $('log').prepend(li);
}

export const inCall = () => state.phase === 'call' || state.phase === 'reconnecting';

export function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(msg));
    return true;
  }
  return false;
}

export function nameOf(id) { return (state.participants.get(id) || {}).name || 'Someone'; }

// Server error codes (REST bodies and signaling `error`s) in plain words.
export const WORDS = {
  unauthorized: 'this room needs an invitation link; ask the host for one',
  invalid_credentials: 'your invitation link is not valid; check that you copied all of it, or ask the host for a new one',
  token_expired: 'your invitation link has expired; ask the host for a new one',
  wrong_room: 'this invitation is for another room',
  forbidden: 'this invitation does not let you do that (it may be for watching the live stream only)',
  too_many_rooms: 'the server has too many rooms right now; try again later',
  room_ended: 'this call has ended',
  room_not_found: 'there is no room with this ID; check the link or the ID you typed',
  room_full: 'the room is full; try again later',
  room_locked: 'the host has locked this call: nobody new can join. Ask the host to unlock it',
  removed_from_room: 'the host removed you from this call, so you cannot rejoin it',
  lobby_denied: 'the host did not let you in',
  lobby_timeout: 'nobody let you in for 15 minutes; try again when the host is there',
  lobby_full: 'too many people are waiting to be let in; try again in a moment',
  recording_running: 'a recording is already running',
  recording_not_found: 'that recording does not exist',
  too_many_recordings: 'the server is recording as many calls as it can; try again later',
  media_unavailable: "the room's media could not start",
  participant_not_found: 'that person is no longer in the call',
  internal: 'the server could not set up your connection; try again',
  not_in_room: 'you are not in the call any more',
  chat_disabled: 'the host has turned chat off',
  file_too_large: 'the file is larger than this server accepts',
  room_quota_exceeded: 'this call has no room left for more files',
  length_required: 'your browser did not say how large the file is',
  file_not_found: 'that file is no longer available',
  connection_failed: 'your audio and video could not get through to the server',
  bad_request: 'the server could not read what was sent',
  cluster_full: 'every server is full right now; trying again',
  cluster_unavailable: 'the servers cannot coordinate right now; trying again',
  store_unavailable: 'the servers cannot coordinate right now; trying again',
  room_moving: 'the call is moving to another server; trying again',
  node_unreachable: "the call's server cannot be reached; trying again",
  draining: 'this server is shutting down; trying another',
};

// The same words for refusals the signaling socket gives only as a close code.
export const CLOSE_CODES = {
  4001: 'removed', 4401: 'invalid_credentials', 4403: 'forbidden', 4404: 'room_not_found',
  4408: 'lobby_timeout', 4409: 'room_full', 4410: 'room_ended', 4425: 'room_not_started', 4500: 'internal',
  4503: 'cluster_unavailable',
};

// Refusals that pass by themselves (cluster mode, close code 4503): the client tries again.
export const TRANSIENT = new Set(['cluster_full', 'cluster_unavailable', 'store_unavailable', 'room_moving', 'node_unreachable', 'draining']);

// Where this browser keeps a room's host token (the creator's, a co-host's, or one from a host
// link), so a reload or a later visit is the host again.
export const hostKey = (roomId) => `tessera.host.${roomId}`;

// This browser's own id (random, kept in localStorage), sent as the socket's `device`: a host's
// Remove keeps this browser out of the call, and a locked call lets it back in after a reload.
export function deviceId() {
  let id = localStorage.getItem('tessera.device');
  if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
    localStorage.setItem('tessera.device', id);
  }
  return id;
}

export const capital = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

export function plainError(body, status) {
  return WORDS[body?.code] || body?.message || `the server said ${status}`;
}

// Downloads `url` with our token in a header (never in a link someone could copy) and saves it
// as `name`; throws with the server's words when refused.
export async function fetchAndSave(url, name) {
  const res = await fetch(url, { headers: state.token ? { authorization: `Bearer ${state.token}` } : {} });
  if (!res.ok) throw new Error(plainError(await res.json().catch(() => ({})), res.status));
  const blob = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = blob;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(blob), 60000);
}

export async function api(method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new Error(plainError(json, res.status));
    e.code = json.code;
    e.status = res.status;
    throw e;
  }
  return json;
}

export function whenText(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString([], { dateStyle: 'full', timeStyle: 'short' });
}

export function timeText(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function humanSize(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

// The host actions on the room itself (layout, pin, chat) go to PATCH with the host's token.
export function patchRoom(body) {
  return api('PATCH', `/api/v1/rooms/${encodeURIComponent(state.roomId)}`, body, state.token);
}
