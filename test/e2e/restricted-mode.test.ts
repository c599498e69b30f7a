/**
 * Restricted Mode, as a user meets it: Workspace Trust on (the other editor tests turn it off)
 * and a folder opened for the first time, so not trusted.
 * The folder's baremetal.json names one server, whose ssh config entry points at a TCP listener
 * of this test's own on this machine: it counts every connection, so "nothing connects" is
 * measured, not assumed. Each of the three views must say why it is empty (its Restricted Mode
 * welcome, not "Loading…"), Deploy HEAD from the palette must say to trust the folder, and the
 * listener must see no connection. Then the user trusts the folder: the listener sees the editor
 * connect within seconds (so it would have seen one before) and the server shows in its view.
 */
import assert from 'node:assert/strict';
import { writeFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeWorkspace, type Workspace } from '../helpers/world';
import { CodeServer, scratchDir, sleep, waitFor } from './harness';
import { e2eSession, Workbench } from './workbench';

const session = e2eSession();
const VIEWS = ['Servers', 'Deployments', 'Commits'];

describe('an untrusted folder (Restricted Mode)', () => {
  let ws: Workspace;
  let wb: Workbench;
  let listener: net.Server;
  let connections = 0;

  before(async () => {
    listener = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as net.AddressInfo).port;
    const sshConfig = join(scratchDir('watched'), 'ssh_config');
    await writeFile(sshConfig, `Host watched\n  HostName 127.0.0.1\n  Port ${port}\n  User nobody\n  BatchMode yes\n`);
    ws = await makeWorkspace({ prefix: 'rm', servers: { box: { host: 'watched' } } });
    const cs = await CodeServer.start({ name: 'restricted', trust: true, env: { BAREMETAL_SSH_CONFIG: sshConfig } });
    session.servers.push(cs);
    wb = await Workbench.open(session.browser(), cs.folderUrl(ws.dir));
    session.workbenches.push(wb);
    // A new folder opens in Restricted Mode (VS Code in a browser does not ask first; should it
    // ask, the user answers that they do not trust it). The status bar says so either way.
    const dialog = wb.page.locator('.monaco-dialog-box');
    const restricted = wb.page.locator('.part.statusbar .statusbar-item', { hasText: 'Restricted Mode' });
    await dialog.or(restricted).first().waitFor({ timeout: 60_000 });
    if (await dialog.isVisible()) {
      await dialog.getByRole('button', { name: /^No, I don.t trust the authors$/ }).click();
      await dialog.waitFor({ state: 'hidden' });
    }
    await restricted.waitFor({ timeout: 20_000 });
    await wb.openBareMetal();
  });

  after(async () => {
    await new Promise((resolve) => listener?.close(resolve));
    if (ws) await rm(ws.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });

  it('each view says why it is empty, Deploy says to trust the folder, and nothing connects', { timeout: 120_000 }, async () => {
    for (const view of VIEWS) {
      const pane = await wb.expand(view);
      await pane.locator('.welcome-view-content').getByText(/^This folder is in Restricted Mode\. Its baremetal\.json chooses the servers/).waitFor({ timeout: 20_000 }).catch(async (e: Error) => {
        throw new Error(`the ${view} view does not say why it is empty (${e.message.split('\n')[0]}); it shows: ${JSON.stringify(await wb.treeTexts(view))}`);
      });
      await pane.locator('.welcome-view-content').getByRole('button', { name: 'Manage Workspace Trust' }).waitFor();
    }
    await wb.runCommand('Bare Metal: Deploy HEAD');
    await waitFor('the Restricted Mode warning', async () =>
      (await wb.toasts()).find((t) => t.warning && t.message === 'This folder is in Restricted Mode, so Bare Metal Deploy does not connect or deploy: trust the folder first (Manage Workspace Trust).'),
    );
    // The model refreshes at once and every 30 s when it runs: long enough to see it try.
    await sleep(5_000);
    assert.equal(connections, 0, `${connections} connections reached the server of an untrusted folder`);
  });

  it('once trusted, the editor connects and shows the server', { timeout: 120_000 }, async () => {
    await wb.page.keyboard.press('Escape');
    await wb.pane('Servers').locator('.welcome-view-content').getByRole('button', { name: 'Manage Workspace Trust' }).click();
    await wb.page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust$/ }).first().click();
    await waitFor('a connection to the server', () => connections > 0, 30_000);
    await wb.openBareMetal();
    await wb.row('Servers', 'box').waitFor({ timeout: 30_000 });
  });
});
