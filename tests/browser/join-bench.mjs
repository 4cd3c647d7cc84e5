// Benchmark D (run by `make bench`, not a test): join time in headless Chromium, from the
// signaling WebSocket opening to the first composite frame decoded.
//
//   node tests/browser/join-bench.mjs http://127.0.0.1:PORT ROUNDS
//
// Each round creates a room; a first page joins it (cold: the room's pipeline and encoder
// start for it), then a second page joins while the first is in (warm). Prints one JSON line:
// {"cold":[ms,...],"warm":[ms,...]}.
import { launchChromium } from './client-helpers.mjs';

const [base, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg || 5);
if (!base) {
  console.error('usage: join-bench.mjs BASE_URL [ROUNDS]');
  process.exit(2);
}

// Runs in the page before its own scripts: notes when the first WebSocket opens and when the
// first composite frame is decoded (by requestVideoFrameCallback or, polled every 5 ms,
// inbound-rtp framesDecoded, whichever says so first).
const probe = () => {
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('open', () => { window.__wsOpenAt ??= performance.now(); });
    }
  };
  const decoded = () => { window.__firstFrameAt ??= performance.now(); };
  let watching = false;
  const timer = setInterval(async () => {
    const video = document.getElementById('composite');
    if (video && !watching && 'requestVideoFrameCallback' in video) {
      watching = true;
      video.requestVideoFrameCallback(decoded);
    }
    const pc = window.tessera?.pc;
    if (!pc) return;
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0) decoded();
    }
    if (window.__firstFrameAt !== undefined) clearInterval(timer);
  }, 5);
};

async function join(browser, roomId, name) {
  const page = await (await browser.newContext()).newPage();
  await page.addInitScript(probe);
  await page.goto(base);
  await page.fill('#name', name);
  await page.fill('#room-id', roomId);
  await page.click('#join-room');
  await page.waitForFunction(() => window.__firstFrameAt !== undefined && window.__wsOpenAt !== undefined, null, { timeout: 20000, polling: 50 });
  const ms = await page.evaluate(() => window.__firstFrameAt - window.__wsOpenAt);
  return { page, ms };
}

const browser = await launchChromium();
const result = { cold: [], warm: [] };
try {
  for (let i = 0; i < rounds; i++) {
    const res = await fetch(`${base}/api/v1/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `join-${i}` }) });
    if (res.status !== 201) throw new Error(`creating a room: ${res.status} ${await res.text()}`);
    const { room } = await res.json();
    const first = await join(browser, room.id, `first-${i}`);
    const second = await join(browser, room.id, `second-${i}`);
    result.cold.push(first.ms);
    result.warm.push(second.ms);
    for (const p of [first.page, second.page]) await p.context().close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
