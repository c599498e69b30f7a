/**
 * An inline button acts on its own row, even while the view redraws. The Commits view's Deploy
 * is clicked again and again while git keeps touching the repository (a ref made and deleted
 * every 100 ms, as a fetch or a checkout in a terminal does: each makes the editor read the
 * commits again) and while each commit's "…s ago" changes every second. Every click must reach
 * its commit: VS Code asks where to deploy that commit, never "Deploy which commit?" (which it
 * asked when a click landed while the whole view was being refreshed). The workspace has two
 * servers, so the question of where comes first, and nothing is deployed: both point at a closed
 * port on this machine, no test server is reached.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeWorkspace, type Workspace } from '../helpers/world';
import { CodeServer, freePort, scratchDir } from './harness';
import { e2eSession, Workbench } from './workbench';

const session = e2eSession();
const short = (sha: string) => sha.slice(0, 7);
const CLICKS = 60;

describe("the Commits view's Deploy while the view redraws", () => {
  let ws: Workspace;
  let wb: Workbench;
  let first: string;

  before(async () => {
    const dir = scratchDir('nowhere');
    const sshConfig = join(dir, 'ssh_config');
    await writeFile(sshConfig, `Host nowhere-*\n  HostName 127.0.0.1\n  Port ${await freePort()}\n  User nobody\n  BatchMode yes\n`);
    ws = await makeWorkspace({ prefix: 'ia', servers: { a: { host: 'nowhere-a' }, b: { host: 'nowhere-b' } } });
    first = await ws.git('rev-parse', 'HEAD');
    const cs = await CodeServer.start({ name: 'inline', env: { BAREMETAL_SSH_CONFIG: sshConfig } });
    session.servers.push(cs);
    wb = await Workbench.open(session.browser(), cs.folderUrl(ws.dir));
    session.workbenches.push(wb);
    await wb.openBareMetal();
  });

  after(async () => {
    // Nothing was deployed anywhere: only the folder.
    if (ws) await rm(ws.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });

  it(`${CLICKS} clicks on a commit's Deploy while git touches the repository: each asks where to deploy that commit`, { timeout: 180_000 }, async (t) => {
    const row = wb.row('Commits', `${short(first)} first version`);
    await row.waitFor({ timeout: 30_000 });
    // The editor reads the repository again on each of these (its watcher on .git/refs).
    let touching = true;
    const toucher = (async () => {
      for (let i = 0; touching; i++) {
        await (i % 2 ? ws.git('update-ref', '-d', 'refs/bm-test/tick') : ws.git('update-ref', 'refs/bm-test/tick', 'HEAD'));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const asked: string[] = [];
    try {
      const quickInput = wb.page.locator('.quick-input-widget');
      const input = quickInput.locator('input');
      for (let i = 0; i < CLICKS; i++) {
        await wb.page.keyboard.press('Escape');
        await quickInput.waitFor({ state: 'hidden', timeout: 5_000 });
        await row.hover();
        await row.locator('.action-label[aria-label="Deploy"]').click();
        await quickInput.waitFor({ state: 'visible', timeout: 10_000 });
        asked.push((await input.getAttribute('placeholder')) ?? '');
      }
    } finally {
      touching = false;
      await toucher;
      await wb.page.keyboard.press('Escape');
    }
    t.diagnostic(`asked: ${[...new Set(asked)].map((q) => `"${q}" ×${asked.filter((a) => a === q).length}`).join(', ')}`);
    const lost = asked.filter((q) => q !== `Deploy ${short(first)} to which group or server?`);
    assert.deepEqual(lost, [], `${lost.length} of ${CLICKS} clicks reached the command without their commit`);
    // The view still follows the repository: a new commit shows up at the top.
    const next = await ws.commit('second version');
    await wb.row('Commits', `${short(next)} second version`).waitFor({ timeout: 20_000 });
  });
});
