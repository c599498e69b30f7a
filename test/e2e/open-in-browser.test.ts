/**
 * Open in Browser as a user meets it: the packaged .vsix in a real VS Code (code-server) in
 * headless Chromium, on an app the CLI deployed to bm1. The Servers view lists where the app
 * answers; the command, from a server, the current deploy, a URL item, the status bar's menu and
 * the palette, goes through VS Code's link protection, whose dialog names the address (the test
 * dismisses it: nothing is opened). Then the same workspace's baremetal.json gains a proxy block
 * (host names, https), and last loses every published port (one sentence, suggesting proxy.hosts).
 * The walkthrough's step on host names closes the file.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cli, makeWorkspace, removeTestApp, server, type Workspace } from '../helpers/world';
import { waitFor } from './harness';
import { e2eSession, Workbench } from './workbench';

const bm1 = server('bm1');
const TEST_TIMEOUT = 60_000;

const session = e2eSession();

describe('Open in Browser on an app deployed to bm1', () => {
  let ws: Workspace;
  let wb: Workbench;
  let url: string;

  const expectLinkDialog = (address: string) => wb.expectLinkDialog(address);

  before(async () => {
    ws = await makeWorkspace();
    url = `http://${bm1.host}:${ws.port}/`;
    const deployed = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(deployed.code, 0, deployed.stderr);
    wb = await session.openEditor('open-in-browser', ws.dir);
    await wb.row('Servers', 'bm1', /^connected · [0-9a-f]{7} running/).waitFor({ timeout: 30_000 });
  });

  after(async () => {
    if (ws) await removeTestApp(ws);
  });

  it("lists the app's address under bm1: its HostName and published port", { timeout: TEST_TIMEOUT }, async () => {
    // The view shows the bare root without its slash.
    await wb.row('Servers', url.slice(0, -1)).waitFor({ timeout: 20_000 });
  });

  it('right-click bm1 → Open in Browser: VS Code asks before opening http://<bm1>:<port>/', { timeout: TEST_TIMEOUT }, async () => {
    await wb.page.keyboard.press('Escape');
    await wb.row('Servers', 'bm1').click({ button: 'right' });
    await wb.clickMenuItem('Open in Browser');
    await expectLinkDialog(url);
  });

  it('the same from the current deploy, a click on the address, and the status bar', { timeout: TEST_TIMEOUT }, async () => {
    await wb.row('Deployments', /^[0-9a-f]{7} first version$/, /^current · /).click({ button: 'right' });
    await wb.clickMenuItem('Open in Browser');
    await expectLinkDialog(url);

    await wb.row('Servers', url.slice(0, -1)).click();
    await expectLinkDialog(url);

    await wb.page.locator('.part.statusbar .statusbar-item').filter({ hasText: `${ws.app}@bm1` }).click();
    const row = wb.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'Open in Browser' });
    await row.click();
    await expectLinkDialog(url);
  });

  it('behind the proxy: each host name over https, and the palette asks which one', { timeout: TEST_TIMEOUT }, async () => {
    const hosts = [`${ws.app}.example.test`, `www.${ws.app}.example.test`];
    // No run.ports: the loader refuses them with a proxy (both versions run at once).
    await ws.writeConfig({ app: ws.app, servers: { bm1: { host: 'bm1' } }, proxy: { hosts, port: 8080 }, run: { env: { GREETING: 'hi' } }, keep: 5 });
    for (const h of hosts) await wb.row('Servers', `https://${h}`).waitFor({ timeout: 20_000 });
    assert.equal(await wb.row('Servers', url.slice(0, -1)).count(), 0, 'the published port is still listed');

    await wb.runCommand('Bare Metal: Open in Browser');
    const choice = wb.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: `https://${hosts[1]}/` });
    await choice.click();
    await expectLinkDialog(`https://${hosts[1]}/`);
  });

  it('no port and no proxy: one sentence that suggests proxy.hosts, and no address in the view', { timeout: TEST_TIMEOUT }, async () => {
    await ws.writeConfig({ app: ws.app, servers: { bm1: { host: 'bm1' } }, run: { env: { GREETING: 'hi' } }, keep: 5 });
    await waitFor('the host names gone from the view', async () => !(await wb.treeTexts('Servers')).some((t) => t.includes('example.test')));
    await wb.runCommand('Bare Metal: Open in Browser');
    const toast = await waitFor('the sentence in a notification', async () => (await wb.toasts()).find((t) => t.message.includes('publishes no port')), 15_000);
    assert.match(toast.message, new RegExp(`^${ws.app} publishes no port on bm1, so no browser can reach it: .*"proxy": \\{ "hosts": `), toast.message);
    assert.ok(!(await wb.treeTexts('Servers')).some((t) => t.startsWith('http')), (await wb.treeTexts('Servers')).join(' | '));
  });

  it('the walkthrough has "Give it a host name" after "Add your server", done once the configuration is opened', { timeout: TEST_TIMEOUT }, async () => {
    await wb.runCommand('Welcome: Open Walkthrough...');
    await wb.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'Deploy to your own server' }).click();
    const steps = wb.page.locator('.getting-started-step');
    await steps.first().waitFor({ timeout: 15_000 });
    const titles = await steps.locator('.step-title').allTextContents();
    const at = titles.indexOf('Give it a host name');
    assert.equal(titles[at - 1], 'Add your server', titles.join(' | '));
    const step = steps.nth(at);
    const checked = () => step.locator('[data-done-step-id]').getAttribute('aria-checked', { timeout: 1000 });
    assert.equal(await checked(), 'false');
    await step.click();
    await step.getByRole('button', { name: 'Open Configuration' }).click();
    await wb.page.locator('.tab[aria-label^="baremetal.json"]').waitFor();
    // The file opened over the walkthrough, in the same group: back to it.
    await wb.page.locator('.tab', { hasText: 'Welcome' }).click();
    await waitFor('the step checked', async () => (await checked()) === 'true', 10_000);
  });
});
