import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readable } from 'node:stream';
import { platformMismatch, platformString, runsOn } from '../../../src/core/build/platform';
import { BuildSteps, featureHint } from '../../../src/drivers/docker/build-steps';
import { buildxArgs } from '../../../src/drivers/docker/buildx-builder';

const req = {
  context: Readable.from([]),
  tag: 'web:abc',
  dockerfile: 'docker/Dockerfile',
  buildArgs: { NODE_VERSION: '20' },
  labels: { 'dev.baremetal.subject': 'fix: "quotes" & $(no shell)' },
  target: 'production',
  platform: 'linux/amd64',
  secrets: { NPM_TOKEN: 'npm_s3cr3t' },
};

test('buildx argv: the secret is named, never its value; labels and args pass as single arguments (no shell)', () => {
  const args = buildxArgs(req, '/tmp/iid');
  assert.ok(!args.join('\n').includes('npm_s3cr3t'), 'no secret value in a process argument');
  assert.deepEqual(args.slice(args.indexOf('--secret'), args.indexOf('--secret') + 2), ['--secret', 'id=NPM_TOKEN,env=BAREMETAL_BUILD_SECRET_NPM_TOKEN']);
  assert.ok(args.includes('dev.baremetal.subject=fix: "quotes" & $(no shell)'));
  assert.deepEqual(args.slice(args.indexOf('--platform'), args.indexOf('--platform') + 2), ['--platform', 'linux/amd64']);
  assert.deepEqual(args.slice(args.indexOf('--target'), args.indexOf('--target') + 2), ['--target', 'production']);
  assert.ok(args.includes('NODE_VERSION=20'));
  assert.equal(args.at(-1), '-', 'the context comes on stdin');
  assert.ok(!args.includes('--builder'), "the developer's own current builder");
  assert.deepEqual(buildxArgs(req, '/tmp/iid', 'default').slice(0, 4), ['buildx', 'build', '--builder', 'default']);
});

test('BuildKit plain progress: steps are announced, the failed step and its error are named', () => {
  const steps = new BuildSteps();
  const announced = [
    '#0 building with "default" instance using docker driver',
    '#1 [internal] load build definition from Dockerfile',
    '#5 [base 1/3] FROM docker.io/local/busybox:1',
    '#6 [base 2/3] RUN npm ci',
    '#6 0.301 npm ERR! 404 Not Found',
    '#6 ERROR: process "/bin/sh -c npm ci" did not complete successfully: exit code: 1',
    'ERROR: failed to solve: process "/bin/sh -c npm ci" did not complete successfully: exit code: 1',
  ].map((l) => steps.push(l));
  assert.deepEqual(announced.filter(Boolean), ['[base 1/3] FROM docker.io/local/busybox:1', '[base 2/3] RUN npm ci']);
  assert.equal(steps.failedStep, 'RUN npm ci');
  assert.equal(steps.failure, 'process "/bin/sh -c npm ci" did not complete successfully: exit code: 1');
  assert.match(steps.lastLines(), /npm ERR! 404/);
});

test("the Engine API's trace as dockerode words it: the step running when the error came is the failed one", () => {
  const steps = new BuildSteps();
  steps.push('[0a1b2c3d4e5f] [1/2] FROM docker.io/local/busybox:1');
  steps.push('[9f8e7d6c5b4a] [2/2] RUN exit 3');
  steps.push('ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3');
  assert.equal(steps.failedStep, 'RUN exit 3');
});

test("the Engine API's trace as dockerode 5 words it ([sha256:8aa45]): the failed step is named", () => {
  const steps = new BuildSteps();
  steps.push('[sha256:369ca] [internal] load build definition from Dockerfile');
  assert.equal(steps.push('[sha256:3f804] [stage-0 1/2] FROM docker.io/local/busybox:1'), '[stage-0 1/2] FROM docker.io/local/busybox:1');
  steps.push('[sha256:8aa45] [stage-0 2/2] RUN --mount=type=cache,target=/cache exit 3');
  steps.push('ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3');
  assert.equal(steps.failedStep, 'RUN --mount=type=cache,target=/cache exit 3');
});

test('platforms: what runs where, and the sentence for a mismatch', () => {
  const amd64 = { os: 'linux', architecture: 'amd64' };
  assert.equal(platformString({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
  assert.ok(runsOn('linux/amd64', amd64));
  assert.ok(!runsOn('linux/arm64', amd64));
  assert.ok(runsOn('linux/arm64/v8', { os: 'linux', architecture: 'arm64' }), 'arm64 has one variant, named or not');
  assert.ok(!runsOn('linux/arm/v6', { os: 'linux', architecture: 'arm', variant: 'v7' }));
  const e = platformMismatch('0123456789abcdef', 'linux/arm64', 'prod', amd64);
  assert.equal(e.code, 'PlatformMismatch');
  assert.match(e.message, /^The image of 0123456789ab was built for linux\/arm64 but prod runs linux\/amd64/);
  assert.match(e.message, /"build": \{ "on": "server" \}/);
  assert.match(e.message, /nothing was sent and the previous version keeps serving\.$/);
});

test('a Dockerfile feature the engine lacks says what to upgrade', () => {
  assert.match(featureHint('dockerfile parse error line 5: unknown instruction: ECHO'), /Docker 23 or newer/);
  assert.match(featureHint('the --mount option requires BuildKit'), /install docker buildx/);
  assert.match(featureHint('failed to solve: failed to resolve source metadata for docker.io/docker/dockerfile:1: failed to do request: dial tcp: network is unreachable'), /"# syntax=" line .* remove the line/);
  assert.equal(featureHint('process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'), '');
});
