/**
 * npm run bench:logs: the live log panel under load, in the real VS Code (code-server, the
 * packaged .vsix) in headless Chromium, following an app on bm1 (the test servers must be up:
 * `bash scripts/test-servers.sh up`).
 *
 *   (a) flood: the container writes FLOOD_LINES lines as fast as it can ("bm-probe" in the first
 *       and the last); measured: lines per second that reach the screen, and whether the editor
 *       still responds meanwhile (the command palette opened and closed again and again, and the
 *       longest gap between requestAnimationFrame callbacks in the workbench page);
 *   (b) steady: RATE lines/s for RATE_SECONDS s, each a probe: the delay from the line's Docker
 *       timestamp (written) to the frame that shows it: p50 / p95 / max.
 * "On screen" is read from the page itself: xterm's rendered rows in the DOM, after each
 * animation frame (PAINT_SAMPLER), not xterm's write callback (parsed, not yet painted). After
 * each run the panel's scrollback is read back row by row from the screen (BUFFER_WALK): a line
 * missing or doubled there, or fewer lines received than written, is a MISS.
 *
 * The lines come from a CGI script in the app (www/cgi-bin/bench, busybox httpd) that writes to
 * the container's stdout (/proc/1/fd/1) in the background. Writes bench/logs-results.md.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { cleanupScratch, CodeServer, codeServerBin, launchBrowser, sleep, waitFor } from '../test/e2e/harness';
import { Workbench } from '../test/e2e/workbench';
import { cleanupApp, cli, makeWorkspace, onServer, PROJECT, server, testEnv } from '../test/helpers/world';

/**
 * Lines per flood. Docker Engine 20.10's json-file follower (the test servers') repeats and then
 * drops lines once a container's log file grows fast past a few MB (reproduced with a plain
 * `docker logs -f` on the server, see bench/logs-results.md), so each flood goes to a fresh
 * container and stays at a size it follows exactly.
 */
const FLOOD_LINES = Number(process.env.BM_BENCH_FLOOD ?? 100_000);
/** Floods in a row (the first also fills xterm's scrollback); the median is the result. */
const FLOODS = Number(process.env.BM_BENCH_FLOODS ?? 3);
const RATE = 1000;
const RATE_SECONDS = 10;
const TARGET_LPS = 50_000;
const TARGET_P95_MS = 250;
/** The editor "responds" during a flood: no frame of the workbench waits longer than this… */
const TARGET_STALL_MS = 200;
/** …and the command palette opens and closes again within this, every time. */
const TARGET_PALETTE_MS = 1000;
const OUT = join(PROJECT, 'bench', 'logs-results.md');
/** The panel's xterm scrollback (webview/src/logs.ts): a flood bigger than this keeps only its end. */
const SCROLLBACK = 50_000;

const BENCH_CGI = `#!/bin/sh
# ?flood&N: N lines as fast as the container writes, "bm-probe" in the first and the last;
# ?rate&N&R: N lines at R lines/s, each a probe. Written in the background to the app's
# log (PID 1's stdout); the request is answered at once.
set -f
IFS='&'
set -- $QUERY_STRING
unset IFS
printf 'Content-Type: text/plain\\r\\n\\r\\n'
case $1 in
  flood) { echo "bm-probe flood first"; seq 1 "$2" | sed 's/^/flood line /'; echo "bm-probe flood last"; } ;;
  rate)
    # Paced by the clock (/proc/uptime, in hundredths of a second): the lines due by now, then
    # a millisecond's sleep; a plain "echo; usleep 1000" loop only makes ~600 lines/s.
    read -r up _ </proc/uptime; start=\${up%.*}\${up#*.}; i=1
    while [ "$i" -le "$2" ]; do
      read -r up _ </proc/uptime; due=$(( (\${up%.*}\${up#*.} - start) * $3 / 100 + 1 ))
      while [ "$i" -le "$due" ] && [ "$i" -le "$2" ]; do echo "bm-probe rate $i"; i=$((i + 1)); done
      usleep 1000
    done ;;
esac </dev/null >/proc/1/fd/1 2>&1 &
echo started
`;

interface Stats { linesReceived: number; linesRendered: number; probes: { t: string; at: number }[] }
interface Flood { sustained: number; lps: number; drawn: number; spanMs: number; sourceLps: number; firstDelayMs: number; endToEndMs: number; received: number; kept: Walk; palette: number[]; frames: number[] }
/** Frames of the panel whose rows changed: [Date.now(), highest "flood line N" shown, first probe shown, last probe shown, highest "bm-probe rate N" shown]. */
type PaintFrame = [number, number, 0 | 1, 0 | 1, number];
/** The scrollback read back from the screen: lines matching the pattern, in order, and what was wrong. */
interface Walk { lines: number; min: number; max: number; screens: number; problems: string[] }

/**
 * In the webview: after every animation frame (a message posted from requestAnimationFrame runs
 * once the frame's callbacks, xterm's render among them, are done), the rows xterm's DOM
 * renderer shows, reduced to what the bench needs (PaintFrame), whenever they changed. The rate
 * lines seen are also kept one by one (how many of them were ever painted).
 */
const PAINT_SAMPLER = `(() => {
  if (window.__bmPaint) return;
  const rowsEl = document.querySelector('.xterm-rows');
  const paint = (window.__bmPaint = { frames: [], rateSeen: new Set() });
  const ch = new MessageChannel();
  let last = '';
  ch.port1.onmessage = () => {
    const rows = Array.from(rowsEl.children, (r) => r.textContent || '');
    const text = rows.join('\\n');
    if (text !== last) {
      last = text;
      let flood = 0, first = 0, lastProbe = 0, rate = 0;
      for (const r of rows) {
        let m = /flood line (\\d+)/.exec(r);
        if (m) flood = Math.max(flood, Number(m[1]));
        if (r.includes('bm-probe flood first')) first = 1;
        if (r.includes('bm-probe flood last')) lastProbe = 1;
        m = /bm-probe rate (\\d+)/.exec(r);
        if (m) { rate = Math.max(rate, Number(m[1])); paint.rateSeen.add(Number(m[1])); }
      }
      paint.frames.push([Date.now(), flood, first, lastProbe, rate]);
    }
    requestAnimationFrame(() => ch.port2.postMessage(0));
  };
  requestAnimationFrame(() => ch.port2.postMessage(0));
})()`;

/**
 * In the webview: xterm's scrollback read back from the screen, from the bottom up, one page
 * (Shift+PageUp: the rows less one) per frame, until the top. Every line matching the pattern
 * (its number in group 1) must follow the one above it on each screen, and each screen must
 * overlap the one below it: then no line of the buffer was skipped, lost or doubled. The panel
 * is put back to the bottom by Pause and Resume (Resume scrolls to the bottom).
 */
const BUFFER_WALK = `(async (pattern, stop) => {
  const re = new RegExp(pattern);
  const rowsEl = document.querySelector('.xterm-rows');
  const area = document.querySelector('.xterm-helper-textarea');
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const read = () => Array.from(rowsEl.children, (r) => { const m = re.exec(r.textContent || ''); return m ? Number(m[1]) : undefined; });
  const seen = new Set();
  const problems = [];
  let below = read();
  let shown = Array.from(rowsEl.children, (r) => r.textContent).join();
  let screens = 1;
  const check = (nums) => {
    let prev;
    for (const n of nums) {
      if (n === undefined) { prev = undefined; continue; }
      if (prev !== undefined && n !== prev + 1 && problems.length < 5) problems.push('line ' + n + ' shown under line ' + prev);
      seen.add(n);
      prev = n;
    }
  };
  check(below);
  for (;;) {
    const ev = new KeyboardEvent('keydown', { key: 'PageUp', code: 'PageUp', shiftKey: true, bubbles: true, cancelable: true });
    Object.defineProperty(ev, 'keyCode', { get: () => 33 });
    area.dispatchEvent(ev);
    await frame();
    const now = read();
    if (now.join() === below.join() && Array.from(rowsEl.children, (r) => r.textContent).join() === shown) break;
    shown = Array.from(rowsEl.children, (r) => r.textContent).join();
    screens += 1;
    check(now);
    // The screen below began with the row this one ends with (the page is the rows less one).
    const top = below.find((n) => n !== undefined);
    if (top !== undefined && !now.includes(top) && problems.length < 5) problems.push('the screen above line ' + top + ' does not show it (a page skipped)');
    below = now;
    if (shown.includes(stop)) break;
  }
  const nums = [...seen];
  return { lines: seen.size, min: Math.min(...nums), max: Math.max(...nums), screens, problems };
})`;

/** Docker's nanosecond timestamp as milliseconds since the epoch (with the fraction). */
function dockerMs(t: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(t);
  if (!m) return Date.parse(t);
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] ?? '0'}`) * 1000;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function get(host: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Frame gaps of a page: requestAnimationFrame callbacks' spacing, between start() and stop(). */
async function startFrameMeter(page: Page): Promise<void> {
  // A string: the bundler's helpers (__name) do not exist in the page.
  await page.evaluate(`(() => {
    const meter = { gaps: [], running: true };
    window.__bmFrames = meter;
    let last = performance.now();
    requestAnimationFrame(function tick(now) {
      if (!meter.running) return;
      meter.gaps.push(now - last);
      last = now;
      requestAnimationFrame(tick);
    });
  })()`);
}
async function stopFrameMeter(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const w = globalThis as unknown as { __bmFrames: { gaps: number[]; running: boolean } };
    w.__bmFrames.running = false;
    return w.__bmFrames.gaps;
  });
}

/** F1, wait for the palette, Escape, wait for it to go: the time a user waits for both. */
async function paletteRoundTrip(page: Page): Promise<number> {
  const widget = page.locator('.quick-input-widget');
  const t0 = performance.now();
  await page.keyboard.press('F1');
  await widget.waitFor({ state: 'visible', timeout: 30_000 });
  await page.keyboard.press('Escape');
  await widget.waitFor({ state: 'hidden', timeout: 30_000 });
  return performance.now() - t0;
}

function machine(dockerVersion: string): string {
  const cpus = os.cpus();
  const chromium = (() => {
    try {
      return execFileSync(process.env.BM_CHROMIUM ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'chromium (version unknown)';
    }
  })();
  const codeServer = /code-server-([\d.]+)/.exec(codeServerBin())?.[1] ?? '?';
  return `${cpus.length} CPUs (${cpus[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, kernel ${os.release()}; ${chromium}, headless; code-server ${codeServer}; Node ${process.version}; the test servers' Docker Engine ${dockerVersion}`;
}

async function main(): Promise<void> {
  const env = testEnv();
  const bm1 = server('bm1');
  const ws = await makeWorkspace();
  mkdirSync(join(ws.dir, 'www', 'cgi-bin'), { recursive: true });
  writeFileSync(join(ws.dir, 'www', 'cgi-bin', 'bench'), BENCH_CGI);
  chmodSync(join(ws.dir, 'www', 'cgi-bin', 'bench'), 0o755);
  await ws.commit('log benchmark');
  console.error(`› deploying ${ws.app} to bm1`);
  const deployed = await cli(['deploy'], { cwd: ws.dir });
  if (deployed.code !== 0) throw new Error(`deploy failed:\n${deployed.stderr}`);

  const browser = await launchBrowser();
  let cs: CodeServer | undefined;
  try {
    console.error('› code-server with the packaged extension, the log panel');
    cs = await CodeServer.start({ name: 'bench-logs', env: { BAREMETAL_SSH_CONFIG: env.sshConfig, DOCKER_HOST: env.dockerHost, ...(env.dockerConfig ? { DOCKER_CONFIG: env.dockerConfig } : {}) } });
    const wb = await Workbench.open(browser, cs.folderUrl(ws.dir));
    const page = wb.page;
    await wb.openBareMetal();
    await wb.row('Servers', 'bm1', /^connected · /).waitFor({ timeout: 30_000 });
    await wb.runCommand('Bare Metal: Show Logs');
    const panel: FrameLocator = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await panel.locator('.xterm-rows').waitFor({ timeout: 30_000 });
    await waitFor('the first lines', async () => (await panel.locator('#status').textContent())?.includes('following'));
    await panel.locator('body').evaluate(PAINT_SAMPLER);
    const stats = () => panel.locator('body').evaluate(() => (globalThis as unknown as { __bmStats: Stats }).__bmStats);
    const probeCount = () => panel.locator('body').evaluate(() => (globalThis as unknown as { __bmStats: Stats }).__bmStats.probes.length);
    type Paint = { frames: PaintFrame[]; rateSeen: Set<number> };
    const paintCount = () => panel.locator('body').evaluate(() => (globalThis as unknown as { __bmPaint: Paint }).__bmPaint.frames.length);
    const paintedSince = (from: number) => panel.locator('body').evaluate((_, b) => (globalThis as unknown as { __bmPaint: Paint }).__bmPaint.frames.slice(b), from);
    /** Whether a frame since `from` showed the last flood probe (slot 3) or rate line `n` (slot 4). */
    const shownSince = (from: number, slot: 3 | 4, n = 1) => panel.locator('body').evaluate((_, [b, k, v]) => (globalThis as unknown as { __bmPaint: Paint }).__bmPaint.frames.slice(b).some((f) => f[k]! >= v), [from, slot, n] as const);
    const ratePainted = () => panel.locator('body').evaluate(() => (globalThis as unknown as { __bmPaint: Paint }).__bmPaint.rateSeen.size);
    /** The scrollback read back from the screen up to the row that says `stop` (a container's deploy marker), then the panel back at the bottom. */
    const walk = async (pattern: string, stop: string): Promise<Walk> => {
      const w = (await panel.locator('body').evaluate(`${BUFFER_WALK}(${JSON.stringify(pattern)}, ${JSON.stringify(stop)})`)) as Walk;
      await panel.locator('#follow').click();
      await panel.locator('#follow').click(); // Resume scrolls to the bottom
      return w;
    };
    /** A new commit deployed: a new container, with an empty log file, which the panel follows. */
    let runs = 0;
    const freshContainer = async () => {
      runs += 1;
      const sha = await ws.commit(`bench run ${runs}`, { 'www/run.txt': `${runs}\n` });
      const r = await cli(['deploy'], { cwd: ws.dir });
      if (r.code !== 0) throw new Error(`deploy failed:\n${r.stderr}`);
      await waitFor('the panel on the new container', async () =>
        (await panel.locator('.xterm-rows').textContent())?.includes(`(${sha.slice(0, 12)})`),
      30_000);
      await sleep(1000);
      return sha.slice(0, 12);
    };
    await sleep(1000);

    // Idle: the palette's round trip without any log traffic, for comparison.
    const idlePalette: number[] = [];
    for (let i = 0; i < 5; i += 1) idlePalette.push(await paletteRoundTrip(page));
    await startFrameMeter(page);
    await sleep(2000);
    const idleFrames = await stopFrameMeter(page);

    // ---- (a) floods ----
    const floods: Flood[] = [];
    for (let n = 1; n <= FLOODS; n += 1) {
      console.error(`› (a) flood ${n}/${FLOODS}: ${fmt(FLOOD_LINES)} lines`);
      const marker = await freshContainer();
      const before = await stats();
      const base = before.probes.length;
      const paintBase = await paintCount();
      await startFrameMeter(page);
      if ((await get(bm1.host, ws.port, `/cgi-bin/bench?flood&${FLOOD_LINES}`)) !== 200) throw new Error('the flood request failed');
      // The palette, again and again, while the lines pour in (until the last probe is on screen).
      const palette: number[] = [];
      await waitFor(
        'the last flood line on screen',
        async () => {
          palette.push(await paletteRoundTrip(page));
          return shownSince(paintBase, 3);
        },
        180_000,
        50,
      );
      const frames = await stopFrameMeter(page);
      const after = await stats();
      // Written: the two probes' Docker timestamps. On screen: the frames that showed them.
      const [first, last] = after.probes.slice(base, base + 2);
      if (!first || !last) throw new Error('the webview did not receive both flood probes');
      const painted = await paintedSince(paintBase);
      const firstFrame = painted.find((p) => p[1] > 0 || p[2] === 1);
      const lastFrame = painted.find((p) => p[3] === 1);
      if (!firstFrame || !lastFrame) throw new Error('no frame showed the flood');
      // The lines that reached the screen after the first frame that showed any, up to the last
      // probe: counted from the rows that frame showed, not assumed.
      const drawn = FLOOD_LINES - firstFrame[1] + 1;
      const spanMs = lastFrame[0] - firstFrame[0];
      await sleep(1500);
      const received = (await stats()).linesReceived - before.linesReceived;
      const kept = await walk('flood line (\\d+)', marker);
      const f: Flood = {
        // Sustained: from the first line written to the last on screen, the whole way through.
        sustained: (FLOOD_LINES + 2) / ((lastFrame[0] - dockerMs(first.t)) / 1000),
        lps: drawn / (spanMs / 1000),
        drawn,
        spanMs,
        sourceLps: (FLOOD_LINES + 1) / ((dockerMs(last.t) - dockerMs(first.t)) / 1000),
        firstDelayMs: firstFrame[0] - dockerMs(first.t),
        endToEndMs: lastFrame[0] - dockerMs(first.t),
        received,
        kept,
        palette,
        frames,
      };
      floods.push(f);
      console.error(`  ${fmt(f.sustained)} lines/s sustained, ${fmt(f.lps)} lines/s between the first and the last frame that showed the flood (${fmt(drawn)} lines in ${fmt(spanMs)} ms); received ${fmt(received)} of ${fmt(FLOOD_LINES + 2)}; scrollback read back: ${fmt(kept.lines)} lines ${fmt(kept.min)}-${fmt(kept.max)} in ${kept.screens} screens${kept.problems.length ? `, ${kept.problems.join('; ')}` : ''}; palette max ${fmt(Math.max(...palette))} ms; longest frame gap ${fmt(Math.max(...frames))} ms`);
    }
    const median = <T>(xs: T[], key: (x: T) => number) => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)];
    const mid = median(floods, (f) => f.sustained);
    const midScreen = median(floods, (f) => f.lps);
    const allPalette = floods.flatMap((f) => f.palette).sort((a, b) => a - b);
    const allFrames = floods.flatMap((f) => f.frames).sort((a, b) => a - b);
    const maxGap = allFrames[allFrames.length - 1];
    const maxPalette = allPalette[allPalette.length - 1];

    // ---- (c) what the user does to a full panel: redraws and a held backlog ----
    console.error('› (c) Timestamps, typing a filter, Pause → 50,000 lines → Resume, on a full panel');
    const gapsDuring = async (act: () => Promise<void>) => {
      await startFrameMeter(page);
      await act();
      await sleep(2500);
      return Math.max(...(await stopFrameMeter(page)));
    };
    const redraws: [string, number][] = [];
    redraws.push(['Timestamps on (redraws ~100,000 lines)', await gapsDuring(() => panel.locator('#timestamps').click())]);
    redraws.push(['typing a 12-character filter', await gapsDuring(() => panel.locator('#filter input').pressSequentially('flood line 9', { delay: 30 }))]);
    redraws.push(['clearing the filter', await gapsDuring(() => panel.locator('#filter input').fill(''))]);
    redraws.push([
      'Pause, 50,000 lines, Resume',
      await (async () => {
        await freshContainer(); // a log file Docker follows exactly
        return gapsDuring(async () => {
          await panel.locator('#follow').click();
          if ((await get(bm1.host, ws.port, '/cgi-bin/bench?flood&50000')) !== 200) throw new Error('the flood request failed');
          await waitFor('the held lines counted', async () => Number.parseInt((await panel.locator('#newlines').textContent()) ?? '', 10) >= 50_002, 60_000);
          await panel.locator('#follow').click();
        });
      })(),
    ]);
    await panel.locator('#timestamps').click();

    // ---- (b) steady rate ----
    const lines = RATE * RATE_SECONDS;
    console.error(`› (b) ${fmt(RATE)} lines/s for ${RATE_SECONDS} s`);
    const rateMarker = await freshContainer();
    const beforeRate = await probeCount();
    const paintRate = await paintCount();
    const rateStart = Date.now();
    await startFrameMeter(page);
    if ((await get(bm1.host, ws.port, `/cgi-bin/bench?rate&${lines}&${RATE}`)) !== 200) throw new Error('the rate request failed');
    const fresh = async () => (await stats()).probes.slice(beforeRate).filter((p) => dockerMs(p.t) >= rateStart - 1000);
    await waitFor('the last steady line on screen', () => shownSince(paintRate, 4, lines), 120_000, 250);
    await sleep(300);
    const rateFrames = await stopFrameMeter(page);
    // Written: each line's Docker timestamp (the probes arrive in order: line N is the Nth).
    const rateProbes = await fresh();
    const uniqueRate = new Set(rateProbes.map((p) => p.t)).size;
    // On screen: line N from the first frame that showed it or a line after it (at 1,000 lines/s
    // a frame may scroll a line by that it never showed; the user saw the screen move past it).
    const rateShown = (await paintedSince(paintRate)).filter((f) => f[4] > 0);
    const shownAt: number[] = [];
    for (let n = 1, k = 0; n <= lines; n += 1) {
      while (k < rateShown.length && rateShown[k]![4] < n) k += 1;
      shownAt.push(rateShown[k]?.[0] ?? Number.NaN);
    }
    const paintedRate = await ratePainted();
    const rateKept = await walk('bm-probe rate (\\d+)', rateMarker);
    const delays = rateProbes.slice(0, lines).map((p, i) => shownAt[i]! - dockerMs(p.t)).sort((a, b) => a - b);
    const written = dockerMs(rateProbes[rateProbes.length - 1].t) - dockerMs(rateProbes[0].t);
    const actualRate = (rateProbes.length - 1) / (written / 1000);
    const [p50, p95, max] = [pct(delays, 50), pct(delays, 95), delays[delays.length - 1]];
    console.error(`  delay p50 ${fmt(p50)} ms, p95 ${fmt(p95)} ms, max ${fmt(max)} ms (${fmt(actualRate)} lines/s written)`);

    // ---- report ----
    const idleSorted = [...idlePalette].sort((a, b) => a - b);
    const responds = maxGap <= TARGET_STALL_MS && maxPalette <= TARGET_PALETTE_MS;
    const each = (fn: (f: Flood) => string) => floods.map(fn).join(' · ');
    const rows: [string, string][] = [
      [`(a) sustained: lines per second from the first written to the last on screen (median of ${FLOODS})`, `**${fmt(mid.sustained)} lines/s** (each: ${each((f) => fmt(f.sustained))})`],
      [`(a) lines per second on screen, the first frame that showed the flood to the one that showed its last line (median)`, `${fmt(midScreen.lps)} lines/s (each: ${each((f) => fmt(f.lps))})`],
      ['(a) lines that reached the screen after that first frame, up to the last, time', each((f) => `${fmt(f.drawn)} in ${fmt(f.spanMs)} ms`)],
      ['(a) the container wrote them at (Docker timestamps)', `${each((f) => fmt(f.sourceLps))} lines/s`],
      ['(a) first line: written → on screen', `${each((f) => fmt(f.firstDelayMs))} ms`],
      ['(a) first line written → last line on screen', `${each((f) => fmt(f.endToEndMs))} ms`],
      ['(a) lines the webview received in all', `${each((f) => fmt(f.received))} (${fmt(FLOOD_LINES + 2)} written)`],
      ['(a) the scrollback read back from the screen after each flood', each((f) => `${fmt(f.kept.lines)} lines, ${fmt(f.kept.min)}–${fmt(f.kept.max)}${f.kept.problems.length ? ` (**${f.kept.problems.join('; ')}**)` : ', in order'}`)],
      ['(a) command palette open + close during the floods', `p50 ${fmt(pct(allPalette, 50))} ms, max ${fmt(maxPalette)} ms (${allPalette.length} times; idle: p50 ${fmt(pct(idleSorted, 50))} ms, max ${fmt(idleSorted[idleSorted.length - 1])} ms)`],
      ['(a) workbench frame gaps during the floods', `longest ${fmt(maxGap)} ms (each: ${each((f) => fmt(Math.max(...f.frames)))}), p99 ${fmt(pct(allFrames, 99))} ms, ${allFrames.filter((g) => g > 100).length} over 100 ms (idle: longest ${fmt(Math.max(...idleFrames))} ms)`],
      ['(b) written → on screen, p50', `${fmt(p50)} ms`],
      ['(b) written → on screen, p95', `**${fmt(p95)} ms**`],
      ['(b) written → on screen, max', `${fmt(max)} ms`],
      ['(b) lines, rate written', `${fmt(rateProbes.length)} lines received (${fmt(uniqueRate)} distinct; ${fmt(lines)} written) at ${fmt(actualRate)} lines/s`],
      ['(b) lines shown in some frame; the scrollback read back', `${fmt(paintedRate)} of ${fmt(lines)} painted (the rest scrolled by between two frames); ${fmt(rateKept.lines)} lines, ${fmt(rateKept.min)}–${fmt(rateKept.max)}${rateKept.problems.length ? ` (**${rateKept.problems.join('; ')}**)` : ', in order'}`],
      ['(b) workbench frame gaps', `longest ${fmt(Math.max(...rateFrames))} ms`],
      ...redraws.map(([what, gap]): [string, string] => [`(c) ${what}: longest workbench frame gap`, `${fmt(gap)} ms`]),
    ];
    // Every line written reached the webview and stayed in xterm's scrollback, in order, as far
    // as the scrollback goes (SCROLLBACK lines, the panel's own setting; a flood is bigger).
    const floodWhole = (f: Flood) => f.received === FLOOD_LINES + 2 && !f.kept.problems.length && f.kept.max === FLOOD_LINES && f.kept.lines >= Math.min(FLOOD_LINES, SCROLLBACK - 100);
    const rateWhole = rateProbes.length === lines && uniqueRate === lines && !rateKept.problems.length && rateKept.lines === lines && rateKept.min === 1 && rateKept.max === lines;
    const targets = [
      `${floods.every(floodWhole) && rateWhole ? 'PASS' : 'MISS'}: no line lost: each flood's ${fmt(FLOOD_LINES + 2)} lines received (${each((f) => fmt(f.received))}) and its last ${fmt(Math.min(FLOOD_LINES, SCROLLBACK - 100))} or more read back from the screen in order (${each((f) => `${fmt(f.kept.lines)}${f.kept.problems.length ? ' with gaps' : ''}`)}); the steady ${fmt(lines)} received (${fmt(rateProbes.length)}, ${fmt(uniqueRate)} distinct) and read back (${fmt(rateKept.lines)}${rateKept.problems.length ? ' with gaps' : ''})`,
      `${mid.sustained >= TARGET_LPS && responds ? 'PASS' : 'MISS'}: ≥ ${fmt(TARGET_LPS)} lines/s sustained with the editor responding (no workbench frame waits over ${TARGET_STALL_MS} ms, the palette opens and closes within ${fmt(TARGET_PALETTE_MS)} ms every time): ${fmt(mid.sustained)} lines/s first written → last on screen (median; ${fmt(midScreen.lps)} lines/s between the first and the last frame that showed the flood), longest frame gap ${fmt(maxGap)} ms, palette max ${fmt(maxPalette)} ms`,
      `${p95 <= TARGET_P95_MS ? 'PASS' : 'MISS'}: written → on screen p95 ≤ ${TARGET_P95_MS} ms at ${fmt(RATE)} lines/s: ${fmt(p95)} ms`,
    ];
    const table = ['| measure | result |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
    console.log(`\n${table}\n\n${targets.join('\n')}`);
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'webview'], { cwd: PROJECT, encoding: 'utf8' }).trim() ? ' with uncommitted changes in src/ or webview/' : '';
    mkdirSync(join(PROJECT, 'bench'), { recursive: true });
    writeFileSync(
      OUT,
      [
        '# Log panel benchmark',
        '',
        `Date: ${new Date().toISOString()}`,
        '',
        `Machine: ${machine((await onServer('bm1', ['docker', 'version', '--format', '{{.Server.Version}}'])).trim())}`,
        '',
        `Command: \`npm run bench:logs\` (\`node --import tsx scripts/bench-logs.ts\`), at ${sha}${dirty}; the packaged .vsix in code-server, Chromium headless, the app on the test server bm1`,
        '',
        table,
        '',
        'Targets:',
        ...targets.map((t) => `- ${t}`),
        '',
        'How:',
        `- (a) a CGI script in the app (\`www/cgi-bin/bench\`, served by busybox httpd) writes \`seq 1 ${FLOOD_LINES} | sed 's/^/flood line /'\` to the container's stdout (/proc/1/fd/1), between two "bm-probe" lines; ${FLOODS} floods, each into a new container (a new commit deployed; the panel follows it), the first into an empty scrollback. "On screen" is what the page shows: after every animation frame the webview's sampler reads the rows xterm's DOM renderer shows (not xterm's write callback, which says the text was parsed, not painted); the rate is the lines that reached the screen after the first frame that showed any of the flood (counted from the numbers that frame showed) up to the frame that showed the last probe, over the time between the two. After each flood the scrollback is read back from the screen, a page (Shift+PageUp) per frame, up to the container's deploy marker: every row's number must follow the one above it.`,
        '- (a) responsiveness: meanwhile, F1 → the palette visible → Escape → hidden, again and again (Playwright\'s own round trips included: compare with idle), and the spacing of requestAnimationFrame callbacks in the workbench page (the webview runs on the same renderer thread).',
        `- (b) the same script writes ${fmt(lines)} lines "bm-probe rate N", paced by /proc/uptime to ${fmt(RATE)} lines/s; the delay is each line's Docker timestamp (set by the server's dockerd as it reads the line) to the first frame that showed it or a later line (at that rate a frame may scroll past a line it never painted: the count painted is given); the test servers share this machine's clock.`,
        '- (c) after the floods (about 100,000 lines kept): the longest gap between animation frames of the workbench while the Timestamps box is ticked, a filter is typed key by key (30 ms apart) and cleared, and while 50,000 lines held by Pause are drawn on Resume.',
        '',
        'Notes:',
        '- Two numbers for (a): "sustained" runs from the first line written to the last on screen, the whole way through; "between the first and the last frame" starts only when the first line is painted, so it is higher whenever the first line waited upstream (the extension host, the SSH connection) while the rest caught up.',
        '- Where a flood\'s time goes (CPU profiles of the extension host through its inspector, during floods): it is idle about three quarters of the time. ssh2\'s decipher is about 5 % (the bundle leaves out ssh2\'s native binding, so each SSH packet gets a new AES-GCM decipher from Node\'s crypto; dockerd writes each log line as its own small write), reading the Docker stream about 3 %. Lines go to the webview packed in three strings per batch (one object per line had made VS Code\'s message serialisation the biggest cost). The rest of the way is the editor\'s own (extension host → code-server → WebSocket → workbench → webview) and xterm, on 2 cores shared with Chromium, dockerd (which writes and re-reads every line as JSON) and sshd: the floods vary with that contention. The first flood into a fresh panel is the slowest: it also fills xterm\'s empty scrollback, where each new row is allocated (xterm\'s clone() took 140 ms of the page\'s CPU in that flood\'s profile, none in later ones, which reuse rows).',
        '- Docker Engine 20.10\'s json-file follower (the test servers\') repeats and then drops lines when a container logs this fast: with a plain `docker logs -f` on the server, 300,000 lines came as 257,400 lines of which 186,219 distinct; 3 × 100,000 lines into one container came as 454,109 lines, 300,006 distinct; 100,000 lines into a new container came exactly. Hence one new container per flood here, and the check that the webview received every line.',
        '',
      ].join('\n'),
    );
    console.error(`› wrote ${OUT}`);
    await wb.close();
  } finally {
    await browser.close().catch(() => undefined);
    await cs?.stop();
    cleanupScratch();
    await cleanupApp('bm1', ws.app).catch(() => undefined);
    await onServer('bm1', ['rm', '-rf', `/root/.baremetal/${ws.app}`]).catch(() => undefined);
    rmSync(ws.dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
