// The host's powers over who is in the call: locking it (nobody new joins; people who were in
// come back after a reload or a network drop), the lock shown to everyone in the header,
// becoming a co-host (or not any more) when another host says so, and the host link that opens
// host powers on another device. (Removing someone and the Make co-host button are in
// people.js: a removed person cannot rejoin the call.)
import { $, state, log, patchRoom, hostKey } from './state.js';
import { renderChatState } from './chat.js';
import { renderLayout, renderPeople, renderRecordButton } from './people.js';
import { refreshLive, refreshRecordings } from './recordings.js';

// Every control that only hosts have, shown or hidden by `state.isHost`.
export function renderHostControls() {
  $('end-all').hidden = !state.isHost;
  $('copy-host-link').hidden = !state.isHost;
  setLocked(Boolean(state.locked));
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

// The room's lock as the server has it; `announce` logs the change (not on joining).
export function setLocked(locked, announce = false) {
  const was = Boolean(state.locked);
  state.locked = locked;
  $('locked-indicator').hidden = !locked;
  const b = $('lock-button');
  b.hidden = !state.isHost;
  b.textContent = locked ? 'Unlock call' : 'Lock call';
  b.setAttribute('aria-pressed', String(locked));
  b.title = locked ? 'Let new people join again' : 'Nobody new can join until you unlock it';
  if (announce && was !== locked) log(locked ? 'The call is locked: nobody new can join.' : 'The call is unlocked: people with the link can join.');
}

export function initModeration() {
  // The room's host link: whoever opens it joins as a host (this same person on another
  // device, who then replaces this tab). Anyone with it has host powers: share it with care.
  $('copy-host-link').onclick = () => {
    const link = `${location.origin}/?room=${encodeURIComponent(state.roomId)}&token=${encodeURIComponent(state.token || '')}`;
    navigator.clipboard.writeText(link).then(
      () => log('Host link copied: whoever opens it joins as a host (open it on your other device). Share it with care.'),
      () => log(`Host link (whoever opens it joins as a host): ${link}`),
    );
  };
  $('lock-button').onclick = async () => {
    const want = !state.locked;
    $('lock-button').disabled = true;
    try {
      const room = await patchRoom({ locked: want });
      setLocked(Boolean(room.locked), true);
    } catch (e) {
      log(`Could not ${want ? 'lock' : 'unlock'} the call: ${e.message}`, true);
    } finally {
      $('lock-button').disabled = false;
    }
  };
}
