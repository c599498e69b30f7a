/**
 * npm run bench:stats: what the stats streams cost the extension host, in the real VS Code
 * (code-server, the packaged .vsix) in headless Chromium, with the example app deployed to bm1
 * and bm26c (the test servers must be up). The extension host's CPU time (utime + stime of its
 * process, /proc/<pid>/stat) is read over SECONDS s in three states:
 *   (a) the Servers view visible (2 containers' streams) and Show Resource Use open (2 more);
 *   (b) the Servers view visible only;
 *   (c) both closed (the Explorer in front, the panel closed): no stream at all.
 * Timed refreshes of the views are off (refreshIntervalSeconds 0), so only the streams differ.
 * Writes bench/stats-results.md.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CodeServer, launchBrowser, sleep, waitFor } from '../test/e2e/harness';
import { Workbench } from '../test/e2e/workbench';
import { cleanupApp, cli, makeWorkspace, onServer, PROJECT, testEnv } from '../test/helpers/world';

const SECONDS = Number(process.env.BM_BENCH_SECONDS ?? 60);
const SERVERS = ['bm1', 'bm26c'];
const app = `st-bench-${process.pid.toString(36)}`;
const TICK = 100; // USER_HZ on Linux

/** The extension host of this code-server: the process with its HOME whose command line says extensionHost. */
function extensionHostPid(cs: CodeServer): string {
  const home = `HOME=${cs.dir}/home\0`;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').includes(home)) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('extensionHost')) return pid;
    } catch {
      /* gone */
    }
  }
  throw new Error('no extension host process found');
}

/** utime + stime in ms. */
function cpuMs(pid: string): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /, '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICK;
}

async function measure(pid: string): Promise<number> {
  await sleep(5000); // let the state settle (streams opening or closing)
  const before = cpuMs(pid);
  await sleep(SECONDS * 1000);
  return cpuMs(pid) - before;
}

async function main(): Promise<void> {
  const env = testEnv();
  const ws = await makeWorkspace({ servers: { bm1: { host: 'bm1' }, bm26c: { host: 'bm26c' } }, run: { memory: '64m' }, extra: { app } });
  await ws.commit('bench');
  const browser = await launchBrowser();
  let cs: CodeServer | undefined;
  try {
    for (const s of SERVERS) {
      const r = await cli(['deploy', '--server', s], { cwd: ws.dir });
      if (r.code !== 0) throw new Error(r.stderr);
    }
    cs = await CodeServer.start({ name: 'bench-stats', env: { BAREMETAL_SSH_CONFIG: env.sshConfig, DOCKER_HOST: env.dockerHost, ...(env.dockerConfig ? { DOCKER_CONFIG: env.dockerConfig } : {}) }, settings: { 'baremetal.refreshIntervalSeconds': 0 } });
    const wb = await Workbench.open(browser, cs.folderUrl(ws.dir));
    await wb.openBareMetal();
    for (const s of SERVERS) await wb.row('Servers', s, /^connected · /).waitFor({ timeout: 30_000 });
    await waitFor('figures in the Servers view', async () => (await wb.row('Servers', new RegExp(`^${app}-`)).locator('.label-description').allTextContents()).filter((t) => / \/ 64 MiB/.test(t)).length === 2, 30_000);
    const pid = extensionHostPid(cs);

    await wb.runCommand('Bare Metal: Show Resource Use');
    const panel = wb.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await panel.locator('[data-chart="cpu"] canvas').waitFor({ timeout: 30_000 });
    const both = await measure(pid);

    await wb.runCommand('View: Close All Editors');
    const viewOnly = await measure(pid);

    await wb.page.locator('.activitybar a.action-label[aria-label^="Explorer"]').click();
    const closed = await measure(pid);
    await wb.close();

    const pct = (ms: number) => ((ms / (SECONDS * 1000)) * 100).toFixed(2);
    const rows = [
      ['Servers view + Show Resource Use (4 streams: 2 servers × 2)', both, 4],
      ['Servers view only (2 streams)', viewOnly, 2],
      ['both closed (no stream)', closed, 0],
    ] as const;
    const md = [
      '# The stats streams on the extension host (npm run bench:stats)',
      '',
      `Extension host CPU time (utime + stime) over ${SECONDS} s, code-server with the packaged .vsix, the example app on bm1 (Docker 20.10) and bm26c (Docker 26), one reading a second per stream; ${new Date().toISOString().slice(0, 10)}, ${readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU'}.`,
      '',
      '| state | CPU time | of one core | above closed |',
      '|---|---|---|---|',
      ...rows.map(([what, ms, n]) => `| ${what} | ${Math.round(ms)} ms | ${pct(ms)}% | ${n ? `${((ms - closed) / 1000).toFixed(2)} s` : '–'} |`),
      '',
    ].join('\n');
    writeFileSync(join(PROJECT, 'bench', 'stats-results.md'), md);
    console.log(md);
  } finally {
    await cs?.stop();
    await browser.close().catch(() => undefined);
    for (const s of SERVERS) {
      await cleanupApp(s, app).catch(() => undefined);
      await onServer(s, ['rm', '-rf', `/root/.baremetal/${app}`]).catch(() => undefined);
    }
  }
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
