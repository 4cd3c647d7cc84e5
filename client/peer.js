// The peer connection to the server: offers (one at a time), answers, ICE candidates, ICE
// restarts, the composite's playback, and screen sharing on the same connection.
import { $, state, log, send, capital } from './state.js';
import { attachChatChannel } from './chat.js';
import { resetQuality } from './quality.js';
import { applySendCap } from './sendcap.js';

// A new peer connection for the media chosen (`state.mode`, `state.local`), with the `chat`
// data channel created before the first offer, which it then sends.
export function startPeer() {
  closePeer();
  const pc = new RTCPeerConnection({ iceServers: state.iceServers || [] });
  state.pc = pc;
  state.mediaEverConnected = false;
  resetQuality(); // a new session on the server: the full composite until it says otherwise
  const composite = new MediaStream();
  $('composite').srcObject = composite;
  pc.ontrack = (ev) => {
    // One composite video and one mix; a later m-line (the screen's, once renegotiated) brings
    // nothing to show.
    if (composite.getTracks().some((t) => t.kind === ev.track.kind)) return;
    composite.addTrack(ev.track);
    playComposite();
  };
  pc.onicecandidate = (ev) => { if (ev.candidate && pc === state.pc) send({ type: 'candidate', ...ev.candidate.toJSON() }); };
  pc.onconnectionstatechange = () => {
    if (pc !== state.pc) return;
    if (pc.connectionState === 'failed') log('The media connection failed.', true);
    if (pc.connectionState === 'connected') {
      log('Media connected.');
      if (state.notice && !$('call-notice').hidden) $('call-notice-text').textContent = `${state.notice} Connected on this try.`;
      state.mediaEverConnected = true;
      state.handshakeRetries = 0;
    }
  };
  pc.oniceconnectionstatechange = () => watchIce(pc);
  addTransceivers(pc);
  applySendCap();
  // Chat goes on this channel once it is open (else on the signaling socket).
  let dc = null;
  try {
    dc = pc.createDataChannel('chat');
  } catch (e) {
    console.warn('no data channel; chat goes over the signaling socket', e);
  }
  if (dc) attachChatChannel(dc);
  negotiate();
}

export function closePeer() {
  clearTimeout(state.iceTimer);
  if (state.dc) state.dc.onmessage = null;
  state.dc = null;
  if (state.pc && state.pc.signalingState !== 'closed') state.pc.close();
  state.onReply?.('closed');
}

// Listen only: a receive-only offer. Otherwise one audio and one video transceiver, both
// `sendrecv` even when we have no such track yet (microphone only, camera only, audio only): a
// track started later goes in with replaceTrack, without renegotiating.
function addTransceivers(pc) {
  if (state.mode === 'none') {
    state.transceivers = {
      audio: pc.addTransceiver('audio', { direction: 'recvonly' }),
      video: pc.addTransceiver('video', { direction: 'recvonly' }),
    };
  } else {
    const local = state.local;
    const first = (kind) => local.getTracks().find((t) => t.kind === kind && t.readyState === 'live') || kind;
    state.transceivers = {
      audio: pc.addTransceiver(first('audio'), { direction: 'sendrecv', streams: [local] }),
      video: pc.addTransceiver(first('video'), { direction: 'sendrecv', streams: [local] }),
    };
  }
  preferH264(state.transceivers.video);
}

// Safari decodes and encodes H.264 in hardware and handles VP8 poorly: offer H.264 first there
// (the server then sends it the H.264 composite). Other browsers keep their own order unless
// `localStorage['tessera.preferH264']` is '1'.
const isSafari = () => /^((?!chrome|chromium|crios|fxios|android|edg).)*safari/i.test(navigator.userAgent);
function preferH264(transceiver) {
  if (!isSafari() && localStorage.getItem('tessera.preferH264') !== '1') return;
  if (!transceiver.setCodecPreferences || !window.RTCRtpReceiver?.getCapabilities) return;
  const codecs = RTCRtpReceiver.getCapabilities('video')?.codecs || [];
  const h264 = codecs.filter((c) => c.mimeType.toLowerCase() === 'video/h264' && /packetization-mode=1/.test(c.sdpFmtpLine || ''));
  if (!h264.length) return;
  try {
    transceiver.setCodecPreferences([...h264, ...codecs.filter((c) => !h264.includes(c))]);
  } catch (e) {
    console.warn('setCodecPreferences', e);
  }
}

// Plays the composite; when the browser refuses sound without a tap (Safari, mobile), plays it
// muted and shows "Tap to unmute".
export function playComposite() {
  const v = $('composite');
  v.play().catch((e) => {
    if (e.name !== 'NotAllowedError' || v.muted) return;
    v.muted = true;
    v.play().catch(() => {});
    $('unmute').hidden = false;
  });
}

// Sends an offer for the peer connection as it is now, after the server has replied to the
// previous one, so that an answer is never applied to the wrong offer. Every offer sent while
// sharing names the screen's track; one without it ends the share. Resolves with how the server
// replied: 'answer', 'refused', 'timeout', or 'closed'/'offline' when nothing was sent.
export function negotiate(opts = {}) {
  const run = state.negotiation.then(() => sendOffer(opts));
  state.negotiation = run.catch((e) => {
    if (!state.ended) log(`Could not set up the media connection: ${e.message}`, true);
    return 'failed';
  });
  return state.negotiation;
}

async function sendOffer({ iceRestart = false } = {}) {
  const pc = state.pc;
  if (!pc || pc.signalingState === 'closed') return 'closed';
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return 'offline'; // sent again once reconnected
  if (iceRestart && pc.restartIce) pc.restartIce();
  const offer = await pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
  if (pc !== state.pc || pc.signalingState === 'closed') return 'closed';
  await pc.setLocalDescription(offer);
  const replied = serverReply(iceRestart ? ICE_RESTART_WAIT_MS : ANSWER_WAIT_MS);
  const msg = { type: 'offer', sdp: pc.localDescription.sdp };
  if (state.screen) msg.screenTrackId = state.screen.track.id;
  send(msg);
  return replied;
}

// Resolves when the server has replied to the offer just sent (its answer, or an error refusing
// it), or after `ms` without a reply: then the next offer goes anyway, and a late answer is
// still applied if no other offer went out meanwhile.
const ANSWER_WAIT_MS = 10000;
const ICE_RESTART_WAIT_MS = 6000;
function serverReply(ms) {
  state.onReply?.('superseded');
  return new Promise((resolve) => {
    const done = (how) => {
      clearTimeout(timer);
      if (state.onReply === done) state.onReply = null;
      resolve(how);
    };
    const timer = setTimeout(() => done('timeout'), ms);
    state.onReply = done;
  });
}

// The first answer and every renegotiation's; ICE candidates keep flowing both ways throughout
// (one bundled transport: a renegotiation gathers no new ones, an ICE restart does).
export async function onAnswer(sdp) {
  const pc = state.pc;
  if (!pc || pc.signalingState !== 'have-local-offer') return; // no offer is waiting for it
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } finally {
    state.onReply?.('answer');
  }
  applySendCap(); // the camera's encoding may only exist now
}

export async function onCandidate(msg) {
  const pc = state.pc;
  if (!pc || pc.signalingState === 'closed') return;
  try {
    await pc.addIceCandidate({ candidate: msg.candidate, sdpMid: msg.sdpMid, sdpMLineIndex: msg.sdpMLineIndex });
  } catch (e) {
    // A candidate of the ICE generation an ICE restart just replaced is refused: harmless.
    console.warn('candidate refused', e);
  }
}

// What the connection does when the media connects, and when the signaling socket must be
// taken as lost: set by connection.js at start (`setPeerHooks`), so this module does not import
// it (connection.js imports this one).
const hooks = { mediaConnected: () => {}, lostSocket: () => {} };
export function setPeerHooks(h) { Object.assign(hooks, h); }

// ICE `failed`, or `disconnected` for more than 2 s (a network change, Wi-Fi to mobile): restart
// ICE on the same peer connection, over the same signaling socket. ICE connected again while the
// socket is being reconnected: the network is back, try the socket at once.
function watchIce(pc) {
  if (pc !== state.pc) return;
  clearTimeout(state.iceTimer);
  const s = pc.iceConnectionState;
  if (s === 'connected' || s === 'completed') hooks.mediaConnected();
  else if (s === 'failed') restartIce('the media connection failed');
  else if (s === 'disconnected') {
    state.iceTimer = setTimeout(() => {
      if (pc === state.pc && pc.iceConnectionState === 'disconnected') restartIce('the media connection was interrupted');
    }, 2000);
  }
}

let restarting = false;
export async function restartIce(why) {
  const pc = state.pc;
  if (!pc || pc.signalingState === 'closed' || state.phase !== 'call' || restarting) return;
  restarting = true;
  log(`${capital(why)}; reconnecting the media…`);
  try {
    const how = await negotiate({ iceRestart: true });
    // No answer: the signaling socket is most likely gone too, silently.
    if (how === 'timeout' && state.phase === 'call' && pc === state.pc) hooks.lostSocket('the server did not answer');
  } finally {
    restarting = false;
  }
}

const canShareScreen = () => Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);

export function renderShareButton() {
  const b = $('share-screen');
  b.hidden = !canShareScreen();
  b.textContent = state.screen ? 'Stop sharing' : 'Share screen';
  b.disabled = state.shareBusy || state.ended || !state.pc || state.phase !== 'call';
}

// Adds the screen to the same peer connection and renegotiates. Cancelling the browser's
// picker is not an error.
async function startShare() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true });
  } catch (e) {
    if (e.name !== 'NotAllowedError' && e.name !== 'AbortError') log(`Could not share your screen (${e.name}).`, true);
    return;
  }
  const [track] = stream.getVideoTracks();
  if (!track || state.screen || state.ended || !state.pc) { // the call ended while the picker was open
    stream.getTracks().forEach((t) => t.stop());
    return;
  }
  state.tracks.add(track);
  track.contentHint = 'detail';
  track.onended = () => stopShare(); // the browser's own "Stop sharing"
  state.screen = { stream, track, sender: state.pc.addTrack(track, stream), confirmed: false };
  renderShareButton();
  negotiate();
}

// Removes the screen and renegotiates without `screenTrackId`, which ends the share.
export function stopShare({ renegotiate = true } = {}) {
  const share = state.screen;
  if (!share) return Promise.resolve();
  state.screen = null;
  share.track.onended = null;
  share.stream.getTracks().forEach((t) => t.stop());
  renderShareButton();
  if (!renegotiate || !state.pc || state.pc.signalingState === 'closed') return Promise.resolve();
  try {
    state.pc.removeTrack(share.sender);
  } catch { /* the peer connection was replaced */ }
  return negotiate();
}

// `screen_share_busy` (someone else shares) or `screen_share_failed`: the server ignores our
// screen, so stop sending it.
export async function screenShareRefused(msg) {
  const busy = msg.code === 'screen_share_busy';
  const why = (msg.message || (busy ? 'someone else is already sharing their screen' : 'the server could not show your screen')).replace(/\.$/, '');
  log(`${busy ? 'Could not share your screen' : 'Screen sharing stopped'}: ${why}.`, true);
  await stopShare();
}

// Once the server has shown our screen, its saying that someone else (or nobody) shares means
// our share ended there; stop sending it.
export function followServerShare() {
  const share = state.screen;
  if (!share) return;
  if (state.layout.screenParticipantId === state.selfId) share.confirmed = true;
  else if (share.confirmed) stopShare();
}

// Full screen for the whole call (the controls stay within reach, the button among them); iOS
// Safari only has it for a <video>.
function toggleFullscreen() {
  const stage = $('call');
  const current = document.fullscreenElement || document.webkitFullscreenElement;
  if (current) {
    (document.exitFullscreen || document.webkitExitFullscreen).call(document);
  } else if (stage.requestFullscreen) {
    stage.requestFullscreen().catch((e) => log(`Full screen is not available (${e.name}).`, true));
  } else if (stage.webkitRequestFullscreen) {
    stage.webkitRequestFullscreen();
  } else if ($('composite').webkitEnterFullscreen) {
    $('composite').webkitEnterFullscreen();
  }
}

function renderFullscreenButton() {
  const on = Boolean(document.fullscreenElement || document.webkitFullscreenElement);
  $('fullscreen').textContent = on ? 'Exit full screen' : 'Full screen';
  $('fullscreen').setAttribute('aria-label', on ? 'Exit full screen' : 'Full screen');
}

export function initPeer() {
  $('share-screen').onclick = async () => {
    if (state.screen) { stopShare(); return; }
    state.shareBusy = true;
    renderShareButton();
    try {
      await startShare();
    } finally {
      state.shareBusy = false;
      renderShareButton();
    }
  };
  $('unmute').onclick = () => {
    const v = $('composite');
    v.muted = false;
    v.play().catch(() => {});
    $('unmute').hidden = true;
  };
  $('fullscreen').onclick = toggleFullscreen;
  document.addEventListener('fullscreenchange', renderFullscreenButton);
  document.addEventListener('webkitfullscreenchange', renderFullscreenButton);
}
