import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { test } from 'node:test';
import { ExportMismatch } from '../../../src/core/transfer/layer-cache';
import { chunked, layerTar, makeImage, saveTar, sha256 } from '../fakes/image-tar';
import { tempCache } from '../fakes/world';

const MiB = 1024 * 1024;

async function image(appBytes: Buffer) {
  return makeImage([await layerTar({ 'base.bin': randomBytes(5 * MiB) }), await layerTar({ 'app.txt': appBytes })], { app: 'web' });
}

test('a cached big layer of a classic save is recognised by its size and skipped unread', async () => {
  const cache = tempCache();
  const parts = await image(Buffer.from('v1\n'));
  const first = await cache.exportImage(chunked(await saveTar(parts, 'web:1', 'classic')));
  const blob = first.layers[0].path;
  const before = (await stat(blob)).ino; // its mtime changes: a use counts for eviction
  const hints = parts.layers.map((l) => sha256(l));
  const again = await cache.exportImage(chunked(await saveTar(parts, 'web:1', 'classic')), hints);
  assert.deepEqual(again.layers.map((l) => l.digest), first.layers.map((l) => l.digest));
  assert.equal((await stat(blob)).ino, before, 'not rewritten (every write renames a new file in)');
  assert.deepEqual((await readdir(cache.dir)).filter((f) => f.startsWith('.')), [], 'no temporary files');
});

test('a wrong size guess is caught: the export says so instead of returning the wrong layer', async () => {
  const cache = tempCache();
  const a = await image(Buffer.from('a'));
  await cache.exportImage(chunked(await saveTar(a, 'web:1', 'classic')));
  // Another image whose big layer has the same size but other bytes; hints claim the cached one.
  const b = await makeImage([await layerTar({ 'base.bin': randomBytes(5 * MiB) }), a.layers[1]], { app: 'web' });
  assert.equal(b.layers[0].length, a.layers[0].length);
  const wrongHints = [sha256(a.layers[0]), sha256(b.layers[1])];
  await assert.rejects(cache.exportImage(chunked(await saveTar(b, 'web:2', 'classic')), wrongHints), ExportMismatch);
  const right = await cache.exportImage(chunked(await saveTar(b, 'web:2', 'classic')));
  assert.equal(right.layers[0].diffId, sha256(b.layers[0]));
});

test('an exported image is remembered by its ID: no save needed to ship it again', async () => {
  const cache = tempCache();
  const parts = await image(Buffer.from('v1\n'));
  const exported = await cache.exportImage(chunked(await saveTar(parts, 'web:1', 'classic')));
  assert.equal(await cache.getImage(exported.configDigest), undefined, 'not before putImage');
  await cache.putImage(exported);
  const back = await cache.getImage(exported.configDigest);
  assert.ok(back);
  assert.ok(back.config.equals(exported.config));
  assert.deepEqual(back.layers, exported.layers);
  assert.equal(await cache.getImage(`sha256:${'0'.repeat(64)}`), undefined);
});
