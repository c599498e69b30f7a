import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { deploy, type DeployResult } from '../../../src/core/deploy/deploy';
import { readJournal } from '../../../src/core/deploy/journal';
import { LABEL } from '../../../src/core/deploy/labels';
import { acquireLock } from '../../../src/core/deploy/lock';
import { BmError } from '../../../src/core/errors';
import { LayerCache } from '../../../src/core/transfer/layer-cache';
import { sha256 } from '../fakes/image-tar';
import { deployWorld, makeServer } from '../fakes/world';

const APP = {
  Dockerfile: 'FROM node:20-alpine\nCOPY . /app\nCMD ["node", "/app/src/index.js"]\n',
  'src/index.js': 'require("http").createServer((q, s) => s.end("ok")).listen(80);\n',
  'package.json': '{ "name": "web" }\n',
};

type Failure = BmError & { result?: DeployResult };
async function failure(p: Promise<unknown>): Promise<Failure> {
  return p.then(() => assert.fail('the deploy succeeded'), (e: Failure) => e);
}

/** The app's files without a Dockerfile. */
const noDockerfile = (): Record<string, string> => Object.fromEntries(Object.entries(APP).filter(([k]) => k !== 'Dockerfile'));

const history = (w: ReturnType<typeof deployWorld>) => readJournal(w.files, '.baremetal', 'web');

test('a first deploy builds the commit, ships the image, runs it, and records it', async () => {
  const w = deployWorld(APP);
  const r = await deploy(w.deps);

  assert.equal(r.result, 'succeeded');
  assert.equal(r.kind, 'deploy');
  assert.equal(r.commit, w.first.sha);
  assert.match(r.commit, /^[0-9a-f]{40}$/, 'the full sha, not an abbreviation');
  assert.equal(r.subject, 'first commit');
  assert.equal(r.server, 'prod');
  assert.equal(r.tag, w.first.sha);
  assert.equal(r.transport, 'registry');
  const built = w.builder.images.get(`web:${w.first.sha}`)!;
  assert.equal(r.image, built.id);
  const [config] = [w.builder.parts.get(built.id)!.config];
  const cached = await Promise.all(w.builder.layersOf(`web:${w.first.sha}`).map((l) => w.cache.get(sha256(l))));
  assert.equal(r.bytesSent, config.length + cached.reduce((n, l) => n + l!.size, 0), 'the config and every compressed layer went on the wire');
  assert.deepEqual(w.engine.received, w.builder.layersOf(`web:${w.first.sha}`).map((l) => sha256(l)), 'the server had nothing: both layers arrived');
  assert.deepEqual(w.engine.layersById.get(built.id), w.builder.layersOf(`web:${w.first.sha}`).map((l) => sha256(l)));
  assert.equal(r.error, undefined);

  // The build request.
  assert.equal(w.builder.builds.length, 1);
  const b = w.builder.builds[0];
  assert.equal(b.tag, `web:${w.first.sha}`);
  assert.equal(b.dockerfile, 'Dockerfile');
  assert.equal(b.labels[LABEL.app], 'web');
  assert.equal(b.labels[LABEL.commit], w.first.sha);
  assert.equal(b.labels[LABEL.subject], 'first commit');
  assert.equal(b.labels[LABEL.dirty], undefined);
  assert.deepEqual(w.repo.archived, [w.first.sha], 'built from git archive of the commit');

  // What runs on the server.
  const [running] = w.engine.running();
  assert.equal(w.engine.running().length, 1);
  assert.equal(running.spec.image, `web:${w.first.sha}`);
  assert.equal(running.imageId, built.id);
  assert.equal(running.spec.env.API_TOKEN, 't0k3n');
  assert.equal(running.spec.labels[LABEL.deployId], r.id);

  // The journal.
  const h = await history(w);
  assert.equal(h.length, 1);
  assert.equal(h[0].id, r.id);
  assert.equal(h[0].result, 'succeeded');
  assert.equal(h[0].commit, w.first.sha);
  assert.equal(h[0].who, 'alice@laptop');
  assert.equal(h[0].bytesSent, r.bytesSent);
  assert.equal(h[0].server, 'prod');
  assert.equal(w.files.files.has('.baremetal/web/lock'), false, 'the lock is released');

  const ship = w.progress.events.filter((e) => e.phase === 'ship');
  assert.equal(ship.at(-1)?.bytes, r.bytesSent);
});

test('deploying the same commit again sends 0 bytes: the image is already on the server', async () => {
  const w = deployWorld(APP);
  const first = await deploy(w.deps);
  const again = await deploy(w.deps);
  assert.equal(again.result, 'succeeded');
  assert.equal(again.bytesSent, 0);
  assert.equal(again.transport, 'none');
  assert.equal(again.image, first.image);
  assert.equal(w.builder.builds.length, 1, 'not built again');
  assert.equal(w.builder.saved.length, 1, 'not sent again');
  assert.equal(w.engine.running().length, 1);
  assert.equal(w.engine.running()[0].spec.labels[LABEL.deployId], again.id);
  assert.deepEqual((await history(w)).map((x) => [x.id, x.result, x.bytesSent]), [
    [first.id, 'succeeded', first.bytesSent],
    [again.id, 'succeeded', 0],
  ]);
});

test('an image built before on this machine is reused, but still shipped', async () => {
  const w = deployWorld(APP);
  await deploy(w.deps);
  w.engine.imagesById.clear();
  w.engine.containersById.clear();
  const r = await deploy(w.deps);
  assert.equal(w.builder.builds.length, 1);
  assert.ok(r.bytesSent > 0);
  assert.ok(w.logger.at('info').includes(`web:${w.first.sha} was built before: reusing it`));
});

test('a failing health check: failed result in the journal with the reason, the previous version still running', async () => {
  const w = deployWorld(APP);
  await deploy(w.deps);
  const [before] = w.engine.running();
  const second = w.repo.commit('break the health endpoint', { ...APP, 'src/index.js': 'broken' });
  w.engine.behave(`web:${second.sha}`, { http: () => 500, logs: ['Error: cannot read config'] });

  const e = await failure(deploy(w.deps));
  assert.equal(e.code, 'HealthCheckFailed');
  assert.equal(e.message, 'The new container was not healthy within 1s: GET /health answered HTTP 500. The previous version keeps serving.');
  assert.match(e.detail ?? '', /Error: cannot read config/);
  assert.equal(e.result?.result, 'failed');
  assert.equal(e.result?.commit, second.sha);
  assert.deepEqual(e.result?.error, { code: 'HealthCheckFailed', message: e.message });

  const last = (await history(w)).at(-1)!;
  assert.equal(last.result, 'failed');
  assert.equal(last.commit, second.sha);
  assert.equal(last.reason, e.message);
  assert.equal(last.id, e.result?.id);
  assert.deepEqual(w.engine.running().map((c) => c.id), [before.id], 'the previous container serves again');
  assert.equal(await w.engine.httpGet('127.0.0.1', 8080, '/health', 1000), 200);
  assert.equal(w.files.files.has('.baremetal/web/lock'), false);
});

test('while another deploy holds the lock: LockHeld, nothing built, sent, run or recorded', async () => {
  const w = deployWorld(APP);
  await acquireLock(w.files, '.baremetal', 'web', { owner: 'bob@desk', operation: 'deploy' });
  const lockBefore = w.files.files.get('.baremetal/web/lock');

  const e = await failure(deploy(w.deps));
  assert.equal(e.code, 'LockHeld');
  assert.match(e.message, /^A deploy of web by bob@desk has been running for \d+s on this server/);
  assert.equal(w.builder.builds.length, 0);
  assert.deepEqual(w.engine.calls, []);
  assert.equal(w.files.files.has('.baremetal/web/history.jsonl'), false, 'nothing recorded');
  assert.equal(w.files.files.get('.baremetal/web/lock'), lockBefore, "bob's lock is untouched");
});

test('no Dockerfile in the commit: DockerfileMissing, recorded as failed, nothing runs', async () => {
  const w = deployWorld(noDockerfile());
  const e = await failure(deploy(w.deps));
  assert.equal(e.code, 'DockerfileMissing');
  assert.equal(e.message, `There is no Dockerfile in commit ${w.first.sha.slice(0, 12)}: add and commit one, or set "build.dockerfile" in baremetal.json.`);
  assert.equal(e.result?.result, 'failed');
  assert.equal(w.builder.builds.length, 0);
  assert.deepEqual(w.engine.calls, []);
  const h = await history(w);
  assert.equal(h.length, 1);
  assert.equal(h[0].reason, e.message);
});

test('a Dockerfile committed after the deployed commit does not count', async () => {
  const w = deployWorld(noDockerfile());
  w.repo.commit('add Dockerfile', APP);
  await assert.rejects(deploy(w.deps, { ref: w.first.sha.slice(0, 7) }), { code: 'DockerfileMissing' });
});

test('a failing build is recorded as failed with its message, and the server is not touched', async () => {
  const w = deployWorld(APP);
  w.builder.failWith = new BmError('BuildFailed', 'The build failed at RUN npm ci (exit code 1).', 'npm ERR! missing lockfile');
  const e = await failure(deploy(w.deps));
  assert.equal(e.code, 'BuildFailed');
  assert.equal(e.detail, 'npm ERR! missing lockfile', 'the build output stays with the error');
  assert.equal(e.result?.result, 'failed');
  assert.deepEqual(w.engine.calls, []);
  const [rec] = await history(w);
  assert.equal(rec.result, 'failed');
  assert.equal(rec.reason, 'The build failed at RUN npm ci (exit code 1).');
  assert.equal(rec.bytesSent, 0);
});

test('cancelled during the health check: recorded as cancelled, the previous version serving', async () => {
  const w = deployWorld(APP);
  await deploy(w.deps);
  const [before] = w.engine.running();
  const second = w.repo.commit('slow start', { ...APP, 'README.md': 'x' });
  w.engine.behave(`web:${second.sha}`, { http: () => 503 });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const e = await failure(deploy(w.deps, { signal: ac.signal }));
  assert.equal(e.code, 'Cancelled');
  assert.equal(e.result?.result, 'cancelled');
  assert.equal((await history(w)).at(-1)?.result, 'cancelled');
  assert.deepEqual(w.engine.running().map((c) => c.id), [before.id]);
});

test('after a successful deploy, images beyond `keep` are pruned from the server', async () => {
  const w = deployWorld(APP, { keep: 2 });
  const shas = [w.first.sha];
  await deploy(w.deps);
  for (const n of [2, 3]) {
    shas.push(w.repo.commit(`commit ${n}`, { ...APP, 'README.md': `v${n}` }).sha);
    await deploy(w.deps);
  }
  const tags = [...w.engine.imagesById.values()].flatMap((i) => i.tags).sort();
  assert.deepEqual(tags, [`web:${shas[1]}`, `web:${shas[2]}`].sort());
  assert.equal(w.engine.running()[0].spec.image, `web:${shas[2]}`);
});

/** The cached compressed layers of web:<sha>, base first. */
const shippedLayers = (w: ReturnType<typeof deployWorld>, sha: string) =>
  Promise.all(w.builder.layersOf(`web:${sha}`).map(async (l) => (await w.cache.get(sha256(l)))!));
const configOf = (w: ReturnType<typeof deployWorld>, sha: string) => w.builder.parts.get(w.builder.images.get(`web:${sha}`)!.id)!.config;

test('a second deploy of a new commit sends only the changed layer, by the registry, and the journal says so', async () => {
  const w = deployWorld(APP);
  const first = await deploy(w.deps);
  const second = w.repo.commit('change the greeting', { ...APP, 'src/index.js': 'require("http").createServer((q, s) => s.end("hello")).listen(80);\n' });
  const r = await deploy(w.deps);

  assert.equal(r.result, 'succeeded');
  assert.equal(r.transport, 'registry');
  const [base, app] = await shippedLayers(w, second.sha);
  assert.equal(base.digest, (await shippedLayers(w, w.first.sha))[0].digest, 'the base layer is the one the server has');
  assert.equal(r.bytesSent, configOf(w, second.sha).length + app.size, 'only the config and the app layer crossed');
  assert.ok(r.bytesSent * 10 < first.bytesSent, `${r.bytesSent} bytes, against ${first.bytesSent} for the first deploy`);
  assert.deepEqual(w.engine.received.slice(2), [app.diffId]);
  assert.equal(w.engine.running()[0].spec.image, `web:${second.sha}`);
  assert.equal(w.engine.running()[0].imageId, r.image);
  assert.equal(w.progress.events.filter((e) => e.phase === 'ship').at(-1)?.bytes, r.bytesSent);

  const h = await history(w);
  assert.deepEqual(h.map((x) => [x.id, x.transport, x.bytesSent]), [
    [first.id, 'registry', first.bytesSent],
    [r.id, 'registry', r.bytesSent],
  ]);
});

test('a server that refuses SSH forwarding gets a trimmed load, and the journal records it', async () => {
  const w = deployWorld(APP);
  w.server.refuseTunnels = true;
  const first = await deploy(w.deps);
  assert.equal(first.transport, 'trimmed-load');
  const second = w.repo.commit('v2', { ...APP, 'README.md': 'v2' });
  const r = await deploy(w.deps);

  assert.equal(r.result, 'succeeded');
  assert.equal(r.transport, 'trimmed-load');
  const [, app] = await shippedLayers(w, second.sha);
  assert.ok(r.bytesSent >= app.size && r.bytesSent * 10 < first.bytesSent, `${r.bytesSent} bytes against ${first.bytesSent}`);
  assert.deepEqual(w.engine.received.slice(2), [app.diffId]);
  assert.equal((await history(w)).at(-1)?.transport, 'trimmed-load');
  assert.ok(w.logger.at('warn').some((m) => m.startsWith('registry transfer did not work (Unable to bind to 127.0.0.1:0)')));
});

test('forceTransfer: the deploy uses that path only, and records it', async () => {
  const w = deployWorld(APP);
  w.deps.forceTransfer = 'full-load';
  const r = await deploy(w.deps);
  assert.equal(r.transport, 'full-load');
  assert.equal(w.server.tunnelsOpened, 0);
  assert.equal((await history(w))[0].transport, 'full-load');
});

test('cancelled while the image is sent: recorded as cancelled, no fallback, the previous version serving', async () => {
  const w = deployWorld(APP);
  await deploy(w.deps);
  const [before] = w.engine.running();
  const second = w.repo.commit('v2', { ...APP, 'README.md': 'v2' });
  const ac = new AbortController();
  const deps = { ...w.deps, progress: (e: { phase: string; bytes?: number }) => void (e.phase === 'ship' && e.bytes && ac.abort()) };
  const e = await failure(deploy(deps, { signal: ac.signal }));
  assert.equal(e.code, 'Cancelled');
  assert.equal(e.result?.result, 'cancelled');
  assert.equal((await history(w)).at(-1)?.result, 'cancelled');
  assert.ok(!w.logger.at('warn').some((m) => m.includes('trying the next way')), 'a cancel is not a failed transfer');
  assert.equal(await w.engine.image(`web:${second.sha}`), undefined);
  assert.deepEqual(w.engine.running().map((c) => c.id), [before.id]);
  assert.deepEqual(w.engine.loopback.open, [], 'the tunnel is closed');
  assert.equal(w.files.files.has('.baremetal/web/lock'), false);
});

test('the connection drops while sending: the failure is recorded and the lock freed through a fresh connection', async () => {
  const w = deployWorld(APP);
  await deploy(w.deps);
  const [before] = w.engine.running();
  w.repo.commit('v2', { ...APP, 'README.md': 'v2' });
  let reconnects = 0;
  const deps = {
    ...w.deps,
    progress: (e: { phase: string; bytes?: number }) => void (e.phase === 'ship' && e.bytes && w.server.drop()),
    reconnect: async () => (reconnects++, makeServer(w.engine, w.files)),
  };
  const e = await failure(deploy(deps));
  assert.equal(e.code, 'ConnectionLost');
  assert.equal(e.result?.result, 'failed');
  assert.equal(reconnects, 1);
  const last = (await history(w)).at(-1)!;
  assert.equal(last.result, 'failed');
  assert.equal(last.reason, e.message);
  assert.equal(w.files.files.has('.baremetal/web/lock'), false, 'the next deploy is not blocked');
  assert.deepEqual(w.engine.running().map((c) => c.id), [before.id]);
});

test('after a deploy the layer cache is trimmed to its limit: layers of this deploy stay, however old; the rest goes', async () => {
  const w = deployWorld(APP);
  await deploy(w.deps);
  const [, firstApp] = await shippedLayers(w, w.first.sha);
  const second = w.repo.commit('change the greeting', { ...APP, 'src/index.js': 'require("http").createServer((q, s) => s.end("hello")).listen(80);\n' });
  // Everything in the cache was last used a week ago, the shared base layer included.
  const weekAgo = new Date(Date.now() - 7 * 24 * 3600 * 1000);
  for (const f of await readdir(w.cache.dir, { recursive: true })) await utimes(join(w.cache.dir, f), weekAgo, weekAgo);

  const r = await deploy({ ...w.deps, cache: new LayerCache(w.cache.dir, 1) });
  assert.equal(r.result, 'succeeded');
  const [base, app] = await shippedLayers(w, second.sha);
  assert.ok(existsSync(base.path) && existsSync(app.path), 'the layers of the image just deployed are kept, the old base layer too');
  assert.ok(!existsSync(firstApp.path), 'the first commit’s own layer is evicted');
  assert.deepEqual(await readdir(join(w.cache.dir, 'images')), [`${r.image.replace('sha256:', '')}.json`], 'only the image just deployed is remembered');
  assert.match(w.logger.at('info').join('\n'), /layer cache: removed 2 least recently used entries/);
  assert.deepEqual(w.logger.at('warn'), []);
});

test("the image is built for the server's platform; one for another CPU is refused before anything is sent", async () => {
  const w = deployWorld(APP);
  w.engine.platform = async () => ({ os: 'linux', architecture: 'amd64' });
  await deploy(w.deps);
  assert.equal(w.builder.builds[0].platform, 'linux/amd64', 'asked for the server platform');

  const w2 = deployWorld(APP);
  w2.engine.platform = async () => ({ os: 'linux', architecture: 'amd64' });
  w2.builder.builtFor = 'linux/arm64';
  const e = await failure(deploy(w2.deps));
  assert.equal(e.code, 'PlatformMismatch');
  assert.match(e.message, /built for linux\/arm64 but prod runs linux\/amd64/);
  assert.equal(e.result?.bytesSent, 0);
  assert.deepEqual(w2.builder.saved, [], 'the image was not even taken apart');
  assert.equal((await history(w2)).at(-1)?.result, 'failed', 'the attempt is recorded');
});
