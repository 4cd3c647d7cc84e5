// The composite's quality (docs/signaling.md, videoPreference and videoQuality): the server sends
// each receiver one rung of a ladder of the composite (L0 full size, L1 half, L2 a quarter, or
// `paused`) and says when it moves us. Here:
// - the user's data-saver choice ("Video quality": Auto, Up to 360p, Audio only), kept in
//   localStorage and sent as `mode` auto/low/off;
// - the composite's size on screen (its picture's height × devicePixelRatio) sent as `maxHeight`
//   after each new peer connection's first answer and when it changes by more than 10 % (resize,
//   full screen, zoom; debounced 500 ms), so a phone gets no more lines than it shows;
// - what the server says: "Video paused: weak connection" over the composite while the link is
//   too weak (audio goes on), a small "Low bandwidth" label while the link (not our choice)
//   holds the composite below what we asked for, and "Video off to save data" instead of a
//   frozen frame in Audio only.
// - which canvas ("Layout on this screen": Auto, Whole room, Phone layout), kept in localStorage
//   and sent as `canvas`: Auto takes the small-screen canvas (portrait 360×640: the speaker
//   large, names readable) on a portrait viewport at most 600 px wide and the room's canvas
//   otherwise, again whenever the viewport turns; the stage takes the canvas's shape.
// The server keeps the preference per peer connection: it is sent again after a resume (the
// session's socket changed) and on every new peer connection (a new session).
import { $, state, log, send } from './state.js';

const MODES = ['auto', 'low', 'off'];
const KEY = 'tessera.videoQuality';
const CANVASES = ['auto', 'full', 'small'];
const CANVAS_KEY = 'tessera.canvas';
// Auto's phone: a portrait viewport at most this wide (CSS px).
const PHONE_WIDTH = 600;
// The small canvas's heights at L0/L1 and at L2 (docs/signaling.md, the small-screen canvas).
const SMALL_HEIGHTS = [640, 640, 320];
const RESIZE_DEBOUNCE_MS = 500;
const MAX_HEIGHT = 4320; // the server's upper bound for maxHeight
const RUNGS = ['L0', 'L1', 'L2'];
// After Audio only is lifted, the server says nothing while its own choice for the link is a
// pause too (a message comes only when the rung changes): after this long without a picture
// the pause is taken for the link's.
const RESUME_WAIT_MS = 8000;

export const quality = {
  mode: 'auto',
  canvasChoice: 'auto', // the user's choice: auto, full or small
  // What the server said last: {rung, width, height, reason, estimateKbps?}. A receiver starts
  // on L0 (no message says so).
  now: { rung: 'L0', width: 0, height: 0, reason: 'start', canvas: 'full' },
  fullHeight: 0, // L0's height, once known (a videoQuality for L0, or the first decoded frame)
  sent: null, // the last videoPreference sent: {pc, maxHeight, mode, canvas}
  timer: null,
  resumeTimer: null,
};
state.quality = quality; // for tests and debugging

function storedMode() {
  const m = localStorage.getItem(KEY);
  return MODES.includes(m) ? m : 'auto';
}

function storedCanvas() {
  const c = localStorage.getItem(CANVAS_KEY);
  return CANVASES.includes(c) ? c : 'auto';
}

// The canvas to ask for: the user's choice, or for Auto the small one on a portrait phone.
export function wantedCanvas() {
  if (quality.canvasChoice !== 'auto') return quality.canvasChoice;
  const w = window.innerWidth;
  const h = window.innerHeight;
  return w <= PHONE_WIDTH && h > w ? 'small' : 'full';
}

// The height, in device pixels, of the composite's picture as shown: `object-fit: contain` in
// the element, so the smaller of the element's height and its width at the picture's aspect.
// null while the element is not laid out (the call screen hidden).
export function wantedHeight() {
  const v = $('composite');
  const w = v.clientWidth;
  const h = v.clientHeight;
  if (!w || !h) return null;
  const small = wantedCanvas() === 'small';
  // The picture shown now, unless it is of the other canvas than the one we are about to ask for.
  const current = (quality.now.canvas ?? 'full') === (small ? 'small' : 'full');
  const aspect = current && v.videoWidth && v.videoHeight ? v.videoHeight / v.videoWidth
    : current && quality.now.width && quality.now.height ? quality.now.height / quality.now.width : small ? 16 / 9 : 9 / 16;
  const css = Math.min(h, w * aspect);
  return Math.min(MAX_HEIGHT, Math.max(1, Math.round(css * (window.devicePixelRatio || 1))));
}

// Sends our preference on the current peer connection once the server has answered its offer
// (before that it has no composite for us and would say `no_video`): when the connection, the
// mode or (by more than 10 %) the wanted height changed since the last one sent.
export function syncPreference() {
  const pc = state.pc;
  // Not while an offer of ours waits for its answer (an ICE restart after a resume: the old
  // answer is still the remote description, and the server would take the preference before the
  // answer that resumes the session; app.js calls this again when the answer is in).
  if (!pc || pc.signalingState !== 'stable' || !pc.remoteDescription || state.phase !== 'call') return;
  // Nor after a resume until the ICE restart's answer is in: between `welcome` and our restart
  // offer the connection still looks stable (a resize then sent it early; seen in CI).
  if (quality.awaitingAnswer) return;
  const last = quality.sent;
  const canvas = wantedCanvas();
  renderCanvas();
  const maxHeight = wantedHeight() ?? last?.maxHeight ?? null;
  const same = last && last.pc === pc && last.mode === quality.mode && last.canvas === canvas
    && (maxHeight === last.maxHeight || (maxHeight && last.maxHeight && Math.abs(maxHeight - last.maxHeight) <= 0.1 * last.maxHeight));
  if (same) return;
  if (send({ type: 'videoPreference', maxHeight, mode: quality.mode, canvas })) quality.sent = { pc, maxHeight, mode: quality.mode, canvas };
}

// A session's socket was replaced (resume): send the preference again after the ICE restart's
// answer, in case the last one was lost with the old socket.
export function preferenceLost() {
  quality.sent = null;
  quality.awaitingAnswer = true;
}

// The answer to our offer is in: the preference may be sent (again).
export function answerArrived() {
  quality.awaitingAnswer = false;
  syncPreference();
}

// A new peer connection (a new session on the server): it starts on L0.
export function resetQuality() {
  clearTimeout(quality.resumeTimer);
  quality.now = { rung: 'L0', width: 0, height: 0, reason: 'start', canvas: 'full' };
  quality.sent = null;
  quality.awaitingAnswer = false;
  renderQuality();
}

// `welcome.you.videoQuality` after a resume: where the server has us now.
export function qualityFromWelcome(you, resumed) {
  if (resumed && you?.videoQuality?.rung) setQuality(you.videoQuality, { quiet: true });
}

// The server's `videoQuality`.
export function onVideoQuality(msg) {
  setQuality(msg);
}

function setQuality(q, { quiet = false } = {}) {
  const before = quality.now;
  const canvas = q.canvas === 'small' ? 'small' : 'full';
  quality.now = { rung: q.rung, width: q.width || 0, height: q.height || 0, reason: q.reason, estimateKbps: q.estimateKbps, canvas };
  if (q.rung === 'L0' && q.height && canvas === 'full') quality.fullHeight = q.height;
  if (!quiet && quality.mode !== 'off') {
    const weak = (x) => x.rung === 'paused' && x.reason !== 'limit';
    if (weak(quality.now) && !weak(before)) log('Video paused: your connection is too weak for video. Audio continues; the video comes back by itself.', true);
    else if (!weak(quality.now) && weak(before)) log('Video is back.');
  }
  renderQuality();
}

// The rung our own preference allows (0 = L0 … 2 = L2; 3 = no video), from L0's height.
function ourCap() {
  if (quality.mode === 'off') return 3;
  const full = quality.fullHeight || 720;
  const heights = quality.now.canvas === 'small' ? SMALL_HEIGHTS : [full, (full >> 1) & ~1, (full >> 2) & ~1];
  const want = quality.sent?.maxHeight ?? wantedHeight();
  let cap = 0;
  if (want) for (let i = 2; i >= 0; i--) if (heights[i] >= want) { cap = i; break; }
  return quality.mode === 'low' ? Math.max(cap, 1) : cap;
}

export function renderQuality() {
  const q = quality.now;
  // Paused by our own Audio only: covered. Just after Auto or Up to 360p is chosen again, until
  // the server sends a picture (if its own choice for the link is a pause too, it says nothing
  // until it tries a rung), the cover says the video is coming.
  const off = quality.mode === 'off' || (q.rung === 'paused' && q.reason === 'limit');
  const resuming = quality.mode !== 'off';
  $('video-off-title').textContent = resuming ? 'Turning the video back on…' : 'Video off to save data';
  $('video-off-text').textContent = resuming ? 'You hear everyone meanwhile.' : 'You hear everyone; change it in Settings → Video quality.';
  const weak = !off && q.rung === 'paused';
  const rung = RUNGS.indexOf(q.rung);
  const reduced = !off && rung > 0 && q.reason !== 'limit' && rung > ourCap();
  $('video-off').hidden = !off;
  $('video-paused').hidden = !weak;
  $('quality-badge').hidden = !reduced;
  $('composite').classList.toggle('stalled', weak);
  if (reduced) $('quality-badge').title = `Receiving ${q.height ? `${q.height}p` : 'reduced'} video${q.estimateKbps ? ` (about ${q.estimateKbps} kbit/s available)` : ''}`;
}

function chooseMode(mode) {
  if (!MODES.includes(mode)) return;
  const was = quality.mode;
  quality.mode = mode;
  clearTimeout(quality.resumeTimer);
  if (was === 'off' && mode !== 'off') {
    quality.resumeTimer = setTimeout(() => {
      const q = quality.now;
      if (quality.mode !== 'off' && q.rung === 'paused' && q.reason === 'limit') setQuality({ ...q, reason: 'bandwidth' });
    }, RESUME_WAIT_MS);
  }
  localStorage.setItem(KEY, mode);
  $('video-quality').value = mode;
  renderQuality();
  syncPreference();
}

// The stage takes the shape of the canvas asked for (portrait for the small one) at once, so the
// height measured for `maxHeight` is the one it will be shown at.
function renderCanvas() {
  const small = wantedCanvas() === 'small';
  $('stage').classList.toggle('portrait', small);
  $('video-canvas').value = quality.canvasChoice;
}

function chooseCanvas(choice) {
  if (!CANVASES.includes(choice)) return;
  quality.canvasChoice = choice;
  localStorage.setItem(CANVAS_KEY, choice);
  syncPreference();
  renderCanvas();
}

// Layout changes of the composite (window, full screen, the chat opening beside it, zoom):
// measured once they settle.
function resized() {
  clearTimeout(quality.timer);
  quality.timer = setTimeout(() => syncPreference(), RESIZE_DEBOUNCE_MS);
  renderCanvas();
}

export function initQuality() {
  quality.mode = storedMode();
  $('video-quality').value = quality.mode;
  $('video-quality').onchange = (ev) => chooseMode(ev.target.value);
  quality.canvasChoice = storedCanvas();
  $('video-canvas').onchange = (ev) => chooseCanvas(ev.target.value);
  renderCanvas();
  const v = $('composite');
  if (window.ResizeObserver) new ResizeObserver(resized).observe(v);
  window.addEventListener('resize', resized); // also a zoom (devicePixelRatio) change
  // L0's height from the first frames (a receiver starts on L0), and the aspect the composite has.
  v.addEventListener('resize', () => {
    if (quality.now.rung === 'L0' && quality.now.canvas !== 'small' && v.videoHeight && v.videoWidth > v.videoHeight) quality.fullHeight = v.videoHeight;
    renderQuality();
  });
  renderQuality();
}
