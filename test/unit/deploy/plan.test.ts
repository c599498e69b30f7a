import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deploy } from '../../../src/core/deploy/deploy';
import { planDeploy } from '../../../src/core/deploy/plan';
import { sha256 } from '../fakes/image-tar';
import { deployWorld } from '../fakes/world';

const APP = {
  Dockerfile: 'FROM node:20-alpine\nCOPY . /app\nCMD ["node", "/app/index.js"]\n',
  'index.js': 'console.log("v1")\n',
};

type World = ReturnType<typeof deployWorld>;
const cached = (w: World, sha: string) => Promise.all(w.builder.layersOf(`web:${sha}`).map(async (l) => (await w.cache.get(sha256(l)))!));
/** Everything on the server a plan must leave alone. */
const serverState = (w: World) => ({
  files: [...w.files.files.entries()],
  writes: w.files.ops.filter((o) => !o.startsWith('read')),
  calls: [...w.engine.calls],
  images: [...w.engine.imagesById.values()].map((i) => [i.id, [...i.tags]]),
  containers: [...w.engine.containersById.values()].map((c) => [c.id, c.state]),
  tunnels: w.server.tunnelsOpened,
  received: [...w.engine.received],
});

test('an empty server: every layer is missing, and the server is left exactly as it was', async () => {
  const w = deployWorld(APP);
  const before = serverState(w);
  const plan = await planDeploy(w.deps);
  const [base, app] = await cached(w, w.first.sha);

  assert.equal(plan.commit, w.first.sha);
  assert.equal(plan.subject, 'first commit');
  assert.equal(plan.server, 'prod');
  assert.equal(plan.tag, w.first.sha);
  assert.equal(plan.onServer, false);
  assert.deepEqual(plan.layers, [
    { digest: base.digest, size: base.size, present: false },
    { digest: app.digest, size: app.size, present: false },
  ]);
  assert.equal(plan.missingBytes, base.size + app.size);
  assert.equal(plan.totalBytes, base.size + app.size);
  assert.deepEqual(plan.advice, []);
  assert.deepEqual(serverState(w), before, 'no image, container, journal line, lock or tunnel');
  assert.deepEqual(before.files, []);
});

test('after a deploy, the next commit lacks only its app layer, and the deploy then sends what the plan said', async () => {
  const w = deployWorld(APP);
  await deploy(w.deps);
  const second = w.repo.commit('v2', { ...APP, 'index.js': 'console.log("v2")\n' });
  const before = serverState(w);
  const plan = await planDeploy(w.deps);
  const [base, app] = await cached(w, second.sha);

  assert.equal(plan.commit, second.sha);
  assert.deepEqual(plan.layers.map((l) => [l.digest, l.present]), [[base.digest, true], [app.digest, false]]);
  assert.equal(plan.missingBytes, app.size);
  assert.equal(plan.totalBytes, base.size + app.size);
  assert.deepEqual(serverState(w), before, 'the journal has one line, no lock, the first version still running');

  const r = await deploy(w.deps);
  const config = w.builder.parts.get(w.builder.images.get(`web:${second.sha}`)!.id)!.config;
  assert.equal(r.bytesSent, plan.missingBytes + config.length);
  assert.equal(w.builder.builds.length, 2, 'the deploy reused the image the plan built');
});

test('the commit already on the server: onServer, nothing missing', async () => {
  const w = deployWorld(APP);
  await deploy(w.deps);
  const plan = await planDeploy(w.deps);
  assert.equal(plan.onServer, true);
  assert.equal(plan.missingBytes, 0);
  assert.ok(plan.layers.every((l) => l.present));
  assert.ok(plan.totalBytes > 0);
});

test('a Dockerfile that copies everything before installing: advice with the file and line', async () => {
  const w = deployWorld({ ...APP, Dockerfile: 'FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n', 'package.json': '{}' });
  const plan = await planDeploy(w.deps);
  assert.equal(plan.advice.length, 1);
  assert.match(plan.advice[0], /^Dockerfile:4: "COPY \. \." \(line 3\) comes before "RUN npm ci" \(line 4\)/);
});
