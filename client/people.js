// The people list (who is here, pinned, sharing, talking, reconnecting; the host's buttons),
// the room's layout and the recording indicator.
import { $, state, log, nameOf, api, patchRoom } from './state.js';
import { followServerShare } from './peer.js';
import { renderToggles } from './media.js';
import { refreshRecordings } from './recordings.js';

// The people list: who is pinned and who shares their screen; a host gets a Pin button for
// everyone, and kick and mute buttons for everyone else. Who is talking is drawn by renderSpeaking.
export function renderPeople() {
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
  const reconnecting = p.connection === 'reconnecting';
  li.classList.toggle('pinned', pinned);
  li.classList.toggle('sharing', sharing);
  li.classList.toggle('reconnecting', reconnecting);
  const muted = [
    p.audioMuted ? 'muted by the host' : p.micOff && 'muted',
    p.videoMuted ? 'video off by the host' : p.cameraOff && 'camera off',
  ].filter(Boolean).join(', ');
  li.classList.toggle('muted', Boolean(p.audioMuted || p.micOff));
  li.append(textSpan('name', `${p.name}${id === state.selfId ? ' (you)' : ''}${muted ? ` — ${muted}` : ''}`));
  li.append(levelBar(), badge('dominant', 'has the floor'));
  if (p.role === 'host') li.append(badge('host', p.coHost ? 'co-host' : 'host'));
  if (p.handRaised) li.append(badge('hand', 'hand raised'));
  if (pinned) li.append(badge('pinned', 'pinned'));
  if (sharing) li.append(badge('sharing', 'sharing screen'));
  if (reconnecting) li.append(badge('reconnecting', 'reconnecting…'));
  if (state.isHost && state.phase !== 'left') li.append(...hostButtons(id, p));
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

function actionButton(label, fn, aria) {
  const b = document.createElement('button');
  b.textContent = label;
  if (aria) b.setAttribute('aria-label', aria);
  b.onclick = () => fn().catch((e) => log(`Could not ${label.toLowerCase()}: ${e.message}`, true));
  return b;
}

function hostButtons(id, p) {
  const buttons = [pinButton(id, p)];
  if (id === state.selfId) return buttons;
  const base = `/api/v1/rooms/${encodeURIComponent(state.roomId)}/participants/${encodeURIComponent(id)}`;
  const who = p.name;
  buttons.push(
    actionButton(p.audioMuted ? 'Unmute' : 'Mute', () => api('POST', `${base}/mute`, { audio: !p.audioMuted }, state.token), `${p.audioMuted ? 'Unmute' : 'Mute'} ${who}`),
    actionButton(p.videoMuted ? 'Show video' : 'Hide video', () => api('POST', `${base}/mute`, { video: !p.videoMuted }, state.token), `${p.videoMuted ? 'Show' : 'Hide'} ${who}'s video`),
    // A co-host's powers any host may take back; a host who joined as one keeps them.
    ...(p.role !== 'host' ? [actionButton('Make co-host', () => api('POST', `${base}/role`, { role: 'host' }, state.token), `Make ${who} a co-host`)]
      : p.coHost ? [actionButton('Remove host powers', () => api('POST', `${base}/role`, { role: 'participant' }, state.token), `Take host powers away from ${who}`)] : []),
    actionButton('Remove', () => api('DELETE', base, undefined, state.token), `Remove ${who} from the call`),
  );
  return buttons;
}

// Pinning someone also switches the room to the `pinned` layout (a pin alone does not).
function pinButton(id, p) {
  const pinned = id === state.layout.pinnedParticipantId;
  const b = actionButton(pinned ? 'Unpin' : 'Pin', () => patchRoom(pinned ? { pin: null } : { layout: 'pinned', pin: id }),
    `${pinned ? 'Unpin' : 'Pin'} ${p.name}`);
  b.dataset.pin = id;
  return b;
}

// Who is talking, drawn onto the people list in place: it changes a few times a second, and
// rebuilding the list (and its buttons) that often would swallow the host's clicks.
export function renderSpeaking() {
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

export function setActiveSpeakers(msg) {
  const level = (x) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
  const speakers = (Array.isArray(msg.speakers) ? msg.speakers : [])
    .filter((s) => s && typeof s.participantId === 'string')
    .map((s) => ({ participantId: s.participantId, level: level(s.level) }));
  state.activeSpeakers = { dominantParticipantId: msg.dominantParticipantId ?? null, speakers };
  renderSpeaking();
}

// `participantUpdated`: a server-side mute, or someone's network dropping and coming back.
export function participantUpdated(p) {
  const before = state.participants.get(p.id) || {};
  state.participants.set(p.id, p);
  const self = p.id === state.selfId;
  if ((before.connection || 'connected') !== (p.connection || 'connected')) {
    if (!self) log(p.connection === 'reconnecting' ? `${p.name} lost their connection; waiting for them to come back…` : `${p.name} is back.`);
  } else if (before.role && before.role !== p.role) {
    if (!self) log(p.role === 'host' ? `${p.name} is now a co-host.` : `${p.name} is no longer a host.`);
  } else if (Boolean(before.handRaised) !== Boolean(p.handRaised)) {
    if (!self && p.handRaised) log(`${p.name} raised their hand.`);
  } else if (before.audioMuted !== p.audioMuted || before.videoMuted !== p.videoMuted) {
    const who = self ? 'The host' : nameOf(p.id);
    if (self && before.audioMuted !== p.audioMuted) {
      log(`${who} ${p.audioMuted ? 'muted your microphone: nobody hears you until the host unmutes you' : 'unmuted your microphone'}.`);
      renderToggles();
    }
    else if (self) log(`${who} ${p.videoMuted ? 'hid' : 'showed'} your video.`);
    else log(`${who} is now ${[p.audioMuted ? 'muted' : 'unmuted', p.videoMuted ? 'with video hidden' : ''].join(' ').trim()}.`);
  }
  renderPeople();
}

// The layout object of `welcome.layout` or `layoutChanged`.
export function layoutFrom(m) {
  const l = m || {};
  return {
    layout: typeof l.layout === 'string' && l.layout ? l.layout : 'grid',
    pinnedParticipantId: l.pinnedParticipantId ?? null,
    screenParticipantId: l.screenParticipantId ?? null,
  };
}

export function setLayout(next) {
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
export function renderLayout() {
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
export function setRecording(rec) {
  const stopped = state.recording && !rec;
  state.recording = rec;
  // The list shows the new one (running) and, once stopped, its file.
  if (stopped || rec) refreshRecordings();
  if (rec) state.lastRecordingId = rec.id;
  $('recording-indicator').hidden = !rec;
  $('recording-indicator').title = rec ? `Recording since ${new Date(rec.startedAt).toLocaleTimeString()}` : '';
  if (rec) $('recording-error').hidden = true;
  renderRecordButton();
}

export function renderRecordButton() {
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
export function showRecordingError(text) {
  $('recording-error-text').textContent = text;
  $('recording-error').hidden = false;
  log(text, true);
}

// Told once per recording, whether by signaling or by the host's own request; it may fail
// as it starts, while it runs, or while its file is being closed after a stop.
export function recordingFailed(id, reason) {
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

export function initPeople() {
  $('record-button').onclick = async () => {
    const running = state.recording;
    state.recordBusy = true;
    renderRecordButton();
    try {
      if (running) {
        await api('POST', `/api/v1/recordings/${encodeURIComponent(running.id)}/stop`, undefined, state.token);
        if (state.recording?.id === running.id) { log(state.isHost ? 'Recording stopped. Open Recordings to download it.' : 'Recording stopped.'); setRecording(null); }
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
}
