import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addServerToConfig, appNameFrom, sshConfigHosts } from '../../../src/core/config/edit';
import { parseConfig } from '../../../src/core/config/load';

test('adding a server keeps comments and formatting and validates', () => {
  const before = '{\n  // my app\n  "app": "shop",\n  "servers": {\n    "prod": { "host": "prod-box" } // the big one\n  }\n}\n';
  const after = addServerToConfig(before, 'staging', { host: '10.0.0.5', user: 'deploy', port: 2222 }, 'shop');
  assert.match(after, /\/\/ my app/);
  assert.match(after, /\/\/ the big one/);
  const c = parseConfig(after, 'baremetal.json');
  assert.deepEqual(Object.keys(c.servers), ['prod', 'staging']);
  assert.equal(c.servers.staging.port, 2222);
  assert.equal(c.servers.staging.user, 'deploy');
});

test('a first server creates a valid baremetal.json named after the folder', () => {
  const text = addServerToConfig(undefined, 'prod', { host: 'prod-box', user: undefined }, 'My Shop!');
  const c = parseConfig(text, 'baremetal.json');
  assert.equal(c.app, 'my-shop');
  assert.deepEqual(Object.keys(c.servers), ['prod']);
  assert.equal(c.servers.prod.user, undefined, 'empty answers are left out');
});

test('a duplicate server name is refused', () => {
  assert.throws(() => addServerToConfig('{"app":"a","servers":{"prod":{"host":"x"}}}', 'prod', { host: 'y' }, 'a'), /already has a server named "prod"/);
});

test('hosts of an ssh_config, without patterns', () => {
  assert.deepEqual(sshConfigHosts('Host prod staging\n  HostName x\nHost *.internal !bad\nhost db\nMatch all\n'), ['prod', 'staging', 'db']);
});

test('app names are Docker-repository safe', () => {
  assert.equal(appNameFrom('Hello_World'), 'hello_world');
  assert.equal(appNameFrom('---'), 'app');
});
