/**
 * The end-to-end deploy loop on a real test server: examples/hello deployed at two commits,
 * fetched from the server after each, rolled back, fetched again, and the history checked. What
 * each step sent is also counted on the server's link (its veth), not only by the tool.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { checkAgainstTool, KiB, metered, size } from '../helpers/link-meter';
import { cli, onServer, server, servedCommit, workspaceTracker, type Workspace } from '../helpers/world';

const bm1 = server('bm1');
const tracker = workspaceTracker();
after(tracker.cleanup);

/** A deploy or rollback with no image to send still talks: SSH, the engine's API, the health check, the history. */
const NO_IMAGE = 200 * KiB;

interface DeployJson {
  commit: string;
  server: string;
  image: string;
  bytesSent: number;
  durationMs: number;
  result: string;
}
interface HistoryJson {
  commit: string;
  result: string;
  startedAt: string;
  current: boolean;
  kind: string;
}

test('deploy, redeploy, roll back, and the history says so; the link carries what the tool says', async () => {
  const ws = await tracker.make();
  // A layer of its own (random, so no server has it): the first deploy has something to send
  // even where the base image's layer is already on bm1 (other apps, other runs).
  const first = await ws.commit('first version', {
    'data/blob.txt': randomBytes(500_000).toString('hex'),
    Dockerfile: (await ws.git('show', 'HEAD:Dockerfile')).replace('COPY www /www', 'COPY data /data\nCOPY www /www'),
  });
  const { result: d1, link: l1 } = await metered('bm1', () => cli(['deploy', '--json'], { cwd: ws.dir }));
  assert.equal(d1.code, 0, d1.stderr);
  const r1 = d1.json as DeployJson;
  assert.equal(r1.result, 'succeeded');
  assert.equal(r1.commit, first);
  assert.equal(r1.server, 'bm1');
  assert.match(r1.image, /^sha256:[0-9a-f]{64}$/);
  assert.ok(r1.bytesSent > 400_000, `the first deploy sends the image (${r1.bytesSent} bytes)`);
  assert.equal(checkAgainstTool(l1, r1.bytesSent, 'the first deploy'), undefined);
  assert.equal(await servedCommit(bm1.host, ws.port), first);

  // One new file: the link carries one small layer and the config, not the image again.
  const second = await ws.commit('second version', { 'www/extra.html': '<p>new page</p>\n' });
  const { result: d2, link: l2 } = await metered('bm1', () => cli(['deploy', '--json'], { cwd: ws.dir }));
  assert.equal(d2.code, 0, d2.stderr);
  assert.equal((d2.json as DeployJson).commit, second);
  assert.equal(checkAgainstTool(l2, (d2.json as DeployJson).bytesSent, 'the one-file redeploy'), undefined);
  assert.ok(l2.toServer < 400 * KiB, `the one-file redeploy carried ${size(l2.toServer)} to the server (the first deploy: ${size(l1.toServer)})`);
  assert.equal(await servedCommit(bm1.host, ws.port), second);

  // Only one container of the app remains on the server after a healthy swap.
  const running = (await onServer('bm1', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${ws.app}`])).split('\n').filter(Boolean);
  assert.equal(running.length, 1);

  const { result: rb, link: l3 } = await metered('bm1', () => cli(['rollback', '--json'], { cwd: ws.dir }));
  assert.equal(rb.code, 0, rb.stderr);
  const r3 = rb.json as DeployJson;
  assert.equal(r3.commit, first);
  assert.equal(r3.bytesSent, 0, 'a rollback sends nothing');
  assert.ok(l3.toServer < NO_IMAGE, `the rollback carried ${size(l3.toServer)} to the server: no image (the first deploy: ${size(l1.toServer)})`);
  assert.equal(await servedCommit(bm1.host, ws.port), first);

  const h = await cli(['history', '--json'], { cwd: ws.dir });
  assert.equal(h.code, 0, h.stderr);
  const entries = h.json as HistoryJson[];
  assert.deepEqual(
    entries.map((e) => [e.kind, e.commit, e.result, e.current]),
    [
      ['rollback', first, 'succeeded', true],
      ['deploy', second, 'succeeded', false],
      ['deploy', first, 'succeeded', false],
    ],
  );
  for (const e of entries) assert.ok(!Number.isNaN(Date.parse(e.startedAt)) && e.startedAt.endsWith('Z'));

  // Rolling forward by commit works the same way, again with nothing sent.
  const { result: fwd, link: l4 } = await metered('bm1', () => cli(['rollback', '--to', second.slice(0, 8), '--json'], { cwd: ws.dir }));
  assert.equal(fwd.code, 0, fwd.stderr);
  assert.equal(await servedCommit(bm1.host, ws.port), second);
  assert.ok(l4.toServer < NO_IMAGE, `the roll forward carried ${size(l4.toServer)} to the server`);

  // Redeploying a commit the server already has sends no image bytes.
  const { result: again, link: l5 } = await metered('bm1', () => cli(['deploy', '--commit', first, '--json'], { cwd: ws.dir }));
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.json as DeployJson).bytesSent, 0);
  assert.ok(l5.toServer < NO_IMAGE, `the redeploy of a commit the server has carried ${size(l5.toServer)} to the server`);
  console.log(`# bm1's link, to the server: first deploy ${size(l1.toServer)} (tool: ${size(r1.bytesSent)}), one-file redeploy ${size(l2.toServer)} (tool: ${size((d2.json as DeployJson).bytesSent)}), rollback ${size(l3.toServer)}, roll forward ${size(l4.toServer)}, redeploy of a commit there ${size(l5.toServer)}`);
  assert.equal(await servedCommit(bm1.host, ws.port), first);
});

describe('an app that runs', () => {
  // Deployed here, not by an earlier test: these tests only look at it.
  let ws: Workspace;
  let deployedCommit: string;
  before(async () => {
    ws = await tracker.make();
    deployedCommit = (await ws.git('rev-parse', 'HEAD')).trim();
    const d = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(d.code, 0, d.stderr);
  });

  test('status and logs show what runs', async () => {
    const st = await cli(['status', '--server', 'bm1', '--json'], { cwd: ws.dir });
    assert.equal(st.code, 0, st.stderr);
    const s = st.json as { state: string; commit: string; uptimeSeconds: number };
    assert.equal(s.state, 'running');
    assert.equal(s.commit, deployedCommit);
    assert.ok(s.uptimeSeconds >= 0);

    await servedCommit(bm1.host, ws.port); // makes httpd log a request line
    const logs = await cli(['logs', '--tail', '50'], { cwd: ws.dir });
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout + logs.stderr, /hello: serving \/www on :8080 \(GREETING=hi\)/);
  });

  test('logs --follow streams new lines until interrupted', async () => {
    let seen = '';
    const follow = cli(['logs', '--follow', '--tail', '0'], {
      cwd: ws.dir,
      signalAfterMs: 4000,
      onStderr: (s) => (seen = s),
    });
    await new Promise((r) => setTimeout(r, 1500));
    await servedCommit(bm1.host, ws.port);
    const r = await follow;
    // busybox httpd -v logs each request to stderr: the request made while following arrives.
    assert.match(r.stderr + r.stdout + seen, /response:200/);
  });
});
