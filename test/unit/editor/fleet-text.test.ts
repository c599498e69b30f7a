import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RolloutResult, ServerResult } from '../../../src/core/deploy/rollout';
import { asksForTargets, deployedOnNames, FleetProgress, groupDescription, movedBack, rolloutSummary, statusBarText, targetPicks, type Runs } from '../../../src/editor/fleet-text';

const A = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const B = 'e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3';
const on = (name: string, commit?: string): Runs => ({ name, known: true, ...(commit && { commit }) });
const unknown = (name: string): Runs => ({ name, known: false });

test("a group's line says which commit its servers run", () => {
  assert.equal(groupDescription([on('bm1', A), on('bm2', A)]), '2 servers · a1b2c3d on all');
  assert.equal(groupDescription([on('bm1', A), on('bm2', B)]), 'mixed: bm1 a1b2c3d, bm2 e4f5a6b');
  assert.equal(groupDescription([on('bm1', A), on('bm2')]), 'mixed: bm1 a1b2c3d, bm2 not deployed');
  assert.equal(groupDescription([on('bm1'), on('bm2')]), '2 servers · not deployed');
  assert.equal(groupDescription([on('stage1', A)]), '1 server · a1b2c3d on all');
  // Not "mixed" while a server has not answered: what is known, and a "?" for the rest.
  assert.equal(groupDescription([on('bm1', A), unknown('bm2')]), '2 servers · bm1 a1b2c3d, bm2 ?');
  assert.equal(groupDescription([unknown('bm1'), unknown('bm2')]), '2 servers · connecting…');
});

test('the Commits view names a group whose servers all run the commit, and the other servers', () => {
  const groups = { web: ['bm1', 'bm2'], staging: ['stage1'] };
  assert.deepEqual(deployedOnNames(['bm1', 'bm2'], groups), ['web']);
  assert.deepEqual(deployedOnNames(['bm1'], groups), ['bm1']);
  assert.deepEqual(deployedOnNames(['bm1', 'bm2', 'stage1'], groups), ['web', 'staging']);
  assert.deepEqual(deployedOnNames(['bm1', 'bm2', 'bm3'], groups), ['web', 'bm3']);
  assert.deepEqual(deployedOnNames(['bm1', 'bm2'], {}), ['bm1', 'bm2']);
  assert.deepEqual(deployedOnNames([], groups), []);
  // The larger group wins; a smaller one inside it is not named again.
  assert.deepEqual(deployedOnNames(['a', 'b', 'c'], { ab: ['a', 'b'], abc: ['a', 'b', 'c'] }), ['abc']);
});

const config = {
  servers: { bm1: { name: 'bm1', host: 'bm1' }, bm2: { name: 'bm2', host: 'bm2' } },
  groups: { web: { name: 'web', servers: ['bm1', 'bm2'] } },
} as never;

test('the targets pick: the group with what each server runs, all, then each server', () => {
  const runs = (n: string) => (n === 'bm1' ? on('bm1', A) : on('bm2', B));
  const picks = targetPicks(config, runs);
  assert.deepEqual(
    picks.map((p) => [p.label, p.target, p.description, p.detail]),
    [
      ['Groups', undefined, undefined, undefined],
      ['web', 'web', 'group of 2 servers', 'bm1: a1b2c3d · bm2: e4f5a6b'],
      ['Servers', undefined, undefined, undefined],
      ['all', 'all', 'every server: bm1, bm2', 'mixed: bm1 a1b2c3d, bm2 e4f5a6b'],
      ['bm1', 'bm1', 'bm1', 'runs a1b2c3d'],
      ['bm2', 'bm2', 'bm2', 'runs e4f5a6b'],
    ],
  );
});

test('one server and no groups: no pick; groups or several servers: a pick', () => {
  assert.equal(asksForTargets({ servers: { bm1: {} } } as never), false);
  assert.equal(asksForTargets({ servers: { bm1: {}, bm2: {} } } as never), true);
  assert.equal(asksForTargets({ servers: { bm1: {} }, groups: { web: { servers: ['bm1'] } } } as never), true);
});

test("one progress line: each server's current step, the fleet's own step first while it is the latest", () => {
  const p = new FleetProgress(['bm1', 'bm2']);
  assert.equal(p.text(), 'bm1: waiting · bm2: waiting');
  p.report('bm1', { phase: 'connect', message: 'Connecting to bm1' });
  assert.equal(p.report(undefined, { phase: 'build', message: 'Building a1b2c3d' }), 'Building a1b2c3d — bm1: connected · bm2: waiting');
  p.report('bm1', { phase: 'ship', message: 'Sending shop:a1b2c3d', bytes: 2 * 1048576 });
  assert.equal(p.report('bm2', { phase: 'health', message: '' }), 'bm1: Sending shop:a1b2c3d (2.0 MiB sent) · bm2: Checking health');
  // The image's full tag is cut to 12 hex digits: the line is shared by every server.
  assert.equal(p.report('bm2', { phase: 'start', message: `Starting shop:${A}` }), 'bm1: Sending shop:a1b2c3d (2.0 MiB sent) · bm2: Starting shop:a1b2c3d4e5f6');
});

test('in batches: once a batch starts, the earlier batches\' servers are done and the later ones wait for theirs', () => {
  const p = new FleetProgress(['bm1', 'bm2', 'bm3'], [['bm1'], ['bm2'], ['bm3']]);
  for (const n of ['bm1', 'bm2', 'bm3']) p.report(n, { phase: 'connect', message: `Connecting to ${n}` });
  assert.equal(p.report(undefined, { phase: 'build', message: 'Building a1b2c3d' }), 'Building a1b2c3d — bm1: connected · bm2: connected · bm3: connected');
  assert.equal(p.report('bm1', { phase: 'ship', message: 'Sending' }), 'bm1: Sending · bm2: waiting for batch 2 · bm3: waiting for batch 3');
  assert.equal(p.report('bm2', { phase: 'ship', message: 'Sending' }), 'bm1: done · bm2: Sending · bm3: waiting for batch 3');
  assert.equal(p.report('bm3', { phase: 'health', message: 'Checking health' }), 'bm1: done · bm2: done · bm3: Checking health');
});

const server = (s: Partial<ServerResult> & Pick<ServerResult, 'server' | 'outcome'>): ServerResult => ({ results: [], bytesSent: 0, durationMs: 0, ...s });
const rollout = (r: Partial<RolloutResult>): RolloutResult => ({ kind: 'deploy', target: 'web', result: 'succeeded', commit: B, subject: 'second', batches: [['bm1'], ['bm2']], servers: [], builds: 1, durationMs: 1, ...r });

test('the outcome per server at the end', () => {
  assert.equal(
    rolloutSummary(rollout({ servers: [server({ server: 'bm1', outcome: 'deployed', commit: B }), server({ server: 'bm2', outcome: 'deployed', commit: B })] })),
    'Deployed e4f5a6b (second) to web: bm1 runs e4f5a6b (deployed) · bm2 runs e4f5a6b (deployed).',
  );
  assert.equal(
    rolloutSummary(rollout({
      result: 'failed',
      servers: [
        server({ server: 'bm1', outcome: 'failed', commit: A, previousCommit: A, message: 'The new container keeps restarting (exit code 3); the previous version keeps serving.' }),
        server({ server: 'bm2', outcome: 'not-reached', commit: A, message: 'not reached: the rollout stopped after bm1 failed; it still runs a1b2c3d4e5f6' }),
      ],
    })),
    'The deploy of e4f5a6b (second) to web failed: bm1 runs a1b2c3d (failed: The new container keeps restarting (exit code 3); the previous version keeps serving) · bm2 runs a1b2c3d (not reached).',
  );
  assert.equal(rolloutSummary(rollout({ kind: 'rollback', servers: [server({ server: 'bm1', outcome: 'rolled-back', commit: A })] })), 'Rolled back to web: bm1 runs a1b2c3d (put back).');
});

test('Roll Back Moved Servers: the servers a failed deploy moved, by the commit each ran before', () => {
  const failed = rollout({
    result: 'failed',
    servers: [
      server({ server: 'bm1', outcome: 'deployed', commit: B, previousCommit: A }),
      server({ server: 'bm2', outcome: 'deployed', commit: B }), // nothing ran there before: it keeps the new commit
      server({ server: 'bm3', outcome: 'failed', commit: A, previousCommit: A }),
      server({ server: 'bm4', outcome: 'not-reached', commit: A, previousCommit: A }),
    ],
  });
  assert.deepEqual([...movedBack(failed)], [[A, ['bm1']]]);
  assert.deepEqual([...movedBack(rollout({ servers: [server({ server: 'bm1', outcome: 'deployed', commit: B, previousCommit: A })] }))], [], 'nothing to put back after a success');
});

test('the status bar: one server as before; a group by its name, one commit, mixed, or a server down', () => {
  const ahead = (sha: string) => (sha === A ? 2 : sha === B ? 0 : -1);
  const one = statusBarText('shop', 'bm1', [on('bm1', A)], ahead);
  assert.equal(one.text, '$(server-environment) shop@bm1 a1b2c3d $(arrow-up)2');
  assert.match(one.tooltip, /^shop on bm1: runs a1b2c3d4e5f6; HEAD is 2 commit\(s\) ahead\nClick for actions$/);
  assert.equal(statusBarText('shop', 'bm1', [on('bm1')], ahead).text, '$(server-environment) shop@bm1 (not deployed)');
  const down = statusBarText('shop', 'bm1', [{ name: 'bm1', known: false, problem: 'unreachable', why: 'bm1 (10.0.0.1:22) did not answer.' }], ahead);
  assert.equal(down.text, '$(server-environment) shop@bm1 $(warning) unreachable');
  assert.match(down.tooltip, /^shop on bm1: bm1 \(10\.0\.0\.1:22\) did not answer\./);

  const same = statusBarText('shop', 'web', [on('web1', B), on('web2', B)], ahead);
  assert.equal(same.text, '$(server-environment) shop@web e4f5a6b');
  assert.equal(same.tooltip, 'shop on web (web1, web2): all run e4f5a6b7c8d9 (HEAD)\nweb1: e4f5a6b\nweb2: e4f5a6b\nClick for actions');
  const mixed = statusBarText('shop', 'web', [on('web1', A), on('web2', B)], ahead);
  assert.equal(mixed.text, '$(server-environment) shop@web $(warning) mixed');
  assert.match(mixed.tooltip, /\nweb1: a1b2c3d\nweb2: e4f5a6b\n/);
  const half = statusBarText('shop', 'all', [on('web1', A), { name: 'web2', known: false, problem: 'unreachable', why: 'web2 did not answer.' }], ahead);
  assert.equal(half.text, '$(server-environment) shop@all a1b2c3d $(arrow-up)2 · 1 of 2 unreachable');
  assert.match(half.tooltip, /\nweb2: web2 did not answer\.\n/);
  // No commits known yet: no arrow, and no claim that it is HEAD.
  assert.equal(statusBarText('shop', 'bm1', [on('bm1', A)], () => undefined).tooltip, 'shop on bm1: runs a1b2c3d4e5f6\nClick for actions');
});
