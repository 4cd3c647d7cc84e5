// The host's powers over who is in the call: locking it (nobody new joins; people already in
// come back after a reload or a network drop), and the lock shown to everyone in the header.
// (Removing someone is in people.js: a removed person cannot rejoin the call.)
import { $, state, log, patchRoom } from './state.js';

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
