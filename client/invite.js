// The invitation page: a link with `?room=` shows that room (its name, when a scheduled room
// starts with a countdown, whether the host lets people in or has locked it), a camera and
// microphone check, the name and one big Join (Enter works). Pressed before a scheduled room
// opens, Join waits and joins by itself when it opens. And a reload in a call returns into it
// (sessionStorage remembers the call this tab was in until it leaves on purpose).
import { $, state, api, whenText, WORDS, capital, hostKey } from './state.js';

const CALL_KEY = 'tessera.call';
const params = () => new URLSearchParams(location.search);

// This tab is in `roomId`'s call: a reload comes back into it.
export function rememberCall(roomId, name) {
  sessionStorage.setItem(CALL_KEY, JSON.stringify({ roomId, name }));
}

// This tab left its call on purpose (hang up, removed, ended, refused): a reload stays home.
export function forgetCall() {
  sessionStorage.removeItem(CALL_KEY);
}

// The call a reload should return into: the room in the address, if this tab was in it and
// this page load is a reload (not a duplicated or reopened tab, which copy sessionStorage and
// would push the original tab out of the call).
export function callToResume() {
  const nav = performance.getEntriesByType?.('navigation')?.[0];
  if (nav && nav.type !== 'reload') return null;
  try {
    const c = JSON.parse(sessionStorage.getItem(CALL_KEY) || 'null');
    return c && c.roomId === params().get('room') && typeof c.name === 'string' && c.name ? c : null;
  } catch {
    return null;
  }
}

const invite = { room: null, skew: 0, timer: null, autoJoin: null };

// Server time now (the invitation's `now` corrects the device's clock).
const serverNow = () => Date.now() + invite.skew;

function two(n) { return String(n).padStart(2, '0'); }

function untilText(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} day${d > 1 ? 's' : ''} ${h} h`;
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

// Milliseconds until the room lets people in (0 when it does now).
function untilOpen() {
  const opens = invite.room?.opensAt ? Date.parse(invite.room.opensAt) : NaN;
  return Number.isNaN(opens) ? 0 : Math.max(0, opens - serverNow());
}

function renderCountdown() {
  const r = invite.room;
  if (!r) return;
  const wait = untilOpen();
  $('invite-when').hidden = !r.startsAt;
  if (r.startsAt) {
    $('invite-starts').textContent = whenText(r.startsAt);
    $('invite-countdown').textContent = wait > 0 ? `opens in ${untilText(wait)}` : 'open now';
  }
  if (invite.autoJoin && wait === 0) {
    const go = invite.autoJoin;
    invite.autoJoin = null;
    $('home-status').textContent = '';
    go();
  } else if (invite.autoJoin) {
    $('home-status').textContent = `The room opens in ${untilText(wait)}; you will join by yourself then. Keep this page open.`;
  }
}

// Shows the invitation for the room in the address (the home page otherwise).
export async function showInvitation() {
  const roomId = params().get('room');
  document.body.classList.toggle('invited', Boolean(roomId));
  $('invite').hidden = !roomId;
  if (!roomId) {
    // The plain home page (also after "Start a new room instead"): nothing armed, Join by ID.
    cancelAutoJoin();
    clearInterval(invite.timer);
    invite.room = null;
    $('join-room').textContent = 'Join by ID';
    $('join-room').disabled = false;
    document.title = 'Tessera';
    return;
  }
  $('join-room').textContent = 'Join';
  $('device-check').open = true;
  try {
    const r = await api('GET', `/api/v1/rooms/${encodeURIComponent(roomId)}/invitation`, undefined, params().get('token') || localStorage.getItem(hostKey(roomId)) || undefined);
    invite.room = r;
    invite.skew = Number.isNaN(Date.parse(r.now)) ? 0 : Date.parse(r.now) - Date.now();
    $('invite-name').textContent = r.name;
    document.title = `${r.name} — Tessera`;
    const notes = [];
    if (r.state === 'ended') notes.push('This call has ended.');
    else if (r.locked) notes.push('The host has locked this call: only people who were in it can join.');
    else if (r.lobby) notes.push('The host lets people in: after Join you wait until they do.');
    $('invite-note').textContent = notes.join(' ');
    $('join-room').disabled = r.state === 'ended';
    clearInterval(invite.timer);
    if (r.startsAt) invite.timer = setInterval(renderCountdown, 1000);
    renderCountdown();
  } catch (e) {
    // Not allowed to read it (a keyed server without a token in the link): joining says why.
    // No such room: the home page, with the room ID to correct.
    $('invite-name').textContent = `Room ${roomId}`;
    $('invite-note').textContent = '';
    if (e.code === 'room_not_found') noSuchRoom();
  }
}

// The linked room does not exist: the plain home page, saying so, with its ID to correct.
export function noSuchRoom() {
  document.body.classList.remove('invited');
  $('invite').hidden = true;
  $('join-room').textContent = 'Join by ID';
  $('home-error').textContent = `${capital(WORDS.room_not_found)}.`;
}

// Join pressed: at once, or, before a scheduled room opens, by itself when it does. Returns
// whether it joined now.
export function joinWhenOpen(go) {
  if (untilOpen() === 0) { go(); return true; }
  invite.autoJoin = go;
  $('cancel-join').hidden = false;
  $('home-actions').hidden = false;
  renderCountdown();
  return false;
}

// Cancel pressed while waiting for the room to open.
export function cancelAutoJoin() {
  if (!invite.autoJoin) return false;
  invite.autoJoin = null;
  $('home-status').textContent = '';
  $('cancel-join').hidden = true;
  $('home-actions').hidden = true;
  return true;
}
