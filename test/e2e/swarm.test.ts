/**
 * A swarm app in the real editor (the packaged .vsix in code-server, headless Chromium): a swarm
 * of bm2 (manager, Docker 20.10) and bm26c (Docker 26, containerd store), owned by this test
 * process (test/helpers/test-swarm.ts), made in before() and taken apart in after(). The Servers view shows, under the manager, the replicas and each node
 * with its task; Deploy HEAD from the palette rolls the new commit out through Swarm.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cli, makeWorkspace, onServer, removeTestApp, type Workspace } from '../helpers/world';
import { makeTestSwarm, removeTestSwarm } from '../helpers/test-swarm';
import { e2eSession, Workbench } from './workbench';

const NODES = ['bm2', 'bm26c'] as const;
const docker = (name: string, ...args: string[]) => onServer(name, ['docker', ...args]);
const short = (sha: string) => sha.slice(0, 7);
const session = e2eSession();

describe('a swarm app in the editor', () => {
  let ws: Workspace;
  let wb: Workbench;
  let first = '';

  before(async () => {
    // A swarm this test process owns: one another test process made is waited for, never taken apart.
    await makeTestSwarm(NODES, 'bm2');
    ws = await makeWorkspace({
      prefix: 'swe',
      servers: { bm2: { host: 'bm2' }, bm26c: { host: 'bm26c' } },
      extra: { defaultServer: 'bm2', swarm: { manager: 'bm2', replicas: 1, publish: 'host', timeoutSeconds: 120 } },
    });
    first = await ws.git('rev-parse', 'HEAD');
    const deployed = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(deployed.code, 0, deployed.stderr);
    wb = await session.openEditor('swarm', ws.dir);
  });

  after(async () => {
    if (ws) await docker('bm2', 'service', 'rm', ws.app).catch(() => undefined);
    await removeTestSwarm(NODES);
    if (ws) await removeTestApp(ws, NODES).catch(() => undefined);
  });

  it('the manager shows the replicas and both nodes, the one with the task running the commit', { timeout: 90_000 }, async () => {
    await wb.row('Servers', `swarm: 1 of 1 replicas ${short(first)} running`).waitFor({ timeout: 45_000 });
    await wb.row('Servers', 'node bm2', /^manager · ready · /).waitFor({ timeout: 10_000 });
    await wb.row('Servers', 'node bm26c', /^worker · ready · /).waitFor({ timeout: 10_000 });
    const texts = (await wb.treeTexts('Servers')).join('\n');
    assert.match(texts, new RegExp(`${short(first)} running`), texts);
    // One replica on two nodes: the server rows say which runs the task, and the other is a node
    // with no task (not "not deployed").
    const rows = [await wb.row('Servers', /^bm2$/).first().locator('.label-description').textContent(), await wb.row('Servers', /^bm26c$/).first().locator('.label-description').textContent()].map((t) => (t ?? '').trim());
    assert.equal(rows.filter((t) => t === `connected · ${short(first)} running`).length, 1, rows.join(' | '));
    assert.equal(rows.filter((t) => /^connected · swarm (manager|node), no task here$/.test(t)).length, 1, rows.join(' | '));
  });

  it('Deploy HEAD goes to the swarm: the notification names it, the view shows the new commit', { timeout: 180_000 }, async () => {
    const second = await ws.commit('second version', { 'www/extra.txt': 'more\n' });
    await wb.runCommand('Bare Metal: Deploy HEAD');
    const { outcome } = await wb.watchToasts(`Deployed ${short(second)} (second version) to bm2's swarm`, 150_000);
    assert.equal(outcome.error, false, outcome.message);
    await wb.row('Servers', `swarm: 1 of 1 replicas ${short(second)} running`).waitFor({ timeout: 45_000 });
  });
});
