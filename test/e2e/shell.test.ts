/**
 * Open Shell and Run Command… as a user meets them: the packaged .vsix in a real VS Code
 * (code-server) in headless Chromium, on an app the CLI deployed to bm1. From the palette, a
 * terminal named app@bm1 opens into the running container; what is typed runs there and its
 * output shows in the terminal (xterm's rows, read with the DOM renderer). Run Command… runs a
 * one-off container with the app's secret as env and shows its exit code. An app not deployed
 * gets a message with "Deploy HEAD" instead of a terminal.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { processesWithHome, sshdPidsOf } from '../helpers/ssh-sessions';
import { cli, makeWorkspace, onServer, removeTestApp, server, testEnv, type Workspace } from '../helpers/world';
import { waitFor } from './harness';
import { e2eSession, Workbench } from './workbench';

const run = promisify(execFile);
const TEST_TIMEOUT = 90_000;
const SECRET = 'ex-e2e-s3cret';
const session = e2eSession();

describe('a shell and a one-off command on an app deployed to bm1', () => {
  let ws: Workspace;
  let wb: Workbench;

  /** The text of the terminal panel's visible rows (the DOM renderer draws them as spans). */
  const terminalText = () => wb.page.locator('.terminal-wrapper.active .xterm-rows').evaluate((el) => [...el.children].map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()).join('\n'));
  const terminalShows = (what: RegExp, timeoutMs = 30_000) =>
    waitFor(`the terminal to show ${String(what)}`, async () => ((await terminalText().catch(() => '')).match(what) ? true : undefined), timeoutMs, 200).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\n--- terminal ---\n${await terminalText().catch(() => '(none)')}`);
    });
  const terminalTabs = () => wb.page.locator('.terminal-tabs-entry, .single-terminal-tab').evaluateAll((els) => els.map((e) => (e.textContent ?? '').trim()));

  before(async () => {
    ws = await makeWorkspace({ prefix: 'ex', run: { secrets: ['DB_PASSWORD'] } });
    await writeFile(join(ws.dir, '.gitignore'), '.baremetal.secrets\n');
    await writeFile(join(ws.dir, '.baremetal.secrets'), `DB_PASSWORD=${SECRET}\n`);
    await ws.commit('ignore the secrets file');
    const deployed = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(deployed.code, 0, deployed.stderr);
    // The DOM renderer: the terminal's rows are elements a test can read (WebGL draws pixels).
    wb = await session.openEditor('shell', ws.dir, { settings: { 'terminal.integrated.gpuAcceleration': 'off' } });
    await wb.row('Servers', 'bm1', /^connected · [0-9a-f]{7} running/).waitFor({ timeout: 30_000 });
  });

  after(async () => {
    if (ws) {
      const left = (await onServer('bm1', ['docker', 'ps', '-aq', '--filter', `label=dev.baremetal.app=${ws.app}--run`])).split('\n').filter(Boolean);
      if (left.length) await onServer('bm1', ['docker', 'rm', '-f', ...left]);
      await removeTestApp(ws);
    }
  });

  it('Open Shell from the palette: a terminal app@bm1 in the container; typed input runs there', { timeout: TEST_TIMEOUT }, async () => {
    await wb.runCommand('Bare Metal: Open Shell');
    await terminalShows(/sh in [\w-]+/);
    await terminalShows(/^\/ #/m);
    assert.ok((await terminalTabs()).some((t) => t.includes(`${ws.app}@bm1`)), `terminal tabs: ${(await terminalTabs()).join(' | ')}`);
    await wb.page.keyboard.type('echo hi-$((6*7)) on $(hostname)');
    await wb.page.keyboard.press('Enter');
    // The arithmetic was done by the container's shell: the typed line says 6*7, only its output says 42.
    await terminalShows(/^hi-42 on \w+/m);
    const hostname = (await terminalText()).match(/^hi-42 on (\w+)/m)![1];
    const id = (await onServer('bm1', ['docker', 'ps', '-q', '--no-trunc', '--filter', `label=dev.baremetal.app=${ws.app}`])).trim();
    assert.ok(id.startsWith(hostname), `the shell ran in ${hostname}, the app's container is ${id}`);
    // The secret is the container's env, reachable by the shell, but the terminal's name never holds it.
    assert.ok(!(await terminalTabs()).join(' ').includes(SECRET));
  });

  it('exit closes the terminal; closing one ends its process on the server', { timeout: TEST_TIMEOUT }, async () => {
    await wb.page.keyboard.type('exit');
    await wb.page.keyboard.press('Enter');
    await waitFor('the shell terminal to close', async () => ((await terminalTabs()).some((t) => t.includes(`${ws.app}@bm1`)) ? undefined : true), 20_000, 200);

    await wb.runCommand('Bare Metal: Open Shell');
    await terminalShows(/^\/ #/m);
    await wb.page.keyboard.type('sleep 4242');
    await wb.page.keyboard.press('Enter');
    const sleeping = async () => (await onServer('bm1', ['sh', '-c', 'ps -eo args'])).split('\n').some((l) => l.trim() === 'sleep 4242');
    await waitFor('sleep 4242 to run on the server', async () => ((await sleeping()) ? true : undefined), 20_000, 300);
    await wb.runCommand('Terminal: Kill the Active Terminal Instance');
    await waitFor('sleep 4242 to end with its terminal', async () => ((await sleeping()) ? undefined : true), 20_000, 500);
  });

  it('a connection cut mid-session: the terminal says so in red, Enter reconnects, and the shell works again', { timeout: TEST_TIMEOUT }, async () => {
    await wb.runCommand('Bare Metal: Open Shell');
    await terminalShows(/^\/ #/m);
    // The editor's one SSH connection to bm1, cut on the server's side: the sshd processes serving
    // this code-server's connections (found by their ports), not other clients' of bm1.
    const editor = session.servers[session.servers.length - 1];
    // Another client of bm1 (as another test or the bench would be): its session must outlive the cut.
    const bystander = spawn('ssh', ['-F', testEnv().sshConfig, 'bm1', 'sleep 120'], { stdio: 'ignore' });
    try {
      await waitFor('the other client to be connected to bm1', async () => ((await sshdPidsOf(bystander.pid!, server('bm1'))).length ? true : undefined), 10_000, 200);
      const pids = await sshdPidsOf(processesWithHome(join(editor.dir, 'home')), server('bm1'));
      assert.ok(pids.length, 'the editor holds a connection to bm1');
      await run('kill', ['-9', ...pids]);
      await terminalShows(/Press Enter to reconnect\.$/m);
      assert.equal(bystander.exitCode, null, "the other client's session to bm1 was not cut");
    } finally {
      bystander.kill();
    }
    // The sentence before it says what happened (xterm wraps it over rows: read them as one).
    const screen = (await terminalText()).replace(/\n/g, '');
    assert.match(screen, /The connection to bm1 dropped while the command ran: .*; reconnect to see\.Press Enter to reconnect\.$/, screen);
    await wb.page.keyboard.press('Enter');
    await terminalShows(/Press Enter to reconnect\.\nConnecting to bm1…\nsh in [\w-]+/);
    await wb.page.keyboard.type('echo back-$((20+22))');
    await wb.page.keyboard.press('Enter');
    await terminalShows(/^back-42$/m);
    await wb.runCommand('Terminal: Kill the Active Terminal Instance');
  });

  it('Run Command…: asks before the secret goes to bm1 from this editor, then a one-off container with it as env; its output and exit code in the terminal', { timeout: TEST_TIMEOUT }, async () => {
    const typeCommand = async () => {
      await wb.runCommand('Bare Metal: Run Command…');
      const input = wb.page.locator('.quick-input-widget input');
      await input.waitFor();
      await input.fill(`sh -c 'echo "secret-length=\${#DB_PASSWORD}"; exit 3'`);
      await input.press('Enter');
    };
    // The CLI's deploy agreed in the machine's config folder; this editor has its own, so it asks.
    const dialog = wb.page.locator('.monaco-dialog-box');
    await typeCommand();
    await dialog.waitFor({ timeout: 20_000 });
    const asked = ((await dialog.textContent()) ?? '').replace(/\s+/g, ' ');
    assert.ok(asked.includes("bm1 (bm1) would receive: DB_PASSWORD (the app's env) from .baremetal.secrets"), asked);
    assert.ok(!asked.includes(SECRET), 'the question names the secret, never its value');
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await new Promise((r) => setTimeout(r, 2000));
    assert.ok(!(await terminalTabs()).some((t) => t.includes('(run)')), 'declined: no terminal, nothing run');
    await typeCommand();
    await dialog.waitFor({ timeout: 20_000 });
    await dialog.getByRole('button', { name: 'Send Them', exact: true }).click();
    await terminalShows(new RegExp(`sh -c .* in a new container of ${ws.app}:[0-9a-f]{12,}`));
    await terminalShows(new RegExp(`^secret-length=${SECRET.length}$`, 'm'));
    await terminalShows(/^sh exited with code 3\. Press any key to close\.$/m);
    assert.ok((await terminalTabs()).some((t) => t.includes(`${ws.app}@bm1 (run)`)), (await terminalTabs()).join(' | '));
    await wb.page.keyboard.press('Enter');
    await waitFor('the run terminal to close on a key', async () => ((await terminalTabs()).some((t) => t.includes('(run)')) ? undefined : true), 10_000, 200);
    const left = await onServer('bm1', ['docker', 'ps', '-aq', '--filter', `label=dev.baremetal.app=${ws.app}--run`]);
    assert.equal(left.trim(), '', 'the one-off container is gone');
  });

  it('nothing running: a message offering Deploy HEAD, and no terminal', { timeout: TEST_TIMEOUT }, async () => {
    await onServer('bm1', ['sh', '-c', `docker rm -f $(docker ps -aq --filter label=dev.baremetal.app=${ws.app})`]);
    await wb.runCommand('Bare Metal: Open Shell');
    const toast = wb.page.locator('.notification-toast .notification-list-item').filter({ hasText: `${ws.app} is not running on bm1: deploy it first` });
    await toast.waitFor({ timeout: 20_000 });
    await toast.getByRole('button', { name: 'Deploy HEAD' }).waitFor();
    assert.ok(!(await terminalTabs()).some((t) => t.includes(`${ws.app}@bm1`)), 'no terminal opened');
  });
});
