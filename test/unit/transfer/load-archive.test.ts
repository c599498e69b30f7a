import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { fullyQualified, loadArchive } from '../../../src/core/transfer/load-archive';
import { FakeEngine } from '../fakes/engine';
import { exportParts, hexOf, layerTar, makeImage, pseudoRandom, sha256, tarEntries } from '../fakes/image-tar';
import { tempCache } from '../fakes/world';

/** A three-layer image taken apart into a fresh cache. */
async function image() {
  const layers = [await layerTar({ 'etc/os': 'os' }), await layerTar({ 'lib/rt.so': pseudoRandom('rt', 20_000) }), await layerTar({ 'app/index.js': 'v1' })];
  const parts = makeImage(layers, { 'com.example.app': 'web' });
  const cache = tempCache();
  return { parts, cache, exported: await exportParts(cache, parts) };
}

test('manifest.json and the OCI index list every layer, but only the layers not omitted are in the archive', async () => {
  const { parts, exported } = await image();
  const omit = new Set([exported.layers[0].diffId, exported.layers[1].diffId]);
  const entries = await tarEntries(loadArchive(exported, 'web:abc', omit));

  const names = exported.layers.map((l) => `blobs/sha256/${hexOf(l.digest)}`);
  const configName = `blobs/sha256/${hexOf(exported.configDigest)}`;
  assert.deepEqual(JSON.parse(entries.get('manifest.json')!.toString()), [{ Config: configName, RepoTags: ['web:abc'], Layers: names }]);
  assert.deepEqual(entries.get(configName), parts.config, 'the config, byte for byte (its sha256 is the image ID on the classic store)');
  assert.equal(hexOf(exported.configDigest), hexOf(sha256(parts.config)));
  // The containerd store reads the OCI layout: index.json → the manifest blob → config and layers.
  const index = JSON.parse(entries.get('index.json')!.toString()) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0].annotations['io.containerd.image.name'], 'docker.io/library/web:abc', 'the name the containerd store files it under');
  const manifestName = `blobs/sha256/${hexOf(index.manifests[0].digest)}`;
  assert.equal(hexOf(sha256(entries.get(manifestName)!)), hexOf(index.manifests[0].digest));
  const manifest = JSON.parse(entries.get(manifestName)!.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  assert.equal(manifest.config.digest, exported.configDigest);
  assert.deepEqual(manifest.layers.map((l) => l.digest), exported.layers.map((l) => l.digest));
  assert.deepEqual([...entries.keys()].sort(), ['oci-layout', 'index.json', 'manifest.json', manifestName, configName, names[2]].sort(), 'the omitted layers are not there');
  // The layer is the cached gzip blob; the engine decompresses it back to the exact layer.
  assert.deepEqual(entries.get(names[2]), await readFile(exported.layers[2].path));
  assert.deepEqual(gunzipSync(entries.get(names[2])!), parts.layers[2]);
});

test('names the containerd store would file an image under', () => {
  assert.equal(fullyQualified('web:abc'), 'docker.io/library/web:abc');
  assert.equal(fullyQualified('team/web:abc'), 'docker.io/team/web:abc');
  assert.equal(fullyQualified('registry.example.com/web:abc'), 'registry.example.com/web:abc');
  assert.equal(fullyQualified('localhost:5000/web:abc'), 'localhost:5000/web:abc');
});

test('omitting nothing gives a complete archive that an empty engine loads as the same image', async () => {
  const { parts, exported } = await image();
  const entries = await tarEntries(loadArchive(exported, 'web:abc', new Set()));
  assert.equal(exported.layers.filter((l) => entries.has(`blobs/sha256/${hexOf(l.digest)}`)).length, 3);

  const engine = new FakeEngine();
  let bytes = 0;
  await engine.load(loadArchive(exported, 'web:abc', new Set()), (n) => (bytes = n));
  const loaded = await engine.image('web:abc');
  assert.equal(loaded?.id, sha256(parts.config));
  assert.deepEqual(loaded?.labels, { 'com.example.app': 'web' });
  assert.deepEqual(engine.received, parts.layers.map((l) => sha256(l)));
  assert.ok(bytes > exported.layers.reduce((n, l) => n + l.size, 0), 'every compressed layer crossed');
});

test('an archive without a layer the engine lacks is refused (as docker load does)', async () => {
  const { exported } = await image();
  const engine = new FakeEngine();
  await assert.rejects(engine.load(loadArchive(exported, 'web:abc', new Set([exported.layers[0].diffId])), () => {}), {
    code: 'TransferFailed',
    message: new RegExp(`${hexOf(exported.layers[0].digest)}: no such file or directory`),
  });
  assert.equal(await engine.image('web:abc'), undefined);
});

test(
  'a cached layer deleted meanwhile: the archive stream fails with ENOENT, and nothing else throws',
  async () => {
    const { exported } = await image();
    await rm(exported.layers[1].path);
    const uncaught: Error[] = [];
    const onUncaught = (e: Error) => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      await assert.rejects(tarEntries(loadArchive(exported, 'web:abc', new Set())), { code: 'ENOENT' });
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(uncaught.map((e) => e.message), [], 'the failure reaches the reader of the archive only');
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  },
);
