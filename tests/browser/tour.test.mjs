// Keeps the screenshot tour (tour.mjs) working: it reaches every screen, and each picture is a
// PNG of its screen's size (desktop 1366 wide, phone 390).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tour } from './tour.mjs';

test('the screenshot tour reaches every screen', async (t) => {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-tour-'));
  try {
    const taken = await tour(out);
    t.diagnostic(`${taken.length} screens: ${taken.join(', ')}`);
    assert.ok(taken.length >= 15, `every screen: ${taken}`);
    const files = (await fs.readdir(out)).sort();
    assert.equal(files.length, taken.length);
    for (const f of files) {
      const png = await fs.readFile(path.join(out, f));
      assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `${f} is a PNG`);
      const width = png.readUInt32BE(16);
      assert.equal(width, f.includes('-phone') ? 390 : 1366, `${f} is ${width} wide`);
    }
  } finally {
    await fs.rm(out, { recursive: true, force: true });
  }
});
