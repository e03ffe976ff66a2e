// How long Chromium takes to decode JPEGs: each folder's files turned into
// bitmaps with createImageBitmap (decoded in full, off the page), the
// folders taken in turn within every round so that drift hits them alike.
// Prints each folder's median over the rounds, per image.
//
//   node benches/decode_in_chromium.mjs FOLDER... (ROUNDS=60)
// Needs: Debian's chromium, playwright-core from tests/web (npm ci there).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { chromium } = await import(path.join(here, '../tests/web/node_modules/playwright-core/index.mjs'));
const folders = process.argv.slice(2);
const rounds = Number(process.env.ROUNDS ?? 60);
const files = Object.fromEntries(folders.map((folder) => [
  path.basename(folder),
  fs.readdirSync(folder).filter((f) => f.endsWith('.jpg')).sort()
    .map((f) => fs.readFileSync(path.join(folder, f)).toString('base64')),
]));

const browser = await chromium.launch({
  executablePath: process.env.IMAGEGRAM_TEST_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const page = await browser.newPage();
  const perImage = await page.evaluate(async ({ files, rounds }) => {
    const blobs = Object.fromEntries(Object.entries(files).map(([name, list]) => [name,
      list.map((b64) => new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/jpeg' }))]));
    const times = Object.fromEntries(Object.keys(blobs).map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, list] of Object.entries(blobs)) {
        const start = performance.now();
        for (const blob of list) (await createImageBitmap(blob)).close();
        times[name].push((performance.now() - start) / list.length);
      }
    }
    const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
    return Object.fromEntries(Object.entries(times).map(([name, t]) => [name, median(t)]));
  }, { files, rounds });
  const first = perImage[Object.keys(perImage)[0]];
  for (const [name, ms] of Object.entries(perImage)) {
    console.log(`${name}: ${ms.toFixed(3)} ms per image (${(ms / first).toFixed(3)}x)`);
  }
} finally {
  await browser.close();
}
