// The host's list of the room's recordings (issue 24 §1), in a side panel in the chat's place:
// each with its time, length, size and state, a Download button per file (fetched with the
// host's token, saved under its name) and Delete for one that is no longer running. Refreshed
// when the host joins, when a recording starts, stops or fails, when the panel opens, and by its
// Refresh button. And the host's Go live: the room's HLS output on
// or off (`PATCH {hls}`), with its playlist's link.
import { $, state, log, api, humanSize, fetchAndSave } from './state.js';

// Why a recording is in its state, in plain words.
const STATES = {
  recording: 'recording…', finalizing: 'finishing…', complete: 'ready', interrupted: 'interrupted (kept up to the interruption)', failed: 'failed',
};

export async function refreshRecordings() {
  $('recordings-button').hidden = !state.isHost;
  if (!state.isHost) showRecordings(false);
  if (!state.isHost || !state.roomId) return;
  try {
    const list = await api('GET', `/api/v1/recordings?roomId=${encodeURIComponent(state.roomId)}`, undefined, state.token);
    renderRecordings(list.recordings || []);
  } catch (e) {
    $('recordings-error').textContent = `Could not list the recordings: ${e.message}`;
  }
}

function renderRecordings(recordings) {
  $('recordings-error').textContent = '';
  const ul = $('recordings-list');
  ul.replaceChildren();
  $('recordings-empty').hidden = recordings.length > 0;
  for (const r of recordings) ul.append(recordingItem(r));
  // A stopped recording is closed in a moment: look again until it is ready.
  clearTimeout(state.recordingsTimer);
  if (recordings.some((r) => r.state === 'finalizing')) state.recordingsTimer = setTimeout(refreshRecordings, 1500);
}

function duration(ms) {
  const s = Math.round((ms || 0) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function recordingItem(r) {
  const li = document.createElement('li');
  li.dataset.recordingId = r.id;
  li.dataset.state = r.state;
  const when = r.startedAt ? new Date(r.startedAt).toLocaleTimeString() : '';
  const text = document.createElement('span');
  text.className = 'recording-text';
  text.textContent = `${when} · ${duration(r.durationMs)} · ${humanSize(r.bytes || 0)} · ${STATES[r.state] || r.state}`;
  li.append(text);
  const parts = r.parts || [];
  parts.forEach((p, i) => {
    const b = document.createElement('button');
    b.textContent = parts.length > 1 ? `Download part ${i + 1}` : 'Download';
    b.setAttribute('aria-label', `Download the recording of ${when}${parts.length > 1 ? `, part ${i + 1}` : ''}`);
    const path = parts.length > 1 ? `parts/${p.index}` : 'file';
    b.onclick = () => download(r.id, path, `${r.id}${parts.length > 1 ? `-${p.index}` : ''}.mp4`, b);
    li.append(b);
  });
  if (r.state !== 'recording' && r.state !== 'finalizing') {
    const del = document.createElement('button');
    del.textContent = 'Delete';
    del.setAttribute('aria-label', `Delete the recording of ${when}`);
    del.onclick = async () => {
      try {
        await api('DELETE', `/api/v1/recordings/${encodeURIComponent(r.id)}`, undefined, state.token);
        log('Recording deleted.');
      } catch (e) { log(`Could not delete the recording: ${e.message}`, true); }
      refreshRecordings();
    };
    li.append(del);
  }
  return li;
}

// The file needs the host's token, which a plain link cannot carry: fetched, then saved.
async function download(id, path, name, button) {
  button.disabled = true;
  try {
    await fetchAndSave(`/api/v1/recordings/${encodeURIComponent(id)}/${path}`, name);
  } catch (e) {
    log(`Could not download the recording: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

// Go live / Stop live, and the playlist's link while live.
function renderLive(on) {
  const b = $('live-button');
  b.hidden = !state.isHost;
  b.textContent = on ? 'Stop live' : 'Go live';
  b.setAttribute('aria-pressed', String(on));
  state.live = on;
  const url = `${location.origin}/live/${encodeURIComponent(state.roomId || '')}/index.m3u8`;
  $('live-link').href = url;
  $('live-link').textContent = url;
  $('live-status').hidden = !on;
}

// The room's HLS setting as the server has it (the host only).
export async function refreshLive() {
  if (!state.isHost || !state.roomId) { $('live-button').hidden = true; return; }
  try {
    const room = await api('GET', `/api/v1/rooms/${encodeURIComponent(state.roomId)}`, undefined, state.token);
    renderLive(Boolean(room.hls));
  } catch (e) {
    log(`Could not read the room's live setting: ${e.message}`, true);
  }
}

// The panel takes the chat's place beside the stage (the stage keeps its size): opened and closed
// by the Recordings button or its ×; the Chat button closes it too.
export function showRecordings(open) {
  document.body.classList.toggle('recordings-open', open);
  $('recordings').hidden = !open;
  $('recordings-button').setAttribute('aria-expanded', String(open));
  if (open) refreshRecordings();
}

export function recordingsOpen() { return document.body.classList.contains('recordings-open'); }

export function initRecordings() {
  $('recordings-refresh').onclick = refreshRecordings;
  $('recordings-button').onclick = () => showRecordings(!recordingsOpen());
  $('recordings-close').onclick = () => { showRecordings(false); $('recordings-button').focus(); };
  $('live-button').onclick = async () => {
    const on = !state.live;
    $('live-button').disabled = true;
    try {
      const room = await api('PATCH', `/api/v1/rooms/${encodeURIComponent(state.roomId)}`, { hls: on }, state.token);
      renderLive(Boolean(room.hls));
      log(room.hls ? 'The call is live (HLS).' : 'The live stream stopped.');
    } catch (e) {
      log(`Could not ${on ? 'go live' : 'stop the live stream'}: ${e.message}`, true);
    } finally {
      $('live-button').disabled = false;
    }
  };
}
