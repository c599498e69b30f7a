import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/core/config/load';
import type { ServiceInfo, TaskInfo } from '../../../src/core/ports';
import { pinnedReference, serviceHealthcheck, serviceSpec } from '../../../src/core/deploy/swarm-spec';
import { judge } from '../../../src/core/deploy/swarm-wait';
import { toServiceBody } from '../../../src/drivers/docker/swarm-engine';
import type { SwarmAppConfig } from '../../../src/core/deploy/swarm';

const config = (run = '"ports": ["80:8080"], "healthcheck": { "path": "/it\'s" }') =>
  parseConfig(`{ "app": "shop", "servers": { "a": { "host": "a" }, "b": { "host": "b" } }, "run": { ${run}, "env": { "MODE": "prod" } }, "swarm": { "manager": "a" } }`, 'baremetal.json') as SwarmAppConfig;

test('the service is pinned by image ID when every node names the image alike, else by a tag no registry serves', () => {
  assert.deepEqual(pinnedReference(['sha256:aa', 'sha256:aa'], 'shop', 'abc'), { ref: 'sha256:aa', byId: true });
  // Docker 20.10 (config digest) and 26 with the containerd store (manifest digest).
  assert.deepEqual(pinnedReference(['sha256:aa', 'sha256:bb'], 'shop', 'abc'), { ref: 'bm.invalid/shop:abc', byId: false });
});

test('the health check probes the app inside the task, its path quoted for the shell', () => {
  const hc = serviceHealthcheck(config());
  assert.deepEqual(hc?.test, ['CMD-SHELL', `wget -q -O /dev/null 'http://127.0.0.1:8080/it'\\''s' || curl -fsS -o /dev/null 'http://127.0.0.1:8080/it'\\''s'`]);
  assert.equal(serviceHealthcheck(config('"healthcheck": false')), undefined);
});

test('the API spec: start-first, rollback on failure, secrets as env only, ports as the config publishes them', () => {
  const body = toServiceBody(serviceSpec(config(), 'sha256:aa', 'c0ffee', { TOKEN: 's3cret' })) as {
    Labels: Record<string, string>; UpdateConfig: { Order: string; FailureAction: string }; RollbackConfig: { Order: string };
    TaskTemplate: { ContainerSpec: { Image: string; Env: string[]; Labels: Record<string, string> } }; EndpointSpec: { Ports: { PublishMode: string; PublishedPort: number; TargetPort: number }[] }; Mode: { Replicated: { Replicas: number } };
  };
  assert.equal(body.UpdateConfig.Order, 'start-first');
  assert.equal(body.UpdateConfig.FailureAction, 'rollback');
  assert.equal(body.RollbackConfig.Order, 'start-first');
  assert.equal(body.TaskTemplate.ContainerSpec.Image, 'sha256:aa');
  assert.deepEqual(body.TaskTemplate.ContainerSpec.Env.sort(), ['MODE=prod', 'TOKEN=s3cret']);
  assert.ok(!JSON.stringify([body.Labels, body.TaskTemplate.ContainerSpec.Labels]).includes('s3cret'));
  assert.deepEqual(body.EndpointSpec.Ports, [{ Protocol: 'tcp', TargetPort: 8080, PublishedPort: 80, PublishMode: 'ingress' }]);
  assert.equal(body.Mode.Replicated.Replicas, 2);
});

const svc = (update?: ServiceInfo['update']): ServiceInfo => ({ id: 's', version: 1, image: 'new', labels: { 'dev.baremetal.app': 'shop' }, replicas: 2, ...(update && { update }) });
const task = (image: string, state: string, desiredState = 'running', error?: string): TaskInfo => ({ id: Math.random().toString(), nodeId: 'n', image, labels: {}, desiredState, state, since: new Date().toISOString(), ...(error && { error }) });

test('a rollout is done once every replica runs the new image and Swarm says it completed', () => {
  assert.deepEqual(judge(svc({ state: 'updating' }), [task('new', 'running'), task('old', 'running')], 'new', 2), { done: false, running: 1 });
  assert.deepEqual(judge(svc({ state: 'completed' }), [task('new', 'running'), task('new', 'running'), task('old', 'shutdown', 'shutdown')], 'new', 2), { done: true, running: 2 });
  // A first deploy has no update status: its tasks decide.
  assert.equal(judge(svc(), [task('new', 'running'), task('new', 'starting')], 'new', 2).done, false);
  assert.equal(judge(svc(), [task('new', 'running'), task('new', 'running')], 'new', 2).done, true);
});

test('Swarm rolling back is a failure once it is done, in the words of the failed task', () => {
  assert.equal(judge(svc({ state: 'rollback_started' }), [task('old', 'running')], 'new', 2).failure, undefined);
  const j = judge(svc({ state: 'rollback_completed', message: 'rollback completed' }), [task('new', 'failed', 'shutdown', 'task: non-zero exit (3)'), task('old', 'running')], 'new', 2);
  assert.equal(j.failure, 'Swarm rolled shop back to the version it ran before: a new task did not become healthy (task: non-zero exit (3)); see why with "baremetal logs"');
  assert.match(judge(svc({ state: 'paused', message: 'update paused due to failure' }), [], 'new', 2).failure ?? '', /^Swarm paused the update/);
});
