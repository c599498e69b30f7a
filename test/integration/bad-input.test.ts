/**
 * Every bad input gets one clear sentence, a non-zero exit, and the version deployed before it
 * keeps serving. One healthy deploy is made first; each test then tries to break it.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, errorLine, onServer, removeTestApp, server, servedCommit, type Workspace, makeWorkspace } from '../helpers/world';

let ws: Workspace;
let good: string;
const bm1 = server('bm1');
const made: Workspace[] = [];
/** A workspace of this file's, removed (apps, history, folder) in after(). */
async function workspace(opts?: Parameters<typeof makeWorkspace>[0]): Promise<Workspace> {
  const w = await makeWorkspace(opts);
  made.push(w);
  return w;
}

before(async () => {
  ws = await workspace();
  good = (await ws.git('rev-parse', 'HEAD')).trim();
  const r = await cli(['deploy'], { cwd: ws.dir });
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  for (const w of made) await removeTestApp(w);
});


async function stillServesGood(): Promise<void> {
  assert.equal(await servedCommit(bm1.host, ws.port), good, 'the previous version keeps serving');
}

test('a malformed baremetal.json names file, line and column', async () => {
  const broken = '{\n  "app": "x",\n  "servers": { "bm1": { "host": "bm1" } }\n  "keep": 3\n}\n';
  const dir = ws.dir;
  const original = await ws.git('show', 'HEAD:baremetal.json');
  await writeFile(join(dir, 'baremetal.json'), broken);
  try {
    const r = await cli(['deploy'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(errorLine(r.stderr), /baremetal\.json:4:3: .*(comma|,)/i);
  } finally {
    await writeFile(join(dir, 'baremetal.json'), original);
  }
  await stillServesGood();
});

test('an invalid value says what was expected', async () => {
  const original = await ws.git('show', 'HEAD:baremetal.json');
  await writeFile(join(ws.dir, 'baremetal.json'), original.replace(`"${ws.port}:8080"`, '"eighty"'));
  try {
    const r = await cli(['deploy'], { cwd: ws.dir });
    assert.equal(r.code, 1);
    assert.match(errorLine(r.stderr), /baremetal\.json:\d+:\d+: run\.ports\[0\].*8080:8080/);
  } finally {
    await writeFile(join(ws.dir, 'baremetal.json'), original);
  }
});

test('an unknown server name lists the known ones', async () => {
  const r = await cli(['deploy', '--server', 'prod'], { cwd: ws.dir });
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /No server named "prod".*known servers: bm1/);
});

test('a commit that does not exist', async () => {
  const r = await cli(['deploy', '--commit', 'no-such-branch'], { cwd: ws.dir });
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /commit "no-such-branch" does not exist/);
  await stillServesGood();
});

test('a missing Dockerfile', async () => {
  await ws.git('rm', '-q', 'Dockerfile');
  const sha = await ws.commit('drop the Dockerfile');
  const r = await cli(['deploy', '--json'], { cwd: ws.dir });
  await ws.git('revert', '--no-edit', sha);
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /There is no Dockerfile in commit [0-9a-f]{12}/);
  assert.equal((r.json as { result: string }).result, 'failed');
  await stillServesGood();
});

test('a failing build step is shown', async () => {
  const dockerfile = await ws.git('show', 'HEAD:Dockerfile');
  const sha = await ws.commit('break the build', { Dockerfile: `${dockerfile}\nRUN echo compiling && exit 3\n` });
  const r = await cli(['deploy'], { cwd: ws.dir });
  await ws.git('revert', '--no-edit', sha);
  assert.equal(r.code, 1);
  // BuildKit (the default builder today) says "exit code: 3"; the legacy builder "returned a non-zero code: 3".
  assert.match(errorLine(r.stderr), /The image build failed at "RUN echo compiling && exit 3".*(exit code: 3|returned a non-zero code: 3)/);
  await stillServesGood();
});

test('a sick container is removed and the previous one serves again', async () => {
  const sha = await ws.commit('crash on start', { 'start.sh': '#!/bin/sh\necho "fatal: cannot open database" >&2\nexit 1\n' });
  const r = await cli(['deploy', '--json'], { cwd: ws.dir });
  await ws.git('revert', '--no-edit', sha);
  assert.equal(r.code, 1);
  assert.equal((r.json as { result: string }).result, 'failed');
  assert.match(errorLine(r.stderr), /The new container .*(exited|restarting).*The previous version keeps serving\./);
  assert.match(r.stderr, /fatal: cannot open database/, "the new container's last lines are shown");
  await stillServesGood();
  const containers = (await onServer('bm1', ['docker', 'ps', '-aq', '--filter', `label=dev.baremetal.app=${ws.app}`])).split('\n').filter(Boolean);
  assert.equal(containers.length, 1, 'the sick container is gone');
  const h = await cli(['history', '--json'], { cwd: ws.dir });
  const [latest] = h.json as { result: string; reason: string; commit: string }[];
  assert.equal(latest.commit, sha);
  assert.equal(latest.result, 'failed');
});

test('an app that answers 404 fails its health check', async () => {
  const sha = await ws.commit('serve nothing', { 'start.sh': '#!/bin/sh\nmkdir -p /empty\nexec busybox httpd -f -p 8080 -h /empty\n' });
  const r = await cli(['deploy'], { cwd: ws.dir });
  await ws.git('revert', '--no-edit', sha);
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /not healthy within 10s: GET \/ answered HTTP 404.*previous version keeps serving/);
  await stillServesGood();
});

test('a port taken by another program on the server', async () => {
  const other = await workspace({ run: {} });
  // The same host port as the running app, from another app: it cannot start.
  const cfg = JSON.parse(await other.git('show', 'HEAD:baremetal.json')) as { run: { ports: string[] } };
  cfg.run.ports = [`${ws.port}:8080`];
  await other.writeConfig(cfg);
  await other.commit('clash');
  const r = await cli(['deploy'], { cwd: other.dir });
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), new RegExp(`Port ${ws.port} on the server is already in use`));
  await stillServesGood();
});

test('a lock held by someone else is named; --wait waits for it', async () => {
  const lock = JSON.stringify({
    token: 'abc',
    owner: 'alice@laptop',
    operation: 'deploy',
    acquiredAt: new Date(Date.now() - 42_000).toISOString(),
    expiresAt: new Date(Date.now() + 3_000).toISOString(),
  });
  // Written on the server itself, as another client would have left it.
  await onServer('bm1', ['sh', '-c', 'mkdir -p "$(dirname "$1")" && printf %s "$2" > "$1"', 'sh', `/root/.baremetal/${ws.app}/lock`, lock]);
  const refused = await cli(['deploy'], { cwd: ws.dir });
  assert.equal(refused.code, 1);
  assert.match(errorLine(refused.stderr), /A deploy of .* by alice@laptop has been running for 4\ds.*--wait/);

  // The lease runs out after 3 s (its client "crashed"): --wait gets the lock then.
  const waited = await cli(['deploy', '--wait'], { cwd: ws.dir });
  assert.equal(waited.code, 0, waited.stderr);
  assert.match(waited.stderr, /Waiting for alice@laptop's deploy to finish/);
  good = (await ws.git('rev-parse', 'HEAD')).trim();
  await stillServesGood();
});

test('rollback with nothing to roll back to', async () => {
  const fresh = await workspace();
  const r = await cli(['rollback'], { cwd: fresh.dir });
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /no earlier successful deploy/);
});
