/**
 * The live log panel as a user meets it: the packaged .vsix in a real VS Code (code-server) in
 * headless Chromium, following an app deployed to bm1. The app's requests show up as they
 * happen; search, filter and pause do what they say; a redeploy is marked and followed; an SSH
 * drop is survived without losing or doubling a line; the panel follows the colour theme.
 *
 * Lines on demand: the workspace carries a CGI script (www/cgi-bin/seq, served by the example's
 * busybox httpd from /www) that writes "<word>-<from>" … "<word>-<to>" to the container's log
 * through PID 1's stdout. What is on screen is read from xterm's rows (`.xterm-rows`, the
 * viewport only): to check a whole run of numbered lines the test filters on its word, so that
 * only those lines (and the panel's own notes) are drawn, in a window tall enough for all.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { cli, fetchPage, makeWorkspace, onServer, PROJECT, removeTestApp, server, testEnv, type Workspace } from '../helpers/world';
import { CodeServer, sleep, waitFor } from './harness';
import { addSeqCgi } from './seq-cgi';
import { panelRows, waitForPanelRows } from './log-panel';
import { e2eSession, Workbench } from './workbench';

const run = promisify(execFile);
const env = testEnv();
const bm1 = server('bm1');
const TEST_TIMEOUT = 60_000;
const USER_TZ = 'Asia/Kolkata';
const SCREENSHOTS = join(PROJECT, 'media', 'screenshots');

const session = e2eSession();
const { workbenches } = session;
let cs: CodeServer | undefined;

/**
 * Drops this code-server's SSH connections to one test server as a broken link would: the
 * server's sshd processes (found in its network namespace) serving the client ports that our
 * code-server's processes hold, and only those (other runs on the same test servers keep theirs).
 */
async function dropSshSessionsOf(cs: CodeServer, name: string): Promise<string[]> {
  const home = `HOME=${cs.dir}/home\0`;
  const ours = new Set(
    readdirSync('/proc').filter((pid) => {
      try {
        return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/environ`, 'latin1').includes(home);
      } catch {
        return false;
      }
    }),
  );
  const target = server(name);
  const pidsOf = (line: string) => [...line.matchAll(/pid=(\d+)/g)].map((m) => m[1]);
  const ports = (await run('ss', ['-tnpH', 'dst', `${target.host}:${target.port}`])).stdout
    .split('\n')
    .filter((l) => pidsOf(l).some((pid) => ours.has(pid)))
    .map((l) => /\s\S+:(\d+)\s+\S+:\d+\s/.exec(l)?.[1])
    .filter((p): p is string => !!p);
  const sshd: string[] = [];
  for (const port of ports) {
    const { stdout } = await run('ip', ['netns', 'exec', name, 'ss', '-tnpH', 'sport', '=', `:${target.port}`, 'and', 'dport', '=', `:${port}`]);
    sshd.push(...pidsOf(stdout));
  }
  if (sshd.length) await run('kill', [...new Set(sshd)]);
  return sshd;
}

describe('the log panel of an app deployed to bm1', () => {
  let ws: Workspace;
  let wb: Workbench;
  let panel: FrameLocator;

  const rows = () => panelRows(panel);
  const waitForRow = <T>(what: string, test: (rows: string[]) => T, timeoutMs = 15_000) => waitForPanelRows(panel, what, test, timeoutMs);
  const request = async (path: string) => {
    const r = await fetchPage(bm1.host, ws.port, path);
    assert.equal(r.status, 200, `GET ${path}: ${r.status} ${r.body}`);
  };
  const seq = (word: string, from: number, to: number) => request(`/cgi-bin/seq?${word}&${from}&${to}`);
  const text = async (selector: string) => ((await panel.locator(selector).textContent()) ?? '').trim();
  const typeInto = async (selector: string, value: string) => panel.locator(`${selector} input`).fill(value);

  before(async () => {
    ws = await makeWorkspace();
    addSeqCgi(ws.dir);
    await ws.commit('numbered log lines on demand');
    const deployed = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(deployed.code, 0, deployed.stderr);

    // No timed refresh of the views: a deploy made elsewhere reaches them only through the panel.
    cs = await CodeServer.start({ name: 'logs', env: { BAREMETAL_SSH_CONFIG: env.sshConfig, DOCKER_HOST: env.dockerHost, ...(env.dockerConfig ? { DOCKER_CONFIG: env.dockerConfig } : {}) }, settings: { 'baremetal.refreshIntervalSeconds': 0 } });
    session.servers.push(cs);
    // A user far from UTC (+05:30): the panel shows times in their zone.
    wb = await Workbench.open(session.browser(), cs.folderUrl(ws.dir), undefined, USER_TZ);
    workbenches.push(wb);
    // Tall enough for every numbered line of the reconnection check at once.
    await wb.page.setViewportSize({ width: 1400, height: 1150 });
    await wb.openBareMetal();
    await wb.row('Servers', 'bm1', /^connected · /).waitFor({ timeout: 30_000 });
    await wb.runCommand('Bare Metal: Show Logs');
    panel = wb.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await panel.locator('.xterm-rows').waitFor({ timeout: 30_000 });
  });

  after(async () => {
    if (ws) await removeTestApp(ws);
  });

  it("shows the running container's log, then a request as it happens", { timeout: TEST_TIMEOUT }, async () => {
    await waitForRow('the "following" marker and the start line', (r) => {
      const marker = r.findIndex((l) => /── following \S+ \([0-9a-f]{12}\)/.test(l));
      return marker >= 0 && r.slice(marker + 1).some((l) => l.startsWith('hello: serving /www'));
    });
    assert.equal(await text('#status'), 'bm1: following');
    const before = (await rows()).filter((l) => /\]:\d+: response:200$/.test(l)).length;
    await request('/');
    await waitForRow('the request in the panel', (r) => r.filter((l) => /\]:\d+: response:200$/.test(l)).length > before, 10_000);
  });

  it('searches: "i of n" and the match highlighted', { timeout: TEST_TIMEOUT }, async () => {
    // Ctrl+F in the log goes to the search box, as in an editor.
    await panel.locator('.xterm-screen').click({ position: { x: 60, y: 20 }, force: true });
    await panel.locator('body').press('Control+f');
    await waitFor('the search box focused', () => panel.locator('body').evaluate((b) => b.ownerDocument.activeElement?.id === 'search'), 5000);
    await typeInto('#search', 'response:200');
    const count = await waitFor('the search count', async () => /^(\d+) of (\d+)$/.exec(await text('#count')));
    const [i, n] = [Number(count[1]), Number(count[2])];
    assert.ok(n >= 1 && i === 1, `count: ${count[0]}`);
    // xterm draws a decoration over each match on screen (the active one twice: its addon never
    // sets the "active" class), each on a row that holds the word.
    const marked = await waitFor('the match decorations', async () => {
      const found = await panel.locator('.xterm-screen').evaluate((screen) => {
        const rowEls = [...screen.querySelectorAll('.xterm-rows > div')];
        const height = rowEls[0]?.getBoundingClientRect().height ?? 1;
        const top = screen.querySelector('.xterm-rows')?.getBoundingClientRect().top ?? 0;
        return [...screen.querySelectorAll('.xterm-find-result-decoration')].map((d) => rowEls[Math.round((d.getBoundingClientRect().top - top) / height)]?.textContent ?? '');
      });
      return found.length > 0 ? found : undefined;
    }, 5000);
    assert.ok(marked.every((row) => row.includes('response:200')), `decorations on rows without the word: ${marked.join(' | ')}`);
    // Enter goes to the next match (round to the first when there is only one).
    await panel.locator('#search input').press('Enter');
    await waitFor('the next match', async () => (await text('#count')) === `${n === 1 ? 1 : 2} of ${n}`, 5000);
    await typeInto('#search', 'no such line anywhere');
    await waitFor('"No results"', async () => (await text('#count')) === 'No results', 5000);
    await typeInto('#search', '');
    await waitFor('no count', async () => (await text('#count')) === '', 5000);
    assert.equal(await panel.locator('.xterm-find-result-decoration').count(), 0);
  });

  it('filters: only matching lines, all of them back when the filter is cleared', { timeout: TEST_TIMEOUT }, async () => {
    const all = await rows();
    assert.ok(all.some((l) => l.startsWith('hello: serving /www')));
    await typeInto('#filter', 'response:200');
    // The panel's own notes stay; every other row is a request's.
    const lines = (r: string[]) => r.filter((l) => !l.startsWith('──'));
    const filtered = await waitForRow('the filtered rows', (r) => (lines(r).length >= 2 && lines(r).every((l) => l.endsWith('response:200')) ? r : undefined));
    assert.equal(lines(filtered).length, lines(all).filter((l) => l.endsWith('response:200')).length, filtered.join('\n'));
    await typeInto('#filter', '');
    await waitForRow('every row back', (r) => (r.length === all.length ? r : undefined));
    assert.deepEqual(await rows(), all);
  });

  it('pauses: new lines wait, counted in the badge, and come on Resume', { timeout: TEST_TIMEOUT }, async () => {
    await panel.locator('#follow').click();
    assert.equal(await text('#follow'), 'Resume');
    await seq('paused', 1, 3);
    // Three lines (busybox httpd logs no response line for a CGI request).
    await waitFor('the badge', async () => (await panel.locator('#newlines').isVisible()) && (await text('#newlines')) === '3 new lines', 10_000);
    await sleep(300);
    assert.ok(!(await rows()).some((l) => l.startsWith('paused-')), 'a line came while paused');
    await panel.locator('#follow').click();
    assert.equal(await text('#follow'), 'Pause');
    await waitForRow('the paused lines', (r) => ['paused-1', 'paused-2', 'paused-3'].every((p) => r.includes(p)), 5000);
    assert.equal(await panel.locator('#newlines').isVisible(), false);
  });

  it('follows a redeploy: a marker, then the new container from its start', { timeout: TEST_TIMEOUT }, async () => {
    const sha = await ws.commit('second version', { 'www/note.txt': 'the second version\n' });
    const deployed = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(deployed.code, 0, deployed.stderr);
    const name = (await onServer('bm1', ['docker', 'ps', '--format', '{{.Names}}', '--filter', `label=dev.baremetal.app=${ws.app}`])).trim();
    assert.ok(name.includes(sha.slice(0, 12)), name);
    await waitForRow('the deploy marker and the new start line', (r) => {
      const marker = r.findIndex((l) => l.startsWith(`── deploy: now ${name} (${sha.slice(0, 12)}) · `));
      return marker >= 0 && r.slice(marker + 1).some((l) => l.startsWith('hello: serving /www'));
    });
    // The panel saw the deploy made with the CLI: the sidebar shows it without a Refresh.
    await wb.row('Deployments', `${sha.slice(0, 7)} second version`, /^current · /).waitFor({ timeout: 20_000 });
  });

  it('survives an SSH drop: says it reconnects, and no line is lost or doubled', { timeout: TEST_TIMEOUT }, async () => {
    // Only the numbered lines (and the panel's notes) from here on.
    await typeInto('#filter', 'num-');
    await waitForRow('the filtered view', (r) => !r.some((l) => l.startsWith('hello: ')));
    await seq('num', 1, 10);
    await waitForRow('num-1 … num-10', (r) => r.includes('num-10'));

    const killed = await dropSshSessionsOf(cs!, 'bm1');
    assert.ok(killed.length > 0, "no SSH session of this editor's to bm1 to drop");
    // Written while the panel has no connection, then after it is back.
    await seq('num', 11, 20);
    await waitFor('the status line to say it reconnects', async () => /reconnect/.test(await text('#status')) || (await rows()).some((l) => /bm1: .*reconnecting/.test(l)), 10_000, 50);
    await waitFor('the status line back to following', async () => (await text('#status')) === 'bm1: following', 30_000);
    await seq('num', 21, 30);
    await waitForRow('num-30', (r) => r.includes('num-30'), 15_000);
    await sleep(500); // a doubled line would come right after

    const shown = await rows();
    const numbered = shown.filter((l) => /^num-\d+$/.test(l));
    assert.deepEqual(numbered, Array.from({ length: 30 }, (_, i) => `num-${i + 1}`), shown.join('\n'));
    assert.ok(shown.some((l) => /── bm1: .*reconnecting · /.test(l)), shown.join('\n'));
    assert.ok(shown.some((l) => l.startsWith('── bm1 reconnected · ')), shown.join('\n'));
    await typeInto('#filter', '');
  });

  it('opens a web link in the log on Ctrl+click, asking first as the editor does', { timeout: TEST_TIMEOUT }, async () => {
    await seq('https://example.test/orders', 1, 1);
    const url = 'https://example.test/orders-1';
    await waitForRow('the line with the link', (r) => r.includes(url));
    const row = panel.locator('.xterm-rows > div', { hasText: url });
    // xterm finds links under the mouse: hover first, then Ctrl+click on the address (the
    // mouse lands on xterm's screen layer above the row, as a user's does: hence `force`).
    await row.hover({ position: { x: 40, y: 6 }, force: true });
    await row.click({ position: { x: 40, y: 6 }, modifiers: ['Control'], force: true });
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 10_000 });
    assert.match((await dialog.textContent()) ?? '', /example\.test\/orders-1/);
    await wb.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });

  it('follows the colour theme (screenshots of both)', { timeout: TEST_TIMEOUT }, async () => {
    const look = () =>
      panel.locator('body').evaluate((body) => ({
        kind: body.classList.contains('vscode-light') ? 'light' : body.classList.contains('vscode-dark') ? 'dark' : 'other',
        // (no DOM types here: the page's own globals through the element)
        terminal: body.ownerDocument.defaultView.getComputedStyle(body.ownerDocument.querySelector('.xterm-scrollable-element')).backgroundColor as string,
        page: body.ownerDocument.defaultView.getComputedStyle(body).backgroundColor as string,
      }));
    const brightness = (rgb: string) => {
      const [r, g, b] = (rgb.match(/\d+/g) ?? ['0', '0', '0']).map(Number);
      return (r * 299 + g * 587 + b * 114) / 1000;
    };
    // The whole log with its times (the window tall enough for all of it), a few requests last.
    await wb.page.setViewportSize({ width: 1280, height: 1000 });
    await panel.locator('#timestamps').click();
    for (let i = 0; i < 3; i += 1) await request('/');
    const timed = await waitForRow('the log in full, with times', (r) => {
      const hits = r.filter((l) => /^\d\d:\d\d:\d\d\.\d{3} ▍\[[^\]]+\]:\d+: response:200$/.test(l));
      return hits.length >= 3 ? hits : undefined;
    });
    // In the user's time zone: the last request was just now, there.
    const there = (d: Date) => d.toLocaleTimeString('en-GB', { timeZone: USER_TZ, hour: '2-digit', minute: '2-digit', hour12: false });
    const now = new Date();
    assert.ok([there(now), there(new Date(now.getTime() - 60_000))].includes(timed.at(-1)!.slice(0, 5)), `${timed.at(-1)} is not ${there(now)} (${USER_TZ})`);
    // The views refresh every 30 s: the deploy made with the CLI is shown there at once on a Refresh.
    await wb.runCommand('Bare Metal: Refresh');
    await wb.row('Servers', 'bm1', `connected · ${(await ws.git('rev-parse', 'HEAD')).slice(0, 7)} running`).waitFor({ timeout: 15_000 });
    await wb.runCommand('Notifications: Clear All Notifications');
    await wb.page.mouse.move(700, 500);
    const dark = await look();
    assert.equal(dark.kind, 'dark');
    assert.ok(brightness(dark.terminal) < 80 && brightness(dark.page) < 80, JSON.stringify(dark));
    await sleep(300);
    await wb.screenshot(join(SCREENSHOTS, 'logs-dark.png'));

    // The palette lists "Browse Color Themes in Marketplace" first once it was used: pick by name.
    await wb.page.keyboard.press('Escape');
    await wb.page.keyboard.press('F1');
    const input = wb.page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill('>Preferences: Color Theme');
    await wb.page.locator('.quick-input-list .monaco-list-row[aria-label^="Preferences: Color Theme,"]').click();
    await wb.page.locator('.quick-input-widget input[placeholder^="Select Color Theme"]').waitFor();
    await input.fill('Light Modern');
    await wb.page.locator('.quick-input-list .monaco-list-row[aria-label="Light Modern"]').click();
    const light = await waitFor('the panel in the light theme', async () => {
      const l = await look();
      return l.kind === 'light' && brightness(l.terminal) > 180 && brightness(l.page) > 180 ? l : undefined;
    }, 10_000);
    assert.equal(light.terminal, light.page, 'the terminal has the background of the editor');
    await wb.page.mouse.move(700, 500);
    await sleep(300);
    await wb.screenshot(join(SCREENSHOTS, 'logs-light.png'));
    const after = await look();
    const bodyClass = await wb.page.locator('body').getAttribute('class');
    assert.equal(after.kind, 'light', `the theme went back to ${after.kind} (workbench body: ${bodyClass})`);
  });

  it('comes back after a window reload, following again', { timeout: TEST_TIMEOUT }, async () => {
    await wb.page.reload();
    await wb.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    // (Last: the page after a reload is a new one.) The same tab, restored by the extension, not
    // opened again by the test.
    await wb.page.locator('.tab', { hasText: `Logs: ${ws.app}@bm1` }).waitFor({ timeout: 30_000 });
    await waitForRow('the restored panel following the container', (r) => r.some((l) => l.startsWith('── following ')), 30_000);
    await seq('after-reload', 1, 3);
    await waitForRow('a line written after the reload', (r) => r.includes('after-reload-3'));
    assert.equal(await wb.page.locator('.tab', { hasText: 'Logs: ' }).count(), 1, 'one log panel, not two');
  });
});
