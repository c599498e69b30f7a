/**
 * Two deploys of one app start together on a server where a dead client left its lock (its lease
 * run out, its attempt named in it): one takes the lock over, the other waits its turn, and the
 * dead client's attempt is recorded once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { cli, onServer, workspaceTracker } from '../helpers/world';

const tracker = workspaceTracker();
after(tracker.cleanup);

test('two deploys racing on a stale lock: both run, one after the other, the dead attempt recorded once', async () => {
  const ws = await tracker.make({ prefix: 'lk' });
  after(() => onServer('bm1', ['rm', '-rf', `/root/.baremetal/${ws.app}`]));
  const commit = (await ws.git('rev-parse', 'HEAD')).trim();
  const id = `dead-${randomBytes(4).toString('hex')}`;
  const started = new Date(Date.now() - 120_000).toISOString();
  const attempt = { id, kind: 'deploy', app: ws.app, server: 'bm1', commit, subject: 'first version', author: 'Carol', image: '', tag: '', who: 'carol@gone', startedAt: started, finishedAt: started, result: 'failed', bytesSent: 0, phasesMs: {} };
  const lock = JSON.stringify({ token: 'stale0', owner: 'carol@gone', operation: 'deploy', acquiredAt: started, expiresAt: new Date(Date.now() - 60_000).toISOString(), attempt });
  await onServer('bm1', ['sh', '-c', 'mkdir -p "$(dirname "$1")" && printf %s "$2" > "$1"', 'sh', `/root/.baremetal/${ws.app}/lock`, lock]);

  const [a, b] = await Promise.all([cli(['deploy', '--wait'], { cwd: ws.dir }), cli(['deploy', '--wait'], { cwd: ws.dir })]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const h = await cli(['history', '--json'], { cwd: ws.dir });
  const records = h.json as { id: string; result: string }[];
  assert.equal(records.filter((r) => r.id === id).length, 1, "the dead client's attempt is in the history once");
  assert.deepEqual(records.filter((r) => r.id !== id).map((r) => r.result), ['succeeded', 'succeeded']);
});
