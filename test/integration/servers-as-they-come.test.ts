/**
 * Servers as people run them: sshd without an SFTP subsystem (files over exec channels of the
 * same connection), a user outside the docker group (told so, with the fix), a non-root user in
 * it (deploys into its own home), Docker 26 with the containerd image store, and the Engine API
 * version the requests are pinned to.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ServerPool } from '../../src/drivers/server-pool';
import { cleanupApp, cli, errorLine, makeWorkspace, onServer, server, servedCommit, type Workspace } from '../helpers/world';

const bm1 = server('bm1');
const env = { BAREMETAL_SSH_CONFIG: '/srv/baremetal-test/client/ssh_config' };
const made: { ws: Workspace; server: string; stateDir: string }[] = [];

async function workspace(host: string, engineServer = 'bm1', home = '/root'): Promise<Workspace> {
  const ws = await makeWorkspace({ servers: { [host]: { host } } });
  made.push({ ws, server: engineServer, stateDir: `${home}/.baremetal/${ws.app}` });
  return ws;
}

after(async () => {
  for (const m of made) {
    await cleanupApp(m.server, m.ws.app);
    await onServer(m.server, ['rm', '-rf', m.stateDir]);
  }
});

interface HistoryEntry {
  commit: string;
  result: string;
  current: boolean;
}

/** Every line of the history file on the server is one JSON object. */
async function historyOnServer(name: string, path: string): Promise<{ commit: string; result: string }[]> {
  const text = await onServer(name, ['cat', path]);
  assert.ok(text.endsWith('\n'), 'the file ends with a newline');
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as { commit: string; result: string });
}

test('no SFTP on the server: deploy, redeploy, history and rollback work with files over exec', async () => {
  const ws = await workspace('bm1-nosftp');
  const first = (await ws.git('rev-parse', 'HEAD')).trim();
  const d1 = await cli(['deploy', '--json', '--verbose'], { cwd: ws.dir });
  assert.equal(d1.code, 0, d1.stderr);
  assert.match(d1.stderr, /bm1-nosftp: no SFTP on the server \(Unable to start subsystem: sftp\): files over exec/);

  const second = await ws.commit('second version', { 'www/v.txt': '2\n' });
  const d2 = await cli(['deploy', '--json'], { cwd: ws.dir });
  assert.equal(d2.code, 0, d2.stderr);
  assert.equal(await servedCommit(bm1.host, ws.port), second);

  const h = await cli(['history', '--json'], { cwd: ws.dir });
  assert.equal(h.code, 0, h.stderr);
  const entries = h.json as HistoryEntry[];
  assert.deepEqual(entries.map((e) => [e.commit, e.result, e.current]), [[second, 'succeeded', true], [first, 'succeeded', false]]);

  const back = await cli(['rollback', '--json'], { cwd: ws.dir });
  assert.equal(back.code, 0, back.stderr);
  assert.equal(await servedCommit(bm1.host, ws.port), first);

  const onDisk = await historyOnServer('bm1', `/root/.baremetal/${ws.app}/history.jsonl`);
  assert.deepEqual(onDisk.map((r) => r.commit), [first, second, first]);
  assert.ok(onDisk.every((r) => r.result === 'succeeded'));
  const left = await onServer('bm1', ['ls', '-A', `/root/.baremetal/${ws.app}`]);
  assert.deepEqual(left.split('\n').filter(Boolean), ['history.jsonl'], 'the lock is released and no temporary file is left');
});

test('no SFTP: a lock held by another client is named, and createExclusive says false while it is there', async () => {
  const ws = await workspace('bm1-nosftp');
  const lockPath = `/root/.baremetal/${ws.app}/lock`;
  const lock = JSON.stringify({ token: 'xyz', owner: 'bob@desk', operation: 'rollback', acquiredAt: new Date(Date.now() - 7_000).toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString() });
  await onServer('bm1', ['sh', '-c', 'mkdir -p "$(dirname "$1")" && printf %s "$2" > "$1"', 'sh', lockPath, lock]);
  const refused = await cli(['deploy'], { cwd: ws.dir });
  assert.equal(refused.code, 1);
  assert.match(errorLine(refused.stderr), /A rollback of .* by bob@desk has been running for \d+s on this server: wait for it to finish, or run again with --wait/);
  assert.equal(await onServer('bm1', ['cat', lockPath]), lock, 'the other client\'s lock is untouched');

  // The same files the CLI used, over a real connection to that sshd.
  const pool = new ServerPool({ logger: { debug() {}, info() {}, warn() {}, error() {} }, sshConfigFile: env.BAREMETAL_SSH_CONFIG });
  try {
    const s = await pool.get({ name: 'nosftp', host: 'bm1-nosftp', dockerSocket: '/var/run/docker.sock', stateDir: '.baremetal' });
    assert.equal(await s.files.createExclusive(`~/.baremetal/${ws.app}/lock`, '{"token":"mine"}'), false);
    assert.equal(await s.files.createExclusive(`.baremetal/${ws.app}/lock`, '{"token":"mine"}'), false);
    await s.files.remove(`.baremetal/${ws.app}/lock`);
    const wins = await Promise.all(Array.from({ length: 6 }, (_, i) => s.files.createExclusive(`.baremetal/${ws.app}/lock`, `{"n":${i}}`)));
    assert.equal(wins.filter(Boolean).length, 1, 'one winner among concurrent creates on one connection');
    assert.equal(await s.files.read(`.baremetal/${ws.app}/lock`), `{"n":${wins.indexOf(true)}}`);
    await s.files.remove(`.baremetal/${ws.app}/lock`);
  } finally {
    pool.closeAll();
  }
  const now = await cli(['deploy'], { cwd: ws.dir });
  assert.equal(now.code, 0, now.stderr);
});

test('a user not allowed on the Docker socket is told so, with the fix', async () => {
  const ws = await workspace('bm1-outsider', 'bm1', '/home/outsider');
  for (const args of [['deploy'], ['status']]) {
    const r = await cli(args, { cwd: ws.dir });
    assert.equal(r.code, 1);
    assert.equal(
      errorLine(r.stderr),
      'error: Permission denied on /var/run/docker.sock for user outsider on bm1-outsider: add outsider to the docker group on the server (sudo usermod -aG docker outsider) and connect again.',
    );
  }
});

test('a non-root user in the docker group: deploy, status, rollback, history in its own home', async () => {
  const ws = await workspace('bm1-deployer', 'bm1', '/home/deployer');
  const first = (await ws.git('rev-parse', 'HEAD')).trim();
  const d1 = await cli(['deploy', '--json'], { cwd: ws.dir });
  assert.equal(d1.code, 0, d1.stderr);
  const second = await ws.commit('second version', { 'www/v.txt': '2\n' });
  const d2 = await cli(['deploy', '--json'], { cwd: ws.dir });
  assert.equal(d2.code, 0, d2.stderr);
  const st = await cli(['status', '--server', 'bm1-deployer', '--json'], { cwd: ws.dir });
  assert.equal(st.code, 0, st.stderr);
  assert.deepEqual([(st.json as { state: string }).state, (st.json as { commit: string }).commit], ['running', second]);
  const back = await cli(['rollback'], { cwd: ws.dir });
  assert.equal(back.code, 0, back.stderr);
  assert.equal(await servedCommit(bm1.host, ws.port), first);

  const onDisk = await historyOnServer('bm1', `/home/deployer/.baremetal/${ws.app}/history.jsonl`);
  assert.deepEqual(onDisk.map((r) => r.commit), [first, second, first]);
  const owner = await onServer('bm1', ['stat', '-c', '%U %a', `/home/deployer/.baremetal/${ws.app}`, `/home/deployer/.baremetal/${ws.app}/history.jsonl`]);
  assert.deepEqual(owner.trim().split('\n'), ['deployer 700', 'deployer 644']);
  assert.equal(await onServer('bm1', ['sh', '-c', 'test -e "$1" && echo yes || echo no', 'sh', `/root/.baremetal/${ws.app}`]), 'no\n');
});

test('the Engine API version is negotiated: 1.41 on Docker 20.10, 1.45 on Docker 26 (containerd store)', async () => {
  const old = await workspace('bm1');
  const r1 = await cli(['status', '--verbose'], { cwd: old.dir });
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stderr, /bm1: Docker Engine API over stream-local to \/var\/run\/docker\.sock, API 1\.41 \(Docker 20\.10\.\S+ linux\/amd64\)/);

  const ws = await workspace('bm26c', 'bm26c');
  const d = await cli(['deploy', '--json', '--verbose'], { cwd: ws.dir });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /bm26c: Docker Engine API over stream-local to \/var\/run\/docker\.sock, API 1\.45 \(Docker 26\.1\.\S+ linux\/amd64\)/);
  assert.equal(await servedCommit(server('bm26c').host, ws.port), (await ws.git('rev-parse', 'HEAD')).trim());
  const st = await cli(['status', '--server', 'bm26c', '--json'], { cwd: ws.dir });
  assert.equal((st.json as { state: string }).state, 'running');
});
