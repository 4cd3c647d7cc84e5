// The host's powers over who is in the call: the lobby ("Ask to join": newcomers wait until a
// host admits or denies them, listed in a banner for every host), locking it (nobody new joins; people who were in
// come back after a reload or a network drop), the lock shown to everyone in the header,
// becoming a co-host (or not any more) when another host says so, and the host link that opens
// host powers on another device. (Removing someone and the Make co-host button are in
// people.js: a removed person cannot rejoin the call.)
import { $, state, log, patchRoom, hostKey, api } from './state.js';
import { renderChatState } from './chat.js';
import { renderLayout, renderPeople, renderRecordButton } from './people.js';
import { refreshLive, refreshRecordings } from './recordings.js';

// Every control that only hosts have, shown or hidden by `state.isHost`.
export function renderHostControls() {
  $('end-all').hidden = !state.isHost;
  $('copy-host-link').hidden = !state.isHost;
  $('host-menu').hidden = !state.isHost;
  if (!state.isHost) $('host-menu').open = false;
  setLocked(Boolean(state.locked));
  setLobby(Boolean(state.lobby));
  refreshLobby();
  renderChatState();
  renderLayout();
  renderRecordButton();
  renderPeople();
  refreshRecordings();
  refreshLive();
}

// `roleChanged`: another host made us a co-host (with our own host token) or took it away.
export function onRoleChanged(msg) {
  const host = msg.role === 'host';
  if (host && typeof msg.hostToken === 'string' && msg.hostToken) {
    state.token = msg.hostToken;
    localStorage.setItem(hostKey(state.roomId), msg.hostToken);
  }
  if (!host) localStorage.removeItem(hostKey(state.roomId));
  if (host === state.isHost) return;
  state.isHost = host;
  log(host ? 'A host made you a co-host: you can now mute or remove people, lock the call, record it and end it for everyone.'
    : 'A host took away your host powers.');
  renderHostControls();
}

// The host's on/off room settings, each a badge everyone sees, the host's button (pressed while
// on) and a log line when it changes: `[off, on]` words for each.
const SWITCHES = {
  locked: {
    indicator: 'locked-indicator', button: 'lock-button',
    label: ['Lock call', 'Unlock call'],
    title: ['Nobody new can join until you unlock it', 'Let new people join again'],
    said: ['The call is unlocked: people with the link can join.', 'The call is locked: nobody new can join.'],
    failed: ['unlock the call', 'lock the call'],
  },
  lobby: {
    indicator: 'lobby-indicator', button: 'lobby-button',
    label: ['Ask to join: off', 'Ask to join: on'],
    title: ['Anyone with the link joins at once', 'Newcomers wait until a host lets them in'],
    said: ['Newcomers join at once again (anyone waiting was let in).', 'Newcomers now ask to join; a host lets them in.'],
    failed: ['turn Ask to join off', 'turn Ask to join on'],
  },
};

// Setting `key` as the server has it; `announce` logs a change (not on joining).
function setSwitch(key, on, announce) {
  const w = SWITCHES[key];
  const was = Boolean(state[key]);
  state[key] = on;
  $(w.indicator).hidden = !on;
  const b = $(w.button);
  b.hidden = !state.isHost;
  b.textContent = w.label[Number(on)];
  b.setAttribute('aria-pressed', String(on));
  b.title = w.title[Number(on)];
  if (announce && was !== on) log(w.said[Number(on)]);
}

// The host's button flips the setting (`PATCH`), then shows what the server answered.
async function flipSwitch(key) {
  const w = SWITCHES[key];
  const want = !state[key];
  $(w.button).disabled = true;
  try {
    const room = await patchRoom({ [key]: want });
    setSwitch(key, Boolean(room[key]), true);
  } catch (e) {
    log(`Could not ${w.failed[Number(want)]}: ${e.message}`, true);
  } finally {
    $(w.button).disabled = false;
  }
}

export const setLocked = (on, announce = false) => setSwitch('locked', on, announce);
export const setLobby = (on, announce = false) => setSwitch('lobby', on, announce);

// Who asks to join (hosts only): `state.knocks` by id, drawn as a banner with Admit / Deny.
function renderKnocks() {
  const ul = $('lobby-requests');
  ul.replaceChildren();
  if (!state.isHost) state.knocks = new Map();
  for (const k of (state.knocks || new Map()).values()) {
    const li = document.createElement('li');
    li.dataset.knockId = k.id;
    const text = document.createElement('span');
    text.textContent = `${k.name} asks to join`;
    const answer = (admit) => {
      const b = document.createElement('button');
      b.textContent = admit ? 'Admit' : 'Deny';
      if (admit) b.className = 'primary';
      b.setAttribute('aria-label', `${admit ? 'Admit' : 'Deny'} ${k.name}`);
      b.onclick = async () => {
        b.disabled = true;
        try {
          await api('POST', `/api/v1/rooms/${encodeURIComponent(state.roomId)}/lobby/${encodeURIComponent(k.id)}`, { admit }, state.token);
          knockResolved(k.id);
        } catch (e) {
          // Answered meanwhile (by another host) or gone: off the list; otherwise it stays.
          if (e.code === 'knock_not_found') knockResolved(k.id);
          else log(`Could not ${admit ? 'admit' : 'deny'} ${k.name}: ${e.message}`, true);
          b.disabled = false;
        }
      };
      return b;
    };
    li.append(text, answer(true), answer(false));
    ul.append(li);
  }
  ul.hidden = ul.children.length === 0;
}

// The lobby as the server has it now (a host joining, or made a co-host).
async function refreshLobby() {
  if (!state.isHost || !state.roomId) { state.knocks = new Map(); renderKnocks(); return; }
  try {
    const list = await api('GET', `/api/v1/rooms/${encodeURIComponent(state.roomId)}/lobby`, undefined, state.token);
    state.knocks = new Map((list.waiting || []).map((k) => [k.id, k]));
  } catch (e) {
    console.warn(`lobby: ${e.message}`);
  }
  renderKnocks();
}

// `lobbyRequest`: someone knocks.
export function knocking(knock) {
  if (!knock || typeof knock.id !== 'string') return;
  state.knocks = state.knocks || new Map();
  state.knocks.set(knock.id, knock);
  log(`${knock.name} asks to join.`);
  renderKnocks();
}

// `lobbyResolved` (any host answered, or they left), or our own answer.
export function knockResolved(id, outcome) {
  const k = state.knocks?.get(id);
  if (!k) return;
  state.knocks.delete(id);
  if (outcome === 'left') log(`${k.name} stopped asking to join.`);
  else if (outcome === 'denied') log(`${k.name} was not let in.`);
  renderKnocks();
}

export function initModeration() {
  // A choice in the host's menu closes it.
  for (const b of $('host-menu').querySelectorAll('button')) b.addEventListener('click', () => { $('host-menu').open = false; });
  $('lobby-button').onclick = () => flipSwitch('lobby');
  // The room's host link: whoever opens it joins as a host (this same person on another
  // device, who then replaces this tab). Anyone with it has host powers: share it with care.
  $('copy-host-link').onclick = () => {
    const link = `${location.origin}/?room=${encodeURIComponent(state.roomId)}&token=${encodeURIComponent(state.token || '')}`;
    navigator.clipboard.writeText(link).then(
      () => log('Host link copied: whoever opens it joins as a host (open it on your other device). Share it with care.'),
      () => log(`Host link (whoever opens it joins as a host): ${link}`),
    );
  };
  $('lock-button').onclick = () => flipSwitch('locked');
}
