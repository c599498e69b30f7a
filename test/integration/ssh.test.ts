/**
 * Connecting like OpenSSH does: ~/.ssh/config resolution, known_hosts checks (unknown, changed,
 * trusted with `trust`), refused keys, unreachable hosts, ProxyJump, no Docker on the server.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cleanupApp, cli, makeWorkspace, server, servedCommit, testEnv, type Workspace, errorLine } from '../helpers/world';

const env = testEnv();
const bm1 = server('bm1');
let ws: Workspace;
let dir: string;

/** An ssh_config of our own for one test: its own known_hosts and key. */
async function sshConfig(name: string, lines: string[], knownHosts: string): Promise<string> {
  const khFile = join(dir, `${name}.known_hosts`);
  await writeFile(khFile, knownHosts);
  const file = join(dir, `${name}.ssh_config`);
  // OpenSSH takes the first value it meets: a trailing "Host *" sets it for every host above.
  await writeFile(file, [...lines, '', 'Host *', `  UserKnownHostsFile ${khFile}`, ''].join('\n'));
  return file;
}


before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bm-ssh-'));
  ws = await makeWorkspace({ servers: { box: { host: 'box' } } });
});
after(async () => {
  await cleanupApp('bm1', ws.app);
});

const boxLines = (host = bm1.host, extra: string[] = []) => ['Host box', `  HostName ${host}`, '  User root', `  IdentityFile ${env.identityFile}`, ...extra];

test('an unknown host key is refused with its fingerprint; trust --yes adds it and deploys work', async () => {
  const config = await sshConfig('unknown', boxLines(), '');
  const refused = await cli(['status'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(refused.code, 1);
  assert.match(errorLine(refused.stderr), new RegExp(`not in known_hosts: its ssh-ed25519 fingerprint is ${bm1.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}.*baremetal trust box`));

  const noAnswer = await cli(['trust', 'box'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(noAnswer.code, 1, 'without a terminal or --yes nothing is trusted');
  assert.equal(await readFile(join(dir, 'unknown.known_hosts'), 'utf8'), '');

  const trusted = await cli(['trust', 'box', '--yes'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(trusted.code, 0, trusted.stderr);
  assert.match(trusted.stderr, new RegExp(bm1.hostKeyFingerprint.replace(/[+/]/g, '\\$&')));
  const line = (await readFile(join(dir, 'unknown.known_hosts'), 'utf8')).trim();
  assert.equal(line, bm1.knownHostsLine);
  // OpenSSH itself accepts what was written.
  execFileSync('ssh-keygen', ['-F', bm1.host, '-f', join(dir, 'unknown.known_hosts')]);

  const deployed = await cli(['deploy'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.equal(await servedCommit(bm1.host, ws.port), (await ws.git('rev-parse', 'HEAD')).trim());
});

test('a changed host key is always refused, and trust will not overwrite it', async () => {
  const otherKey = join(dir, 'other_host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
  const fake = (await readFile(`${otherKey}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
  const config = await sshConfig('changed', boxLines(), `${bm1.host} ${fake}\n`);
  const r = await cli(['deploy'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /host key of box .* has CHANGED .*refused/);
  const t = await cli(['trust', 'box', '--yes'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(t.code, 1);
  assert.match(errorLine(t.stderr), /CHANGED/);
  assert.equal((await readFile(join(dir, 'changed.known_hosts'), 'utf8')).trim(), `${bm1.host} ${fake}`);
});

test('a hashed known_hosts entry is honoured', async () => {
  const kh = join(dir, 'hashed.known_hosts');
  const config = await sshConfig('hashed', boxLines(), `${bm1.knownHostsLine}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
  assert.match(await readFile(kh, 'utf8'), /^\|1\|/);
  const r = await cli(['status'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(r.code, 0, r.stderr);
});

test('a key the server refuses', async () => {
  const stranger = join(dir, 'stranger_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
  const config = await sshConfig('refused', ['Host box', `  HostName ${bm1.host}`, '  User root', `  IdentityFile ${stranger}`, '  IdentitiesOnly yes'], `${bm1.knownHostsLine}\n`);
  const r = await cli(['deploy'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /box \(.*\) refused the key\(s\) offered for user "root": add your public key/);
});

test('an encrypted key asks for its passphrase', async () => {
  const locked = join(dir, 'locked_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'sesame', '-f', locked]);
  const config = await sshConfig('locked', ['Host box', `  HostName ${bm1.host}`, '  User root', `  IdentityFile ${locked}`, '  IdentitiesOnly yes'], `${bm1.knownHostsLine}\n`);
  const wrong = await cli(['status'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config, BAREMETAL_SSH_PASSPHRASE: 'nope' } });
  assert.equal(wrong.code, 1);
  assert.match(errorLine(wrong.stderr), /passphrase for .*locked_key is wrong/);
});

test('an unreachable host', async () => {
  const config = await sshConfig('unreachable', boxLines(bm1.host, ['  Port 2299']), `[${bm1.host}]:2299 ${bm1.knownHostsLine.split(' ').slice(1).join(' ')}\n`);
  const r = await cli(['deploy'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /Cannot reach box \(10\.213\.1\.2:2299\): connection refused/);
});

test('ProxyJump: through a jump host, each hop checked against known_hosts', async () => {
  const config = await sshConfig(
    'jump',
    ['Host jumpbox', `  HostName ${bm1.host}`, '  User root', `  IdentityFile ${env.identityFile}`, '', ...boxLines(bm1.host, ['  ProxyJump jumpbox'])],
    `${bm1.knownHostsLine}\n`,
  );
  const r = await cli(['deploy', '--json'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await servedCommit(bm1.host, ws.port), (await ws.git('rev-parse', 'HEAD')).trim());
  const st = await cli(['status', '--server', 'box', '--json'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: config } });
  assert.equal((st.json as { state: string }).state, 'running');
});

test('a server without Docker', async () => {
  const bare = server('bmbare');
  const wsBare = await makeWorkspace({ servers: { bare: { host: 'bmbare' } } });
  const r = await cli(['deploy'], { cwd: wsBare.dir });
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /bare has no Docker Engine answering at \/var\/run\/docker\.sock: install Docker Engine/);
  assert.ok(bare.hasDocker === false);
});

test('a server that forbids forwarding: the Engine API over dial-stdio, health checked by its own curl', async () => {
  const locked = await makeWorkspace({ servers: { hardened: { host: 'bm1-nofwd' } } });
  try {
    const r = await cli(['deploy', '--json', '--verbose'], { cwd: locked.dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /hardened: Docker Engine API over dial-stdio/);
    assert.match(r.stderr, /healthy: HTTP 200/);
    assert.equal(await servedCommit(bm1.host, locked.port), (await locked.git('rev-parse', 'HEAD')).trim());
  } finally {
    await cleanupApp('bm1', locked.app);
  }
});
