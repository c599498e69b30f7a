import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OUTSIDE_DOCKERFILE } from '../../../src/core/build/context';
import { deploy } from '../../../src/core/deploy/deploy';
import { deployWorld } from '../fakes/world';

/** What the builder received: the files (folders left out) of the build context. */
const contextFiles = (w: ReturnType<typeof deployWorld>) => [...w.builder.builds[0].files.keys()].filter((k) => !k.endsWith('/')).sort();

test('the build context excludes what the commit .dockerignore excludes, and includes the Dockerfile', async () => {
  const w = deployWorld({
    Dockerfile: 'FROM node:20\nCOPY . .\n',
    // The Dockerfile is ignored too (a common pattern): it must still reach the builder.
    '.dockerignore': 'node_modules\n*.log\n!keep.log\nsecrets/**\n**/*.test.js\nDockerfile\n.git\n',
    'src/index.js': 'main',
    'src/index.test.js': 'test',
    'node_modules/left-pad/index.js': 'pad',
    'debug.log': 'noise',
    'keep.log': 'needed at runtime',
    'secrets/prod/key.pem': '-----BEGIN PRIVATE KEY-----',
    'README.md': 'readme',
  });
  const r = await deploy(w.deps);
  assert.equal(r.result, 'succeeded');
  assert.deepEqual(contextFiles(w), ['.dockerignore', 'Dockerfile', 'README.md', 'keep.log', 'src/index.js']);
  const files = w.builder.builds[0].files;
  assert.equal(files.get('Dockerfile'), 'FROM node:20\nCOPY . .\n');
  assert.equal(files.get('keep.log'), 'needed at runtime');
  assert.ok(![...files.values()].some((v) => v.includes('PRIVATE KEY')), 'no secret reached the builder');
  assert.equal(w.builder.builds[0].dockerfile, 'Dockerfile');
});

test('the build is of the commit: a later commit and uncommitted files do not leak in', async () => {
  const w = deployWorld({ Dockerfile: 'FROM x', 'a.txt': 'v1' });
  w.repo.commit('second', { Dockerfile: 'FROM x', 'a.txt': 'v2', 'b.txt': 'new' });
  w.repo.uncommitted = ['c.txt'];
  await deploy(w.deps, { ref: w.first.sha.slice(0, 10) });
  assert.deepEqual(contextFiles(w), ['Dockerfile', 'a.txt']);
  assert.equal(w.builder.builds[0].files.get('a.txt'), 'v1');
});

test('a context subfolder: paths are relative to it, its own .dockerignore applies, the root one not', async () => {
  const w = deployWorld(
    {
      '.dockerignore': 'app\n', // the root one would exclude everything: it must not be used
      'app/Dockerfile': 'FROM app',
      'app/.dockerignore': 'fixtures\n',
      'app/main.py': 'print(1)',
      'app/fixtures/big.json': '{}',
      'web/index.html': '<html>',
    },
    { build: { context: 'app', dockerfile: 'app/Dockerfile' } },
  );
  await deploy(w.deps);
  assert.deepEqual(contextFiles(w), ['.dockerignore', 'Dockerfile', 'main.py']);
  assert.equal(w.builder.builds[0].dockerfile, 'Dockerfile');
});

test('a Dockerfile outside the context travels under its own name, and the build points at it', async () => {
  const w = deployWorld(
    { 'docker/Dockerfile.prod': 'FROM prod', 'app/server.js': 'serve', 'docker/other': 'no' },
    { build: { context: 'app', dockerfile: 'docker/Dockerfile.prod' } },
  );
  await deploy(w.deps);
  assert.deepEqual(contextFiles(w), [OUTSIDE_DOCKERFILE, 'server.js']);
  assert.equal(w.builder.builds[0].files.get(OUTSIDE_DOCKERFILE), 'FROM prod');
  assert.equal(w.builder.builds[0].dockerfile, OUTSIDE_DOCKERFILE);
});

test('baremetal.json in a subfolder of the repository: paths are relative to that folder', async () => {
  const w = deployWorld(
    { 'services/api/Dockerfile': 'FROM api', 'services/api/app.go': 'package main', 'services/web/x': 'no', 'go.mod': 'no' },
    { dir: '/work/project/services/api' },
  );
  await deploy(w.deps);
  assert.deepEqual(contextFiles(w), ['Dockerfile', 'app.go']);
});

test('build args and target from the config reach the builder', async () => {
  const w = deployWorld({ Dockerfile: 'FROM x' }, { build: { args: { NODE_VERSION: '20' }, target: 'runtime' } });
  await deploy(w.deps);
  assert.deepEqual(w.builder.builds[0].buildArgs, { NODE_VERSION: '20' });
  assert.equal(w.builder.builds[0].target, 'runtime');
});
