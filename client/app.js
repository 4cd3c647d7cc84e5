// Tessera browser client: joins a room over the signaling WebSocket (docs/signaling.md), sends
// camera + mic (and a screen when sharing), shows the one composite the server sends back, with
// chat, file sharing and reconnection. ES modules, no build step:
//   state.js      shared state, plain words, small helpers
//   connection.js joining, refusals, reconnecting, leaving
//   peer.js       the peer connection, offers, ICE restarts, screen sharing, full screen
//   media.js      camera/microphone, device pickers, level meter, audio only
//   chat.js       chat panel (data channel or socket)      files.js   file uploads
//   sendcap.js    the camera sent at its tile's size (cameraConstraint)
//   people.js     people list, layout, recording indicator
//   moderation.js the host's lock          recordings.js the host's recordings, Go live
//   quality.js    the composite's quality: data saver, size on screen, weak-link notices
import { $, state, log, api, whenText, hostKey } from './state.js';
import { enterCall, initConnection, join, leaveCall, reconnected, setDispatch } from './connection.js';
import { initPeer, onAnswer, onCandidate, renderShareButton, screenShareRefused } from './peer.js';
import { initMedia, startMedia } from './media.js';
import { chatError, chatFromWelcome, initChat, onChat, renderChatState, setChatDispatch, setChatEnabled } from './chat.js';
import { initFiles } from './files.js';
import { answerArrived, initQuality, onVideoQuality, preferenceLost, qualityFromWelcome } from './quality.js';
import { onCameraConstraint } from './sendcap.js';
import { initRecordings } from './recordings.js';
import { initMore } from './more.js';
import { callToResume, joinWhenOpen, showInvitation } from './invite.js';
import { initModeration, knocking, knockResolved, onRoleChanged, renderHostControls, setLobby, setLocked } from './moderation.js';
import {
  initPeople, layoutFrom, participantUpdated, recordingFailed, renderLayout, renderPeople, setActiveSpeakers, setLayout, setRecording,
} from './people.js';

const params = () => new URLSearchParams(location.search);
const roomFromUrl = () => params().get('room');

// The creator of a room keeps its host token (end for everyone, kick, mute) in this browser.
const hostToken = (id) => localStorage.getItem(hostKey(id));

function showHomeError(text) { $('home-error').textContent = text; }

async function createRoom(startsAt) {
  const body = await api('POST', '/api/v1/rooms', startsAt ? { startsAt } : {});
  localStorage.setItem(hostKey(body.room.id), body.hostToken);
  return body;
}

// `token`: the one the link carried (kept in the address); a host token this browser keeps for
// the room wins for joining (so a co-host stays one after a reload) and never enters the address.
function goToRoom(id, token) {
  const name = $('name').value.trim();
  if (!name) { showHomeError('Please type your name first.'); $('name').focus(); return; }
  localStorage.setItem('tessera.name', name);
  const link = `/?room=${encodeURIComponent(id)}${token ? `&token=${encodeURIComponent(token)}` : ''}`;
  // Back from the call returns to the page before it (the home screen, or wherever the link was).
  if (`${location.pathname}${location.search}` === link) history.replaceState({}, '', link);
  else history.pushState({}, '', link);
  join(id, name, hostToken(id) || token);
}

// The role a join token names (read from its payload, not verified: the server checks it).
function tokenRole(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).role;
  } catch {
    return null;
  }
}

// Every message from the server, from the signaling socket or the chat data channel.
async function onMessage(msg, via = 'socket') {
  switch (msg.type) {
    case 'welcome':
      await onWelcome(msg);
      break;
    case 'answer':
      await onAnswer(msg.sdp);
      answerArrived(); // the server has our composite now: say what we want of it
      break;
    case 'videoQuality':
      onVideoQuality(msg);
      break;
    case 'candidate':
      await onCandidate(msg);
      break;
    case 'cameraConstraint':
      await onCameraConstraint(msg);
      break;
    case 'participantJoined':
      state.participants.set(msg.participant.id, msg.participant);
      log(`${msg.participant.name} joined.`);
      renderPeople();
      break;
    case 'participantLeft': {
      const how = { disconnected: 'lost their connection', kicked: 'was removed by the host', replaced: 'rejoined from elsewhere' };
      log(`${state.participants.get(msg.participantId)?.name || 'Someone'} ${how[msg.reason] || 'left'}.`);
      state.participants.delete(msg.participantId);
      renderPeople();
      break;
    }
    case 'participantUpdated':
      participantUpdated(msg.participant);
      break;
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
      else if (state.recording?.id === msg.recordingId) { log(state.isHost ? 'Recording stopped. Open Recordings to download it.' : 'Recording stopped.'); setRecording(null); }
      break;
    case 'chat':
      onChat(msg.message);
      break;
    case 'chatChanged':
      setChatEnabled(Boolean(msg.enabled));
      break;
    case 'roomLocked':
      setLocked(Boolean(msg.locked), true);
      break;
    case 'roleChanged':
      onRoleChanged(msg);
      break;
    case 'lobbyChanged':
      setLobby(Boolean(msg.lobby), true);
      break;
    case 'lobbyRequest':
      knocking(msg.knock);
      break;
    case 'lobbyResolved':
      knockResolved(msg.knockId, msg.outcome);
      break;
    case 'removed': {
      const replaced = msg.reason === 'replaced';
      const words = replaced ? 'You joined this call from another tab or device, so this one left.' : 'The host removed you from the call. You cannot rejoin it.';
      log(words, true);
      leaveCall({ sayBye: false, words, rejoin: replaced });
      break;
    }
    case 'roomEnded': {
      const why = (msg.message || 'the room ended').replace(/\.$/, '');
      const shutdown = msg.reason === 'serverShutdown';
      const words = shutdown ? `The call stopped: ${why}. You can rejoin once the server is back.` : `The call ended: ${why}.`;
      log(words);
      leaveCall({ sayBye: false, words, rejoin: shutdown });
      break;
    }
    case 'error':
      await onError(msg, via);
      break;
    default:
      break;
  }
}

async function onError(msg, via) {
  if (msg.code === 'screen_share_busy' || msg.code === 'screen_share_failed') {
    await screenShareRefused(msg);
  } else if (['chat_rate_limited', 'chat_too_long', 'chat_disabled'].includes(msg.code)) {
    chatError(msg);
  } else if (msg.code === 'no_video' || msg.code === 'bad_video_preference') {
    // Our videoPreference could not apply (no composite on this connection): nothing to show.
    console.warn(`videoPreference: ${msg.code}: ${msg.message}`);
  } else if (msg.code === 'connection_failed' && !state.mediaEverConnected && (state.handshakeRetries || 0) < 2) {
    // The first handshake failed (on a lossy path a DTLS flight can be lost too often): the
    // server ended the session; join again with a new peer connection, twice before asking.
    // Said on the home screen while joining again, then in the call's banner and log.
    state.handshakeRetries = (state.handshakeRetries || 0) + 1;
    const notice = `The media connection could not be set up; trying again (${state.handshakeRetries} of 2).`;
    const again = { roomId: state.roomId, name: state.name, token: state.token };
    leaveCall({ sayBye: false, home: false });
    join(again.roomId, again.name, again.token, { notice });
  } else if (msg.code === 'connection_failed') {
    // The media never connected (or stayed away too long): the server ended the session.
    const words = 'Your audio and video could not get through (a firewall or the network may block them), so the call let you go. Press Rejoin to try again.';
    log(words, true);
    leaveCall({ sayBye: false, words });
  } else {
    // These refuse the offer in flight: no answer will come for it. (Offers go on the socket;
    // an error on the chat channel is about chat.)
    if (via === 'socket' && (msg.code === 'bad_sdp' || msg.code === 'bad_message')) state.onReply?.('refused');
    log(`Error: ${msg.message}`, true);
  }
}

async function onWelcome(msg) {
  const was = state.phase;
  const resumed = msg.resumed === true && was === 'reconnecting' && msg.participantId === state.selfId;
  state.selfId = msg.participantId;
  state.resumeToken = typeof msg.resumeToken === 'string' ? msg.resumeToken : null;
  state.limits = { ...state.limits, ...(msg.limits || {}) };
  state.iceServers = msg.iceServers || [];
  state.isHost = msg.you.role === 'host';
  // A host token that came in a link is kept, so a reload here is the host again.
  if (state.isHost && state.token) localStorage.setItem(hostKey(msg.roomId || state.roomId), state.token);
  state.locked = Boolean(msg.locked);
  state.lobby = Boolean(msg.lobby);
  renderHostControls();
  // The room as it is now (after a reconnection, people may have come and gone).
  state.participants.clear();
  state.participants.set(msg.you.id, msg.you);
  for (const p of msg.participants) state.participants.set(p.id, p);
  state.layout = layoutFrom(msg.layout);
  chatFromWelcome(msg.chat);
  qualityFromWelcome(msg.you, resumed);
  if (resumed) preferenceLost(); // sent again after the ICE restart's answer
  if (was === 'reconnecting') {
    setRecording(msg.recording || null);
    renderLayout();
    renderPeople();
    reconnected(resumed);
    return;
  }
  if (was !== 'joining') return;
  enterCall();
  setRecording(msg.recording || null);
  renderLayout();
  renderPeople();
  renderChatState();
  if (state.isHost) log('You are the host: you can mute or remove people, make someone a co-host, lock the call, choose the layout, pin someone, turn chat off, record the call and end it for everyone.');
  log(msg.participants.length ? `You joined. Here already: ${msg.participants.map((p) => p.name).join(', ')}.` : 'You joined. Waiting for others…');
  if (msg.recording) log('This call is being recorded.');
  if (state.layout.screenParticipantId) log(`${state.participants.get(state.layout.screenParticipantId)?.name || 'Someone'} is sharing their screen.`);
  await startMedia();
  renderShareButton();
}

function initHome() {
  $('new-room').onclick = async () => {
    if (!$('name').value.trim()) { showHomeError('Please type your name first.'); $('name').focus(); return; }
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
    if (!id) { showHomeError('Type a room ID to join.'); $('room-id').focus(); return; }
    if (!$('name').value.trim()) { showHomeError('Please type your name first.'); $('name').focus(); return; }
    // The invited room, before it opens: join by itself when it does.
    const go = () => goToRoom(id, id === roomFromUrl() ? params().get('token') : null);
    if (id === roomFromUrl()) joinWhenOpen(go); else go();
  };
  $('new-room-instead').onclick = () => {
    history.pushState({}, '', '/');
    $('room-id').value = '';
    showInvitation();
  };
  $('room-id').onkeydown = (ev) => { if (ev.key === 'Enter') $('join-room').click(); };
  // Enter in the name field does what the page is for: join the linked room, else a new one.
  $('name').onkeydown = (ev) => { if (ev.key === 'Enter') $($('room-id').value.trim() ? 'join-room' : 'new-room').click(); };
  // "End for everyone" asks once more: the first press arms it for 5 s ("Press again to end
  // for everyone"), the second ends the room.
  const endAll = $('end-all');
  const disarm = () => { clearTimeout(state.endAllTimer); delete endAll.dataset.armed; endAll.textContent = 'End for everyone'; };
  endAll.onclick = () => {
    if (!endAll.dataset.armed) {
      endAll.dataset.armed = 'true';
      endAll.textContent = 'Press again to end for everyone';
      state.endAllTimer = setTimeout(disarm, 5000);
      return;
    }
    disarm();
    api('DELETE', `/api/v1/rooms/${encodeURIComponent(state.roomId)}`, undefined, state.token)
      .catch((e) => log(`Could not end the call: ${e.message}`, true));
  };
  $('hang-up').onclick = () => { log('You left the call.'); leaveCall({ words: 'You left the call.' }); };
  // The invitation: the room's address, with the token only if this link carried a
  // participant's (a host's never: Copy host link gives it on purpose).
  $('copy-link').onclick = () => {
    const token = tokenRole(params().get('token') || '') === 'participant' && params().get('token');
    const link = `${location.origin}/?room=${encodeURIComponent(state.roomId)}${token ? `&token=${encodeURIComponent(token)}` : ''}`;
    navigator.clipboard.writeText(link).then(() => log('Link copied.'), () => log(link));
  };
  $('name').value = localStorage.getItem('tessera.name') || '';
  const linked = roomFromUrl();
  if (linked) $('room-id').value = linked;
  showInvitation();
  // A reload in a call returns into it.
  const back = callToResume();
  if (back) {
    $('name').value = back.name;
    join(back.roomId, back.name, hostToken(back.roomId) || params().get('token'));
  }
}

setDispatch(onMessage);
setChatDispatch(onMessage);
initHome();
initPeople();
initRecordings();
initModeration();
initMore();
initPeer();
initMedia();
initChat();
initFiles();
initQuality();
initConnection();
