/**
 * A server user whose login shell is fish (bm1-fisher). sshd hands every exec string to the login
 * shell, and fish reads \' and \\ as escapes inside single quotes, which broke the former
 * quoting: a dockerSocket like `/x\' ; touch /tmp/p ; echo \` ran `touch` on the server.
 * Deploys and status work as this user; hostile values run nothing and get a clear error.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ServerPool } from '../../src/drivers/server-pool';
import type { ServerConfig } from '../../src/core/config/types';
import { cleanupApp, cli, errorLine, makeWorkspace, onServer, servedCommit, server, type Workspace } from '../helpers/world';

const bm1 = server('bm1');
const SSH_CONFIG = '/srv/baremetal-test/client/ssh_config';
const MARKER = '/tmp/bm-login-shell-pwned';
const made: Workspace[] = [];

after(async () => {
  for (const ws of made) {
    await cleanupApp('bm1', ws.app);
    await onServer('bm1', ['rm', '-rf', `/home/fisher/.baremetal/${ws.app}`]);
  }
  await onServer('bm1', ['rm', '-f', MARKER]);
});

async function markerExists(): Promise<boolean> {
  return (await onServer('bm1', ['sh', '-c', 'test -e "$1" && echo yes || echo no', 'sh', MARKER])).trim() === 'yes';
}

function fisherConfig(over: Partial<ServerConfig> = {}): ServerConfig {
  return { name: 'bm1-fisher', host: 'bm1-fisher', dockerSocket: '/var/run/docker.sock', stateDir: '.baremetal', ...over };
}

test('the test user really has fish as its login shell', async () => {
  assert.equal((await onServer('bm1', ['getent', 'passwd', 'fisher'])).trim().split(':')[6], '/usr/bin/fish');
});

test('as a fish user: deploy, status and rollback work, history in its own home', async () => {
  const ws = await makeWorkspace({ prefix: 'fish', servers: { 'bm1-fisher': { host: 'bm1-fisher' } } });
  made.push(ws);
  const first = (await ws.git('rev-parse', 'HEAD')).trim();
  const d1 = await cli(['deploy'], { cwd: ws.dir });
  assert.equal(d1.code, 0, d1.stderr);
  const second = await ws.commit('second version', { 'www/v.txt': '2\n' });
  const d2 = await cli(['deploy'], { cwd: ws.dir });
  assert.equal(d2.code, 0, d2.stderr);
  const st = await cli(['status', '--server', 'bm1-fisher', '--json'], { cwd: ws.dir });
  assert.equal(st.code, 0, st.stderr);
  assert.deepEqual([(st.json as { state: string }).state, (st.json as { commit: string }).commit], ['running', second]);
  assert.equal((await cli(['rollback'], { cwd: ws.dir })).code, 0);
  assert.equal(await servedCommit(bm1.host, ws.port), first);
  assert.match(await onServer('bm1', ['cat', `/home/fisher/.baremetal/${ws.app}/history.jsonl`]), new RegExp(second));
});

test('the dockerSocket of issue 18 in baremetal.json: refused with file:line:column, nothing runs on the server', async () => {
  const ws = await makeWorkspace({ prefix: 'fish', servers: { 'bm1-fisher': { host: 'bm1-fisher', dockerSocket: `/x\\' ; touch ${MARKER} ; echo \\` } } });
  made.push(ws);
  for (const args of [['status'], ['deploy']]) {
    const r = await cli(args, { cwd: ws.dir });
    assert.equal(r.code, 1);
    assert.match(errorLine(r.stderr), /^error: .*baremetal\.json:\d+:\d+: servers\.bm1-fisher\.dockerSocket ".*" must be an absolute path like "\/var\/run\/docker\.sock", without backslashes or control characters\.$/);
  }
  assert.equal(await markerExists(), false);
});

test('the healthcheck.path of issue 18: refused the same way', async () => {
  const ws = await makeWorkspace({ prefix: 'fish', servers: { 'bm1-fisher': { host: 'bm1-fisher' } }, run: { healthcheck: { port: 8080, path: `/\\'; touch ${MARKER}; echo \\` } } });
  made.push(ws);
  const r = await cli(['deploy'], { cwd: ws.dir });
  assert.equal(r.code, 1);
  assert.match(errorLine(r.stderr), /run\.healthcheck\.path ".*" must be a URL path starting with "\/", like "\/health", without spaces, backslashes or control characters/);
  assert.equal(await markerExists(), false);
});

test('below the config check too: a hostile socket path reaching the connection runs nothing under fish and is named as missing', async () => {
  const pool = new ServerPool({ logger: { debug() {}, info() {}, warn() {}, error() {} }, sshConfigFile: SSH_CONFIG });
  try {
    for (const socket of [`/x\\' ; touch ${MARKER} ; echo \\`, `/x'; touch ${MARKER}; echo '`, `/x$(touch ${MARKER})`, `/x\`touch ${MARKER}\``]) {
      await assert.rejects(pool.get(fisherConfig({ name: `fisher-${socket.length}`, dockerSocket: socket })), (e: Error) => {
        assert.match(e.message, /no Docker|not found|does not exist|missing|no such/i, e.message);
        return true;
      });
    }
    assert.equal(await markerExists(), false, 'no command ran on the server');

    // Every exec user shares one path: arguments arrive exactly as given, under fish.
    const s = await pool.get(fisherConfig());
    const args = [`/x\\' ; touch ${MARKER} ; echo \\`, "it's", '\\\\', '$(id)', '', 'line\nbreak\n', '%self', '日本'];
    const r = await s.connection.exec(['sh', '-c', 'for a in "$@"; do printf "[%s]" "$a"; done', 'sh', ...args]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, args.map((a) => `[${a}]`).join(''));
    assert.equal(await markerExists(), false);
  } finally {
    pool.closeAll();
  }
});
