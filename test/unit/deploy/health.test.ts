import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { httpTargetFor, waitHealthy, type HealthOptions } from '../../../src/core/deploy/health';
import type { BmError } from '../../../src/core/errors';
import { FakeEngine, type ImageBehavior } from '../fakes/engine';
import { FAST_CHECK, port } from '../fakes/world';

describe('httpTargetFor', () => {
  test('a published port is reached on the server loopback at its host port', () => {
    assert.deepEqual(httpTargetFor({ ...FAST_CHECK, port: 80 }, [port(8080, 80)]), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(httpTargetFor({ ...FAST_CHECK, port: 80 }, [port(8080, 80, '0.0.0.0')]), { host: '127.0.0.1', port: 8080 });
  });

  test('without a check port, the first published TCP port (UDP skipped)', () => {
    const ports = [port(5353, 53, undefined, 'udp'), port(8443, 443), port(8080, 80)];
    assert.deepEqual(httpTargetFor(FAST_CHECK, ports), { host: '127.0.0.1', port: 8443 });
  });

  test('a specific host IP is kept: the app only listens there', () => {
    assert.deepEqual(httpTargetFor({ ...FAST_CHECK, port: 3000 }, [port(80, 8000), port(3001, 3000, '10.0.0.7')]), { host: '10.0.0.7', port: 3001 });
    assert.deepEqual(httpTargetFor(FAST_CHECK, [port(8080, 80, '127.0.0.1')]), { host: '127.0.0.1', port: 8080 });
  });

  test('an unpublished check port (or no ports at all) has no host target', () => {
    assert.equal(httpTargetFor({ ...FAST_CHECK, port: 9000 }, [port(8080, 80)]), undefined);
    assert.equal(httpTargetFor({ ...FAST_CHECK, port: 53 }, [port(53, 53, undefined, 'udp')]), undefined);
    assert.equal(httpTargetFor(FAST_CHECK, []), undefined);
  });
});

/** One started container of image "app:1" behaving as told. */
async function started(b: ImageBehavior, ports = [port(8080, 80)]) {
  const engine = new FakeEngine();
  engine.addImage('app:1');
  engine.behave('app:1', b);
  const id = await engine.create({ name: 'app-new', image: 'app:1', env: {}, labels: {}, ports, volumes: [], restart: 'no' });
  await engine.start(id);
  return { engine, id, c: engine.containersById.get(id)! };
}

const httpOpts = (over: Partial<HealthOptions> = {}): HealthOptions => ({ check: FAST_CHECK, ports: [port(8080, 80)], ...over });

async function failure(p: Promise<unknown>): Promise<BmError> {
  try {
    await p;
  } catch (e) {
    return e as BmError;
  }
  assert.fail('expected the health check to fail');
}

describe('waitHealthy with an HTTP check', () => {
  test('healthy once the app answers 2xx/3xx; every failed attempt is reported', async () => {
    let n = 0;
    const { engine, id } = await started({ http: () => (++n < 4 ? 503 : 302) });
    const attempts: string[] = [];
    const note = await waitHealthy(engine, id, httpOpts({ onAttempt: (m) => attempts.push(m) }));
    assert.equal(note, 'HTTP 302 from /health on port 8080');
    assert.deepEqual(attempts, ['GET /health answered HTTP 503', 'GET /health answered HTTP 503', 'GET /health answered HTTP 503']);
    assert.deepEqual(engine.httpCalls.at(-1), { host: '127.0.0.1', port: 8080, path: '/health' });
  });

  test('an app that never answers: the connection error is in the message', async () => {
    const { engine, id } = await started({ http: () => new Error('connect ECONNREFUSED 127.0.0.1:8080') });
    const e = await failure(waitHealthy(engine, id, httpOpts()));
    assert.equal(e.code, 'HealthCheckFailed');
    assert.equal(e.message, 'The new container was not healthy within 1s: GET /health on port 8080 failed (connect ECONNREFUSED 127.0.0.1:8080).');
  });

  test('HTTP 404 is not healthy', async () => {
    const { engine, id } = await started({ http: () => 404 });
    const e = await failure(waitHealthy(engine, id, httpOpts({ timeoutMs: 300 })));
    assert.equal(e.code, 'HealthCheckFailed');
    assert.match(e.message, /^The new container was not healthy within \d+s: GET \/health answered HTTP 404\.$/);
  });

  test('an unpublished port is checked at the container IP, on the container port', async () => {
    const { engine, id, c } = await started({ listensOn: [3000], http: (p) => (p === '/ready' ? 204 : 404) }, []);
    const note = await waitHealthy(engine, id, { check: { ...FAST_CHECK, path: '/ready', port: 3000 }, ports: [] });
    assert.equal(note, 'HTTP 204 from /ready on port 3000');
    assert.deepEqual(engine.httpCalls, [{ host: c.ipAddress, port: 3000, path: '/ready' }]);
  });

  test('a published host IP is checked there', async () => {
    const ports = [port(8081, 80, '10.0.0.7')];
    const { engine, id } = await started({}, ports);
    await waitHealthy(engine, id, httpOpts({ ports }));
    assert.deepEqual(engine.httpCalls, [{ host: '10.0.0.7', port: 8081, path: '/health' }]);
  });

  test('a container that exits while being checked fails at once, with its exit code', async () => {
    const { engine, id, c } = await started({ http: () => 500 });
    setTimeout(() => Object.assign(c, { state: 'exited', exitCode: 3 }), 120);
    const t0 = Date.now();
    const e = await failure(waitHealthy(engine, id, httpOpts()));
    assert.equal(e.message, 'The new container exited with code 3.');
    assert.ok(Date.now() - t0 < 600, 'it did not wait for the timeout');
  });

  test('a container that disappears fails the check', async () => {
    const { engine, id } = await started({ http: () => 500 });
    setTimeout(() => void engine.remove(id), 80);
    const e = await failure(waitHealthy(engine, id, httpOpts()));
    assert.equal(e.code, 'HealthCheckFailed');
    assert.equal(e.message, 'The new container disappeared during the health check.');
  });

  test('an aborted signal ends the wait with Cancelled', async () => {
    const { engine, id } = await started({ http: () => 500 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e = await failure(waitHealthy(engine, id, httpOpts({ signal: ac.signal })));
    assert.equal(e.code, 'Cancelled');
  });
});

describe('waitHealthy without an HTTP check', () => {
  const noCheck = (over: Partial<HealthOptions> = {}): HealthOptions => ({ check: false, ports: [port(8080, 80)], timeoutMs: 1000, ...over });

  test("the image's HEALTHCHECK: healthy", async () => {
    const { engine, id } = await started({ onStart: (c) => (c.health = 'healthy') });
    assert.equal(await waitHealthy(engine, id, noCheck()), "the image's HEALTHCHECK reports healthy");
    assert.equal(engine.httpCalls.length, 0, 'no HTTP request when the check is off');
  });

  test("the image's HEALTHCHECK: starting, then healthy", async () => {
    const { engine, id, c } = await started({ onStart: (x) => (x.health = 'starting') });
    setTimeout(() => (c.health = 'healthy'), 300);
    const t0 = Date.now();
    assert.equal(await waitHealthy(engine, id, noCheck({ timeoutMs: 3000 })), "the image's HEALTHCHECK reports healthy");
    assert.ok(Date.now() - t0 >= 290);
  });

  test("the image's HEALTHCHECK: unhealthy fails at once", async () => {
    const { engine, id } = await started({ onStart: (c) => (c.health = 'unhealthy') });
    const e = await failure(waitHealthy(engine, id, noCheck()));
    assert.equal(e.code, 'HealthCheckFailed');
    assert.equal(e.message, "The new container's own HEALTHCHECK reports it unhealthy.");
  });

  test("the image's HEALTHCHECK stuck at 'starting' times out and says so", async () => {
    const { engine, id } = await started({ onStart: (c) => (c.health = 'starting') });
    const e = await failure(waitHealthy(engine, id, noCheck()));
    assert.equal(e.message, "The new container was not healthy within 1s: its HEALTHCHECK still says 'starting'.");
  });

  test('no HEALTHCHECK: it must keep running for the settle time', async () => {
    const { engine, id } = await started({});
    const t0 = Date.now();
    assert.equal(await waitHealthy(engine, id, noCheck({ settleMs: 1000, timeoutMs: 5000 })), 'it kept running for 1s');
    const took = Date.now() - t0;
    assert.ok(took >= 1000 && took < 2000, `settled after ${took} ms`);
  });

  test('no HEALTHCHECK: a crash within the settle time fails', async () => {
    const { engine, id, c } = await started({});
    setTimeout(() => Object.assign(c, { state: 'exited', exitCode: 1 }), 200);
    const e = await failure(waitHealthy(engine, id, noCheck({ settleMs: 1000, timeoutMs: 5000 })));
    assert.equal(e.message, 'The new container exited with code 1.');
  });

  test('no HEALTHCHECK: restarts count as a failure even if it is up right now', async () => {
    const { engine, id } = await started({ onStart: (c) => Object.assign(c, { restartCount: 1, exitCode: 139 }) });
    const e = await failure(waitHealthy(engine, id, noCheck({ settleMs: 100 })));
    assert.equal(e.message, 'The new container keeps restarting (exit code 139).');
  });
});
