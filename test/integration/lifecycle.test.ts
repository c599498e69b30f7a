/**
 * Around the loop: pruning keeps rollback targets and says when one is gone; secrets reach the
 * container and nothing else; Ctrl-C leaves the previous version serving; --allow-dirty.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, fetchPage, onServer, server, servedCommit, errorLine, workspaceTracker } from '../helpers/world';

const bm1 = server('bm1');
const tracker = workspaceTracker();
const workspace = tracker.make;
after(tracker.cleanup);


test('images beyond "keep" are pruned, never the running one; a pruned rollback target names the redeploy command', async () => {
  const ws = await workspace({ extra: { keep: 2 } });
  const shas = [(await ws.git('rev-parse', 'HEAD')).trim()];
  for (const n of [2, 3]) shas.push(await ws.commit(`version ${n}`, { 'www/n.txt': `${n}\n` }));
  for (const sha of shas) {
    const r = await cli(['deploy', '--commit', sha], { cwd: ws.dir });
    assert.equal(r.code, 0, r.stderr);
  }
  const tags = (await onServer('bm1', ['docker', 'images', '--format', '{{.Tag}}', ws.app])).split('\n').filter(Boolean).sort();
  assert.deepEqual(tags, [shas[1], shas[2]].sort());

  const gone = await cli(['rollback', '--to', shas[0].slice(0, 10)], { cwd: ws.dir });
  assert.equal(gone.code, 1);
  assert.match(errorLine(gone.stderr), new RegExp(`image of ${shas[0].slice(0, 12)} is no longer on bm1 .*baremetal deploy --commit ${shas[0].slice(0, 12)}`));
  assert.equal(await servedCommit(bm1.host, ws.port), shas[2]);

  const back = await cli(['rollback'], { cwd: ws.dir });
  assert.equal(back.code, 0, back.stderr);
  assert.equal(await servedCommit(bm1.host, ws.port), shas[1]);
});

test('a secret reaches the container, but not labels, history or output', async () => {
  const secret = 'pa55-w0rd-never-logged';
  const ws = await workspace({ run: { secrets: ['DB_PASSWORD'] } });
  await writeFile(join(ws.dir, '.gitignore'), '.baremetal.secrets\n');
  await ws.commit('ignore secrets file', {
    'start.sh': '#!/bin/sh\necho "db password is $DB_PASSWORD"\nexec busybox httpd -f -v -p 8080 -h /www\n',
  });
  const missing = await cli(['deploy'], { cwd: ws.dir });
  assert.equal(missing.code, 1);
  assert.match(errorLine(missing.stderr), /Secret "DB_PASSWORD" has no value: set it in the environment or in \.baremetal\.secrets/);

  await writeFile(join(ws.dir, '.baremetal.secrets'), `DB_PASSWORD=${secret}\n`);
  const r = await cli(['deploy', '--json', '--verbose'], { cwd: ws.dir });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'not in the CLI output');

  const id = (await onServer('bm1', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${ws.app}`])).trim();
  assert.match(await onServer('bm1', ['docker', 'exec', id, 'sh', '-c', 'echo "$DB_PASSWORD"']), new RegExp(secret));
  const labels = await onServer('bm1', ['docker', 'inspect', '--format', '{{json .Config.Labels}}', id]);
  assert.ok(!labels.includes(secret), 'not in labels');
  const journal = await onServer('bm1', ['cat', `/root/.baremetal/${ws.app}/history.jsonl`]);
  assert.ok(!journal.includes(secret), 'not in the history');
  const logs = await cli(['logs'], { cwd: ws.dir });
  assert.match(logs.stdout, /db password is \*\*\*/, 'redacted in logs shown by the CLI');
});

test('Ctrl-C during a deploy leaves the previous version serving and the lock free', async () => {
  const ws = await workspace();
  const first = (await ws.git('rev-parse', 'HEAD')).trim();
  assert.equal((await cli(['deploy'], { cwd: ws.dir })).code, 0);
  const dockerfile = await ws.git('show', 'HEAD:Dockerfile');
  await ws.commit('slow build', { Dockerfile: `${dockerfile}\nRUN sleep 30\n` });
  const started = Date.now();
  const r = await cli(['deploy'], { cwd: ws.dir, signalAfterMs: 2500 });
  assert.equal(r.code, 1);
  assert.ok(Date.now() - started < 15_000, 'the build really stopped');
  assert.match(errorLine(r.stderr), /[Cc]ancel/);
  assert.equal(await servedCommit(bm1.host, ws.port), first);
  const h = await cli(['history', '--json'], { cwd: ws.dir });
  assert.equal((h.json as { result: string }[])[0].result, 'cancelled');
  // The lock was released: a new deploy (of the good commit) goes through at once.
  const again = await cli(['deploy', '--commit', first], { cwd: ws.dir });
  assert.equal(again.code, 0, again.stderr);
});

test('uncommitted changes are left out unless --allow-dirty, whose tag says so', async () => {
  const ws = await workspace();
  const head = (await ws.git('rev-parse', 'HEAD')).trim();
  await writeFile(join(ws.dir, 'www', 'index.html'), '<p>work in progress</p>\n');
  const clean = await cli(['deploy', '--json'], { cwd: ws.dir });
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stderr, /uncommitted change\(s\) are not part of this deploy/);
  assert.equal(await servedCommit(bm1.host, ws.port), head);

  const dirty = await cli(['deploy', '--allow-dirty', '--json'], { cwd: ws.dir });
  assert.equal(dirty.code, 0, dirty.stderr);
  assert.match((dirty.json as { tag: string }).tag, new RegExp(`^${head.slice(0, 12)}-dirty-[0-9a-f]+$`));
  const { body } = await fetchPage(bm1.host, ws.port);
  assert.match(body, /work in progress/);
});
