// The host's list of the room's recordings (issue 24 §1): each with its time, length, size and
// state, a Download button per file (fetched with the host's token, saved under its name) and
// Delete for one that is no longer running. Refreshed when the host joins, when a recording
// stops or fails, and by its Refresh button.
import { $, state, log, api, humanSize } from './state.js';

// Why a recording is in its state, in plain words.
const STATES = {
  recording: 'recording…', finalizing: 'finishing…', complete: 'ready', interrupted: 'interrupted (kept up to the interruption)', failed: 'failed',
};

export async function refreshRecordings() {
  const section = $('recordings');
  section.hidden = !state.isHost;
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
    const res = await fetch(`/api/v1/recordings/${encodeURIComponent(id)}/${path}`, { headers: state.token ? { authorization: `Bearer ${state.token}` } : {} });
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message || `HTTP ${res.status}`);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (e) {
    log(`Could not download the recording: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

export function initRecordings() {
  $('recordings-refresh').onclick = refreshRecordings;
}
