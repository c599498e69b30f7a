/**
 * A link that goes silent in the middle of a deploy started in the editor, as a user on a bad
 * network meets it: in a real VS Code (code-server) in headless Chromium, on a workspace whose
 * first version runs on bm2 (deployed with the CLI). A commit with a 40 MB layer is deployed
 * from the palette over bm2's link held to 40 Mbit/s (tc on the host); once the notification says
 * bytes are on their way, every packet of bm2's link is dropped (no FIN, no reset). The user must
 * see, within 30 s: an error notification saying the connection to bm2 dropped while sending
 * the image, and bm2's row in the Servers view saying "connection lost", whose click gives the
 * same sentence. With the link back, the first version is still the one served, and the next
 * deploy goes through without waiting for the lost client's lock.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cli, makeWorkspace, removeTestApp, server, servedCommit, type Workspace } from '../helpers/world';
import { waitFor } from './harness';
import { e2eSession, type Workbench } from './workbench';

const exec = promisify(execFile);
const TEST_TIMEOUT = 240_000;
const bm2 = server('bm2');
const veth = `${bm2.name}-h`;
const session = e2eSession();
const short = (sha: string) => sha.slice(0, 7);

const DROP = [
  ['INPUT', '-i', veth, '-j', 'DROP'],
  ['OUTPUT', '-o', veth, '-j', 'DROP'],
];
async function silence(on: boolean): Promise<void> {
  for (const rule of DROP) await exec('iptables', [on ? '-I' : '-D', ...rule]).catch((e: unknown) => (on ? Promise.reject(e) : undefined));
}
async function shape(on: boolean): Promise<void> {
  if (on) await exec('tc', ['qdisc', 'add', 'dev', veth, 'root', 'tbf', 'rate', '40mbit', 'burst', '64kbit', 'latency', '400ms']);
  else await exec('tc', ['qdisc', 'del', 'dev', veth, 'root']).catch(() => undefined);
}

describe('a link that goes silent during a deploy, in the editor', () => {
  let ws: Workspace;
  let wb: Workbench;
  let first: string;

  before(async () => {
    ws = await makeWorkspace({ prefix: 'sl', servers: { bm2: { host: 'bm2' } } });
    first = await ws.git('rev-parse', 'HEAD');
    const r = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(r.code, 0, r.stderr);
    wb = await session.openEditor('silent-link', ws.dir);
  });

  after(async () => {
    await silence(false);
    await shape(false);
    if (ws) await removeTestApp(ws);
  });

  it('the notification and the Servers view say the connection to bm2 was lost, within 30 s', { timeout: TEST_TIMEOUT }, async (t) => {
    const big = await ws.commit('a big layer', { 'www/big.bin': randomBytes(30 * 1024 * 1024).toString('base64') });
    await wb.row('Servers', 'bm2', `connected · ${short(first)} running`).waitFor({ timeout: 30_000 });
    await shape(true);
    let dropped = 0;
    try {
      await wb.runCommand('Bare Metal: Deploy HEAD');
      const progress = wb.page.locator('.notification-toast').filter({ hasText: 'Deploying HEAD to bm2' });
      await waitFor('the notification counting bytes sent', async () => /MiB sent|KiB sent|Sending/.test((await progress.textContent()) ?? ''), 90_000, 100);
      await silence(true);
      dropped = Date.now();
      const failed = await waitFor('an error notification', async () => (await wb.toasts()).find((x) => x.error), 40_000, 100);
      const after = (Date.now() - dropped) / 1000;
      t.diagnostic(`"${failed.message}" ${after.toFixed(1)} s after the drop`);
      assert.match(failed.message, /The SSH connection to bm2 dropped while sending the image; nothing was changed there and the previous version keeps serving/);
      assert.ok(after <= 30, `said after ${after.toFixed(1)} s`);

      // The row says so while the link is still down, and its click gives the same sentence.
      const row = wb.row('Servers', 'bm2', 'connection lost');
      await row.waitFor({ timeout: 10_000 });
      await wb.runCommand('Notifications: Clear All Notifications');
      await row.click();
      const problem = await waitFor("the row's problem", async () => (await wb.toasts()).find((x) => x.error), 10_000, 100);
      assert.match(problem.message, /The SSH connection to bm2 dropped while sending the image/);
    } finally {
      await silence(false);
      await shape(false);
    }
    // The link is back: what the app's users get is still the first version.
    assert.equal(await servedCommit(bm2.host, ws.port), first);
    assert.ok(big);
  });

  it('with the link back, the next deploy goes through at once: the lost client\'s lock is taken over', { timeout: TEST_TIMEOUT }, async () => {
    const head = await ws.git('rev-parse', 'HEAD');
    await wb.runCommand('Notifications: Clear All Notifications');
    await wb.runCommand('Bare Metal: Deploy HEAD');
    const { seen, outcome } = await wb.watchToasts(`Deployed ${short(head)} (a big layer) to bm2`, 120_000);
    assert.equal(outcome.error, false, `the deploy failed: ${outcome.message}`);
    assert.deepEqual(seen.filter((s) => /Waiting for/.test(s)), [], 'it waited for a lock');
    assert.equal(await servedCommit(bm2.host, ws.port), head);
    await wb.row('Servers', 'bm2', `connected · ${short(head)} running`).waitFor({ timeout: 30_000 });
    // The lost attempt is in the history: the deploy that took its lock over recorded it.
    await wb.row('Deployments', `${short(head)} a big layer`, /^current · /).waitFor({ timeout: 20_000 });
  });
});
