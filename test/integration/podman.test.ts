/**
 * A Podman server as most run it: rootless Podman 4.3 (Debian 12) behind `podman system service`,
 * reached by its user over SSH. Its Docker-compatible API is found by itself at
 * /run/user/<uid>/podman/podman.sock; the image travels by Podman's own libpod pull (its
 * compatible pull refuses the tunnelled registry's plain HTTP), so only the missing layers cross.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { cli, makeWorkspace, onServer, servedCommit, testEnv, type Workspace } from '../helpers/world';
import { checkAgainstTool, KiB, metered, size } from '../helpers/link-meter';

const run = promisify(execFile);
const pod = testEnv().servers.find((s) => s.name === 'bmpod');
let ws: Workspace;
let uid = '';

/** podman as the server's Podman user, in the server's namespaces. */
async function podman(...args: string[]): Promise<string> {
  return onServer('bmpod', ['setpriv', '--reuid=podder', '--regid=podder', '--init-groups', 'env', `XDG_RUNTIME_DIR=/run/user/${uid}`, 'HOME=/home/podder', 'podman', ...args]);
}

before(async () => {
  uid = (await run('id', ['-u', 'podder']).catch(() => ({ stdout: '' }))).stdout.trim();
});
after(async () => {
  if (!ws) return;
  await podman('rm', '-af', '--filter', `label=dev.baremetal.app=${ws.app}`).catch(() => undefined);
  await podman('image', 'prune', '-af', '--filter', `label=dev.baremetal.app=${ws.app}`).catch(() => undefined);
});

interface DeployJson {
  result: string;
  commit: string;
  bytesSent: number;
  transport: string;
}

test('rootless Podman: deploy, one-line redeploy (only the changed layer, by its libpod pull), rollback, status and logs', { skip: pod ? false : 'no Podman test server (podman not installed)' }, async () => {
  ws = await makeWorkspace({ servers: { pod: { host: 'bmpod' } } });
  const first = await ws.git('rev-parse', 'HEAD');
  const d1 = await cli(['deploy', '--json'], { cwd: ws.dir });
  assert.equal(d1.code, 0, d1.stderr);
  assert.equal(await servedCommit(pod!.host, ws.port), first);

  const second = await ws.commit('one line', { 'www/extra.html': '<p>one more line</p>\n' });
  const { result: d2, link: l2 } = await metered('bmpod', () => cli(['deploy', '--json'], { cwd: ws.dir }));
  assert.equal(d2.code, 0, d2.stderr);
  const r2 = d2.json as DeployJson;
  assert.equal(r2.transport, 'registry', 'the libpod pull took the tunnelled registry');
  assert.ok(r2.bytesSent < 20_000, `a one-line change sent ${r2.bytesSent} bytes (the whole image is ~1 MB)`);
  assert.equal(checkAgainstTool(l2, r2.bytesSent, 'the one-line redeploy'), undefined);
  assert.equal(await servedCommit(pod!.host, ws.port), second);
  assert.doesNotMatch(d2.stderr, /did not work/, 'no path was tried in vain');

  const { result: rb, link: lrb } = await metered('bmpod', () => cli(['rollback', '--json'], { cwd: ws.dir }));
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal((rb.json as DeployJson).bytesSent, 0);
  assert.ok(lrb.toServer < 200 * KiB, `the rollback carried ${size(lrb.toServer)} to bmpod: no image`);
  assert.equal(await servedCommit(pod!.host, ws.port), first);

  const st = await cli(['status'], { cwd: ws.dir });
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`pod: ${ws.app} ${first.slice(0, 12)} \\(first version\\) running`));
  const logs = await cli(['logs', '--tail', '5'], { cwd: ws.dir });
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /hello: serving \/www on :8080/);
  // The history lives in the Podman user's own home on the server.
  const history = await podman('sh', '-c', `cat /home/podder/.baremetal/${ws.app}/history.jsonl`).catch(() => onServer('bmpod', ['cat', `/home/podder/.baremetal/${ws.app}/history.jsonl`]));
  assert.equal(history.trim().split('\n').length, 3);
});
