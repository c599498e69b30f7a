/**
 * An app with roles as a user meets it in the editor: web and worker from one image on bm1,
 * deployed by the CLI, then the packaged .vsix in a real VS Code (code-server) in headless
 * Chromium. The Servers view says what bm1 runs and lists both roles' containers as current
 * (not leftovers); Show Logs follows each role, its lines tagged "bm1 web" and "bm1 worker".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cleanupApp, cli, makeWorkspace, removeTestApp, type Workspace } from '../helpers/world';
import { waitForPanelRows } from './log-panel';
import { e2eSession, Workbench } from './workbench';

const TEST_TIMEOUT = 90_000;
const session = e2eSession();

describe('an app with a web and a worker role on bm1', () => {
  let ws: Workspace;
  let wb: Workbench;
  let head: string;

  before(async () => {
    ws = await makeWorkspace({
      prefix: 'ro',
      extra: { roles: { web: {}, worker: { command: ['/bin/sh', '-c', 'echo "worker: up on $GREETING"; exec sleep 100000'], ports: [], healthcheck: false } } },
    });
    head = await ws.git('rev-parse', 'HEAD');
    const deployed = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(deployed.code, 0, deployed.stderr);
    wb = await session.openEditor('roles', ws.dir, { viewport: { width: 1400, height: 1000 } });
  });

  after(async () => {
    if (!ws) return;
    for (const role of ['web', 'worker']) await cleanupApp('bm1', `${ws.app}-${role}`).catch(() => undefined);
    await removeTestApp(ws);
  });

  it("the Servers view shows what bm1 runs and each role's container as current", { timeout: TEST_TIMEOUT }, async () => {
    await wb.row('Servers', 'bm1', `connected · ${head.slice(0, 7)} running`).waitFor({ timeout: 30_000 });
    for (const role of ['web', 'worker']) {
      const row = wb.row('Servers', new RegExp(`^${ws.app}-${role}-`));
      await row.first().waitFor({ timeout: 20_000 });
      const description = ((await row.first().locator('.label-description').textContent()) ?? '').trim();
      assert.match(description, new RegExp(`^${head.slice(0, 7)} · running`), `${role}: ${description}`);
      assert.doesNotMatch(description, /leftover/, `${role} is not a leftover`);
    }
  });

  it('Show Logs follows both roles, each line tagged with its server and role', { timeout: TEST_TIMEOUT }, async () => {
    await wb.runCommand('Bare Metal: Show Logs');
    await wb.page.locator('.tab', { hasText: `Logs: ${ws.app}@bm1` }).waitFor({ timeout: 20_000 });
    const panel = wb.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await panel.locator('.xterm-rows').waitFor({ timeout: 30_000 });
    await waitForPanelRows(panel, 'both roles followed, with their lines', (rows) =>
      rows.some((l) => /^bm1 worker ── following \S+ \([0-9a-f]{12}\)/.test(l)) &&
      rows.some((l) => l === 'bm1 worker worker: up on hi') &&
      rows.some((l) => /^bm1 web ── following /.test(l)) &&
      rows.some((l) => l.startsWith('bm1 web hello: serving /www')),
    30_000);
  });
});
