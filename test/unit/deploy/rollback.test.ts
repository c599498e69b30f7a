import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { appendJournal, readJournal, type DeployRecord } from '../../../src/core/deploy/journal';
import { LABEL } from '../../../src/core/deploy/labels';
import { acquireLock } from '../../../src/core/deploy/lock';
import { chooseRollbackTarget, rollback, type RollbackDeps } from '../../../src/core/deploy/rollback';
import type { DeployResult } from '../../../src/core/deploy/deploy';
import type { BmError } from '../../../src/core/errors';
import { FakeEngine } from '../fakes/engine';
import { MemoryFiles } from '../fakes/files';
import { CollectingLogger, collectProgress } from '../fakes/logger';
import { rec } from '../fakes/records';
import { makeConfig, makeServer, port } from '../fakes/world';

describe('chooseRollbackTarget', () => {
  const [a, b, c] = [rec('a'), rec('b'), rec('c')];

  test('default: the newest successful deploy that is not the current one', () => {
    const failed = rec('f', { result: 'failed' });
    assert.equal(chooseRollbackTarget([a, b, c, failed], c, undefined, 'web'), b);
  });

  test('default skips redeploys of the current commit and other apps', () => {
    const cAgain = { ...rec('c2'), commit: c.commit, tag: c.tag };
    const otherApp = rec('api', { app: 'api' });
    assert.equal(chooseRollbackTarget([a, b, c, otherApp, cAgain], cAgain, undefined, 'web'), b);
  });

  test('with nothing running (no current record), the newest successful deploy', () => {
    assert.equal(chooseRollbackTarget([a, b, c], undefined, undefined, 'web'), c);
  });

  test('--to picks a deploy by sha prefix, case-insensitive, or by exact tag', () => {
    assert.equal(chooseRollbackTarget([a, b, c], c, a.commit.slice(0, 7), 'web'), a);
    assert.equal(chooseRollbackTarget([a, b, c], c, a.commit.slice(0, 9).toUpperCase(), 'web'), a);
    assert.equal(chooseRollbackTarget([a, b, c], c, b.commit, 'web'), b);
    const dirty = rec('d', { tag: 'abc123def456-dirty-0a1b2c3d' });
    assert.equal(chooseRollbackTarget([a, dirty, c], c, 'abc123def456-dirty-0a1b2c3d', 'web'), dirty);
  });

  test('--to of an unknown commit (or only a failed deploy of it): NothingToRollBack', () => {
    const failed = rec('f', { result: 'failed' });
    for (const to of ['deadbeef', failed.commit.slice(0, 8)]) {
      assert.throws(() => chooseRollbackTarget([a, b, failed], b, to, 'web'), (e: BmError) => {
        assert.equal(e.code, 'NothingToRollBack');
        assert.equal(
          e.message,
          `No successful deploy of commit "${to}" is in this server's history: see "baremetal history", or deploy it with "baremetal deploy --commit ${to}".`,
        );
        return true;
      });
    }
  });

  test('only one deploy (or none): NothingToRollBack', () => {
    for (const [h, cur] of [[[a], a], [[], undefined], [[a, rec('f', { result: 'failed' })], a]] as [DeployRecord[], DeployRecord | undefined][]) {
      assert.throws(() => chooseRollbackTarget(h, cur, undefined, 'web'), {
        code: 'NothingToRollBack',
        message: 'There is no earlier successful deploy on this server to roll back to.',
      });
    }
  });
});

/** A server where A then B were deployed; B runs. */
async function world() {
  const engine = new FakeEngine();
  const files = new MemoryFiles();
  const [a, b] = [rec('a'), rec('b')];
  for (const r of [a, b]) {
    engine.addImage(`web:${r.tag}`, { [LABEL.app]: 'web', [LABEL.commit]: r.commit }, r.image);
    await appendJournal(files, '.baremetal', r);
  }
  const running = engine.seed({ name: 'web-b', image: `web:${b.tag}`, labels: { [LABEL.app]: 'web', [LABEL.deployId]: b.id }, ports: [port(8080, 80)] });
  const deps: RollbackDeps = {
    config: makeConfig(),
    server: makeServer(engine, files),
    serverName: 'prod',
    secrets: {},
    logger: new CollectingLogger(),
    progress: collectProgress(),
    who: 'carol@ci',
  };
  return { engine, files, a, b, running, deps };
}

describe('rollback()', () => {
  test('starts the kept image of the previous deploy, records a rollback with 0 bytes sent', async () => {
    const { engine, files, a, b, running, deps } = await world();
    const r = await rollback(deps);
    assert.equal(r.kind, 'rollback');
    assert.equal(r.result, 'succeeded');
    assert.equal(r.commit, a.commit);
    assert.equal(r.bytesSent, 0);
    assert.equal(r.transport, 'none');
    assert.equal(r.error, undefined);

    const runs = engine.running();
    assert.equal(runs.length, 1);
    assert.equal(runs[0].spec.image, `web:${a.tag}`);
    assert.equal(runs[0].spec.labels[LABEL.deployId], r.id);
    assert.equal(await engine.container(running.id), undefined, "B's container is gone");

    const h = await readJournal(files, '.baremetal', 'web');
    assert.deepEqual(h.slice(0, 2).map((x) => x.id), [a.id, b.id]);
    const last = h[2];
    assert.equal(last.id, r.id);
    assert.equal(last.kind, 'rollback');
    assert.equal(last.result, 'succeeded');
    assert.equal(last.commit, a.commit);
    assert.equal(last.subject, a.subject);
    assert.equal(last.bytesSent, 0);
    assert.equal(last.who, 'carol@ci');
    assert.equal(last.image, a.image);
    assert.equal(last.reason, undefined);
    assert.equal(files.files.has('.baremetal/web/lock'), false, 'the lock is released');
  });

  test('a second rollback goes back to B (the rollback record is now current)', async () => {
    const { engine, a, b, deps } = await world();
    const first = await rollback(deps);
    assert.equal(first.commit, a.commit);
    const second = await rollback(deps);
    assert.equal(second.commit, b.commit);
    assert.equal(engine.running()[0].spec.image, `web:${b.tag}`);
  });

  test('--to a commit by its short sha', async () => {
    const { engine, a, deps } = await world();
    const c = rec('c');
    engine.addImage(`web:${c.tag}`, { [LABEL.app]: 'web' }, c.image);
    await appendJournal(deps.server.files, '.baremetal', c);
    const r = await rollback(deps, { to: a.commit.slice(0, 8) });
    assert.equal(r.commit, a.commit, 'A, not B (the default would be B)');
    assert.equal(engine.running()[0].spec.image, `web:${a.tag}`);
  });

  test('the image was pruned: ImagePruned naming the deploy command to run, nothing recorded', async () => {
    const { engine, files, a, running, deps } = await world();
    await engine.removeImage(`web:${a.tag}`);
    await assert.rejects(rollback(deps), (e: BmError) => {
      assert.equal(e.code, 'ImagePruned');
      assert.equal(
        e.message,
        `The image of ${a.commit.slice(0, 12)} is no longer on prod (pruned; "keep" is 5): redeploy that commit with "baremetal deploy --commit ${a.commit.slice(0, 12)}".`,
      );
      return true;
    });
    assert.equal((await readJournal(files, '.baremetal', 'web')).length, 2);
    assert.equal((await engine.container(running.id))?.state, 'running');
    assert.equal(files.files.has('.baremetal/web/lock'), false);
  });

  test('a rollback whose container fails: recorded as failed, B still serving, error carries the result', async () => {
    const { engine, files, a, running, deps } = await world();
    engine.behave(`web:${a.tag}`, { onStart: (c) => Object.assign(c, { state: 'exited', exitCode: 1 }) });
    const err = await rollback(deps).then(() => assert.fail('rolled back'), (e: BmError & { result?: DeployResult }) => e);
    assert.equal(err.code, 'HealthCheckFailed');
    assert.equal(err.result?.result, 'failed');
    assert.equal(err.result?.kind, 'rollback');
    const last = (await readJournal(files, '.baremetal', 'web')).at(-1)!;
    assert.equal(last.kind, 'rollback');
    assert.equal(last.result, 'failed');
    assert.equal(last.reason, err.message);
    assert.equal((await engine.container(running.id))?.state, 'running');
  });

  test('while a deploy holds the lock: LockHeld, nothing changes', async () => {
    const { engine, files, running, deps } = await world();
    await acquireLock(files, '.baremetal', 'web', { owner: 'alice@laptop', operation: 'deploy' });
    const before = files.files.get('.baremetal/web/history.jsonl');
    await assert.rejects(rollback(deps), { code: 'LockHeld' });
    assert.equal(files.files.get('.baremetal/web/history.jsonl'), before);
    assert.deepEqual(engine.running().map((c) => c.id), [running.id]);
  });
});
