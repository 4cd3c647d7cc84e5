// Sending a file to everyone: a button or drag-and-drop onto the call, uploaded over HTTP to
// POST /api/v1/rooms/{id}/files?name=… with our join token (XMLHttpRequest, for its upload
// progress and abort). The server announces it in the chat; files above welcome.limits.fileBytes
// are refused here before any byte goes out.
import { $, state, log, humanSize, WORDS } from './state.js';
import { renderChatState, showChatError } from './chat.js';

const queue = [];

export function sendFiles(files) {
  for (const f of files) queue.push(f);
  if (!state.upload) next();
}

function next() {
  const file = queue.shift();
  if (file) upload(file);
}

function refuse(text) {
  showChatError(text);
  log(text, true);
}

function upload(file) {
  if (state.phase !== 'call') { refuse('You can send files once you are in the call.'); queue.length = 0; return; }
  if (!state.chat.enabled) { refuse('The host has turned chat off, so files cannot be sent.'); queue.length = 0; return; }
  if (!state.token) { refuse('Sending files needs an invitation link (a join token); this server gave none.'); return next(); }
  const max = state.limits.fileBytes;
  if (Number.isFinite(max) && file.size > max) {
    const [size, limit] = humanSize(file.size) === humanSize(max)
      ? [`${file.size.toLocaleString()} bytes`, `${max.toLocaleString()} bytes`] : [humanSize(file.size), humanSize(max)];
    refuse(`“${file.name}” is ${size}; the largest file you can send here is ${limit}.`);
    return next();
  }
  const xhr = new XMLHttpRequest();
  state.upload = xhr;
  xhr.open('POST', `/api/v1/rooms/${encodeURIComponent(state.roomId)}/files?name=${encodeURIComponent(file.name)}`);
  xhr.setRequestHeader('Authorization', `Bearer ${state.token}`);
  if (file.type) xhr.setRequestHeader('Content-Type', file.type);
  xhr.responseType = 'text';
  showProgress(file, 0);
  xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) showProgress(file, ev.loaded / ev.total); };
  const done = (text, isError) => {
    if (state.upload === xhr) state.upload = null;
    $('upload').hidden = true;
    if (text) (isError ? refuse(text) : log(text));
    renderChatState();
    next();
  };
  xhr.onload = () => {
    if (xhr.status === 201) { done(`Sent “${file.name}” (${humanSize(file.size)}).`); return; }
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
    let why = WORDS[body.code] || body.message || `the server said ${xhr.status}`;
    if (body.code === 'file_too_large' && Number.isFinite(max)) why = `it is larger than the ${humanSize(max)} this server accepts`;
    done(`Could not send “${file.name}”: ${why}.`, true);
  };
  xhr.onerror = () => done(`Could not send “${file.name}”: the connection to the server broke.`, true);
  xhr.onabort = () => done(`Stopped sending “${file.name}”.`);
  xhr.send(file);
  renderChatState();
}

function showProgress(file, fraction) {
  $('upload').hidden = false;
  $('upload-name').textContent = `Sending “${file.name}” (${humanSize(file.size)}) — ${Math.round(fraction * 100)}%`;
  $('upload-progress').value = Math.round(fraction * 100);
}

export function cancelUploads() {
  queue.length = 0;
  state.upload?.abort();
}

export function initFiles() {
  $('file-button').onclick = () => $('file-input').click();
  $('file-input').onchange = (ev) => {
    sendFiles([...ev.target.files]);
    ev.target.value = '';
  };
  $('upload-cancel').onclick = () => state.upload?.abort();
  // Drag a file anywhere onto the call page.
  const call = $('call');
  let depth = 0;
  const hasFiles = (ev) => [...(ev.dataTransfer?.types || [])].includes('Files');
  call.addEventListener('dragenter', (ev) => {
    if (!hasFiles(ev) || state.phase !== 'call') return;
    ev.preventDefault();
    depth++;
    $('drop-hint').hidden = false;
  });
  call.addEventListener('dragover', (ev) => {
    if (!hasFiles(ev) || state.phase !== 'call') return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = state.chat.enabled ? 'copy' : 'none';
  });
  call.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) $('drop-hint').hidden = true;
  });
  call.addEventListener('drop', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth = 0;
    $('drop-hint').hidden = true;
    const files = [...ev.dataTransfer.files];
    if (files.length) sendFiles(files);
  });
}
