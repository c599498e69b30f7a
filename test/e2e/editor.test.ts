/**
 * The extension as a user meets it: the packaged .vsix installed into a real VS Code
 * (code-server) in headless Chromium, against the real test servers. Each scenario clicks what a
 * user clicks and asserts what a user sees (tree items, notifications, dialogs, the status bar),
 * and, for deploys and rollbacks, what the app's users see: the page the server answers.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, makeWorkspace, removeTestApp, server, servedCommit, testEnv, type Workspace } from '../helpers/world';
import { CodeServer, scratchDir, waitFor } from './harness';
import { waitForPanelRows } from './log-panel';
import { e2eSession, Workbench } from './workbench';

const env = testEnv();
const bm1 = server('bm1');
const TEST_TIMEOUT = 120_000;

const session = e2eSession();
const { servers, workbenches } = session;
/** The code-server of the test servers' own ssh config (the deployed workspace and the one without configuration). */
let mainServer: CodeServer | undefined;

async function startCodeServer(name: string, sshConfig: string): Promise<CodeServer> {
  const cs = await CodeServer.start({ name, env: { BAREMETAL_SSH_CONFIG: sshConfig, DOCKER_HOST: env.dockerHost, ...(env.dockerConfig ? { DOCKER_CONFIG: env.dockerConfig } : {}) } });
  servers.push(cs);
  return cs;
}

/** Started once, by whichever suite needs it first. */
async function theMainServer(): Promise<CodeServer> {
  mainServer ??= await startCodeServer('main', env.sshConfig);
  return mainServer;
}

async function openWorkbench(cs: CodeServer, folder: string): Promise<Workbench> {
  const wb = await Workbench.open(session.browser(), cs.folderUrl(folder));
  workbenches.push(wb);
  await wb.openBareMetal();
  return wb;
}

const short = (sha: string) => sha.slice(0, 7);

describe('a workspace deployed to bm1', () => {
  let ws: Workspace;
  let wb: Workbench;
  let first: string;
  let second: string;

  before(async () => {
    ws = await makeWorkspace();
    first = await ws.git('rev-parse', 'HEAD');
    // History before the editor opens: one deploy made with the CLI.
    const r = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(r.code, 0, r.stderr);
    second = await ws.commit('second version', { 'www/note.txt': 'the second version\n' });
    wb = await openWorkbench(await theMainServer(), ws.dir);
  });

  after(async () => {
    if (ws) await removeTestApp(ws);
  });

  it('shows bm1 connected, what it runs, its deploys and the commits', { timeout: TEST_TIMEOUT }, async () => {
    await wb.row('Servers', 'bm1', `connected · ${short(first)} running`).waitFor({ timeout: 30_000 });
    await wb.row('Deployments', `${short(first)} first version`, /^current · Test Developer · /).waitFor();
    // The Commits view lists both commits, the deployed one marked with its server.
    await waitFor('both commits in the Commits view', async () => {
      const rows = await wb.treeTexts('Commits');
      return rows[0]?.startsWith(`${short(second)} second version`) && rows[1]?.startsWith(`${short(first)} first versionon bm1 · `);
    });
    // The status bar says which app runs where, and that HEAD is one commit ahead of it.
    await waitFor('the status bar item', async () => (await wb.statusBarTexts()).find((t) => t.startsWith(`${ws.app}@bm1 ${short(first)}`)));
  });

  it("deploys a commit with the Commits view's rocket: progress, then current, then served", { timeout: TEST_TIMEOUT }, async () => {
    await wb.page.keyboard.press('Escape');
    const row = wb.row('Commits', `${short(second)} second version`);
    await row.hover();
    await row.locator('.action-label[aria-label="Deploy"]').click();

    // Progress in a notification, until it says it is done; the button carries its commit.
    const [{ seen, outcome }] = await Promise.all([wb.watchToasts(`Deployed ${short(second)} (second version) to bm1`, 90_000), wb.expectNotAsked('Deploy which commit?')]);
    assert.equal(outcome.error, false, `the deploy failed: ${outcome.message}`);
    assert.ok(
      seen.some((t) => t.startsWith(`Deploying ${short(second)} to bm1`)),
      `no progress notification was seen: ${seen.join(' | ')}`,
    );

    await wb.row('Deployments', `${short(second)} second version`, /^current · /).waitFor({ timeout: 20_000 });
    await wb.row('Servers', 'bm1', `connected · ${short(second)} running`).waitFor();
    assert.equal(await servedCommit(bm1.host, ws.port), second);
  });

  it('rolls back with "Roll Back to This" from a deploy\'s context menu', { timeout: TEST_TIMEOUT }, async () => {
    const earlier = wb.row('Deployments', `${short(first)} first version`, /^Test Developer · /);
    await wb.page.keyboard.press('Escape');
    await earlier.click({ button: 'right' });
    await wb.clickMenuItem('Roll Back to This');

    const { seen, outcome } = await wb.watchToasts(`Rolled back ${short(first)} (first version) to bm1`, 60_000);
    assert.equal(outcome.error, false, `the rollback failed: ${outcome.message}`);
    assert.ok(seen.some((t) => t.startsWith(`Rolling bm1 back to ${short(first)}`)), `no progress notification was seen: ${seen.join(' | ')}`);
    await wb.row('Deployments', `${short(first)} first version`, /^current · rollback · /).waitFor({ timeout: 20_000 });
    assert.equal(await servedCommit(bm1.host, ws.port), first);
  });

  it("a sick deploy: one sentence, the previous version keeps serving, and the log panel opens on the sick container's last lines", { timeout: TEST_TIMEOUT }, async () => {
    const sick = await ws.commit('serve nothing', { 'start.sh': '#!/bin/sh\necho "sick: serving nothing"\nmkdir -p /empty\nexec busybox httpd -f -vv -p 8080 -h /empty\n' });
    try {
      await wb.page.keyboard.press('Escape');
      await wb.runCommand('Bare Metal: Deploy HEAD');
      const { outcome } = await wb.watchToasts('Deployed ', 60_000);
      assert.equal(outcome.error, true, outcome.message);
      assert.match(outcome.message, /not healthy within 10s: GET \/ answered HTTP 404.*previous version keeps serving/);
      assert.equal(await servedCommit(bm1.host, ws.port), first);
      // The panel, opened by itself on what the sick container said before it was removed.
      const panel = wb.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
      await waitForPanelRows(panel, "the health check's requests", (r) => r.some((l) => l.endsWith('response:404')), 20_000);
      // Further up, under the panel's title for them, what the app said when it started.
      await panel.locator('#filter input').fill('serving nothing');
      await waitForPanelRows(panel, "the sick container's first line, under the title", (r) => {
        const title = r.findIndex((l) => l.startsWith('── the new container failed its health check: its last lines'));
        return title >= 0 && r[title + 1] === 'sick: serving nothing';
      });
    } finally {
      await ws.git('revert', '--no-edit', sick);
      await wb.runCommand('View: Close All Editors');
    }
  });

  it('names the line of a broken baremetal.json, and applies the fix as soon as it is saved', { timeout: TEST_TIMEOUT }, async () => {
    const file = join(ws.dir, 'baremetal.json');
    const good = await readFile(file, 'utf8');
    const lines = good.split('\n');
    const appLine = lines.findIndex((l) => l.trimStart().startsWith('"app"'));
    assert.ok(lines[appLine].endsWith(','));
    lines[appLine] = lines[appLine].slice(0, -1); // the missing comma
    await writeFile(file, lines.join('\n'));

    // The error names the file and the line after the one missing its comma, in the Servers view and the status bar.
    const where = new RegExp(`baremetal\\.json:${appLine + 2}:\\d+: the JSON is malformed`);
    const message = wb.row('Servers', where);
    await message.waitFor({ timeout: 20_000 });
    await waitFor('the status bar error', async () => (await wb.statusBarTexts()).find((t) => t.startsWith('baremetal.json|') && where.test(t)));
    await wb.page.keyboard.press('Escape');
    const bar = wb.page.locator('.part.statusbar .statusbar-item').filter({ hasText: 'baremetal.json' });
    await bar.hover();
    await wb.page.locator('.monaco-hover, .workbench-hover').filter({ hasText: where }).first().waitFor({ timeout: 10_000 });

    // Clicking the message opens the file; the user adds the comma and saves: no reload.
    await message.click();
    await wb.page.locator(`.tab[aria-label^="baremetal.json"]`).waitFor();
    const editor = wb.page.locator('.editor-instance .monaco-editor textarea').first();
    await editor.focus();
    await wb.page.keyboard.press('Control+G');
    await wb.page.keyboard.type(String(appLine + 1));
    await wb.page.keyboard.press('Enter');
    await wb.page.keyboard.press('End');
    await wb.page.keyboard.type(',');
    await wb.page.keyboard.press('Control+S');
    await waitFor('the fixed file on disk', async () => (await readFile(file, 'utf8')) === good, 10_000);

    // The server is back in the view (whatever its connection), the error gone.
    await wb.row('Servers', 'bm1').waitFor({ timeout: 20_000 });
    assert.equal(await wb.row('Servers', where).count(), 0);
    await waitFor('the status bar back to the app', async () => (await wb.statusBarTexts()).find((t) => t.startsWith(`${ws.app}@bm1 `)));
  });
});

describe('a folder without baremetal.json', () => {
  let wb: Workbench;
  let dir: string;

  before(async () => {
    dir = scratchDir('no-config');
    await writeFile(join(dir, 'README.md'), '# nothing to deploy yet\n');
    // The same code-server as the deployed workspace: another window, another extension host.
    wb = await openWorkbench(await theMainServer(), dir);
  });

  it('welcomes with Add Server, which writes baremetal.json and connects', { timeout: TEST_TIMEOUT }, async () => {
    const welcome = wb.pane('Servers').locator('.welcome-view-content');
    await welcome.getByText('No baremetal.json in this folder yet.').waitFor({ timeout: 30_000 });
    assert.equal(
      (await wb.statusBarTexts()).filter((t) => t.includes('baremetal.json')).length,
      0,
      'a folder with no configuration yet is not an error',
    );
    await welcome.getByRole('button', { name: 'Add Server' }).click();

    // The hosts of the ssh config, then user, port (both left empty) and the name.
    const input = wb.page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill('bm1');
    await wb.page.locator('.quick-input-list .monaco-list-row').filter({ has: wb.page.locator('.label-name', { hasText: /^bm1$/ }) }).click();
    for (const prompt of ['SSH user on bm1', 'SSH port of bm1', 'A name for this server']) {
      await wb.page.locator('.quick-input-widget', { hasText: prompt }).waitFor();
      await input.press('Enter');
    }

    await wb.page.locator('.tab[aria-label^="baremetal.json"]').waitFor();
    const written = JSON.parse(await readFile(join(dir, 'baremetal.json'), 'utf8')) as { servers: Record<string, { host: string }> };
    assert.deepEqual(written.servers, { bm1: { host: 'bm1' } });
    await wb.row('Servers', 'bm1', /^connected · not deployed/).waitFor({ timeout: 30_000 });
  });
});

describe('a server whose host key is not known yet', () => {
  let ws: Workspace;
  let wb: Workbench;
  let knownHosts: string;

  before(async () => {
    // An ssh_config of our own: bm1 under another name, with an empty known_hosts.
    const dir = scratchDir('ssh');
    knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, '');
    const sshConfig = join(dir, 'ssh_config');
    await writeFile(
      sshConfig,
      [
        'Host fresh-box',
        `  HostName ${bm1.host}`,
        `  Port ${bm1.port}`,
        `  User ${bm1.user}`,
        `  IdentityFile ${env.identityFile}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${knownHosts}`,
        '  StrictHostKeyChecking yes',
        '  BatchMode yes',
        '',
      ].join('\n'),
    );
    ws = await makeWorkspace({ servers: { newbox: { host: 'fresh-box' } } });
    const cs = await startCodeServer('hostkey', sshConfig);
    wb = await openWorkbench(cs, ws.dir);
  });

  after(async () => {
    if (ws) await rm(ws.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }); // the editor's git may still be writing
  });

  it('says "host key unknown", shows the fingerprint in a modal, and connects once trusted', { timeout: TEST_TIMEOUT }, async () => {
    const item = wb.row('Servers', 'newbox', 'host key unknown');
    await item.waitFor({ timeout: 30_000 });
    // The inline shield is there for the same action.
    await item.hover();
    await item.locator('.action-label[aria-label="Trust Server Host Key"]').waitFor();

    await item.click();
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor();
    const text = (await dialog.textContent()) ?? '';
    assert.ok(text.includes('Trust the host key of newbox?'), text);
    assert.ok(text.includes(bm1.hostKeyFingerprint), `the dialog does not show ${bm1.hostKeyFingerprint}: ${text}`);
    await dialog.getByRole('button', { name: 'Trust', exact: true }).click();

    await wb.row('Servers', 'newbox', /^connected · /).waitFor({ timeout: 30_000 });
    assert.match(await readFile(knownHosts, 'utf8'), /ssh-ed25519 /);
  });
});
