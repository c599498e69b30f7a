/**
 * Reaching the server's Docker Engine: which socket (the configured one, rootless Docker's when
 * the default is missing), why none answered (the diagnosis script, run by a real shell against
 * real sockets, as root and as an unprivileged user), and which API version requests are pinned to.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBmError } from '../../../src/core/errors';
import { DEFAULT_SOCKET, diagnoseArgv, parseDiagnosis, reachEngine, type EngineReach, type SocketDiagnosis } from '../../../src/drivers/docker/engine-socket';
import { compareVersions, EngineFacts, negotiateApiVersion, storageOf, variantOf } from '../../../src/drivers/docker/engine-facts';
import { remoteCommand } from '../../../src/drivers/ssh/remote-command';

const dir = mkdtempSync(join(tmpdir(), 'bm-sock-'));
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));

function listen(path: string): Promise<net.Server> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(path, () => resolve(s));
  });
}

/** The diagnosis as sshd would run it: through the login shell, optionally as another user. */
function diagnose(socket: string, rootless: boolean, asUser?: number): SocketDiagnosis | undefined {
  const line = remoteCommand(diagnoseArgv(socket, rootless));
  const argv = asUser === undefined ? ['sh', '-c', line] : ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', 'sh', '-c', line];
  return parseDiagnosis(execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' }));
}

test('the diagnosis tells a missing socket, a socket in reach, one denied, and a path that is no socket', async () => {
  const sock = join(dir, 'docker.sock');
  const server = await listen(sock);
  try {
    chmodSync(sock, 0o660);
    const mine = diagnose(sock, false);
    assert.equal(mine?.socket, process.getuid?.() === 0 ? 'ok' : 'denied');
    assert.equal(mine?.rootless, undefined, 'rootless is looked at only when asked');
    assert.equal(diagnose(join(dir, 'none.sock'), false)?.socket, 'missing');
    writeFileSync(join(dir, 'plain'), '');
    assert.equal(diagnose(join(dir, 'plain'), false)?.socket, 'not-a-socket');
    const withRootless = diagnose(join(dir, 'none.sock'), true);
    assert.equal(withRootless?.rootless?.path, `/run/user/${withRootless?.uid}/docker.sock`);
    if (process.getuid?.() === 0) {
      const nobody = diagnose(sock, false, 65534);
      assert.equal(nobody?.socket, 'denied');
      assert.equal(nobody?.uid, '65534');
      assert.equal(nobody?.socketGroup, 'root');
      const closed = join(dir, 'closed');
      execFileSync('mkdir', ['-m', '700', closed]);
      const inside = join(closed, 'docker.sock');
      const s2 = await listen(inside);
      assert.equal(diagnose(inside, false, 65534)?.socket, 'denied', 'a socket in a folder it cannot enter is denied, not missing');
      s2.close();
    }
  } finally {
    server.close();
  }
});

test('parseDiagnosis reads what the script prints, and refuses anything else', () => {
  const d = parseDiagnosis('uid=1002\nuser=outsider\ngroups=outsider users\nsocket=denied\ngroup=docker\nrootless=missing /run/user/1002/docker.sock\n');
  assert.deepEqual(d, { uid: '1002', user: 'outsider', groups: ['outsider', 'users'], socket: 'denied', socketGroup: 'docker', rootless: { path: '/run/user/1002/docker.sock', state: 'missing' } });
  assert.equal(parseDiagnosis('sh: id: not found\n'), undefined);
  assert.equal(parseDiagnosis('user=x\nsocket=weird\n'), undefined);
});

const who = (over: Partial<SocketDiagnosis> = {}): SocketDiagnosis => ({ uid: '1002', user: 'outsider', groups: ['outsider'], socket: 'missing', ...over });

/** Engines answer at the sockets listed; every call is recorded. */
function fakeReach(answering: string[], diag: SocketDiagnosis | undefined): EngineReach<string> & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    dial: async (s) => {
      calls.push(`dial ${s}`);
      return answering.includes(s) ? `engine at ${s}` : undefined;
    },
    diagnose: async (s, r) => {
      calls.push(`diagnose ${s} rootless=${r}`);
      return diag;
    },
  };
}

test('a server whose socket answers costs no look at the server', async () => {
  const reach = fakeReach([DEFAULT_SOCKET], who());
  assert.deepEqual(await reachEngine(reach, DEFAULT_SOCKET, 'bm1'), { found: `engine at ${DEFAULT_SOCKET}`, socket: DEFAULT_SOCKET });
  assert.deepEqual(reach.calls, [`dial ${DEFAULT_SOCKET}`]);
});

test('rootless Docker: the default socket missing, /run/user/<uid>/docker.sock is tried and used', async () => {
  const rootless = '/run/user/1002/docker.sock';
  const reach = fakeReach([rootless], who({ rootless: { path: rootless, state: 'ok' } }));
  assert.deepEqual(await reachEngine(reach, DEFAULT_SOCKET, 'bm1'), { found: `engine at ${rootless}`, socket: rootless });
  assert.deepEqual(reach.calls, [`dial ${DEFAULT_SOCKET}`, `diagnose ${DEFAULT_SOCKET} rootless=true`, `dial ${rootless}`]);
});

test('a configured socket other than the default is the only one tried', async () => {
  const reach = fakeReach([], who({ rootless: undefined }));
  await assert.rejects(reachEngine(reach, '/srv/docker.sock', 'bm1'), (e) => isBmError(e, 'NoDocker') && /answering at \/srv\/docker\.sock: install Docker Engine/.test(e.message));
  assert.deepEqual(reach.calls, ['dial /srv/docker.sock', 'diagnose /srv/docker.sock rootless=false']);
});

test('no Docker at all: one sentence naming both sockets looked for', async () => {
  const reach = fakeReach([], who({ uid: '0', user: 'root', rootless: { path: '/run/user/0/docker.sock', state: 'missing' } }));
  await assert.rejects(reachEngine(reach, DEFAULT_SOCKET, 'bare'), {
    code: 'NoDocker',
    message: 'bare has no Docker Engine answering at /var/run/docker.sock: install Docker Engine on the server, or set "dockerSocket" for this server (there is no such socket, nor a rootless one at /run/user/0/docker.sock).',
  });
});

test('permission denied on the socket: who, where, and the command that fixes it', async () => {
  const reach = fakeReach([], who({ socket: 'denied', socketGroup: 'docker' }));
  await assert.rejects(reachEngine(reach, DEFAULT_SOCKET, 'bm1'), {
    code: 'DockerPermissionDenied',
    message: 'Permission denied on /var/run/docker.sock for user outsider on bm1: add outsider to the docker group on the server (sudo usermod -aG docker outsider) and connect again.',
  });
  const member = fakeReach([], who({ socket: 'denied', socketGroup: 'docker', groups: ['outsider', 'docker'] }));
  await assert.rejects(reachEngine(member, DEFAULT_SOCKET, 'bm1'), /although outsider is in its group docker: check the socket's permissions/);
  const rootGroup = fakeReach([], who({ socket: 'denied', socketGroup: 'root' }));
  await assert.rejects(reachEngine(rootGroup, DEFAULT_SOCKET, 'bm1'), /connect as root, or give the socket a docker group/, 'never "usermod -aG root"');
});

test('a socket there that nothing answers on, and a diagnosis that could not run', async () => {
  await assert.rejects(reachEngine(fakeReach([], who({ user: 'root', socket: 'ok' })), DEFAULT_SOCKET, 'bm1'), { code: 'NoDocker', message: /the socket is there but nothing answered.*systemctl status docker/ });
  const failing: EngineReach<string> = { dial: async () => undefined, diagnose: async () => Promise.reject(new Error('exec refused')) };
  await assert.rejects(reachEngine(failing, DEFAULT_SOCKET, 'bm1'), { code: 'NoDocker', message: /^bm1 has no Docker Engine answering at \/var\/run\/docker\.sock: install Docker Engine/ });
});

test('API version: the lower of the server\'s and ours, never below the server\'s minimum', () => {
  assert.equal(negotiateApiVersion({ ApiVersion: '1.41', MinAPIVersion: '1.12' }), '1.41', 'Docker 20.10');
  assert.equal(negotiateApiVersion({ ApiVersion: '1.45', MinAPIVersion: '1.24' }), '1.45', 'Docker 26');
  assert.equal(negotiateApiVersion({ ApiVersion: '1.52', MinAPIVersion: '1.44' }), '1.47', 'Docker 29 answers in an API we know');
  assert.equal(negotiateApiVersion({ ApiVersion: '1.60', MinAPIVersion: '1.50' }), '1.50', 'a server that dropped ours: its oldest');
  assert.equal(negotiateApiVersion({}), undefined, 'unversioned when the server does not say');
  assert.ok(compareVersions('1.9', '1.10') < 0 && compareVersions('1.47', '1.47') === 0);
});

test('storage, rootless and platform from /version and /info; /info asked once, and only when needed', async () => {
  assert.equal(storageOf({ Driver: 'overlayfs', DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']] }), 'containerd');
  assert.equal(storageOf({ Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs']] }), 'overlay2');
  assert.equal(variantOf('arm', 'armv7l'), 'v7');
  assert.equal(variantOf('arm64', 'aarch64'), undefined);
  let infoCalls = 0;
  const docker = (machine: string) => ({ info: async () => (infoCalls++, { Driver: 'overlay2', SecurityOptions: ['name=seccomp,profile=default', 'name=rootless'], Architecture: machine }) });
  const amd = new EngineFacts(docker('x86_64'), { Version: '26.1.5', ApiVersion: '1.45', Os: 'linux', Arch: 'amd64' }, '1.45');
  assert.deepEqual(await amd.platform(), { os: 'linux', architecture: 'amd64' });
  assert.equal(infoCalls, 0);
  assert.deepEqual(await amd.info(), { version: '26.1.5', apiVersion: '1.45', os: 'linux', arch: 'amd64', storage: 'overlay2', rootless: true });
  await amd.info();
  assert.equal(infoCalls, 1);
  const arm = new EngineFacts(docker('armv7l'), { Os: 'linux', Arch: 'arm' }, undefined);
  assert.deepEqual(await arm.platform(), { os: 'linux', architecture: 'arm', variant: 'v7' });
});
