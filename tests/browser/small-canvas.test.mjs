// The small-screen canvas as the browser client asks for it (headless Chromium, fake camera and
// microphone, the real server; docs/signaling.md "The small-screen canvas"):
// - a portrait phone (390×844) asks for `canvas: "small"` by default, its stage turns portrait,
//   and it decodes the 360×640 canvas: checked by pixels, one picture large on top, one below,
//   and a name drawn in white at the large place's bottom-left;
// - a desktop page in the same room asks for and keeps the room's canvas (16:9);
// - Settings → "Layout on this screen" → "Whole room" makes the phone ask for `full`: a 16:9
//   picture again, the stage back to 16:9, the choice kept in localStorage, and the server stops
//   the small canvas once nobody takes it (its gauge in /metrics back to 0).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from './server.mjs';
import { startServerAndChromium, stopServerAndChromium, newPage, createRoomAs, joinAs, controlClick } from './client-helpers.mjs';

let server;
let browser;

before(async () => ({ server, browser } = await startServerAndChromium()));

after(() => stopServerAndChromium(server, browser));

// The composite's current picture at its own size, read back: its size, the share of lit pixels
// in the top square and below it, and the white pixels where the large place's name is drawn.
function picture(p) {
  return p.evaluate(() => {
    const v = document.getElementById('composite');
    const [w, h] = [v.videoWidth, v.videoHeight];
    if (!w || !h) return null;
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0, w, h);
    const lit = (y0, y1) => {
      const d = g.getImageData(0, y0, w, y1 - y0).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.max(d[i], d[i + 1], d[i + 2]) > 60) n++;
      return n / (d.length / 4);
    };
    let white = 0;
    if (w === 360 && h === 640) {
      const d = g.getImageData(8, 330, 112, 24).data;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] > 200 && d[i + 2] > 200) white++;
    }
    return { w, h, top: lit(0, Math.round(h * 0.56)), bottom: lit(Math.round(h * 0.56), h), white };
  });
}

const stageBox = (p) => p.locator('#stage').boundingBox();

async function smallCanvases() {
  const text = await (await fetch(`${server.base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('tessera_small_canvases'));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('a portrait phone gets the small canvas by default and can switch back to the whole room', async (t) => {
  const ann = await newPage(browser, 'Ann', { viewport: { width: 1280, height: 900 } });
  await createRoomAs(server, ann);
  const room = new URL(ann.page.url()).searchParams.get('room');
  const mo = await newPage(browser, 'Mo', { viewport: { width: 390, height: 844 }, contextOptions: { deviceScaleFactor: 1, isMobile: true, hasTouch: true } });
  await joinAs(server, mo, room);

  const pref = await waitUntil(server, () => mo.sent.find((m) => m.type === 'videoPreference'), "Mo's videoPreference");
  assert.equal(pref.canvas, 'small', `a portrait phone asks for the small canvas: ${JSON.stringify(pref)}`);
  const annPref = await waitUntil(server, () => ann.sent.find((m) => m.type === 'videoPreference'), "Ann's videoPreference");
  assert.equal(annPref.canvas, 'full', 'a desktop page asks for the room canvas');
  const q = await waitUntil(server, () => mo.received.find((m) => m.type === 'videoQuality' && m.canvas === 'small'), "Mo's videoQuality on the small canvas", 30000);
  t.diagnostic(`Mo: videoPreference ${JSON.stringify({ maxHeight: pref.maxHeight, canvas: pref.canvas })}, videoQuality ${JSON.stringify(q)}`);
  assert.ok((q.width === 360 && q.height === 640) || (q.width === 180 && q.height === 320), `the small canvas's size: ${JSON.stringify(q)}`);
  const box = await stageBox(mo.page);
  assert.ok(box.height > box.width, `the stage is portrait on the small canvas: ${Math.round(box.width)}×${Math.round(box.height)}`);

  // By pixels: a picture in the top square and one below it, and the large place's name.
  const small = await waitUntil(server, async () => {
    const pic = await picture(mo.page);
    return pic && pic.w === 360 && pic.h === 640 && pic.top > 0.3 && pic.bottom > 0.1 && pic.white >= 40 && pic;
  }, 'Mo to show the 360×640 small canvas with two pictures and a name', 30000, 200);
  t.diagnostic(`small canvas: ${JSON.stringify(small)}`);
  assert.equal(await smallCanvases(), 1, 'one small canvas runs');
  const annPic = await picture(ann.page);
  assert.ok(annPic && annPic.w * 9 === annPic.h * 16, `Ann keeps the 16:9 room canvas: ${JSON.stringify(annPic)}`);

  // Switch back in Settings.
  const switchAt = Date.now();
  if (await mo.page.locator('#video-canvas').isHidden()) await controlClick(mo.page, '#devices-button');
  await mo.page.selectOption('#video-canvas', 'full');
  const back = await waitUntil(server, () => mo.sent.find((m) => m.type === 'videoPreference' && m.at >= switchAt), 'a videoPreference after the switch');
  assert.equal(back.canvas, 'full');
  await waitUntil(server, () => mo.received.find((m) => m.type === 'videoQuality' && m.at >= switchAt && m.canvas === 'full'), "Mo's videoQuality on the room canvas", 30000);
  const full = await waitUntil(server, async () => {
    const pic = await picture(mo.page);
    return pic && pic.w * 9 === pic.h * 16 && pic.top > 0.05 && pic;
  }, 'Mo to show a 16:9 picture again', 30000, 200);
  t.diagnostic(`back on the room canvas: ${JSON.stringify(full)}`);
  const box2 = await stageBox(mo.page);
  assert.ok(box2.width > box2.height, `the stage is 16:9 again: ${Math.round(box2.width)}×${Math.round(box2.height)}`);
  assert.equal(await mo.page.evaluate(() => localStorage.getItem('tessera.canvas')), 'full', 'the choice is kept');
  const stoppedAt = await waitUntil(server, async () => (await smallCanvases()) === 0 && Date.now(), 'the small canvas to stop once nobody takes it', 30000, 500);
  t.diagnostic(`small canvas stopped ${stoppedAt - switchAt} ms after the switch`);
  assert.deepEqual(mo.received.filter((m) => m.type === 'error'), [], 'no error');
  await mo.context.close();
  await ann.context.close();
});
