/**
 * Fleets in the editor, as a user meets them: the packaged .vsix in a real VS Code (code-server)
 * in headless Chromium, on a workspace with servers bm1 and bm2 and a group "web" (one server at
 * a time: `rollout.batch` 1, so bm1 is the canary). The Commits view's Deploy on a commit asks
 * where to in a quick pick that lists the group with what each of its servers runs; picking
 * "web" rolls the commit out with one progress line per server, and the Servers view then shows
 * the group on that commit with both its servers (each row saying so), and the Commits view says
 * "on web". A commit that fails on bm2 (its own env sets FAIL_HERE) stops the rollout with a
 * sentence per server and a "Roll Back Moved Servers" button, which puts bm1 back. The rocket on
 * the group's line deploys HEAD there without asking; Roll Back… on the group puts each server
 * back on its previous deploy. Both servers serve what the editor says; the app is removed from
 * both after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeWorkspace, removeTestApp, server, servedCommit, type Workspace } from '../helpers/world';
import { waitFor } from './harness';
import { e2eSession, Workbench } from './workbench';

const SERVERS = ['bm1', 'bm2'] as const;
const TEST_TIMEOUT = 240_000;
const session = e2eSession();
const short = (sha: string) => sha.slice(0, 7);

/** Exits at once where FAIL_HERE is set (bm2's env): the second batch fails, after bm1 moved. */
const failingStart = '#!/bin/sh\n[ -n "$FAIL_HERE" ] && { echo "refusing to start here"; exit 3; }\necho "hello: serving /www on :8080"\nbusybox httpd -f -v -p 8080 -h /www &\npid=$!\ntrap \'kill "$pid"; exit 0\' TERM INT\nwait "$pid"\n';

describe('a group "web" of bm1 and bm2, in the editor', () => {
  let ws: Workspace;
  let wb: Workbench;
  let first: string;

  before(async () => {
    ws = await makeWorkspace({
      prefix: 'fu',
      servers: { bm1: { host: 'bm1' }, bm2: { host: 'bm2', env: { FAIL_HERE: '1' } } },
      extra: { groups: { web: ['bm1', 'bm2'] }, rollout: { batch: 1 } },
    });
    first = await ws.git('rev-parse', 'HEAD');
    wb = await session.openEditor('fleet', ws.dir);
  });

  after(async () => {
    if (ws) await removeTestApp(ws, SERVERS);
  });

  /** The Servers view's rows: level, label, description, as a user reads them. */
  const serverRows = () =>
    wb.pane('Servers').getByRole('treeitem').evaluateAll((els) =>
      els.map((e) => ({
        level: Number(e.getAttribute('aria-level')),
        label: (e.querySelector('.label-name')?.textContent ?? '').trim(),
        description: (e.querySelector('.label-description')?.textContent ?? '').trim(),
      })),
    );

  /** Waits until the group's line and each server's row under it say `group` and `each`. */
  async function expectGroup(group: string | RegExp, each: Record<string, string>): Promise<void> {
    await waitFor(`web "${String(group)}" with ${JSON.stringify(each)} under it`, async () => {
      const rows = await serverRows();
      const at = rows.findIndex((r) => r.level === 1 && r.label === 'web');
      if (at < 0 || !(typeof group === 'string' ? rows[at].description === group : group.test(rows[at].description))) return false;
      const under = rows.slice(at + 1).filter((r) => r.level === 2);
      return Object.entries(each).every(([name, description]) => under.some((r) => r.label === name && r.description === description));
    }, 30_000).catch(async (e: Error) => {
      throw new Error(`${e.message}\nServers view: ${JSON.stringify(await serverRows())}`);
    });
  }

  /** Clicks Deploy on a commit of the Commits view, and picks `target` in the quick pick; returns the pick's rows as shown. */
  async function deployToGroup(sha: string, subject: string, target: string): Promise<string[]> {
    await wb.page.keyboard.press('Escape');
    const row = wb.row('Commits', `${short(sha)} ${subject}`);
    await row.waitFor({ timeout: 20_000 });
    await row.hover();
    await row.locator('.action-label[aria-label="Deploy"]').click();
    const rows = wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    await rows.first().waitFor({ timeout: 10_000 });
    // The button carries its commit: VS Code asks only where to (never "Deploy which commit?",
    // which meant the click reached the command without its row).
    assert.equal(await wb.page.locator('.quick-input-widget input').getAttribute('placeholder'), `Deploy ${short(sha)} to which group or server?`);
    const shown = await rows.evaluateAll((els) => els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()));
    await rows.filter({ has: wb.page.locator('.label-name', { hasText: new RegExp(`^${target}$`) }) }).first().click();
    return shown;
  }

  it('deploys a commit to the group through the quick pick: a line per server, then the group and both servers on it', { timeout: TEST_TIMEOUT }, async (t) => {
    await expectGroup('2 servers · not deployed', { bm1: 'connected · not deployed', bm2: 'connected · not deployed' });

    const picks = await deployToGroup(first, 'first version', 'web');
    // The group first, with what each of its servers runs now; then all and each server.
    assert.ok(picks.some((t) => t.startsWith('webgroup of 2 servers') && t.includes('bm1: not deployed · bm2: not deployed')), picks.join(' | '));
    assert.ok(picks.some((t) => t.startsWith('allevery server: bm1, bm2')), picks.join(' | '));
    assert.ok(picks.some((t) => t.startsWith('bm2') && t.includes('runs not deployed')), picks.join(' | '));

    const { seen, outcome } = await wb.watchToasts(`Deployed ${short(first)} `, 200_000);
    assert.equal(outcome.error, false, `the deploy failed: ${outcome.message}`);
    assert.equal(outcome.message, `Deployed ${short(first)} (first version) to web: bm1 runs ${short(first)} (deployed) · bm2 runs ${short(first)} (deployed).`);
    // One progress line naming each server's step.
    const progress = seen.filter((t) => t.startsWith(`Deploying ${short(first)} to web: `));
    assert.ok(progress.some((t) => /bm1: .+ · bm2: /.test(t)), `no per-server progress line: ${seen.join(' | ')}`);
    t.diagnostic(`progress: ${progress.join(' | ')}`);
    // The canary alone first (batch 1), bm2 waiting for its batch; then bm2's own steps.
    assert.ok(progress.some((t) => /bm1: (?!waiting|connected).+ · bm2: waiting for batch 2$/.test(t)), `bm1 was never seen alone: ${progress.join(' | ')}`);
    assert.ok(progress.some((t) => /bm1: done · bm2: (?!waiting).+/.test(t)), `bm2's own steps never showed: ${progress.join(' | ')}`);

    await expectGroup(`2 servers · ${short(first)} on all`, { bm1: `connected · ${short(first)} running`, bm2: `connected · ${short(first)} running` });
    await wb.row('Commits', `${short(first)} first version`, /^on web · /).waitFor({ timeout: 20_000 });
    for (const s of SERVERS) assert.equal(await servedCommit(server(s).host, ws.port), first, `${s} serves ${short(first)}`);
    // No default server: the status bar speaks for all of them, HEAD running on both.
    await waitFor('the status bar for all servers', async () => (await wb.statusBarTexts()).find((t) => t.startsWith(`${ws.app}@all ${short(first)}|`)), 20_000);
  });

  it('a commit that fails on bm2 after bm1 moved: each server named with what it runs, and Roll Back Moved Servers puts bm1 back', { timeout: TEST_TIMEOUT }, async () => {
    const bad = await ws.commit('fails on bm2', { 'start.sh': failingStart });
    await deployToGroup(bad, 'fails on bm2', 'web');
    const { outcome } = await wb.watchToasts(`Deployed ${short(bad)}`, 200_000);
    assert.equal(outcome.error, true, outcome.message);
    assert.match(outcome.message, new RegExp(`^The deploy of ${short(bad)} \\(fails on bm2\\) to web failed: bm1 runs ${short(bad)} \\(deployed\\) · bm2 runs ${short(first)} \\(failed: .+\\)\\.`));
    // Mixed, as the group's line says, until the button is pressed.
    await expectGroup(`mixed: bm1 ${short(bad)}, bm2 ${short(first)}`, { bm1: `connected · ${short(bad)} running`, bm2: `connected · ${short(first)} running` });
    assert.equal(await servedCommit(server('bm1').host, ws.port), bad);
    await waitFor('the status bar saying mixed', async () => (await wb.statusBarTexts()).find((t) => new RegExp(`^${ws.app}@all\\s+mixed\\|`).test(t)), 20_000);

    await wb.page.locator('.notification-toast .monaco-button', { hasText: 'Roll Back Moved Servers' }).click();
    const back = await wb.watchToasts('Rolled back to bm1', 120_000);
    assert.equal(back.outcome.error, false, back.outcome.message);
    assert.equal(back.outcome.message, `Rolled back to bm1: bm1 runs ${short(first)} (put back).`);
    await expectGroup(`2 servers · ${short(first)} on all`, { bm1: `connected · ${short(first)} running`, bm2: `connected · ${short(first)} running` });
    for (const s of SERVERS) assert.equal(await servedCommit(server(s).host, ws.port), first, `${s} serves ${short(first)} again`);
  });

  it("the rocket on the group's line deploys HEAD to both servers, without asking", { timeout: TEST_TIMEOUT }, async () => {
    const fixed = await ws.commit('fixed', { 'start.sh': failingStart.replace('[ -n "$FAIL_HERE" ]', '[ -n "$NEVER_SET" ]') });
    await wb.row('Commits', `${short(fixed)} fixed`).waitFor({ timeout: 20_000 });
    await wb.page.keyboard.press('Escape');
    const web = wb.row('Servers', /^web$/);
    await web.hover();
    await web.locator('.action-label[aria-label="Deploy HEAD"]').click();
    // The group's own button: no question of where.
    const [{ outcome }] = await Promise.all([wb.watchToasts('Deployed ', 200_000), wb.expectNotAsked('Deploy HEAD to which group or server?')]);
    assert.equal(outcome.message, `Deployed ${short(fixed)} (fixed) to web: bm1 runs ${short(fixed)} (deployed) · bm2 runs ${short(fixed)} (deployed).`);
    await expectGroup(`2 servers · ${short(fixed)} on all`, { bm1: `connected · ${short(fixed)} running`, bm2: `connected · ${short(fixed)} running` });
    for (const s of SERVERS) assert.equal(await servedCommit(server(s).host, ws.port), fixed, `${s} serves ${short(fixed)}`);
  });

  it('Roll Back… from the palette, on the group: each server back on its previous deploy', { timeout: TEST_TIMEOUT }, async () => {
    await wb.runCommand('Bare Metal: Roll Back…');
    const pick = (label: string) => wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ has: wb.page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
    await pick('web').click();
    await pick('Previous deploy').click();
    const { outcome } = await wb.watchToasts('Rolled back ', 120_000);
    assert.equal(outcome.message, `Rolled back to web: bm1 runs ${short(first)} (put back) · bm2 runs ${short(first)} (put back).`);
    await expectGroup(`2 servers · ${short(first)} on all`, { bm1: `connected · ${short(first)} running`, bm2: `connected · ${short(first)} running` });
    for (const s of SERVERS) assert.equal(await servedCommit(server(s).host, ws.port), first, `${s} serves ${short(first)}`);
  });
});
