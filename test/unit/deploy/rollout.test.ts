import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/core/config/load';
import { resolveTargets } from '../../../src/core/config/fleet';
import type { Config } from '../../../src/core/config/types';
import { planBatches } from '../../../src/core/deploy/batches';
import { readJournal } from '../../../src/core/deploy/journal';
import { LABEL } from '../../../src/core/deploy/labels';
import { rolloutDeploy, rolloutRollback, type RolloutDeps } from '../../../src/core/deploy/rollout';
import { BmError } from '../../../src/core/errors';
import { FakeBuilder } from '../fakes/builder';
import { FakeEngine } from '../fakes/engine';
import { MemoryFiles } from '../fakes/files';
import { CollectingLogger, collectProgress, silentLogger } from '../fakes/logger';
import { FakeRepo } from '../fakes/repo';
import { FakeServer } from '../fakes/server';
import { tempCache } from '../fakes/world';

const APP = {
  Dockerfile: 'FROM node:20-alpine\nCOPY . /app\nCMD ["node", "/app/src/index.js"]\n',
  'src/index.js': 'require("http").createServer((q, s) => s.end("ok")).listen(80);\n',
};

/** Servers a, b, c (and groups) with fake engines and files; one repo, builder and layer cache. */
function fleetWorld(extra = '', names = ['a', 'b', 'c']) {
  const repo = new FakeRepo('/work/project');
  const first = repo.commit('first commit', APP);
  const servers = Object.fromEntries(names.map((n) => [n, { engine: new FakeEngine(), files: new MemoryFiles() }]));
  const hosts = names.map((n) => `"${n}": { "host": "${n}-box" }`).join(', ');
  const text = `{ "app": "web", "servers": { ${hosts} }, "groups": { "all3": [${names.map((n) => `"${n}"`).join(', ')}] },
    "run": { "ports": ["8080:80"], "healthcheck": { "path": "/", "timeoutSeconds": 1, "intervalSeconds": 0.05 } }${extra} }`;
  const config: Config = { ...parseConfig(text, '/work/project/baremetal.json'), dir: repo.root };
  const builder = new FakeBuilder();
  const cache = tempCache();
  const connected = new Map<string, FakeServer>();
  const unreachable = new Set<string>();
  const logger = new CollectingLogger();
  const deps = (target = 'all3'): RolloutDeps => ({
    config,
    targets: resolveTargets(config, target),
    async member(name) {
      if (unreachable.has(name)) throw new BmError('Unreachable', `Cannot reach ${name}-box on port 22: check the address and that sshd runs there.`);
      const s = connected.get(name) ?? new FakeServer(servers[name].engine, servers[name].files);
      connected.set(name, s);
      return { server: s, secrets: {}, logger, progress: () => undefined };
    },
    repo, builder, cache, who: 'alice@laptop', logger: silentLogger, progress: collectProgress(),
  });
  const history = (n: string, app = 'web') => readJournal(servers[n].files, '.baremetal', app);
  const running = (n: string, app = 'web') => [...servers[n].engine.containersById.values()].filter((c) => c.state === 'running' && c.spec.labels[LABEL.app] === app).map((c) => c.spec.labels[LABEL.commit]);
  return { repo, first, servers, config, builder, deps, history, running, unreachable, logger };
}

test('batches: all at once by default, a count, a share rounded up, the canary alone before a release', () => {
  const s = ['a', 'b', 'c', 'd', 'e'];
  assert.deepEqual(planBatches(s), [s]);
  assert.deepEqual(planBatches(s, { batch: { count: 2 } }), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.deepEqual(planBatches(s, { batch: { percent: 25 } }), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.deepEqual(planBatches(s, { batch: { percent: 100 } }), [s]);
  assert.deepEqual(planBatches(s, undefined, { release: true }), [['a'], ['b', 'c', 'd', 'e']]);
  const many = Array.from({ length: 12 }, (_, i) => `s${i}`);
  assert.deepEqual(planBatches(many).map((b) => b.length), [3, 3, 3, 3], 'a large fleet goes by quarters');
});

test('a group deploy builds once, sends each server what it lacks, and each keeps its own history', async () => {
  const w = fleetWorld();
  const r = await rolloutDeploy(w.deps());
  assert.equal(r.result, 'succeeded', JSON.stringify(r.servers.map((s) => s.message)));
  assert.equal(r.builds, 1);
  assert.equal(w.builder.builds.length, 1, 'built once for three servers');
  assert.deepEqual(r.servers.map((s) => [s.server, s.outcome, s.commit]), [['a', 'deployed', w.first.sha], ['b', 'deployed', w.first.sha], ['c', 'deployed', w.first.sha]]);
  for (const n of ['a', 'b', 'c']) {
    assert.deepEqual(w.running(n), [w.first.sha]);
    assert.deepEqual((await w.history(n)).map((h) => [h.server, h.result]), [[n, 'succeeded']]);
    assert.ok(w.servers[n].engine.received.length > 0, `${n} was sent the layers it lacked`);
  }
  assert.ok(r.servers.every((s) => s.bytesSent > 0));

  // The next commit: each server already has the base layer, so only the new one crosses.
  const second = w.repo.commit('second', { ...APP, 'src/extra.js': 'x\n' });
  const before = Object.fromEntries(['a', 'b', 'c'].map((n) => [n, w.servers[n].engine.received.length]));
  const r2 = await rolloutDeploy(w.deps());
  assert.equal(r2.result, 'succeeded', JSON.stringify(r2.servers.map((s) => s.message)));
  for (const n of ['a', 'b', 'c']) {
    assert.deepEqual(w.running(n), [second.sha]);
    assert.equal(w.servers[n].engine.received.length - before[n], 1, `${n} got only the changed layer`);
  }
});

test('batch 1: a canary that fails health stops the rollout; the others are never touched', async () => {
  const w = fleetWorld(', "rollout": { "batch": 1 }');
  assert.equal((await rolloutDeploy(w.deps())).result, 'succeeded');
  const second = w.repo.commit('second', { ...APP, 'src/extra.js': 'x\n' });
  w.servers.a.engine.behave(`web:${second.sha}`, { http: () => 500 });
  const callsOnB = w.servers.b.engine.calls.length;
  const r = await rolloutDeploy(w.deps());
  assert.equal(r.result, 'failed');
  assert.deepEqual(r.batches, [['a'], ['b'], ['c']]);
  assert.deepEqual(r.servers.map((s) => [s.server, s.outcome, s.commit]), [['a', 'failed', w.first.sha], ['b', 'not-reached', w.first.sha], ['c', 'not-reached', w.first.sha]]);
  assert.match(r.servers[0].message!, /health/i);
  assert.match(r.servers[1].message!, new RegExp(`^not reached: the rollout stopped after a failed; it still runs ${w.first.sha.slice(0, 12)}$`));
  assert.equal(w.servers.b.engine.calls.length, callsOnB, 'b was not changed at all');
  assert.deepEqual(w.running('a'), [w.first.sha], 'the canary keeps the old version');
  assert.deepEqual(w.running('b'), [w.first.sha]);
  assert.equal((await w.history('b')).length, 1, 'nothing recorded on a server not reached');
});

test('rollbackOnFailure puts the servers already moved back on their previous commit', async () => {
  const w = fleetWorld(', "rollout": { "batch": 2 }');
  assert.equal((await rolloutDeploy(w.deps())).result, 'succeeded');
  const second = w.repo.commit('second', { ...APP, 'src/extra.js': 'x\n' });
  w.servers.b.engine.behave(`web:${second.sha}`, { http: () => 503 });
  const r = await rolloutDeploy(w.deps(), { rollbackOnFailure: true });
  assert.equal(r.result, 'failed');
  assert.deepEqual(r.servers.map((s) => [s.server, s.outcome, s.commit]), [['a', 'rolled-back', w.first.sha], ['b', 'failed', w.first.sha], ['c', 'not-reached', w.first.sha]]);
  assert.deepEqual(w.running('a'), [w.first.sha]);
  assert.deepEqual((await w.history('a')).map((h) => [h.kind, h.commit.slice(0, 7), h.result]), [
    ['deploy', w.first.sha.slice(0, 7), 'succeeded'], ['deploy', second.sha.slice(0, 7), 'succeeded'], ['rollback', w.first.sha.slice(0, 7), 'succeeded'],
  ]);

  // Without the option, a stays on the new commit and says so.
  const third = w.repo.commit('third', { ...APP, 'src/extra.js': 'y\n' });
  w.servers.b.engine.behave(`web:${third.sha}`, { http: () => 503 });
  const r2 = await rolloutDeploy(w.deps());
  assert.deepEqual(r2.servers.map((s) => [s.server, s.outcome, s.commit]), [['a', 'deployed', third.sha], ['b', 'failed', w.first.sha], ['c', 'not-reached', w.first.sha]]);
});

test('an unreachable server stops the rollout before anything changes, one sentence per server', async () => {
  const w = fleetWorld();
  w.unreachable.add('b');
  const r = await rolloutDeploy(w.deps());
  assert.equal(r.result, 'failed');
  assert.equal(w.builder.builds.length, 0, 'nothing built');
  assert.deepEqual(r.servers.map((s) => [s.server, s.outcome]), [['a', 'not-reached'], ['b', 'failed'], ['c', 'not-reached']]);
  assert.equal(r.servers[1].message, 'Cannot reach b-box on port 22: check the address and that sshd runs there.');
  assert.match(r.servers[0].message!, /another server could not be reached, so nothing was changed; it still runs nothing$/);
  assert.equal(w.servers.a.engine.calls.length, 0);
});

test('mixed CPUs in a group are refused before building, naming who runs what', async () => {
  const w = fleetWorld();
  w.servers.a.engine.platform = async () => ({ os: 'linux', architecture: 'amd64' });
  w.servers.b.engine.platform = async () => ({ os: 'linux', architecture: 'arm64', variant: 'v8' });
  w.servers.c.engine.platform = async () => ({ os: 'linux', architecture: 'amd64' });
  await assert.rejects(rolloutDeploy(w.deps()), { code: 'PlatformMismatch', message: /\(a: linux\/amd64, b: linux\/arm64\/v8, c: linux\/amd64\).*nothing was built or sent/ });
  assert.equal(w.builder.builds.length, 0);
});

test('roles: one image built and sent once per server, each role its own containers, command and history', async () => {
  const w = fleetWorld(`, "groups": { "workers": ["c"] }, "roles": { "web": { "servers": ["a", "b"] }, "worker": { "command": ["./worker"], "ports": [], "servers": ["workers", "a"] } }`);
  const r = await rolloutDeploy(w.deps('all'));
  assert.equal(r.result, 'succeeded', JSON.stringify(r.servers.map((s) => s.message)));
  assert.equal(w.builder.builds.length, 1);
  assert.deepEqual(r.servers.map((s) => [s.server, s.roles?.map((x) => x.role)]), [['a', ['web', 'worker']], ['b', ['web']], ['c', ['worker']]]);
  assert.deepEqual(w.running('a', 'web-web'), [w.first.sha]);
  assert.deepEqual(w.running('a', 'web-worker'), [w.first.sha]);
  assert.deepEqual(w.running('c', 'web-web'), []);
  const worker = [...w.servers.c.engine.containersById.values()].find((c) => c.spec.labels[LABEL.app] === 'web-worker')!;
  assert.deepEqual(worker.spec.command, ['./worker']);
  assert.equal(worker.spec.image, `web:${w.first.sha}`, "the app's image, not one per role");
  const layers = w.builder.layersOf(`web:${w.first.sha}`).length;
  assert.equal(w.servers.a.engine.received.length, layers, 'a got the layers once for its two roles');
  assert.equal(r.servers[0].results[1].bytesSent, 0, 'the second role found the image there');
  assert.equal((await w.history('a', 'web-worker')).length, 1);
  assert.equal((await w.history('a', 'web')).length, 0, 'no record under the bare app name');
});

test('a group rollback puts every server on its previous deploy', async () => {
  const w = fleetWorld();
  await rolloutDeploy(w.deps());
  const second = w.repo.commit('second', { ...APP, 'src/extra.js': 'x\n' });
  await rolloutDeploy(w.deps());
  assert.deepEqual(w.running('b'), [second.sha]);
  const r = await rolloutRollback(w.deps());
  assert.equal(r.result, 'succeeded');
  assert.deepEqual(r.servers.map((s) => [s.server, s.outcome, s.commit]), [['a', 'rolled-back', w.first.sha], ['b', 'rolled-back', w.first.sha], ['c', 'rolled-back', w.first.sha]]);
  for (const n of ['a', 'b', 'c']) assert.deepEqual(w.running(n), [w.first.sha]);
});
