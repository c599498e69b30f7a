import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { resolveSshTarget, type SshOverrides, type SshTarget } from '../../../src/drivers/ssh/ssh-config';
import { isBmError } from '../../../src/core/errors';

let dir: string;
let configFile: string;
const home = os.userInfo().homedir;

before(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'bm-sshcfg-'));
  for (const f of ['id_present', 'id_example.com', 'id_override', 'id_star']) writeFileSync(join(dir, f), 'key');
  configFile = join(dir, 'config');
  writeFileSync(join(dir, 'included'), 'Host viainclude\n  HostName 192.0.2.9\n');
  writeFileSync(join(dir, 'with-include'), `Include ${join(dir, 'included')}\n`);
  writeFileSync(
    configFile,
    [
      '# test config',
      'Host myalias',
      '  HostName example.com',
      '  User deploy',
      '  Port 2200',
      `  IdentityFile ${dir}/id_present`,
      `  IdentityFile ${dir}/id_missing`,
      `  IdentityFile ${dir}/id_%h`,
      '  ProxyJump jump@bastion:2222,other',
      `  UserKnownHostsFile ${dir}/kh1 ~/kh2`,
      `  GlobalKnownHostsFile ${dir}/global_kh`,
      '  HostKeyAlias myalias-key',
      '  ConnectTimeout 7',
      '  IdentitiesOnly yes',
      '',
      'Host MixedCase',
      '  HostName Example.COM',
      '',
      'Host bare',
      '  HostName 10.0.0.5',
      '',
      'Host *.internal',
      '  User internal',
      '',
      'Match user special',
      '  ConnectTimeout 3',
      '',
      'Host *',
      '  Port 2022',
      '  ServerAliveInterval 30',
      '',
    ].join('\n'),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Resolves with both strategies, asserts they agree, and returns the result. */
async function both(alias: string, overrides?: SshOverrides): Promise<SshTarget> {
  const viaSsh = await resolveSshTarget(alias, overrides, { configFile, useOpenSsh: true });
  const viaPackage = await resolveSshTarget(alias, overrides, { configFile, useOpenSsh: false });
  assert.deepEqual(viaPackage, viaSsh);
  return viaSsh;
}

describe('resolveSshTarget', () => {
  test('reads a Host block; both strategies agree', async () => {
    assert.deepEqual(await both('myalias'), {
      alias: 'myalias',
      host: 'example.com',
      port: 2200,
      user: 'deploy',
      // id_missing is dropped; %h is expanded to the HostName.
      identityFiles: [join(dir, 'id_present'), join(dir, 'id_example.com')],
      identitiesOnly: true,
      proxyJump: 'jump@bastion:2222,other',
      knownHostsFiles: [join(dir, 'kh1'), join(home, 'kh2')],
      globalKnownHostsFiles: [join(dir, 'global_kh')],
      hostKeyAlias: 'myalias-key',
      connectTimeoutSeconds: 7,
    });
  });

  test('Host * defaults and OpenSSH defaults apply to other names', async () => {
    const t = await both('bare');
    assert.equal(t.host, '10.0.0.5');
    assert.equal(t.port, 2022);
    assert.equal(t.user, os.userInfo().username);
    assert.equal(t.identitiesOnly, false);
    assert.equal(t.proxyJump, undefined);
    assert.equal(t.hostKeyAlias, undefined);
    assert.equal(t.connectTimeoutSeconds, undefined);
    assert.deepEqual(t.knownHostsFiles, [join(home, '.ssh', 'known_hosts'), join(home, '.ssh', 'known_hosts2')]);
    assert.deepEqual(t.globalKnownHostsFiles, ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'], 'the system-wide files, as OpenSSH reads them');
    // Only default identities that exist on this machine survive.
    for (const f of t.identityFiles) assert.ok(f.startsWith(join(home, '.ssh')));
  });

  test('an unlisted name is its own host name; wildcards match', async () => {
    const t = await both('db.internal');
    assert.equal(t.host, 'db.internal');
    assert.equal(t.user, 'internal');
    assert.equal(t.port, 2022);
  });

  test('Host patterns are case-sensitive; the host name is lower-cased', async () => {
    assert.equal((await both('MixedCase')).host, 'example.com');
    assert.equal((await both('mixedcase')).host, 'mixedcase');
    assert.equal((await both('Other.HOST')).host, 'other.host');
  });

  test('user@host in the alias names the user', async () => {
    const t = await both('root@bare');
    assert.equal(t.user, 'root');
    assert.equal(t.host, '10.0.0.5');
  });

  test('overrides win, and the override identity file comes first', async () => {
    const t = await both('myalias', { user: 'ops', port: 2999, identityFile: join(dir, 'id_override') });
    assert.equal(t.user, 'ops');
    assert.equal(t.port, 2999);
    assert.equal(t.host, 'example.com');
    assert.deepEqual(t.identityFiles, [join(dir, 'id_override'), join(dir, 'id_present'), join(dir, 'id_example.com')]);
  });

  test('the override user takes part in Match user', async () => {
    assert.equal((await both('bare', { user: 'special' })).connectTimeoutSeconds, 3);
    assert.equal((await both('bare', { user: 'other' })).connectTimeoutSeconds, undefined);
  });

  test('a missing override identity file is an error', async () => {
    for (const useOpenSsh of [true, false]) {
      await assert.rejects(
        resolveSshTarget('myalias', { identityFile: join(dir, 'nope') }, { configFile, useOpenSsh }),
        (e: unknown) => isBmError(e, 'ConfigInvalid'),
      );
    }
  });

  test('bad aliases and ports are rejected before anything runs', async () => {
    for (const alias of ['', '-oProxyCommand=touch /tmp/pwned', 'two words', 'tab\there', 'nl\nhere', 'nul\x00']) {
      for (const useOpenSsh of [true, false]) {
        await assert.rejects(resolveSshTarget(alias, {}, { configFile, useOpenSsh }), (e: unknown) => isBmError(e, 'ConfigInvalid'), JSON.stringify(alias));
      }
    }
    await assert.rejects(resolveSshTarget('myalias', { port: 70000 }, { configFile }), (e: unknown) => isBmError(e, 'ConfigInvalid'));
  });

  test('a missing config file is reported by both strategies', async () => {
    for (const useOpenSsh of [true, false]) {
      await assert.rejects(
        resolveSshTarget('myalias', {}, { configFile: join(dir, 'no-config'), useOpenSsh }),
        (e: unknown) => isBmError(e, 'ConfigInvalid'),
      );
    }
  });

  test('only the OpenSSH strategy follows Include (documented limit of the fallback)', async () => {
    const main = join(dir, 'with-include');
    const viaSsh = await resolveSshTarget('viainclude', {}, { configFile: main, useOpenSsh: true });
    const viaPackage = await resolveSshTarget('viainclude', {}, { configFile: main, useOpenSsh: false });
    assert.equal(viaSsh.host, '192.0.2.9');
    assert.equal(viaPackage.host, 'viainclude');
  });

  test('falls back to the npm package when ssh is not on PATH', async () => {
    const main = join(dir, 'with-include');
    const t = await resolveSshTarget('viainclude', {}, { configFile: main, env: { PATH: join(dir, 'empty-bin') } });
    // Include not followed: proves the fallback ran.
    assert.equal(t.host, 'viainclude');
  });
});
