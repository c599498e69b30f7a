import { test } from 'node:test';
import assert from 'node:assert/strict';
import { swapIn, type SwapRequest } from '../../../src/core/deploy/swap';
import { LABEL } from '../../../src/core/deploy/labels';
import type { BmError } from '../../../src/core/errors';
import { FakeEngine, type FakeContainer } from '../fakes/engine';
import { CollectingLogger, collectProgress } from '../fakes/logger';
import { makeConfig, port } from '../fakes/world';

const OLD_SHA = 'a'.repeat(40);
const NEW_SHA = 'b1c2d3e4f5a6'.padEnd(40, '7');
const labels = (sha: string, deployId: string) => ({ [LABEL.app]: 'web', [LABEL.commit]: sha, [LABEL.deployId]: deployId });

/** A server running web:OLD on 8080 → 80, with web:NEW loaded and ready to swap in. */
function setup(opts: { previous?: boolean } = {}) {
  const engine = new FakeEngine();
  engine.addImage(`web:${OLD_SHA}`, { [LABEL.app]: 'web' });
  engine.addImage(`web:${NEW_SHA}`, { [LABEL.app]: 'web' });
  const old = opts.previous === false
    ? undefined
    : engine.seed({ name: 'web-old', image: `web:${OLD_SHA}`, labels: labels(OLD_SHA, 'old-deploy-1'), ports: [port(8080, 80)] });
  const logger = new CollectingLogger();
  const progress = collectProgress();
  const req = (over: Partial<SwapRequest> = {}): SwapRequest => ({
    engine,
    config: makeConfig(),
    image: `web:${NEW_SHA}`,
    commit: NEW_SHA,
    deployId: 'lx9a1b-00c0ffee',
    secrets: { DB_PASSWORD: 's3cret' },
    logger,
    progress,
    ...over,
  });
  return { engine, old, logger, progress, req };
}

function onlyNew(engine: FakeEngine): FakeContainer[] {
  return [...engine.containersById.values()].filter((c) => c.spec.image === `web:${NEW_SHA}`);
}

/** The old container is there again and running, serving on its port. */
async function assertOldServes(engine: FakeEngine, old: FakeContainer) {
  const c = await engine.container(old.id);
  assert.ok(c, 'the old container still exists');
  assert.equal(c.state, 'running');
  assert.equal(engine.running().length, 1);
  assert.equal(await engine.httpGet('127.0.0.1', 8080, '/', 1000), 200);
  assert.equal(engine.running()[0].id, old.id);
}

test('a healthy new container replaces the old one, which is removed', async () => {
  const { engine, old, req, progress } = setup();
  engine.behave(`web:${NEW_SHA}`, { http: (path) => (path === '/health' ? 200 : 404) });
  const r = await swapIn(req());

  assert.equal(r.healthNote, 'HTTP 200 from /health on port 8080');
  assert.deepEqual(r.previous.map((c) => c.id), [old!.id]);
  assert.equal(await engine.container(old!.id), undefined, 'the old container is gone');
  const now = await engine.container(r.containerId);
  assert.equal(now?.state, 'running');
  assert.equal(now?.name, `web-${NEW_SHA.slice(0, 12)}-c0ffee`);
  assert.deepEqual(now?.labels, labels(NEW_SHA, 'lx9a1b-00c0ffee'));
  const spec = engine.containersById.get(r.containerId)!.spec;
  assert.deepEqual(spec.env, { NODE_ENV: 'production', DB_PASSWORD: 's3cret' });
  assert.deepEqual(spec.ports, [port(8080, 80)]);
  // The old one stops before the new one starts: a host port is bound by one container at a time.
  assert.deepEqual(engine.calls, [`create ${now?.name}`, 'stop web-old', `start ${now?.name}`, 'remove web-old']);
  assert.deepEqual(progress.events.map((e) => e.phase), ['start', 'health']);
});

test('leftover crashed containers of the app are cleaned up after a healthy swap', async () => {
  const { engine, req } = setup();
  const crashed = engine.seed({ name: 'web-crashed', image: `web:${OLD_SHA}`, labels: labels(OLD_SHA, 'x') }, 'exited');
  const other = engine.seed({ name: 'db', image: `web:${OLD_SHA}`, labels: { [LABEL.app]: 'db' }, ports: [port(5432, 5432)] });
  const r = await swapIn(req());
  assert.equal(await engine.container(crashed.id), undefined);
  assert.equal((await engine.container(other.id))?.state, 'running', "another app's container is untouched");
  assert.deepEqual(engine.running().map((c) => c.id).sort(), [r.containerId, other.id].sort());
});

test("a failed container's start is kept in the detail even after many health-check request lines", async () => {
  const { engine, req } = setup();
  const requests = Array.from({ length: 120 }, (_, i) => `GET / 404 (${i})`);
  engine.behave(`web:${NEW_SHA}`, {
    logs: ['app: no index page configured', ...requests],
    onStart: (c) => Object.assign(c, { state: 'exited', exitCode: 1 }),
  });
  await assert.rejects(swapIn(req()), (e: BmError) => {
    const lines = (e.detail ?? '').split('\n');
    assert.equal(lines[1], 'app: no index page configured', 'what the app said when it started');
    assert.equal(lines.at(-1), 'GET / 404 (119)');
    return true;
  });
});

test('a new container that exits: removed, the old one runs again, its last log lines are in the detail', async () => {
  const { engine, old, req, logger } = setup();
  engine.behave(`web:${NEW_SHA}`, {
    logs: ['listening…', 'Error: DATABASE_URL is not set'],
    onStart: (c) => Object.assign(c, { state: 'exited', exitCode: 1 }),
  });
  await assert.rejects(swapIn(req()), (e: BmError) => {
    assert.equal(e.code, 'HealthCheckFailed');
    assert.equal(e.message, 'The new container exited with code 1. The previous version keeps serving.');
    assert.equal(e.detail, 'Last log lines of the new container:\nlistening…\nError: DATABASE_URL is not set');
    return true;
  });
  assert.deepEqual(onlyNew(engine), [], 'the failed container is removed');
  await assertOldServes(engine, old!);
  assert.ok(logger.at('info').some((m) => m.includes('the previous container web-old is serving again')));
});

test('a new container that keeps restarting is rolled back the same way', async () => {
  const { engine, old, req } = setup();
  engine.behave(`web:${NEW_SHA}`, {
    logs: ['panic: cannot bind'],
    onStart: (c) => Object.assign(c, { state: 'restarting', restartCount: 3, exitCode: 2 }),
  });
  await assert.rejects(swapIn(req()), (e: BmError) => {
    assert.equal(e.code, 'HealthCheckFailed');
    assert.equal(e.message, 'The new container keeps restarting (exit code 2). The previous version keeps serving.');
    assert.match(e.detail ?? '', /panic: cannot bind/);
    return true;
  });
  assert.deepEqual(onlyNew(engine), []);
  await assertOldServes(engine, old!);
});

test('HTTP 500 until the timeout: HealthCheckFailed after ~timeoutSeconds, old one serving again', async () => {
  const { engine, old, req } = setup();
  engine.behave(`web:${NEW_SHA}`, { logs: ['GET /health 500 (db down)'], http: () => 500 });
  const t0 = Date.now();
  await assert.rejects(swapIn(req()), (e: BmError) => {
    assert.equal(e.code, 'HealthCheckFailed');
    assert.equal(e.message, 'The new container was not healthy within 1s: GET /health answered HTTP 500. The previous version keeps serving.');
    assert.match(e.detail ?? '', /^Last log lines of the new container:\nGET \/health 500 \(db down\)$/);
    return true;
  });
  const took = Date.now() - t0;
  assert.ok(took >= 950 && took < 3000, `gave up after ${took} ms`);
  assert.ok(engine.httpCalls.length >= 5, 'it polled several times');
  assert.ok(engine.httpCalls.every((c) => c.host === '127.0.0.1' && c.port === 8080 && c.path === '/health'));
  assert.deepEqual(onlyNew(engine), []);
  await assertOldServes(engine, old!);
});

test('a port held by another program: PortTaken, the new container removed, the old one restored', async () => {
  const { engine, old, req } = setup();
  engine.foreignPorts.add(9090);
  const config = makeConfig({ run: { ports: [port(8080, 80), port(9090, 9090)] } });
  await assert.rejects(swapIn(req({ config })), (e: BmError) => {
    assert.equal(e.code, 'PortTaken');
    assert.equal(
      e.message,
      'Port 9090 on the server is already in use by another program or container: free it, or change "run.ports" in baremetal.json. The previous version keeps serving.',
    );
    return true;
  });
  assert.deepEqual(onlyNew(engine), []);
  await assertOldServes(engine, old!);
});

test('cancelled during the health wait: Cancelled, the new container removed, the old one restored', async () => {
  const { engine, old, req } = setup();
  engine.behave(`web:${NEW_SHA}`, { http: () => 503 });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 150);
  const t0 = Date.now();
  await assert.rejects(swapIn(req({ signal: ac.signal })), (e: BmError) => {
    assert.equal(e.code, 'Cancelled');
    assert.equal(e.message, 'Cancelled during the health check; the previous version is serving again.');
    return true;
  });
  assert.ok(Date.now() - t0 < 800, 'it stopped waiting when cancelled, not at the timeout');
  assert.deepEqual(onlyNew(engine), []);
  await assertOldServes(engine, old!);
});

test('a first deploy that fails does not claim a previous version keeps serving', async () => {
  const { engine, req } = setup({ previous: false });
  engine.behave(`web:${NEW_SHA}`, { onStart: (c) => Object.assign(c, { state: 'exited', exitCode: 137 }) });
  await assert.rejects(swapIn(req()), (e: BmError) => {
    assert.equal(e.code, 'HealthCheckFailed');
    assert.equal(e.message, 'The new container exited with code 137.');
    assert.equal(e.detail, undefined, 'no log lines, no detail');
    return true;
  });
  assert.equal(engine.containersById.size, 0);
});

test('an app that was down (old container exited) is not resurrected by a failed swap', async () => {
  const { engine, req } = setup({ previous: false });
  const dead = engine.seed({ name: 'web-dead', image: `web:${OLD_SHA}`, labels: labels(OLD_SHA, 'd'), ports: [port(8080, 80)] }, 'exited');
  engine.behave(`web:${NEW_SHA}`, { onStart: (c) => Object.assign(c, { state: 'dead', exitCode: 1 }) });
  await assert.rejects(swapIn(req()), { code: 'HealthCheckFailed' });
  assert.equal((await engine.container(dead.id))?.state, 'exited');
  assert.equal(engine.running().length, 0);
});

test('an app that publishes no port (a worker) starts beside the old one, which stops only once the new one is healthy', async () => {
  const { engine, old, req } = setup();
  const calls = engine.calls.length;
  await swapIn(req({ config: makeConfig({ run: { ports: [], healthcheck: false } }) }));
  const order = engine.calls.slice(calls).map((c) => c.split(' ')[0]);
  assert.ok(order.indexOf('start') < order.indexOf('stop'), `the new one started first: ${order.join(', ')}`);
  assert.ok(engine.calls.slice(calls).includes(`stop ${old!.spec.name}`));
  assert.equal(onlyNew(engine)[0].state, 'running');
});

test('run.memory and run.cpus go to the new container', async () => {
  const { engine, req } = setup();
  await swapIn(req({ config: makeConfig({ run: { memoryBytes: 64 * 1024 * 1024, cpus: 0.5 } }) }));
  const [created] = onlyNew(engine);
  assert.equal(created.spec.memoryBytes, 64 * 1024 * 1024);
  assert.equal(created.spec.cpus, 0.5);
});
