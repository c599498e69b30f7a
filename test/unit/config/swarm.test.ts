import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBmError } from '../../../src/core/errors';
import { parseConfig } from '../../../src/core/config/load';

const F = 'baremetal.json';
/** Three servers and `extra` (JSON members) from line 4. */
const file = (extra: string) => `{\n  "app": "shop",\n  "servers": { "web1": { "host": "h1" }, "web2": { "host": "h2" }, "web3": { "host": "h3" } },\n${extra}\n}`;

function message(text: string): string {
  try {
    parseConfig(text, F);
  } catch (e) {
    assert.ok(isBmError(e, 'ConfigInvalid'), String(e));
    return e.message;
  }
  return assert.fail('parseConfig accepted the text');
}

test('swarm: the manager first among the nodes, defaults filled in', () => {
  const c = parseConfig(file('  "swarm": { "manager": "web2" }'), F);
  assert.deepEqual(c.swarm, { manager: 'web2', nodes: ['web2', 'web1', 'web3'], replicas: 2, publish: 'ingress', timeoutSeconds: 300 });
  const d = parseConfig(file('  "run": { "ports": ["80:8080"] },\n  "swarm": { "manager": "web1", "nodes": ["web3"], "replicas": 1, "publish": "host", "timeoutSeconds": 60 }'), F);
  assert.deepEqual(d.swarm, { manager: 'web1', nodes: ['web1', 'web3'], replicas: 1, publish: 'host', timeoutSeconds: 60 });
  assert.equal(parseConfig(file('  "keep": 3'), F).swarm, undefined);
});

test('swarm: a manager or node that is not a server is placed on its value', () => {
  assert.match(message(file('  "swarm": { "manager": "web9" }')), /^baremetal\.json:4:25: swarm\.manager "web9" is not one of the servers; known servers: web1, web2, web3/);
  assert.match(message(file('  "swarm": {\n    "manager": "web1",\n    "nodes": ["web2", "db"]\n  }')), /^baremetal\.json:6:23: swarm\.nodes\[1\] "db" is not one of the servers/);
});

test('swarm: the schema refuses unknown fields and bad values with their position', () => {
  assert.match(message(file('  "swarm": { "manager": "web1", "replica": 2 }')), /^baremetal\.json:4:/);
  assert.match(message(file('  "swarm": { "manager": "web1", "replicas": 0 }')), /^baremetal\.json:4:45: .*replicas/);
  assert.match(message(file('  "swarm": { "manager": "web1", "publish": "mesh" }')), /^baremetal\.json:4:44: /);
  assert.match(message(file('  "swarm": { "replicas": 2 }')), /^baremetal\.json:4:.*manager/);
});

test('swarm: what a service cannot do is refused before anything connects', () => {
  assert.match(message(file('  "proxy": { "hosts": ["shop.example.com"], "port": 8080 },\n  "swarm": { "manager": "web1" }')), /^baremetal\.json:4:12: proxy routes to one container per server/);
  assert.match(message(file('  "build": { "on": "server" },\n  "swarm": { "manager": "web1" }')), /^baremetal\.json:4:20: build\.on "server" builds on one server/);
  assert.match(message(file('  "run": { "release": ["./migrate"] },\n  "swarm": { "manager": "web1" }')), /run\.release runs once/);
  // Host ports and start-first: a node must be free for each new task.
  assert.match(message(file('  "run": { "ports": ["80:8080"] },\n  "swarm": { "manager": "web1", "publish": "host", "replicas": 3 }')), /^baremetal\.json:5:64: swarm\.replicas 3 leaves no node free for a new task: .* set replicas to at most 2 or add a node/);
  parseConfig(file('  "run": { "ports": ["80:8080"] },\n  "swarm": { "manager": "web1", "publish": "host", "replicas": 2 }'), F);
  parseConfig(file('  "run": { "ports": ["80:8080"] },\n  "swarm": { "manager": "web1", "replicas": 3 }'), F);
});
