import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, truncate, utimes } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { defaultLayerCacheDir, LayerCache, type ExportedImage } from '../../../src/core/transfer/layer-cache';
import { chunked, collect, hexOf, layerTar, makeImage, makeTarBuffer, saveTar, sha256, type ImageParts } from '../fakes/image-tar';
import { tempCache } from '../fakes/world';

const MiB = 1024 * 1024;

/** A small base layer, a layer over the 4 MiB in-memory limit (random: gzip cannot shrink it), a small app layer. */
async function threeLayers(): Promise<ImageParts> {
  return makeImage(
    [
      await layerTar({ 'etc/os-release': 'ID=fakeos\n' }),
      await layerTar({ 'usr/lib/big.so': randomBytes(5 * MiB) }),
      await layerTar({ 'app/index.js': 'console.log("v1")\n'.repeat(200) }),
    ],
    { app: 'web' },
  );
}

const exportTar = async (cache: LayerCache, parts: ImageParts, layout: 'classic' | 'oci' | 'oci-gzip') => cache.exportImage(chunked(await saveTar(parts, 'web:1', layout)));

async function assertExported(image: ExportedImage, parts: ImageParts): Promise<void> {
  assert.deepEqual(image.config, parts.config);
  assert.equal(image.configDigest, sha256(parts.config), 'the config digest is the image ID');
  assert.deepEqual(image.layers.map((l) => l.diffId), parts.layers.map((l) => sha256(l)), 'in order, named by the sha256 of the uncompressed tar');
  for (const [i, layer] of image.layers.entries()) {
    const blob = await readFile(layer.path);
    assert.equal(layer.digest, sha256(blob), 'the digest is the sha256 of the stored blob');
    assert.equal(layer.size, blob.length);
    // Random bytes do not compress: such a layer is kept as the plain tar (digest = diffID).
    const random = i === 1;
    assert.equal(layer.compressed, !random);
    if (random) {
      assert.ok(blob.equals(parts.layers[i]), 'the incompressible layer is stored as it is');
      assert.equal(layer.digest, layer.diffId);
    } else {
      assert.equal(blob.subarray(0, 2).toString('hex'), '1f8b', 'gzip');
      assert.ok(gunzipSync(blob).equals(parts.layers[i]), `gunzip gives back layer ${i} exactly`);
    }
  }
}

for (const layout of ['classic', 'oci'] as const) {
  test(`exportImage of a ${layout}-layout docker save: config, and every layer into the cache (one over 4 MiB, incompressible)`, async () => {
    const parts = await threeLayers();
    assert.ok(parts.layers[1].length > 4 * MiB);
    const cache = tempCache();
    const image = await exportTar(cache, parts, layout);
    await assertExported(image, parts);
    assert.deepEqual(
      (await readdir(cache.dir)).sort(),
      image.layers.flatMap((l) => [`${hexOf(l.diffId)}.json`, `${hexOf(l.diffId)}.tar.gz`]).sort(),
      'the blobs and their digests, named by diffID, and no temporary file left',
    );
  });
}

test('a second export finds every layer in the cache: same digests, files not rewritten', async () => {
  const parts = await threeLayers();
  const cache = tempCache();
  const first = await exportTar(cache, parts, 'classic');
  const past = new Date('2020-01-01T00:00:00Z');
  const inodes = new Map<string, number>();
  for (const l of first.layers) {
    for (const f of [l.path, l.path.replace('.tar.gz', '.json')]) {
      await utimes(f, past, past);
      inodes.set(f, (await stat(f)).ino);
    }
  }
  const again = await exportTar(cache, parts, 'classic');
  assert.deepEqual(again.layers, first.layers);
  // Docker 25 saves in the OCI layout: upgrading must not change what the server is told.
  const oci = await exportTar(cache, parts, 'oci');
  assert.deepEqual(oci.layers, first.layers);
  for (const l of first.layers) {
    // Every write renames a new file in: the same inode means not rewritten.
    assert.equal((await stat(l.path)).ino, inodes.get(l.path), `${l.path} was not rewritten`);
    assert.ok(Date.now() - (await stat(l.path)).mtimeMs < 60_000, 'but its time says it was just used (what eviction goes by)');
    const meta = l.path.replace('.tar.gz', '.json');
    assert.equal((await stat(meta)).ino, inodes.get(meta));
    assert.equal((await stat(meta)).mtimeMs, past.getTime());
  }
});

test('a new image on the same base shares the base layer digest; only its own layer is added', async () => {
  const cache = tempCache();
  const base = await layerTar({ 'usr/lib/runtime.so': randomBytes(200_000) });
  const v1 = await exportTar(cache, makeImage([base, await layerTar({ 'app/index.js': 'v1' })]), 'classic');
  const v2 = await exportTar(cache, makeImage([base, await layerTar({ 'app/index.js': 'v2' })]), 'classic');
  assert.equal(v2.layers[0].digest, v1.layers[0].digest);
  assert.notEqual(v2.layers[1].digest, v1.layers[1].digest);
  assert.equal((await readdir(cache.dir)).length, 6);
});

test('a config whose diff_ids do not match the layers is an error', async () => {
  const [a, b] = [await layerTar({ a: 'a' }), await layerTar({ b: 'b' })];
  const lying: ImageParts = { config: makeImage([a, b]).config, layers: [a, await layerTar({ b: 'not b' })] };
  await assert.rejects(exportTar(tempCache(), lying, 'classic'), /the layers docker save produced do not match the image config/);
  const reordered: ImageParts = { config: makeImage([a, b]).config, layers: [b, a] };
  await assert.rejects(exportTar(tempCache(), reordered, 'oci'), /do not match the image config/);
});

test('a save without manifest.json, or without a listed layer, is an error', async () => {
  const cache = tempCache();
  await assert.rejects(cache.exportImage(Readable.from([await makeTarBuffer({ 'repositories': '{}' })])), /docker save produced no manifest.json/);
  const layer = await layerTar({ a: 'a' });
  const parts = makeImage([layer]);
  const noLayer = await makeTarBuffer({
    'cfg.json': parts.config,
    'manifest.json': JSON.stringify([{ Config: 'cfg.json', RepoTags: ['web:1'], Layers: ['abc/layer.tar'] }]),
  });
  await assert.rejects(cache.exportImage(Readable.from([noLayer])), /docker save produced no layer abc\/layer.tar/);
});

// At 0-3 ms the big layer's entry is still waiting on the disk (the cache folder, a lookup): an
// error there once went unheard and crashed the process.
for (const ms of [0, 1, 3, 20]) {
  test(`a save stream that fails ${ms} ms into a big layer rejects, leaving no temporary file`, async () => {
    const parts = await threeLayers();
    const tarball = await saveTar(parts, 'web:1', 'classic');
    const cache = tempCache();
    const failing = new Readable({ read() {} });
    failing.push(tarball.subarray(0, 3 * MiB));
    setTimeout(() => failing.destroy(new Error('the local engine went away')), ms);
    await assert.rejects(cache.exportImage(failing), /the local engine went away/);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual((await readdir(cache.dir).catch(() => [])).filter((n) => n.startsWith('.tmp-')), []);
  });
}

test('a truncated save stream rejects instead of hanging', async () => {
  const tarball = await saveTar(await threeLayers(), 'web:1', 'classic');
  await assert.rejects(tempCache().exportImage(Readable.from([tarball.subarray(0, 4 * MiB + 700)])));
});

test('get() knows only complete blobs; a damaged blob is compressed again by put()', async () => {
  const cache = tempCache();
  const data = await layerTar({ x: randomBytes(10_000) });
  assert.equal(await cache.get(sha256(data)), undefined);
  const put = await cache.put(Readable.from([data]));
  assert.equal(put.diffId, sha256(data));
  assert.deepEqual(await cache.get(put.diffId), put);
  await truncate(put.path, 10);
  assert.equal(await cache.get(put.diffId), undefined, 'a blob of the wrong size is not a hit');
  const again = await cache.put(Readable.from([data]));
  assert.equal(again.size, put.size);
  assert.ok(gunzipSync(await readFile(again.path)).equals(data));
});

test('open() reads the blob, or a byte range of it', async () => {
  const cache = tempCache();
  const layer = await cache.put(Readable.from([await layerTar({ x: randomBytes(5000) })]));
  const whole = await readFile(layer.path);
  assert.deepEqual(await collect(cache.open(layer)), whole);
  assert.deepEqual(await collect(cache.open(layer, { start: 10, end: 19 })), whole.subarray(10, 20));
});

test('the cache folder: BAREMETAL_CACHE_DIR, else XDG_CACHE_HOME, else ~/.cache', () => {
  assert.equal(defaultLayerCacheDir({ BAREMETAL_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }), '/c');
  assert.equal(defaultLayerCacheDir({ XDG_CACHE_HOME: '/x' }), join('/x', 'baremetal', 'layers'));
  assert.equal(defaultLayerCacheDir({}), join(homedir(), '.cache', 'baremetal', 'layers'));
});

test('the containerd store saves gzip blobs: they are kept as they came (same digest, no second compression), checked against the diffIDs', async () => {
  const parts = await threeLayers();
  const cache = tempCache();
  const saved = await saveTar(parts, 'web:1', 'oci-gzip');
  const image = await cache.exportImage(chunked(saved));
  assert.deepEqual(image.config, parts.config);
  assert.deepEqual(image.layers.map((l) => l.diffId), parts.layers.map((l) => sha256(l)), 'diffIDs: the sha256 of each uncompressed tar');
  const blobs = parts.layers.map((l) => gzipSync(l, { level: 6 }));
  assert.deepEqual(image.layers.map((l) => l.digest), blobs.map((b) => sha256(b)), 'each layer is served under the digest the engine gave it');
  for (const [i, l] of image.layers.entries()) {
    assert.equal(l.compressed, true);
    assert.equal(l.rawSize, parts.layers[i].length);
    assert.deepEqual(await readFile(l.path), blobs[i], 'the blob byte for byte: not recompressed');
  }
  // Saved again (the next deploy of an image on the same layers): nothing new, same digests.
  const again = await cache.exportImage(chunked(saved));
  assert.deepEqual(again.layers.map((l) => l.digest), image.layers.map((l) => l.digest));
  assert.equal((await readdir(join(cache.dir, 'digests'))).length, 3, 'each blob digest points at its diffID');
});

test('a layer cached from a classic save keeps its digest when the same layer later comes gzip-compressed from the containerd store', async () => {
  const parts = await threeLayers();
  const cache = tempCache();
  const first = await exportTar(cache, parts, 'classic');
  const second = await exportTar(cache, parts, 'oci-gzip');
  assert.deepEqual(second.layers.map((l) => l.digest), first.layers.map((l) => l.digest), 'the server keeps recognising what it has');
});

test('a gzip blob whose content does not match the config is refused', async () => {
  const parts = await threeLayers();
  const other = await layerTar({ 'app/index.js': 'tampered' });
  const cache = tempCache();
  await assert.rejects(exportTar(cache, { ...parts, layers: [parts.layers[0], parts.layers[1], other] }, 'oci-gzip'), /do not match the image config/);
});
