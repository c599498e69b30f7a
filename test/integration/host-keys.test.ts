/**
 * Host keys against a real sshd (bm1, whose host key is ed25519): a key of another type than the
 * one known is refused as changed, the system-wide known_hosts (GlobalKnownHostsFile) trusts and
 * revokes, and a @cert-authority line is named rather than silently ignored.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { cli, errorLine, makeWorkspace, server, testEnv, type Workspace } from '../helpers/world';

const env = testEnv();
const bm1 = server('bm1');
let ws: Workspace;
let dir: string;

/** An ssh_config for host "box" (bm1) with its own user and system-wide known_hosts contents. */
async function sshConfig(name: string, user: string, global: string): Promise<{ config: string; userFile: string }> {
  const userFile = join(dir, `${name}.known_hosts`);
  const globalFile = join(dir, `${name}.ssh_known_hosts`);
  await writeFile(userFile, user);
  await writeFile(globalFile, global);
  const config = join(dir, `${name}.ssh_config`);
  await writeFile(config, ['Host box', `  HostName ${bm1.host}`, '  User root', `  IdentityFile ${env.identityFile}`, `  UserKnownHostsFile ${userFile}`, `  GlobalKnownHostsFile ${globalFile}`, ''].join('\n'));
  return { config, userFile };
}

function publicKey(type: string): string {
  const file = join(dir, `key-${type}-${Math.random().toString(36).slice(2)}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', file]);
  return execFileSync('cat', [`${file}.pub`], { encoding: 'utf8' }).split(' ').slice(0, 2).join(' ');
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bm-hostkeys-'));
  ws = await makeWorkspace({ prefix: 'hk', servers: { box: { host: 'box' } } });
});

test('a server known by an RSA key that offers ed25519 is refused as CHANGED, and trust will not add it', async () => {
  const rsa = publicKey('rsa');
  const { config, userFile } = await sshConfig('othertype', `${bm1.host} ${rsa}\n`, '');
  const r = await cli(['status'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(r.code, 1);
  assert.equal(
    errorLine(r.stderr),
    `error: The host key of box (${bm1.host}:22) has CHANGED (now ssh-ed25519 ${bm1.hostKeyFingerprint}, while ${userFile}:1 holds its ssh-rsa key): this may be an attack, so the connection is refused; if the server was really reinstalled, remove that line and trust the new key.`,
  );
  const t = await cli(['trust', 'box', '--yes'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(t.code, 1);
  assert.match(errorLine(t.stderr), /has CHANGED/);
  assert.equal(await readFile(userFile, 'utf8'), `${bm1.host} ${rsa}\n`, 'nothing appended');
});

test('the system-wide known_hosts trusts the server as OpenSSH does', async () => {
  const { config, userFile } = await sshConfig('global', '', `${bm1.knownHostsLine}\n`);
  const r = await cli(['status'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(userFile, 'utf8'), '', 'nothing added to the user file');
});

test('a key marked @revoked in the system-wide file is refused even though the user file trusts it', async () => {
  const globalLine = `@revoked * ${bm1.knownHostsLine.split(' ').slice(1).join(' ')}`;
  const { config } = await sshConfig('revoked', `${bm1.knownHostsLine}\n`, `# the administrator's file\n${globalLine}\n`);
  const r = await cli(['status'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(r.code, 1);
  assert.equal(errorLine(r.stderr), `error: The host key of box (${bm1.host}:22) is marked @revoked in ${join(dir, 'revoked.ssh_known_hosts')}:2; refusing to connect.`);
});

test('a @cert-authority line is named: host certificates cannot vouch here, the server\'s own key can be trusted', async () => {
  const { config } = await sshConfig('ca', `@cert-authority *.example,${bm1.host} ${publicKey('ed25519')}\n`, '');
  const r = await cli(['status'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /is not in known_hosts \(the @cert-authority line .*ca\.known_hosts:1 cannot vouch for it: host certificates are not supported\): its ssh-ed25519 fingerprint is .*baremetal trust box/);
});
