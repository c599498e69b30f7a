// Draws the extension's Marketplace icon, media/icon.png (128×128): a server rack with a deploy
// arrow going up out of it, rendered from the SVG below by headless Chromium (playwright-core).
// Remake it with `node scripts/make-icon.mjs` (needs /usr/bin/chromium, or BM_CHROMIUM).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'media', 'icon.png');
const SIZE = 128;

// Same mark as the activity bar's media/baremetal.svg (rack units, LEDs), in colour, on a tile.
const SVG = `
<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 128 128">
  <defs>
    <linearGradient id="tile" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#1f3a5f"/>
      <stop offset="1" stop-color="#0f1e33"/>
    </linearGradient>
  </defs>
  <rect x="4" y="4" width="120" height="120" rx="24" fill="url(#tile)"/>
  <!-- three rack units -->
  <g fill="#d8e2ee" stroke="none">
    <rect x="22" y="58" width="84" height="16" rx="3"/>
    <rect x="22" y="78" width="84" height="16" rx="3"/>
    <rect x="22" y="98" width="84" height="16" rx="3"/>
  </g>
  <g fill="#1f3a5f">
    <rect x="58" y="64" width="38" height="4" rx="2"/>
    <rect x="58" y="84" width="38" height="4" rx="2"/>
    <rect x="58" y="104" width="38" height="4" rx="2"/>
  </g>
  <!-- status LEDs: the top unit just deployed -->
  <circle cx="33" cy="66" r="4" fill="#3fd37a"/>
  <circle cx="45" cy="66" r="4" fill="#3fd37a"/>
  <circle cx="33" cy="86" r="4" fill="#3fd37a"/>
  <circle cx="33" cy="106" r="4" fill="#3fd37a"/>
  <!-- the deploy arrow, going up from the rack -->
  <path d="M64 48 V22" stroke="#ffb547" stroke-width="9" stroke-linecap="round" fill="none"/>
  <path d="M48 32 L64 14 L80 32" stroke="#ffb547" stroke-width="9" stroke-linecap="round" stroke-linejoin="round" fill="none"/>
</svg>`;

const browser = await chromium.launch({
  executablePath: process.env.BM_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: SIZE, height: SIZE }, deviceScaleFactor: 1 });
  await page.setContent(`<!DOCTYPE html><html><body style="margin:0;background:transparent">${SVG}</body></html>`);
  mkdirSync(dirname(OUT), { recursive: true });
  // omitBackground: the tile's rounded corners stay transparent.
  await page.locator('svg').screenshot({ path: OUT, omitBackground: true });
  console.log(OUT);
} finally {
  await browser.close();
}
