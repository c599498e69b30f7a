import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerConfig } from '../../../src/core/config/types';
import { ServerPool } from '../../../src/drivers/server-pool';
import { FakeDialer, type FakeConnection } from '../fakes/dialer';
import { silentLogger } from '../fakes/logger';

const prod: ServerConfig = { name: 'prod', host: '10.0.0.1', user: 'deployer', dockerSocket: '/var/run/docker.sock', stateDir: '.baremetal' };

function setup() {
  const dialer = new FakeDialer();
  const pool = new ServerPool({ logger: silentLogger }, dialer);
  const where = async (s: ServerConfig) => {
    const c = (await pool.get(s)).connection as unknown as FakeConnection;
    return { c, to: `${c.target.user}@${c.target.host}:${c.target.port}${c.target.proxyJump ? ` via ${c.target.proxyJump}` : ''} ${c.dockerSocket}${c.target.identityFiles.map((f) => ` key ${f}`).join('')}` };
  };
  return { dialer, pool, where };
}

test('the same server asked for twice shares one connection', async () => {
  const { dialer, pool } = setup();
  const [a, b] = await Promise.all([pool.get(prod), pool.get({ ...prod })]);
  assert.equal(a, b);
  assert.equal(dialer.opened.length, 1);
});

for (const [what, edit] of [
  ['host', { host: '10.0.0.2' }],
  ['user', { user: 'root' }],
  ['port', { port: 2222 }],
  ['identityFile', { identityFile: '/keys/other' }],
  ['dockerSocket', { dockerSocket: '/run/user/1000/docker.sock' }],
] as const) {
  test(`a server whose ${what} was edited gets a connection to the new machine, and the old one is closed`, async () => {
    const { where } = setup();
    const before = await where(prod);
    const after = await where({ ...prod, ...edit });
    assert.notEqual(after.to, before.to);
    assert.equal(after.to, (await where({ ...prod, ...edit })).to, 'asked again: the new machine, not the old');
    assert.equal(before.c.isClosed, true, 'the superseded connection is closed');
    assert.equal(after.c.isClosed, false);
    // The old connection closing must not make the pool forget its successor.
    assert.equal((await where({ ...prod, ...edit })).c, after.c);
  });
}

test('an ssh_config edit that points the alias at another machine (HostName, ProxyJump) reconnects there', async () => {
  const { dialer, where } = setup();
  const alias = { ...prod, host: 'prod-box' };
  dialer.editSshConfig('prod-box', { hostName: '10.0.0.1' });
  const first = await where(alias);
  dialer.editSshConfig('prod-box', { hostName: '10.0.0.9' });
  const moved = await where(alias);
  assert.equal(moved.to, 'deployer@10.0.0.9:22 /var/run/docker.sock');
  assert.equal(first.c.isClosed, true);
  dialer.editSshConfig('prod-box', { hostName: '10.0.0.9', proxyJump: 'bastion' });
  const jumped = await where(alias);
  assert.equal(jumped.to, 'deployer@10.0.0.9:22 via bastion /var/run/docker.sock');
  assert.equal(moved.c.isClosed, true);
});

test('an ssh_config edit that leaves the machine as it was keeps the connection', async () => {
  const { dialer, where } = setup();
  const alias = { ...prod, host: 'prod-box' };
  dialer.editSshConfig('prod-box', { hostName: '10.0.0.1' });
  const first = await where(alias);
  dialer.editSshConfig('prod-box', { hostName: '10.0.0.1' });
  assert.equal((await where(alias)).c, first.c);
  assert.equal(dialer.opened.length, 1);
});

test('a dropped connection is forgotten: the next request reconnects', async () => {
  const { dialer, where } = setup();
  const first = await where(prod);
  first.c.close();
  const again = await where(prod);
  assert.notEqual(again.c, first.c);
  assert.equal(dialer.opened.length, 2);
});
