/**
 * The end-to-end deploy loop on a real test server: examples/hello deployed at two commits,
 * fetched from the server after each, rolled back, fetched again, and the history checked.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cleanupApp, cli, makeWorkspace, onServer, server, servedCommit, type Workspace } from '../helpers/world';

let ws: Workspace;
const bm1 = server('bm1');

before(async () => {
  ws = await makeWorkspace();
});
after(async () => {
  await cleanupApp('bm1', ws.app);
});

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

test('deploy, redeploy, roll back, and the history says so', async () => {
  const first = (await ws.git('rev-parse', 'HEAD')).trim();
  const d1 = await cli(['deploy', '--json'], { cwd: ws.dir });
  assert.equal(d1.code, 0, d1.stderr);
  const r1 = d1.json as DeployJson;
  assert.equal(r1.result, 'succeeded');
  assert.equal(r1.commit, first);
  assert.equal(r1.server, 'bm1');
  assert.match(r1.image, /^sha256:[0-9a-f]{64}$/);
  assert.ok(r1.bytesSent > 100_000, `the first deploy sends the image (${r1.bytesSent} bytes)`);
  assert.equal(await servedCommit(bm1.host, ws.port), first);

  const second = await ws.commit('second version', { 'www/extra.html': '<p>new page</p>\n' });
  const d2 = await cli(['deploy', '--json'], { cwd: ws.dir });
  assert.equal(d2.code, 0, d2.stderr);
  assert.equal((d2.json as DeployJson).commit, second);
  assert.equal(await servedCommit(bm1.host, ws.port), second);

  // Only one container of the app remains on the server after a healthy swap.
  const running = (await onServer('bm1', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${ws.app}`])).split('\n').filter(Boolean);
  assert.equal(running.length, 1);

  const rb = await cli(['rollback', '--json'], { cwd: ws.dir });
  assert.equal(rb.code, 0, rb.stderr);
  const r3 = rb.json as DeployJson;
  assert.equal(r3.commit, first);
  assert.equal(r3.bytesSent, 0, 'a rollback sends nothing');
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
  const fwd = await cli(['rollback', '--to', second.slice(0, 8), '--json'], { cwd: ws.dir });
  assert.equal(fwd.code, 0, fwd.stderr);
  assert.equal(await servedCommit(bm1.host, ws.port), second);

  // Redeploying a commit the server already has sends no image bytes.
  const again = await cli(['deploy', '--commit', first, '--json'], { cwd: ws.dir });
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.json as DeployJson).bytesSent, 0);
  assert.equal(await servedCommit(bm1.host, ws.port), first);
});

test('status and logs show what runs', async () => {
  const st = await cli(['status', '--server', 'bm1', '--json'], { cwd: ws.dir });
  assert.equal(st.code, 0, st.stderr);
  const s = st.json as { state: string; commit: string; uptimeSeconds: number };
  assert.equal(s.state, 'running');
  assert.equal(s.commit, (await ws.git('rev-parse', 'HEAD~1')).trim());
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
