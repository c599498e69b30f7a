import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { cacheMaxFromEnv, DEFAULT_CACHE_MAX, evictCache, trimLayerCache } from '../../../src/core/transfer/cache-eviction';
import { LayerCache, type CachedLayer } from '../../../src/core/transfer/layer-cache';
import { isBmError } from '../../../src/core/errors';
import { exportParts, hexOf, layerTar, makeImage } from '../fakes/image-tar';
import { CollectingLogger } from '../fakes/logger';
import { tempCache, tempDir } from '../fakes/world';

const GiB = 1024 ** 3;
const DAY = 24 * 3600 * 1000;

/** A layer of `kib` KiB of random bytes (gzip cannot shrink it: the blob is about that size). */
const putLayer = async (cache: LayerCache, kib: number) => cache.put(Readable.from([await layerTar({ data: randomBytes(kib * 1024) })]));

/** Marks a layer as last used `daysAgo` days ago (what LayerCache.get does with "now"). */
async function usedAgo(layer: CachedLayer, daysAgo: number): Promise<void> {
  const t = new Date(Date.now() - daysAgo * DAY);
  await utimes(layer.path, t, t);
  await utimes(layer.path.replace('.tar.gz', '.json'), t, t);
}

/** Blob and metadata: what an entry counts for. */
const entrySize = async (l: CachedLayer) => (await stat(l.path)).size + (await stat(l.path.replace('.tar.gz', '.json'))).size;

const present = (l: CachedLayer) => existsSync(l.path) && existsSync(l.path.replace('.tar.gz', '.json'));
const absent = (l: CachedLayer) => !existsSync(l.path) && !existsSync(l.path.replace('.tar.gz', '.json'));

test('BAREMETAL_CACHE_MAX: bytes or a size with K, M, G, T (in 1024s), "none" for no limit, 10 GiB when unset', () => {
  const max = (v?: string) => cacheMaxFromEnv(v === undefined ? {} : { BAREMETAL_CACHE_MAX: v });
  assert.equal(max(), 10 * GiB);
  assert.equal(DEFAULT_CACHE_MAX, 10 * GiB);
  assert.equal(max(''), 10 * GiB);
  assert.equal(max('1073741824'), GiB);
  for (const v of ['5G', '5g', '5GB', '5Gi', '5GiB', ' 5 GiB ']) assert.equal(max(v), 5 * GiB, v);
  assert.equal(max('500M'), 500 * 1024 ** 2);
  assert.equal(max('2GiB'), 2 * GiB);
  assert.equal(max('1.5K'), 1536);
  assert.equal(max('1T'), 1024 ** 4);
  assert.equal(max('100b'), 100);
  assert.equal(max('none'), Infinity);
  assert.equal(max('NONE'), Infinity);
});

test('BAREMETAL_CACHE_MAX: zero, "off", negative or unreadable values are refused, naming the variable', () => {
  for (const v of ['0', '0G', 'off', '-5G', '5X', 'G', '1e9', '0.1', 'five gigabytes', '5 G B', 'unlimited']) {
    assert.throws(
      () => cacheMaxFromEnv({ BAREMETAL_CACHE_MAX: v }),
      (e: unknown) =>
        isBmError(e, 'ConfigInvalid') &&
        e.message.includes(`BAREMETAL_CACHE_MAX is "${v.trim()}"`) &&
        /expected a size above zero such as 10G, 500M, 2GiB/.test(e.message) &&
        e.message.includes('"none"'),
      v,
    );
  }
});

test('over the limit: the least recently used entries go first, only until the cache fits', async () => {
  const cache = tempCache();
  // Made in another order than they were last used, so file names or creation order cannot pass for age.
  const [c, a, d, b] = [await putLayer(cache, 64), await putLayer(cache, 96), await putLayer(cache, 32), await putLayer(cache, 128)];
  await usedAgo(a, 9);
  await usedAgo(b, 7);
  await usedAgo(c, 5);
  await usedAgo(d, 3);
  const [sb, sc, sd] = [await entrySize(b), await entrySize(c), await entrySize(d)];

  // Exactly what b, c and d take: only a (the oldest) goes.
  let r = await evictCache(cache.dir, { maxBytes: sb + sc + sd });
  assert.equal(r.removed, 1);
  assert.ok(absent(a), 'the oldest entry is gone, blob and metadata');
  assert.ok([b, c, d].every(present), 'the rest fits: kept');
  assert.equal(r.totalBytes, sb + sc + sd);

  // One byte less: b goes too, and nothing younger.
  r = await evictCache(cache.dir, { maxBytes: sb + sc + sd - 1 });
  assert.equal(r.removed, 1);
  assert.equal(r.freedBytes, sb);
  assert.ok(absent(b));
  assert.ok(present(c) && present(d));
  assert.equal(await cache.get(b.diffId), undefined, 'an evicted layer is a miss, compressed again when next needed');
  assert.deepEqual(await cache.get(d.diffId), d);
  assert.deepEqual((await readdir(cache.dir)).sort(), [c, d].flatMap((l) => [`${hexOf(l.diffId)}.json`, `${hexOf(l.diffId)}.tar.gz`]).sort());
});

test('under the limit nothing is evicted, however old', async () => {
  const cache = tempCache();
  const layers = [await putLayer(cache, 64), await putLayer(cache, 64), await putLayer(cache, 64)];
  for (const [i, l] of layers.entries()) await usedAgo(l, 400 + i);
  const total = (await Promise.all(layers.map(entrySize))).reduce((n, s) => n + s, 0);
  const before = (await readdir(cache.dir)).sort();
  const r = await evictCache(cache.dir, { maxBytes: total });
  assert.deepEqual(r, { removed: 0, freedBytes: 0, totalBytes: total });
  assert.deepEqual((await readdir(cache.dir)).sort(), before);
  const logger = new CollectingLogger();
  await trimLayerCache(new LayerCache(cache.dir), undefined, logger); // the default 10 GiB
  assert.deepEqual((await readdir(cache.dir)).sort(), before);
  assert.deepEqual(logger.lines, []);
});

test('after a deploy: the image it used stays, however old, even over the limit; the rest goes', async () => {
  const dir = join(tempDir('bm-cache-'), 'layers');
  const filler = new LayerCache(dir);
  const others = [await putLayer(filler, 64), await putLayer(filler, 64)];
  const parts = makeImage([await layerTar({ base: randomBytes(50_000) }), await layerTar({ app: randomBytes(20_000) })]);
  const image = await exportParts(filler, parts);
  await filler.putImage(image);
  const record = join(dir, 'images', `${hexOf(image.configDigest)}.json`);
  // The deploy's layers were last used before the others (a rollback-like redeploy of an old image).
  for (const l of image.layers) await usedAgo(l, 30);
  const old = new Date(Date.now() - 30 * DAY);
  await utimes(record, old, old);
  for (const l of others) await usedAgo(l, 2);

  const logger = new CollectingLogger();
  await trimLayerCache(new LayerCache(dir, 1), image, logger);
  assert.ok(image.layers.every(present), "the deploy's layers are kept");
  assert.ok(existsSync(record), "and so is the deploy's image record");
  assert.ok(others.every(absent), 'everything else goes: the limit is 1 byte');
  assert.deepEqual(await new LayerCache(dir).getImage(image.configDigest), image, 'the image is still whole in the cache');
  assert.equal(logger.at('warn').length, 0);
  assert.match(logger.at('info').join('\n'), /layer cache: removed 2 least recently used entries .*BAREMETAL_CACHE_MAX/);
  assert.match(logger.at('debug').join('\n'), /over its 0\.0 MiB limit/);
});

test('entries used in the last hour (maybe by another deploy running now) stay even over the limit', async () => {
  const cache = tempCache();
  const [old, recent] = [await putLayer(cache, 64), await putLayer(cache, 64)];
  await usedAgo(old, 1);
  const t = new Date(Date.now() - 20 * 60 * 1000);
  await utimes(recent.path, t, t);
  const r = await evictCache(cache.dir, { maxBytes: 1 });
  assert.equal(r.removed, 1);
  assert.ok(absent(old));
  assert.ok(present(recent));
});

test('a get() counts as a use: the layer becomes the youngest', async () => {
  const cache = tempCache();
  const [a, b] = [await putLayer(cache, 64), await putLayer(cache, 64)];
  await usedAgo(a, 10);
  await usedAgo(b, 5);
  assert.ok(await cache.get(a.diffId));
  assert.ok(Date.now() - (await stat(a.path)).mtimeMs < 60_000);
  await evictCache(cache.dir, { maxBytes: await entrySize(a), graceMs: 0 });
  assert.ok(present(a), 'a, used just now, is kept');
  assert.ok(absent(b), 'b, used 5 days ago, is now the least recently used');
});

test('stale temporary files and image records count and go; files the cache did not make are left alone', async () => {
  const cache = tempCache();
  const layer = await putLayer(cache, 64);
  await usedAgo(layer, 1);
  const stale = join(cache.dir, '.raw-abcdef123456');
  await writeFile(stale, randomBytes(10_000));
  await mkdir(join(cache.dir, 'images'));
  const record = join(cache.dir, 'images', `${'e'.repeat(64)}.json`);
  await writeFile(record, '{}');
  const foreign = join(cache.dir, 'README.txt');
  await writeFile(foreign, 'mine');
  const long = new Date(Date.now() - 3 * DAY);
  for (const f of [stale, record, foreign]) await utimes(f, long, long);
  const r = await evictCache(cache.dir, { maxBytes: 1 });
  assert.equal(r.removed, 3);
  assert.ok(!existsSync(stale) && !existsSync(record) && absent(layer));
  assert.ok(existsSync(foreign));
});

test('"none" never evicts; a cache folder that cannot be read is only a warning', async () => {
  const cache = tempCache();
  const layer = await putLayer(cache, 64);
  await usedAgo(layer, 100);
  const logger = new CollectingLogger();
  await trimLayerCache(new LayerCache(cache.dir, cacheMaxFromEnv({ BAREMETAL_CACHE_MAX: 'none' })), undefined, logger);
  assert.ok(present(layer));
  assert.deepEqual(logger.lines, []);

  await trimLayerCache(new LayerCache(layer.path, 1), undefined, logger); // a file, not a folder
  assert.match(logger.at('warn').join('\n'), /layer cache: could not evict old layers .*the deploy is not affected/);

  await trimLayerCache(new LayerCache(join(cache.dir, 'never-made'), 1), undefined, logger);
  assert.equal(logger.at('warn').length, 1, 'a cache not made yet is simply empty');
});
