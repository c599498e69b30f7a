import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LABEL } from '../../../src/core/deploy/labels';
import { imagesToPrune, pruneImages } from '../../../src/core/deploy/prune';
import type { ImageInfo } from '../../../src/core/ports';
import { FakeEngine } from '../fakes/engine';
import { CollectingLogger } from '../fakes/logger';
import { rec } from '../fakes/records';
import type { DeployRecord } from '../../../src/core/deploy/journal';

/** The image a record's deploy left on the server. */
function imageOf(r: DeployRecord, app = 'web'): ImageInfo {
  return { id: r.image, tags: [`${app}:${r.tag}`], labels: { [LABEL.app]: app }, created: r.finishedAt, size: 1 };
}

const names = (images: ImageInfo[]) => images.map((i) => i.tags[0] ?? i.id).sort();

test('keeps the images of the `keep` most recent successful commits, prunes older ones', () => {
  const h = ['c1', 'c2', 'c3', 'c4', 'c5'].map((c) => rec(c));
  const images = h.map((r) => imageOf(r));
  const doomed = imagesToPrune(images, h, 3, h[4].image, 'web');
  assert.deepEqual(names(doomed), names([images[0], images[1]]));
});

test('redeploys of the same commit count once: the keep is of distinct commits', () => {
  const [a, b, c] = [rec('a'), rec('b'), rec('c')];
  // c, b, b again, a rolled back to, b again: distinct recent commits are b and a (c is older).
  const h = [c, b, { ...rec('b'), tag: b.tag, image: b.image }, rec('a', { kind: 'rollback', tag: a.tag, image: a.image }), { ...rec('b'), tag: b.tag, image: b.image }];
  const images = [imageOf(a), imageOf(b), imageOf(c)];
  const doomed = imagesToPrune(images, h, 2, b.image, 'web');
  assert.deepEqual(names(doomed), names([imageOf(c)]));
});

test('the running image is kept even when it is older than the kept ones', () => {
  const h = ['c1', 'c2', 'c3', 'c4'].map((c) => rec(c));
  const images = h.map((r) => imageOf(r));
  // Someone rolled back by hand to c1: it runs, but is not among the 2 most recent.
  const doomed = imagesToPrune(images, h, 2, h[0].image, 'web');
  assert.deepEqual(names(doomed), names([images[1]]));
});

test("a failed deploy's image that is running is never removed", () => {
  const ok = rec('ok');
  const bad = rec('bad', { result: 'failed' });
  const images = [imageOf(ok), imageOf(bad)];
  assert.deepEqual(imagesToPrune(images, [ok, bad], 1, bad.image, 'web'), []);
});

test('images of failed (and cancelled) deploys are removed', () => {
  const [a, b] = [rec('a'), rec('b')];
  const failed = rec('f', { result: 'failed' });
  const cancelled = rec('x', { result: 'cancelled' });
  const h = [a, failed, b, cancelled];
  const images = h.map((r) => imageOf(r));
  assert.deepEqual(names(imagesToPrune(images, h, 5, b.image, 'web')), names([imageOf(failed), imageOf(cancelled)]));
});

test('a failed redeploy of a kept commit does not doom its image', () => {
  const a = rec('a');
  const againFailed = { ...rec('a2', { result: 'failed' }), tag: a.tag, image: a.image };
  assert.deepEqual(imagesToPrune([imageOf(a)], [a, againFailed], 1, undefined, 'web'), []);
});

test("images of other apps are untouched, even with the same commit or no history at all", () => {
  const a = rec('a');
  const mine = imageOf(rec('old'));
  const otherApp = imageOf(rec('z'), 'api');
  const unlabelled: ImageInfo = { id: 'sha256:nginx', tags: ['nginx:latest'], labels: {}, created: '', size: 1 };
  const sameCommitOtherApp = { ...imageOf(a, 'api'), id: 'sha256:api-a' };
  const history = [a, rec('z', { app: 'api' })];
  assert.deepEqual(names(imagesToPrune([mine, otherApp, unlabelled, sameCommitOtherApp, imageOf(a)], history, 1, undefined, 'web')), names([mine]));
});

test('an untagged leftover of the app (a rebuilt tag) is pruned unless it runs', () => {
  const a = rec('a');
  const dangling: ImageInfo = { id: 'sha256:dangling', tags: [], labels: { [LABEL.app]: 'web' }, created: '', size: 1 };
  assert.deepEqual(imagesToPrune([imageOf(a), dangling], [a], 1, undefined, 'web'), [dangling]);
  assert.deepEqual(imagesToPrune([imageOf(a), dangling], [a], 1, 'sha256:dangling', 'web'), []);
});

test('pruneImages removes the doomed images on the server and logs what went', async () => {
  const engine = new FakeEngine();
  const h = ['c1', 'c2', 'c3'].map((c) => rec(c));
  for (const r of h) engine.addImage(`web:${r.tag}`, { [LABEL.app]: 'web' }, r.image);
  engine.addImage('api:1', { [LABEL.app]: 'api' });
  const running = engine.seed({ name: 'web-c3', image: `web:${h[2].tag}`, labels: { [LABEL.app]: 'web' } });
  // An old stopped container still uses c1's image: docker refuses to remove it, and that is not fatal.
  engine.seed({ name: 'web-c1-stopped', image: `web:${h[0].tag}`, labels: { [LABEL.app]: 'web' } }, 'exited');
  const logger = new CollectingLogger();

  const removed = await pruneImages(engine, 'web', 1, h, running.imageId, logger);
  assert.deepEqual(removed, [`web:${h[1].tag}`]);
  assert.deepEqual([...engine.imagesById.values()].flatMap((i) => i.tags).sort(), ['api:1', `web:${h[0].tag}`, `web:${h[2].tag}`].sort());
  assert.ok(logger.at('warn')[0].startsWith(`prune: kept web:${h[0].tag}: conflict`));
  assert.deepEqual(logger.at('info'), [`pruned 1 old image(s): web:${h[1].tag}`]);
});
