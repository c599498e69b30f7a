/**
 * The Cancel button of a deploy's progress notification, as a user meets it: in a real VS Code
 * (code-server) in headless Chromium, on a workspace whose first version runs on bm1 (deployed
 * with the CLI). A commit whose build takes a minute (`RUN sleep 90`) is deployed from the
 * palette; while its build runs, the user clicks Cancel in the notification. They must see a
 * warning saying it was cancelled (not an error to retry), the Deployments view showing the
 * cancelled attempt and the first version still current, the Servers view on the first version,
 * and the app answering with the first version throughout (polled over HTTP by the test). The next
 * deploy, from the Commits view's Deploy, goes through at once: the lock was freed. A Cancel
 * during the health check of a commit that answers late: a warning, and the previous version
 * answers again within seconds (it gave up its host port for the check).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, makeWorkspace, removeTestApp, server, servedCommit, type Workspace } from '../helpers/world';
import { sleep, waitFor } from './harness';
import { e2eSession, type Workbench } from './workbench';

const TEST_TIMEOUT = 180_000;
const bm1 = server('bm1');
const session = e2eSession();
const short = (sha: string) => sha.slice(0, 7);

/** Asks the app for its page every ~200 ms until stopped: the commits it served, in order, and every failure. */
function pollApp(port: number) {
  let stopped = false;
  const t0 = Date.now();
  const r = { ok: 0, failed: [] as string[], commits: [] as string[] };
  const loop = (async () => {
    while (!stopped) {
      try {
        const commit = await servedCommit(bm1.host, port);
        if (commit) {
          r.ok++;
          if (r.commits.at(-1) !== commit) r.commits.push(commit);
        } else r.failed.push(`+${Date.now() - t0} ms: no commit on the page`);
      } catch (e) {
        r.failed.push(`+${Date.now() - t0} ms: ${(e as Error).message}`);
      }
      await sleep(200);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return r;
    },
  };
}

describe("a deploy's Cancel button, in the editor", () => {
  let ws: Workspace;
  let wb: Workbench;
  let first: string;
  let dockerfile: string;

  before(async () => {
    ws = await makeWorkspace({ prefix: 'cx' });
    first = await ws.git('rev-parse', 'HEAD');
    const r = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(r.code, 0, r.stderr);
    dockerfile = await readFile(join(ws.dir, 'Dockerfile'), 'utf8');
    wb = await session.openEditor('cancel', ws.dir);
  });

  after(async () => {
    if (ws) await removeTestApp(ws);
  });

  it('Cancel while the image builds: a warning, the attempt shown cancelled, the first version serving throughout', { timeout: TEST_TIMEOUT }, async (t) => {
    const slow = await ws.commit('slow build', { Dockerfile: `${dockerfile}RUN sleep 90\n` });
    await wb.row('Servers', 'bm1', `connected · ${short(first)} running`).waitFor({ timeout: 30_000 });
    const poller = pollApp(ws.port);
    let polled;
    try {
      await wb.runCommand('Bare Metal: Deploy HEAD');
      const progress = wb.page.locator('.notification-toast').filter({ hasText: 'Deploying HEAD to bm1' });
      // The build has reached the slow step: what the notification says.
      await waitFor('the progress notification at the slow step', async () => /sleep 90/.test((await progress.textContent()) ?? ''), 60_000, 100);
      await progress.locator('.monaco-button', { hasText: /^Cancel$/ }).click();
      const clicked = Date.now();

      const warning = await waitFor('a notification that the deploy was cancelled', async () => {
        const toasts = await wb.toasts();
        const error = toasts.find((x) => x.error);
        if (error) throw new Error(`an error instead: ${error.message}`);
        return toasts.find((x) => /cancelled/i.test(x.message));
      }, 30_000, 100);
      t.diagnostic(`"${warning.message}" ${Date.now() - clicked} ms after Cancel`);
      assert.equal(warning.warning, true, `not a warning: ${JSON.stringify(warning)}`);
      assert.equal(warning.message, 'Build cancelled; nothing was sent to the server.');
      await progress.waitFor({ state: 'hidden', timeout: 5_000 });

      // The attempt is in the history as cancelled; the first version is still the current one.
      await wb.row('Deployments', `${short(slow)} slow build`, /^cancelled · Test Developer · /).waitFor({ timeout: 20_000 });
      await wb.row('Deployments', `${short(first)} first version`, /^current · /).waitFor({ timeout: 5_000 });
      await wb.row('Servers', 'bm1', `connected · ${short(first)} running`).waitFor({ timeout: 5_000 });
      // What the app's users saw meanwhile, and a few seconds more: the first version, always.
      await sleep(3_000);
    } finally {
      polled = await poller.stop();
    }
    t.diagnostic(`the app answered ${polled.ok} times meanwhile`);
    assert.deepEqual(polled.failed, []);
    assert.deepEqual(polled.commits, [first], 'only the first version was served');
    assert.ok(polled.ok > 10, `only ${polled.ok} answers`);
  });

  it("the next deploy, from the Commits view's Deploy, goes through at once: the lock was freed", { timeout: TEST_TIMEOUT }, async () => {
    const fast = await ws.commit('fast again', { Dockerfile: dockerfile });
    await wb.page.keyboard.press('Escape');
    const row = wb.row('Commits', `${short(fast)} fast again`);
    await row.waitFor({ timeout: 20_000 });
    await row.hover();
    await row.locator('.action-label[aria-label="Deploy"]').click();
    const [{ seen, outcome }] = await Promise.all([wb.watchToasts(`Deployed ${short(fast)} (fast again) to bm1`, 120_000), wb.expectNotAsked('Deploy which commit?')]);
    assert.equal(outcome.error, false, `the deploy failed: ${outcome.message}`);
    assert.deepEqual(seen.filter((s) => /Waiting for/.test(s)), [], 'it waited for a lock');
    assert.equal(await servedCommit(bm1.host, ws.port), fast);
    await wb.row('Deployments', `${short(fast)} fast again`, /^current · /).waitFor({ timeout: 20_000 });
  });

  it('Cancel during the health check: a warning, and the previous version answers again at once', { timeout: TEST_TIMEOUT }, async (t) => {
    const previous = await ws.git('rev-parse', 'HEAD');
    // Starts, but answers only after 60 s: the health check (10 s at most) is still waiting when Cancel is clicked.
    const late = await ws.commit('late start', { 'start.sh': '#!/bin/sh\necho "late: answering in 60 s"\nsleep 60\nexec busybox httpd -f -v -p 8080 -h /www\n' });
    await wb.row('Servers', 'bm1', `connected · ${short(previous)} running`).waitFor({ timeout: 30_000 });
    const poller = pollApp(ws.port);
    let polled;
    let answeredAgainMs: number | undefined;
    try {
      await wb.runCommand('Bare Metal: Deploy HEAD');
      const progress = wb.page.locator('.notification-toast').filter({ hasText: 'Deploying HEAD to bm1' });
      await waitFor('the progress notification at the health check', async () => /Checking health/.test((await progress.textContent()) ?? ''), 90_000, 100);
      await progress.locator('.monaco-button', { hasText: /^Cancel$/ }).click();
      const clicked = Date.now();
      const warning = await waitFor('a notification that the deploy was cancelled', async () => (await wb.toasts()).find((x) => x.error || /cancelled/i.test(x.message)), 30_000, 100);
      assert.equal(warning.error, false, `an error instead: ${warning.message}`);
      assert.equal(warning.warning, true, `not a warning: ${JSON.stringify(warning)}`);
      assert.equal(warning.message, 'Cancelled during the health check; the previous version is serving again.');
      // This app publishes a host port, which the old container gives up during the check (only
      // one can hold it): it must answer again within seconds of the Cancel, with the previous version.
      await waitFor('the previous version answering again', async () => (await servedCommit(bm1.host, ws.port).catch(() => undefined)) === previous, 10_000, 100);
      answeredAgainMs = Date.now() - clicked;
      await wb.row('Deployments', `${short(late)} late start`, /^cancelled · Test Developer · /).waitFor({ timeout: 20_000 });
      await wb.row('Deployments', `${short(previous)} fast again`, /^current · /).waitFor({ timeout: 5_000 });
      await sleep(2_000);
    } finally {
      polled = await poller.stop();
    }
    t.diagnostic(`answered again ${answeredAgainMs} ms after Cancel; ${polled.ok} answers, ${polled.failed.length} failed (the swap's pause)`);
    assert.deepEqual(polled.commits.filter((c) => c !== previous), [], 'the new version never answered');
  });
});
