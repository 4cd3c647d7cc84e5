// Chat: sent on the `chat` data channel when it is open, else on the signaling socket; the
// server's `chat` messages (and chat errors) arrive on either and are handled the same. Text is
// plain: always rendered with textContent, http(s) links made clickable safely. File messages
// show the name, the size and a download link carrying our join token.
import { $, state, log, send, humanSize, timeText, patchRoom, fetchAndSave, setLabel } from './state.js';
import { recordingsOpen, showRecordings } from './recordings.js';

let dispatch = () => {};
// app.js hands in its message handler (the data channel's messages go the same way).
export function setChatDispatch(fn) { dispatch = fn; }

export function attachChatChannel(dc) {
  state.dc = dc;
  dc.onmessage = (ev) => {
    if (typeof ev.data !== 'string') return;
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    Promise.resolve(dispatch(msg, 'datachannel')).catch((e) => log(`Error: ${e.message}`, true));
  };
  dc.onopen = () => renderChatState();
  dc.onclose = () => renderChatState();
}

export function resetChat() {
  state.chat = { enabled: true, ids: new Set(), messages: [] };
  $('chat-messages').replaceChildren();
  $('chat-error').textContent = '';
  state.unread = 0;
  renderChatState();
}

// From `welcome.chat` ({enabled, history}); after a reconnection only the messages not seen yet
// are added.
export function chatFromWelcome(chat) {
  setChatEnabled(chat?.enabled ?? true, false);
  for (const m of Array.isArray(chat?.history) ? chat.history : []) addMessage(m, false);
}

export function onChat(message) {
  addMessage(message, true);
}

export function setChatEnabled(enabled, announce = true) {
  const changed = state.chat.enabled !== enabled;
  state.chat.enabled = enabled;
  if (announce && changed) log(enabled ? 'The host turned chat on.' : 'The host turned chat off.');
  renderChatState();
}

export function renderChatState() {
  const on = state.chat.enabled;
  const live = state.phase === 'call' || state.phase === 'reconnecting';
  $('chat-off').hidden = on;
  $('chat-input').disabled = !on || !live;
  $('chat-send').disabled = !on || !live;
  $('file-button').disabled = !on || state.phase !== 'call' || Boolean(state.upload);
  $('chat-input').placeholder = on ? 'Message everyone' : 'Chat is off';
  const toggle = $('chat-toggle');
  toggle.hidden = !state.isHost;
  toggle.textContent = on ? 'Turn chat off' : 'Turn chat on';
  toggle.setAttribute('aria-pressed', String(on));
  toggle.disabled = state.phase !== 'call';
}

function addMessage(m, live) {
  if (!m || typeof m !== 'object' || typeof m.id !== 'string' || state.chat.ids.has(m.id)) return;
  state.chat.ids.add(m.id);
  state.chat.messages.push(m);
  const list = $('chat-messages');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(messageItem(m));
  while (list.children.length > 500) list.firstElementChild.remove();
  if (nearBottom || m.participantId === state.selfId) list.scrollTop = list.scrollHeight;
  if (live && m.participantId !== state.selfId && document.body.classList.contains('chat-closed')) {
    state.unread = (state.unread || 0) + 1;
    setLabel('toggle-chat', `Chat (${state.unread})`);
    $('toggle-chat').dataset.unread = String(state.unread);
  }
}

function messageItem(m) {
  const li = document.createElement('li');
  li.dataset.messageId = m.id;
  if (m.participantId === state.selfId) li.classList.add('mine');
  const head = document.createElement('div');
  head.className = 'chat-meta';
  const who = document.createElement('span');
  who.className = 'chat-name';
  who.textContent = m.participantId === state.selfId ? `${m.name || 'You'} (you)` : String(m.name || 'Someone');
  const when = document.createElement('time');
  when.className = 'chat-time';
  when.dateTime = String(m.sentAt || '');
  when.textContent = timeText(m.sentAt);
  head.append(who, ' ', when);
  li.append(head);
  if (typeof m.text === 'string' && m.text) {
    const text = document.createElement('div');
    text.className = 'chat-text';
    text.append(...linkify(m.text));
    li.append(text);
  }
  if (m.file && typeof m.file === 'object') li.append(fileLink(m.file));
  return li;
}

// Text → text nodes and <a> for http(s) URLs. Nothing from the message is ever parsed as HTML.
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
export function linkify(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0];
    // Punctuation that ends a sentence is not part of the link.
    while (/[.,;:!?)\]}'"]$/.test(raw) && !(raw.endsWith(')') && raw.includes('('))) raw = raw.slice(0, -1);
    let url;
    try { url = new URL(raw); } catch { continue; }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    if (match.index > last) out.push(document.createTextNode(text.slice(last, match.index)));
    const a = document.createElement('a');
    a.href = url.href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.textContent = raw;
    out.push(a);
    last = match.index + raw.length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

// A shared file: name, size and a download link only room members can use: our own join token
// in the link, or, for a host (whose token must never sit in a link someone could copy), a
// download fetched with the token in a header and saved.
function fileLink(file) {
  const box = document.createElement('div');
  box.className = 'chat-file';
  const name = String(file.name || 'file');
  const url = typeof file.url === 'string' && file.url.startsWith('/') ? file.url : null;
  const a = document.createElement(url ? 'a' : 'span');
  a.textContent = name;
  if (url && state.isHost) {
    a.href = url;
    a.addEventListener('click', (ev) => {
      ev.preventDefault();
      fetchAndSave(url, name).catch((e) => showChatError(`Could not download ${name}: ${e.message}`));
    });
  } else if (url) {
    a.href = state.token ? `${url}?token=${encodeURIComponent(state.token)}` : url;
  }
  if (url) {
    a.setAttribute('download', name);
    a.rel = 'noopener noreferrer';
    a.setAttribute('aria-label', `Download ${name} (${humanSize(file.size)})`);
  }
  const size = document.createElement('span');
  size.className = 'chat-size';
  size.textContent = ` ${humanSize(file.size)}`;
  const tag = document.createElement('span');
  tag.className = 'badge';
  tag.textContent = 'file';
  box.append(tag, ' ', a, size);
  return box;
}

// Chat errors (`chat_rate_limited`, `chat_too_long`, `chat_disabled`) in plain words.
export function chatError(msg) {
  const words = {
    chat_rate_limited: `You are sending messages too fast; wait ${Math.max(1, Math.ceil((msg.retryAfterMs || 1000) / 1000))} s and try again.`,
    chat_too_long: `That message is too long (at most ${state.limits.chatMessageBytes} bytes).`,
    chat_disabled: 'The host has turned chat off.',
  };
  showChatError(words[msg.code] || msg.message || msg.code);
  if (msg.code === 'chat_disabled') setChatEnabled(false, false);
  // The refused text goes back into an empty box, to be sent again.
  const input = $('chat-input');
  if (msg.code === 'chat_rate_limited' && !input.value && state.chatLastText) input.value = state.chatLastText;
}

export function showChatError(text) {
  $('chat-error').textContent = text;
  clearTimeout(state.chatErrorTimer);
  state.chatErrorTimer = setTimeout(() => { $('chat-error').textContent = ''; }, 8000);
}

function sendChat(text) {
  const msg = { type: 'chat', text };
  if (state.dc && state.dc.readyState === 'open') {
    try {
      state.dc.send(JSON.stringify(msg));
      return true;
    } catch { /* fall back to the socket */ }
  }
  return send(msg);
}

function submit(ev) {
  ev.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  if (!text) return;
  if (!state.chat.enabled) { showChatError('The host has turned chat off.'); return; }
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > state.limits.chatMessageBytes) {
    showChatError(`That message is too long: ${bytes} bytes, at most ${state.limits.chatMessageBytes}.`);
    return;
  }
  if (!sendChat(text)) {
    showChatError('Not connected right now; your message was not sent. Try again in a moment.');
    return;
  }
  $('chat-error').textContent = '';
  state.chatLastText = text;
  input.value = '';
}

function toggleChatPanel() {
  // The recordings panel sits in the chat's place: Chat brings the chat back.
  if (recordingsOpen()) {
    showRecordings(false);
    if (!document.body.classList.contains('chat-closed')) { $('chat-input').focus(); return; }
  }
  const closed = document.body.classList.toggle('chat-closed');
  $('toggle-chat').setAttribute('aria-expanded', String(!closed));
  if (!closed) {
    state.unread = 0;
    setLabel('toggle-chat', 'Chat');
    delete $('toggle-chat').dataset.unread;
    $('chat-input').focus();
  }
}

export function initChat() {
  $('chat-form').onsubmit = submit;
  $('toggle-chat').onclick = toggleChatPanel;
  // On a phone the chat starts folded away, below the call.
  if (window.matchMedia('(max-width: 700px)').matches) {
    document.body.classList.add('chat-closed');
    $('toggle-chat').setAttribute('aria-expanded', 'false');
  }
  $('chat-toggle').onclick = async () => {
    const want = !state.chat.enabled;
    $('chat-toggle').disabled = true;
    try {
      await patchRoom({ chatEnabled: want });
      setChatEnabled(want);
    } catch (e) {
      showChatError(`Could not turn chat ${want ? 'on' : 'off'}: ${e.message}`);
    } finally {
      renderChatState();
    }
  };
}
