import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chainIds } from '../../../src/core/transfer/chain';
import { exportImage, planShipment, shipImage, type ShipRequest } from '../../../src/core/transfer/ship';
import { FakeBuilder } from '../fakes/builder';
import { FakeEngine } from '../fakes/engine';
import { MemoryFiles } from '../fakes/files';
import { sha256 } from '../fakes/image-tar';
import { CollectingLogger } from '../fakes/logger';
import { makeTar } from '../fakes/repo';
import { makeServer, tempCache } from '../fakes/world';

const APP = { Dockerfile: 'FROM node:20\nCOPY . /app\n', 'index.js': 'console.log("v1")\n' };

/** A developer machine (builder, layer cache) and an empty server reached over fake SSH. */
function world() {
  const engine = new FakeEngine();
  const server = makeServer(engine, new MemoryFiles());
  const builder = new FakeBuilder();
  const cache = tempCache();
  const logger = new CollectingLogger();
  const build = (tag: string, files: Record<string, string> = APP) =>
    builder.build({ context: makeTar(files), tag: `web:${tag}`, dockerfile: 'Dockerfile', buildArgs: {}, labels: { app: 'web', v: tag } }, () => {});
  const ship = async (tag: string, over: Partial<ShipRequest> = {}) => {
    const ref = `web:${tag}`;
    const image = await exportImage(builder, cache, ref);
    const progress: number[] = [];
    const result = await shipImage({ builder, server, cache, ref, logger, onBytes: (n) => progress.push(n), ...over }, image);
    return { result, image, progress };
  };
  /** The diffIDs and the compressed sizes of the layers of web:<tag>, base first. */
  const layers = async (tag: string) => {
    const diffIds = builder.layersOf(`web:${tag}`).map((l) => sha256(l));
    return Promise.all(diffIds.map(async (d) => (await cache.get(d))!));
  };
  const configOf = (tag: string) => builder.parts.get(builder.images.get(`web:${tag}`)!.id)!.config;
  return { engine, server, builder, cache, logger, build, ship, layers, configOf };
}

const blobRequests = (engine: FakeEngine) => engine.registryRequests.filter((r) => r.includes('/blobs/'));
const warnings = (w: ReturnType<typeof world>) => w.logger.at('warn');

describe('shipImage', () => {
  test('first ship: the server pulls every layer through the tunnel; it then has the image under its name only', async () => {
    const w = world();
    const built = await w.build('v1');
    const { result, progress } = await w.ship('v1');
    const [base, app] = await w.layers('v1');

    assert.equal(result.path, 'registry');
    assert.equal(result.layersSent, 2);
    assert.equal(result.bytesSent, w.configOf('v1').length + base.size + app.size);
    assert.equal(progress.at(-1), result.bytesSent);
    assert.deepEqual(w.engine.received, [base.diffId, app.diffId]);
    assert.deepEqual(blobRequests(w.engine).map((r) => r.split('/blobs/')[1]), [built.id, base.digest, app.digest]);
    const onServer = await w.engine.image('web:v1');
    assert.equal(onServer?.id, built.id, 'the same image ID as on this machine');
    assert.deepEqual(onServer?.tags, ['web:v1'], 'the temporary 127.0.0.1:<port>/<token>/web name is removed');
    assert.deepEqual(w.engine.loopback.open, [], 'the tunnel is closed');
    assert.equal(w.server.tunnelsOpened, 1);
    assert.deepEqual(warnings(w), []);
    assert.ok(w.logger.at('info').includes(`image sent by registry: 2 layer(s), ${result.bytesSent} bytes`));
  });

  test('a second image on the same base: only its own layer and config cross the link', async () => {
    const w = world();
    await w.build('v1');
    const first = await w.ship('v1');
    const v2 = await w.build('v2', { ...APP, 'index.js': 'console.log("v2")\n' });
    const before = w.engine.registryRequests.length;
    const { result } = await w.ship('v2');
    const [base, app] = await w.layers('v2');
    assert.equal(base.digest, (await w.layers('v1'))[0].digest, 'the base layer has the same digest as last time');

    assert.equal(result.path, 'registry');
    assert.equal(result.layersSent, 1);
    assert.equal(result.bytesSent, w.configOf('v2').length + app.size);
    assert.ok(result.bytesSent * 10 < first.result.bytesSent, `${result.bytesSent} bytes, against ${first.result.bytesSent} the first time`);
    const fetched = blobRequests({ registryRequests: w.engine.registryRequests.slice(before) } as FakeEngine);
    assert.deepEqual(fetched.map((r) => r.split('/blobs/')[1]), [v2.id, app.digest], 'the engine fetched the config and the app layer, not the base');
    assert.deepEqual(w.engine.received.slice(2), [app.diffId]);
    assert.equal((await w.engine.image('web:v2'))?.id, v2.id);
  });

  test('shipping an image the server already has (another tag) sends no layer', async () => {
    const w = world();
    const v1 = await w.build('v1');
    await w.ship('v1');
    w.builder.images.set('web:again', { ...v1, tags: ['web:again'] });
    const { result } = await w.ship('again');
    assert.equal(result.path, 'registry');
    assert.equal(result.bytesSent, 0);
    assert.equal((await w.engine.image('web:again'))?.id, v1.id);
  });

  test('a server that refuses the tunnel gets a docker load of only the layers it lacks (trimmed-load)', async () => {
    const w = world();
    await w.build('v1');
    const first = await w.ship('v1');
    w.server.refuseTunnels = true;
    const v2 = await w.build('v2', { ...APP, 'index.js': 'console.log("v2")\n' });
    const { result, progress } = await w.ship('v2');
    const [, app] = await w.layers('v2');

    assert.equal(result.path, 'trimmed-load');
    assert.equal(result.layersSent, 1);
    assert.ok(result.bytesSent >= app.size + w.configOf('v2').length, 'the archive holds the app layer and the config');
    assert.ok(result.bytesSent < app.size + w.configOf('v2').length + 8 * 1024, `${result.bytesSent}: the base layer was left out (tar overhead only)`);
    assert.ok(result.bytesSent * 5 < first.result.bytesSent);
    assert.equal(progress.at(-1), result.bytesSent);
    assert.deepEqual(w.engine.received.slice(2), [app.diffId]);
    assert.equal((await w.engine.image('web:v2'))?.id, v2.id);
    assert.deepEqual(warnings(w), ['registry transfer did not work (Unable to bind to 127.0.0.1:0); trying the next way']);
  });

  test('an engine that cannot reach its own loopback: the pull fails, the trimmed load works, the tunnel is closed', async () => {
    const w = world();
    w.engine.cannotReachLoopback = true;
    const v1 = await w.build('v1');
    const { result } = await w.ship('v1');
    assert.equal(result.path, 'trimmed-load');
    assert.equal(result.layersSent, 2);
    assert.equal((await w.engine.image('web:v1'))?.id, v1.id);
    assert.deepEqual(w.engine.loopback.open, []);
    assert.match(warnings(w)[0], /^registry transfer did not work \(The server could not pull the image: .*connection refused\); trying the next way$/);
  });

  test('when the trimmed load is refused (the server lost a layer it listed), a full load sends everything', async () => {
    const w = world();
    await w.build('v1');
    await w.ship('v1');
    w.server.refuseTunnels = true;
    await w.build('v2', { ...APP, 'index.js': 'console.log("v2")\n' });
    // The listing says the server has both layers of v2; it has only the base.
    for (const c of chainIds(w.builder.layersOf('web:v2').map((l) => sha256(l)))) w.engine.staleChains.add(c);
    const { result } = await w.ship('v2');
    const [base, app] = await w.layers('v2');

    assert.equal(result.path, 'full-load');
    assert.equal(result.layersSent, 2);
    assert.ok(result.bytesSent > base.size + app.size, 'every layer was in the archive');
    assert.deepEqual(w.engine.received.slice(2), [app.diffId], 'the engine still skipped the base it had');
    assert.ok(await w.engine.image('web:v2'));
    assert.equal(warnings(w).length, 2);
    assert.match(warnings(w)[1], /^trimmed-load transfer did not work \(The server could not load the image: open .*blobs\/sha256\/[0-9a-f]{64}: no such file or directory\); trying the next way$/);
  });

  test('force: only the path asked for is tried', async () => {
    const w = world();
    await w.build('v1');
    await w.ship('v1', { force: 'full-load' });
    assert.equal(w.server.tunnelsOpened, 0, 'no registry attempt');
    assert.deepEqual(w.engine.calls, ['load web:v1']);

    await w.build('v2', { ...APP, 'index.js': 'v2' });
    const trimmed = await w.ship('v2', { force: 'trimmed-load' });
    assert.equal(trimmed.result.path, 'trimmed-load');
    assert.equal(trimmed.result.layersSent, 1);
    assert.equal(w.server.tunnelsOpened, 0);

    await w.build('v3', { ...APP, 'index.js': 'v3' });
    const full = await w.ship('v3', { force: 'full-load' });
    assert.equal(full.result.path, 'full-load');
    assert.equal(full.result.layersSent, 2, 'a full load sends the layers the server has too');

    w.server.refuseTunnels = true;
    await w.build('v4', { ...APP, 'index.js': 'v4' });
    await assert.rejects(w.ship('v4', { force: 'registry' }), { code: 'TransferFailed', message: 'Could not send the image to prod: Unable to bind to 127.0.0.1:0.' });
    assert.equal(await w.engine.image('web:v4'), undefined);
    assert.ok(!w.engine.calls.includes('load web:v4'), 'forced to the registry: no load attempted');
  });

  test('cancelled during the pull: the cancellation is not taken for a failed path, nothing else is tried', async () => {
    const w = world();
    await w.build('v1');
    const ac = new AbortController();
    const e = await w.ship('v1', { signal: ac.signal, onBytes: () => ac.abort() }).then(
      () => assert.fail('the ship succeeded'),
      (err: Error & { code?: string }) => err,
    );
    assert.notEqual(e.code, 'TransferFailed');
    assert.ok(e.name === 'AbortError' || e.code === 'Cancelled', `${e.name}: ${e.message}`);
    assert.deepEqual(warnings(w), [], 'no "trying the next way"');
    assert.ok(!w.engine.calls.some((c) => c.startsWith('load')), 'no load attempted');
    assert.equal(await w.engine.image('web:v1'), undefined);
    assert.deepEqual(w.engine.loopback.open, [], 'the tunnel is closed');
  });

  test('cancelled during a load: no full load after it', async () => {
    const w = world();
    w.server.refuseTunnels = true;
    await w.build('v1');
    const ac = new AbortController();
    await assert.rejects(w.ship('v1', { signal: ac.signal, onBytes: () => ac.abort() }), (e: Error & { code?: string }) => e.code !== 'TransferFailed');
    assert.deepEqual(warnings(w), ['registry transfer did not work (Unable to bind to 127.0.0.1:0); trying the next way']);
    assert.equal(await w.engine.image('web:v1'), undefined);
  });

  test('the SSH connection drops during the pull: ConnectionLost, and no load is tried on the dead connection', async () => {
    const w = world();
    await w.build('v1');
    const e = await w.ship('v1', { onBytes: () => w.server.drop() }).then(
      () => assert.fail('the ship succeeded'),
      (err: Error & { code?: string }) => err,
    );
    assert.equal(e.code, 'ConnectionLost');
    assert.match(e.message, /^The SSH connection to prod dropped while sending the image; nothing was changed there/);
    assert.deepEqual(warnings(w), []);
    assert.ok(!w.engine.calls.some((c) => c.startsWith('load')));
    assert.equal(await w.engine.image('web:v1'), undefined);
  });

  test('already cancelled: Cancelled, and no tunnel is opened', async () => {
    const w = world();
    await w.build('v1');
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(w.ship('v1', { signal: ac.signal }), { code: 'Cancelled' });
    assert.equal(w.server.tunnelsOpened, 0);
    assert.deepEqual(w.engine.calls, []);
  });
});

describe('planShipment', () => {
  test('an empty server lacks every layer', async () => {
    const w = world();
    await w.build('v1');
    const image = await exportImage(w.builder, w.cache, 'web:v1');
    const plan = await planShipment(image, w.server);
    assert.deepEqual(plan.layers.map((l) => l.present), [false, false]);
    assert.equal(plan.missingBytes, image.layers[0].size + image.layers[1].size);
    assert.deepEqual(plan.layers.map((l) => [l.diffId, l.digest, l.size]), image.layers.map((l) => [l.diffId, l.digest, l.size]));
  });

  test('after v1, v2 lacks only its app layer; the same app layer on another base is missing', async () => {
    const w = world();
    await w.build('v1');
    await w.ship('v1');
    await w.build('v2', { ...APP, 'index.js': 'v2' });
    const v2 = await planShipment(await exportImage(w.builder, w.cache, 'web:v2'), w.server);
    assert.deepEqual(v2.layers.map((l) => l.present), [true, false]);
    assert.equal(v2.missingBytes, v2.layers[1].size);

    w.builder.baseFiles = { 'etc/os-release': 'ID=otheros\n' };
    await w.build('rebased'); // the files of v1 on a new base
    const rebased = await exportImage(w.builder, w.cache, 'web:rebased');
    assert.equal(rebased.layers[1].diffId, (await w.layers('v1'))[1].diffId, 'the same app layer');
    const plan = await planShipment(rebased, w.server);
    assert.deepEqual(plan.layers.map((l) => l.present), [false, false], 'a layer counts as present only on the same parents');
    assert.equal(plan.missingBytes, rebased.layers[0].size + rebased.layers[1].size);
  });
});
