/**
 * Show Resource Use as a user meets it: the packaged .vsix in a real VS Code (code-server) in
 * headless Chromium, the example app deployed with run.memory "64m" to bm1 (Docker 20.10) and
 * bm26c (Docker 26). The Servers view shows each container's CPU and memory against its limit;
 * the panel charts both servers, and a redeploy while it is open is marked on the time axis.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { cleanupApp, cli, makeWorkspace, onServer, PROJECT, type Workspace } from '../helpers/world';
import { sleep, waitFor } from './harness';
import { e2eSession, Workbench } from './workbench';

const app = `st-e2e-${process.pid.toString(36)}`;
const SERVERS = ['bm1', 'bm26c'];
const SCREENSHOT = join(PROJECT, 'media', 'screenshots', 'resources.png');
const session = e2eSession();

describe('Show Resource Use for an app on bm1 and bm26c', () => {
  let ws: Workspace;
  let wb: Workbench;
  let panel: FrameLocator;
  const attr = async (selector: string, name: string) => Number((await panel.locator(selector).getAttribute(name)) ?? '0');

  before(async () => {
    ws = await makeWorkspace({ servers: { bm1: { host: 'bm1' }, bm26c: { host: 'bm26c' } }, run: { memory: '64m' }, extra: { app } });
    await ws.commit('64 MiB for the app');
    for (const s of SERVERS) {
      const r = await cli(['deploy', '--server', s], { cwd: ws.dir });
      assert.equal(r.code, 0, r.stderr);
    }
    wb = await session.openEditor('resources', ws.dir, { viewport: { width: 1400, height: 1000 } });
  });

  after(async () => {
    for (const s of SERVERS) {
      await cleanupApp(s, app).catch(() => undefined);
      await onServer(s, ['rm', '-rf', `/root/.baremetal/${app}`]).catch(() => undefined);
    }
  });

  it("the Servers view shows each container's CPU and memory against the 64 MiB limit", { timeout: 90_000 }, async () => {
    for (const s of SERVERS) await wb.row('Servers', s, /^connected · /).waitFor({ timeout: 30_000 });
    // "0a1b2c3 · running · 0.1% · 612 KiB / 64 MiB · up 12s"
    const figures = /^[0-9a-f]{7} · (running|healthy) · \d+(\.\d)?% · \d+(\.\d)? (B|KiB|MiB) \/ 64 MiB/;
    const rows = wb.row('Servers', new RegExp(`^${app}-`));
    const descriptions = await waitFor('CPU and memory on both containers', async () => {
      const texts = await rows.locator('.label-description').allTextContents();
      return texts.length === 2 && texts.every((t) => figures.test(t)) ? texts : undefined;
    }, 30_000);
    assert.equal(descriptions.length, 2, descriptions.join(' | '));
  });

  it('the panel charts both servers, and a redeploy is marked where the container changed', { timeout: 240_000 }, async () => {
    await wb.runCommand('Bare Metal: Show Resource Use');
    panel = wb.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await panel.locator('[data-chart="cpu"] canvas').waitFor({ timeout: 30_000 });
    // The deploys of a moment ago come from each server's history.
    await waitFor('the first deploys marked', async () => (await attr('[data-chart="mem"]', 'data-markers')) >= 2, 20_000);
    const before = await attr('[data-chart="mem"]', 'data-markers');
    for (const s of SERVERS) {
      const chip = panel.locator(`#header .server[data-server="${s}"]`);
      await waitFor(`${s}'s figures in the header`, async () => /connected.*\/ 64 MiB/.test((await chip.textContent()) ?? ''), 20_000);
    }
    await waitFor('readings charted', async () => (await attr('[data-chart="cpu"]', 'data-points')) >= 6, 20_000);

    // Busy for a while on bm26c, so the CPU chart has something to show.
    const [id] = (await onServer('bm26c', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${app}`])).split('\n');
    await onServer('bm26c', ['docker', 'exec', '-d', id, 'sh', '-c', 'end=$(($(date +%s)+12)); while [ $(date +%s) -lt $end ]; do :; done']);
    await sleep(6000);

    const sha = await ws.commit('second version', { 'www/v.txt': '2\n' });
    const r = await cli(['deploy', '--server', 'bm1'], { cwd: ws.dir });
    assert.equal(r.code, 0, r.stderr);
    const marker = panel.locator('[data-chart="cpu"] .marker', { hasText: `deploy ${sha.slice(0, 7)}` });
    await marker.first().waitFor({ timeout: 30_000 });
    assert.equal(await attr('[data-chart="mem"]', 'data-markers'), before + 1, 'one marker more: the redeploy');
    assert.match((await marker.first().textContent()) ?? '', /\(bm1\)/);
    // The new container is charted too.
    const points = await attr('[data-chart="cpu"]', 'data-points');
    await waitFor('readings of the new container', async () => (await attr('[data-chart="cpu"]', 'data-points')) > points + 2, 20_000);
    // The panel saw the container change: the Servers view catches up without waiting for its next refresh.
    await wb.row('Servers', 'bm1', `connected · ${sha.slice(0, 7)} running`).waitFor({ timeout: 8_000 });
    await sleep(4000);
    await wb.screenshot(SCREENSHOT);
  });
});
