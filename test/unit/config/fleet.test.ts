import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBmError } from '../../../src/core/errors';
import { parseConfig, pickServer } from '../../../src/core/config/load';
import { appStreams, configFor, resolveTargets, roleConfigs, rolesOn } from '../../../src/core/config/fleet';

const F = 'baremetal.json';
/** Three servers and `extra` (JSON members) on line 4. */
const fleet = (extra: string) => `{\n  "app": "shop",\n  "servers": { "web1": { "host": "h1" }, "web2": { "host": "h2" }, "w1": { "host": "h3" } },\n${extra}\n}`;

function message(text: string): string {
  try {
    parseConfig(text, F);
  } catch (e) {
    assert.ok(isBmError(e, 'ConfigInvalid'), String(e));
    return e.message;
  }
  return assert.fail('parseConfig accepted the text');
}

test('groups as lists or objects, rollout as a count or a share, roles and overrides', () => {
  const c = parseConfig(fleet(`  "groups": {
    "web": ["web1", "web2"],
    "staging": { "servers": ["w1"], "env": { "STAGE": "1" }, "secretsFile": ".staging.secrets", "proxy": { "hosts": ["staging.shop.example.com"] }, "rollout": { "batch": "50%" } }
  },
  "rollout": { "batch": 1 },
  "proxy": { "hosts": ["shop.example.com"], "port": 8080 },
  "roles": { "web": {}, "worker": { "command": ["./worker"], "proxy": false, "servers": ["web"] } }`), F);
  assert.deepEqual(c.groups?.web, { name: 'web', servers: ['web1', 'web2'] });
  assert.deepEqual(c.groups?.staging, {
    name: 'staging', servers: ['w1'], rollout: { batch: { percent: 50 } },
    overrides: { env: { STAGE: '1' }, secretsFile: '.staging.secrets', proxyHosts: ['staging.shop.example.com'] },
  });
  assert.deepEqual(c.rollout, { batch: { count: 1 } });
  assert.deepEqual(c.roles?.worker, { name: 'worker', servers: ['web1', 'web2'], command: ['./worker'], proxy: false });
  assert.deepEqual(c.roles?.web, { name: 'web' });
});

test('a file without fleet fields loads to the same config as before', () => {
  const c = parseConfig('{ "app": "hello", "servers": { "prod": { "host": "p" } } }', F);
  for (const k of ['groups', 'rollout', 'roles', 'image', 'role', 'secretsFile']) assert.ok(!(k in c), k);
  assert.ok(!('overrides' in c.servers.prod));
});

test('bad groups, batches, roles and overrides name file, line and column', () => {
  assert.equal(message(fleet('  "groups": { "web": ["web1", "web9"] }')), 'baremetal.json:4:31: groups.web[1] "web9" is not one of the servers; known servers: web1, web2, w1.');
  assert.equal(message(fleet('  "groups": { "web": { "servers": ["web1", "nope"] } }')), 'baremetal.json:4:44: groups.web.servers[1] "nope" is not one of the servers; known servers: web1, web2, w1.');
  assert.equal(message(fleet('  "groups": { "web1": ["web1"] }')), 'baremetal.json:4:23: the group "web1" has the name of a server; --server web1 must mean one of them: rename the group or the server.');
  assert.equal(message(fleet('  "groups": { "all": ["web1"] }')), 'baremetal.json:4:22: the group name "all" is taken by --server all (every server): choose another name.');
  assert.equal(message(fleet('  "groups": { "web": "web1" }')), 'baremetal.json:4:22: groups.web must be a list of server names like ["web1", "web2"] or an object like { "servers": ["web1"], "env": { ... } }.');
  assert.equal(message(fleet('  "groups": { "web": [] }')), 'baremetal.json:4:22: groups.web must not be empty.');
  assert.equal(message(fleet('  "groups": { "web": { "servers": ["web1"], "bogus": 1 } }')), 'baremetal.json:4:45: unknown property "bogus" in groups.web; expected one of servers, env, secrets, secretsFile, proxy, rollout.');
  assert.equal(message(fleet('  "rollout": { "batch": 0 }')), 'baremetal.json:4:25: rollout.batch is 0; it must be from 1.');
  assert.equal(message(fleet('  "rollout": { "batch": "150%" }')), 'baremetal.json:4:25: rollout.batch "150%" must be a share from 1% to 100%, or a number of servers like 1.');
  assert.equal(message(fleet('  "rollout": { "batch": "0%" }')), 'baremetal.json:4:25: rollout.batch "0%" must be a share from 1% to 100%, or a number of servers like 1.');
  assert.equal(message(fleet('  "rollout": { "batch": "0" }')), 'baremetal.json:4:25: rollout.batch "0" must be a share like "25%" (from 1% to 100%), or a number of servers without quotes, like 1.');
  assert.equal(message(fleet('  "rollout": { "batch": true }')), 'baremetal.json:4:25: rollout.batch must be a number of servers like 1 or a share like "25%".');
  assert.equal(message(fleet('  "groups": { "g": { "servers": ["web1"], "rollout": { "batch": "101%" } } }')), 'baremetal.json:4:65: groups.g.rollout.batch "101%" must be a share from 1% to 100%, or a number of servers like 1.');
  assert.equal(message(fleet('  "servers2": 1')), 'baremetal.json:4:3: unknown property "servers2" in the top level; expected one of app, servers, groups, build, run, keep, defaultServer, proxy, rollout, roles, swarm.');
  assert.equal(message(fleet('  "groups": { "g": { "servers": ["web1"], "proxy": { "hosts": ["a.example.com"] } } }')), 'baremetal.json:4:52: groups.g.proxy sets host names, but the app has no proxy block: add "proxy" (or a role\'s proxy), or remove groups.g.proxy.');
  assert.equal(message(fleet('  "groups": { "a": { "servers": ["web1"], "env": { "X": "1" } }, "b": { "servers": ["web1"], "env": { "X": "2" } } }')), 'baremetal.json:4:108: groups.b.env.X is also set by groups.a for the server web1, which is in both: set it in one group only, or on the server itself.');
  assert.equal(message(fleet('  "run": { "secrets": ["DB"] }, "groups": { "g": { "servers": ["w1"], "env": { "DB": "x" } } }')), 'baremetal.json:4:86: groups.g.env sets DB, which run.secrets names; a secret\'s value must stay out of baremetal.json, so remove it from groups.g.env.');
  assert.equal(message(fleet('  "roles": { "web": { "servers": ["webs"] } }')), 'baremetal.json:4:35: roles.web.servers[0] "webs" is not a server or a group; known servers: web1, web2, w1.');
  assert.equal(message(fleet('  "roles": { "Web": {} }')), 'baremetal.json:4:14: the name "Web" in roles must be a lowercase name like "web" or "worker" (letters and digits, with single - between them).');
  assert.equal(message(fleet('  "roles": { "web": { "proxy": true } }')), 'baremetal.json:4:32: roles.web.proxy must be false (no proxy) or a proxy block like { "hosts": ["shop.example.com"], "port": 8080 }.');
  assert.equal(message(fleet('  "roles": { "web": { "proxy": { "hosts": ["a.example.com"], "port": 8080 }, "ports": ["80:80"] } }')),
    'baremetal.json:4:87: roles.web is behind the proxy and publishes host ports (roles.web.ports), which the old and the new version cannot both hold while the proxy moves traffic: remove the ports or set "proxy": false for this role.');
  assert.equal(message(fleet('  "servers": { "all": { "host": "h" } }').replace(/"servers": \{ "web1".*\n/, '')), 'baremetal.json:3:25: the server name "all" is taken by --server all (every server): choose another name.');
});

test('defaultServer may name a group or all', () => {
  assert.equal(parseConfig(fleet('  "groups": { "web": ["web1"] }, "defaultServer": "web"'), F).defaultServer, 'web');
  assert.equal(message(fleet('  "groups": { "web": ["web1"] }, "defaultServer": "webs"')), 'baremetal.json:4:51: defaultServer "webs" is not one of the servers; known servers: web1, web2, w1; groups: web.');
});

test('resolveTargets: a server, a group in its order, all, or a sentence listing the known names', () => {
  const c = parseConfig(fleet('  "groups": { "web": ["web2", "web1"], "g": { "servers": ["w1"], "rollout": { "batch": 1 } } }, "rollout": { "batch": "50%" }'), F);
  assert.deepEqual(resolveTargets(c, 'web1').servers.map((s) => s.name), ['web1']);
  const web = resolveTargets(c, 'web');
  assert.deepEqual([web.kind, web.servers.map((s) => s.name), web.rollout], ['group', ['web2', 'web1'], { batch: { percent: 50 } }]);
  assert.deepEqual(resolveTargets(c, 'g').rollout, { batch: { count: 1 } }, "the group's rollout wins");
  assert.deepEqual(resolveTargets(c, 'all').servers.map((s) => s.name), ['web1', 'web2', 'w1']);
  assert.throws(() => resolveTargets(c, 'prod'), { code: 'UnknownServer', message: 'No server or group named "prod" in baremetal.json; known servers: web1, web2, w1; groups: web, g.' });
  assert.throws(() => resolveTargets(c, 'toString'), { code: 'UnknownServer' });
  assert.throws(() => resolveTargets(c), { code: 'UnknownServer', message: 'baremetal.json has several servers (web1, web2, w1): choose one, a group or all with --server NAME, or set "defaultServer".' });
  const plain = parseConfig('{ "app": "a", "servers": { "a": { "host": "h" } } }', F);
  assert.deepEqual(resolveTargets(plain).servers.map((s) => s.name), ['a']);
  assert.throws(() => resolveTargets(plain, 'b'), { message: 'No server named "b" in baremetal.json; known servers: a.' });
  assert.equal(resolveTargets({ ...c, defaultServer: 'web' }).kind, 'group');
});

test('configFor: the groups\' overrides, then the server\'s own', () => {
  const c = parseConfig(fleet(`  "run": { "env": { "A": "app", "B": "app" }, "secrets": ["S1"] },
  "proxy": { "hosts": ["shop.example.com"], "port": 8080 },
  "groups": { "staging": { "servers": ["w1"], "env": { "A": "staging" }, "secrets": ["S2"], "secretsFile": ".staging.secrets", "proxy": { "hosts": ["staging.shop.example.com"] } } }`).replace('"w1": { "host": "h3" }', '"w1": { "host": "h3", "env": { "B": "w1" } }'), F);
  const w1 = configFor(c, 'w1');
  assert.deepEqual(w1.run.env, { A: 'staging', B: 'w1' });
  assert.deepEqual(w1.run.secrets, ['S1', 'S2']);
  assert.equal(w1.secretsFile, '.staging.secrets');
  assert.deepEqual(w1.proxy?.hosts, ['staging.shop.example.com']);
  assert.equal(configFor(c, 'web1'), c, 'a server with nothing of its own gets the app config as it is');
});

test('roleConfigs: one config per role placed on the server, running the app\'s image', () => {
  const c = parseConfig(fleet(`  "run": { "command": ["./web"], "release": ["./migrate"], "ports": ["8080:8080"] },
  "groups": { "workers": ["w1"] },
  "roles": { "web": { "servers": ["web1", "web2"] }, "worker": { "command": ["./worker"], "ports": [], "healthcheck": false, "servers": ["workers", "web1"] } }`), F);
  const onWeb1 = roleConfigs(c, 'web1');
  assert.deepEqual(onWeb1.map((r) => [r.app, r.image, r.role, r.run.command, r.run.ports.length, r.run.release]), [
    ['shop-web', 'shop', 'web', ['./web'], 1, ['./migrate']],
    ['shop-worker', 'shop', 'worker', ['./worker'], 0, undefined],
  ]);
  assert.equal(onWeb1[1].run.healthcheck, false);
  assert.deepEqual(roleConfigs(c, 'w1').map((r) => r.app), ['shop-worker']);
  const plain = parseConfig(fleet('  "keep": 2'), F);
  assert.deepEqual(roleConfigs(plain, 'w1'), [plain]);
});

test('rolesOn and appStreams: what logs, exec and the panels read on each server, by role', () => {
  const c = parseConfig(fleet(`  "roles": { "web": {}, "worker": { "command": ["./worker"], "servers": ["w1"] } }`), F);
  assert.deepEqual(rolesOn(c, 'w1').map((r) => r.app), ['shop-web', 'shop-worker']);
  assert.deepEqual(rolesOn(c, 'w1', 'worker').map((r) => r.app), ['shop-worker']);
  assert.deepEqual(rolesOn(c, 'web1', 'worker'), [], 'a role not placed on the server');
  assert.throws(() => rolesOn(c, 'w1', 'cron'), (e: unknown) => isBmError(e, 'ConfigInvalid') && e.message === 'No role named "cron" in baremetal.json; its roles are web, worker.');
  const streams = appStreams(c, [c.servers.web1, c.servers.w1]);
  assert.deepEqual(streams.map((s) => [s.label, s.server.name, s.app]), [
    ['web1 web', 'web1', 'shop-web'],
    ['w1 web', 'w1', 'shop-web'],
    ['w1 worker', 'w1', 'shop-worker'],
  ]);
  const plain = parseConfig(fleet('  "keep": 2'), F);
  assert.deepEqual(appStreams(plain, [plain.servers.w1]).map((s) => [s.label, s.app]), [['w1', 'shop']]);
  assert.throws(() => rolesOn(plain, 'w1', 'web'), (e: unknown) => isBmError(e, 'ConfigInvalid') && e.message === 'baremetal.json has no roles: leave out --role web.');
});

test('a command that takes one server says so when given a group', () => {
  const c = parseConfig(fleet('  "groups": { "web": ["web1", "web2"] }, "defaultServer": "web"'), F);
  assert.throws(() => pickServer(c), { code: 'UnknownServer', message: '"web" names several servers (web1, web2) and this takes one: choose it with --server NAME.' });
  assert.throws(() => pickServer(c, 'all'), { message: '"all" names several servers (web1, web2, w1) and this takes one: choose it with --server NAME.' });
});
