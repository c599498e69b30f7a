/**
 * The merged log view as a user meets it: the packaged .vsix in a real VS Code (code-server) in
 * headless Chromium, an app deployed to two servers (bm1 and bm2), "Bare Metal: Show Logs" →
 * "All servers, merged". Every line is shown once, tagged with its server's name (each server in
 * its own colour), and the two servers' lines are merged in time order: live, as they are
 * written, and in the history a newly opened panel starts with.
 *
 * Lines come from the seq CGI script (seq-cgi.ts); what is on screen is read from xterm's rows
 * (`.xterm-rows`, the viewport only, in a window tall enough for everything shown here).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { cli, fetchPage, makeWorkspace, removeTestApp, server, type Workspace } from '../helpers/world';
import { sleep, waitFor } from './harness';
import { addSeqCgi } from './seq-cgi';
import { panelRows, waitForPanelRows } from './log-panel';
import { e2eSession, Workbench } from './workbench';

const SERVERS = ['bm1', 'bm2'] as const;
type Name = (typeof SERVERS)[number];
const TEST_TIMEOUT = 60_000;
/** Between writes on different servers: Docker stamps a line when it reads it from the container's pipe (well under this). */
const STAMP_GAP_MS = 300;

const session = e2eSession();

describe('the merged log view of an app deployed to bm1 and bm2', () => {
  let ws: Workspace;
  let wb: Workbench;
  let panel: FrameLocator;

  const rows = () => panelRows(panel);
  const waitForRow = <T>(what: string, test: (rows: string[]) => T, timeoutMs = 15_000) => waitForPanelRows(panel, what, test, timeoutMs);
  /** Writes "word-from" … "word-to" to the app's log on one server. */
  const seq = async (on: Name, word: string, from: number, to: number) => {
    const path = `/cgi-bin/seq?${word}&${from}&${to}`;
    const r = await fetchPage(server(on).host, ws.port, path);
    assert.equal(r.status, 200, `GET ${path} on ${on}: ${r.status} ${r.body}`);
  };
  /** The rows showing the numbered lines of these words (tagged or not), in screen order. */
  const numbered = (r: string[], words: string[]) => r.filter((l) => new RegExp(`(^|\\s)(${words.join('|')})-\\d+$`).test(l));
  const expected = (...runs: [Name, string, number][]) => runs.flatMap(([on, word, n]) => Array.from({ length: n }, (_, i) => `${on} ${word}-${i + 1}`));

  /** F1 "Bare Metal: Show Logs", then "All servers, merged" in the pick; waits for the terminal. */
  async function openMergedLogs(): Promise<void> {
    await wb.runCommand('Bare Metal: Show Logs');
    const pick = wb.page.locator('.quick-input-widget');
    await pick.locator('input[placeholder^="Logs of "]').waitFor({ timeout: 10_000 });
    // The pick offers the merged view first, then each server.
    const offered = await pick.locator('.quick-input-list .monaco-list-row .label-name').allTextContents();
    assert.deepEqual(offered.map((t) => t.trim()), ['All servers, merged', 'bm1', 'bm2']);
    await pick.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'All servers, merged' }).click();
    await wb.page.locator('.tab', { hasText: `Logs: ${ws.app}@bm1+bm2` }).waitFor({ timeout: 10_000 });
    panel = wb.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await panel.locator('.xterm-rows').waitFor({ timeout: 30_000 });
  }

  /** Both servers' "following" markers and start lines, each tagged with its server. */
  const bothFollowing = (r: string[]) =>
    SERVERS.every((s) => r.some((l) => new RegExp(`^${s} ── following \\S+ \\([0-9a-f]{12}\\)`).test(l)) && r.some((l) => l.startsWith(`${s} hello: serving /www`)));

  before(async () => {
    ws = await makeWorkspace({ servers: { bm1: { host: 'bm1' }, bm2: { host: 'bm2' } } });
    addSeqCgi(ws.dir);
    await ws.commit('numbered log lines on demand');
    for (const s of SERVERS) {
      const deployed = await cli(['deploy', '--server', s], { cwd: ws.dir });
      assert.equal(deployed.code, 0, deployed.stderr);
    }

    wb = await session.openEditor('logs-merged', ws.dir, { viewport: { width: 1400, height: 1150 } });
    for (const s of SERVERS) await wb.row('Servers', s, /^connected · /).waitFor({ timeout: 30_000 });
    await openMergedLogs();
  });

  after(async () => {
    if (ws) await removeTestApp(ws, SERVERS);
  });

  it('follows both servers, each line tagged with its server in its own colour', { timeout: TEST_TIMEOUT }, async () => {
    await waitForRow('both servers followed, their start lines tagged', bothFollowing);
    // The status line speaks for both.
    await waitFor('both servers in the status line', async () => ((await panel.locator('#status').textContent()) ?? '').trim() === 'bm1: following · bm2: following', 10_000);
    // The tag is the first thing on a row, drawn in a colour of its own per server.
    const colours = await panel.locator('.xterm-rows').evaluate((el) => {
      const out: Record<string, string[]> = {};
      for (const row of el.children) {
        const first = row.querySelector('span');
        const name = /^(bm1|bm2) /.exec((row.textContent ?? '').replace(/\u00a0/g, ' '))?.[1];
        if (!name || !first || first.textContent !== name) continue;
        (out[name] ??= []).push([...first.classList].filter((c) => c.startsWith('xterm-fg-')).join(' '));
      }
      return out;
    });
    const bm1 = new Set(colours.bm1);
    const bm2 = new Set(colours.bm2);
    assert.equal(bm1.size, 1, `bm1's tags: ${JSON.stringify(colours)}`);
    assert.equal(bm2.size, 1, `bm2's tags: ${JSON.stringify(colours)}`);
    assert.ok([...bm1][0] && [...bm2][0] && [...bm1][0] !== [...bm2][0], `one colour per server: ${JSON.stringify(colours)}`);
  });

  it('merges lines written on bm1, then bm2, then bm1 in time order, each once, tagged', { timeout: TEST_TIMEOUT }, async () => {
    await seq('bm1', 'alpha', 1, 3);
    await sleep(STAMP_GAP_MS);
    await seq('bm2', 'beta', 1, 3);
    await sleep(STAMP_GAP_MS);
    await seq('bm1', 'gamma', 1, 3);
    const want = expected(['bm1', 'alpha', 3], ['bm2', 'beta', 3], ['bm1', 'gamma', 3]);
    await waitForRow('the nine lines', (r) => numbered(r, ['alpha', 'beta', 'gamma']).length >= want.length);
    await sleep(500); // a doubled or late line would come right after
    const shown = await rows();
    assert.deepEqual(numbered(shown, ['alpha', 'beta', 'gamma']), want, shown.join('\n'));
  });

  it('a newly opened panel starts with both histories merged in time order', { timeout: TEST_TIMEOUT }, async () => {
    // Written while no panel is open: each server's history then comes in one piece, and only
    // the merge can put bm2's lines between bm1's.
    await wb.runCommand('View: Close All Editors');
    await waitFor('the panel closed', async () => (await wb.page.locator('iframe.webview.ready').count()) === 0, 10_000);
    await seq('bm1', 'one', 1, 2);
    await sleep(STAMP_GAP_MS);
    await seq('bm2', 'two', 1, 2);
    await sleep(STAMP_GAP_MS);
    await seq('bm1', 'three', 1, 2);
    await sleep(STAMP_GAP_MS);
    await seq('bm2', 'four', 1, 2);
    await openMergedLogs();
    const want = expected(['bm1', 'one', 2], ['bm2', 'two', 2], ['bm1', 'three', 2], ['bm2', 'four', 2]);
    await waitForRow('the eight lines', (r) => bothFollowing(r) && numbered(r, ['one', 'two', 'three', 'four']).length >= want.length);
    await sleep(500);
    const shown = await rows();
    assert.deepEqual(numbered(shown, ['one', 'two', 'three', 'four']), want, shown.join('\n'));
  });
});
