/**
 * Only what the server lacks crosses the link, by each transfer path: the registry pull through
 * an SSH remote forward, a trimmed `docker load` where forwarding is refused, a full load; and a
 * connection that drops mid-transfer fails cleanly without losing what arrived. The key claims are
 * counted on the server's link too (its veth), not only by the tool.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkAgainstTool, KiB, metered, size } from '../helpers/link-meter';
import { slowLink } from '../helpers/slow-link';
import { cli, onServer, server, servedCommit, testEnv, workspaceTracker } from '../helpers/world';

const run = promisify(execFile);
const bm1 = server('bm1');
const tracker = workspaceTracker();
const workspace = tracker.make;
after(tracker.cleanup);

interface DeployJson {
  result: string;
  commit: string;
  image: string;
  bytesSent: number;
  transport: string;
}
interface PlanJson {
  onServer: boolean;
  layers: { digest: string; size: number; present: boolean }[];
  missingBytes: number;
  totalBytes: number;
  advice: string[];
}

/** A page of random bytes: a layer that compresses to about its own size. */
function noise(bytes: number): string {
  return randomBytes(bytes / 2).toString('hex');
}

test('registry path: the first deploy sends the image, a one-line change sends one small layer', async () => {
  const ws = await workspace();
  // The data gets its own layer, before the page: a change to the page leaves it alone.
  await ws.commit('some weight', {
    'data/blob.txt': noise(2_000_000),
    Dockerfile: (await ws.git('show', 'HEAD:Dockerfile')).replace('COPY www /www', 'COPY data /data\nCOPY www /www'),
  });
  const { result: first, link: l1 } = await metered('bm1', () => cli(['deploy', '--json'], { cwd: ws.dir }));
  assert.equal(first.code, 0, first.stderr);
  const r1 = first.json as DeployJson;
  assert.equal(r1.transport, 'registry');
  assert.ok(r1.bytesSent > 1_000_000, `${r1.bytesSent}`);
  assert.equal(checkAgainstTool(l1, r1.bytesSent, 'the first deploy'), undefined);

  // The pulled image is the very image built here. IDs are not compared across image stores
  // (the containerd workstation names it by its index digest, the classic server by its config
  // digest): the layers (diffIDs) and the config are what both sides agree on.
  const ref = `${ws.app}:${r1.commit}`;
  const fmt = '{{json .RootFS.Layers}} {{json .Config.Labels}} {{json .Config.Cmd}}';
  const local = (await run('docker', ['-H', testEnv().dockerHost, 'image', 'inspect', '--format', fmt, ref])).stdout.trim();
  assert.equal((await onServer('bm1', ['docker', 'image', 'inspect', '--format', fmt, ref])).trim(), local);
  // The history names it by the server's own ID.
  assert.equal(r1.image, (await onServer('bm1', ['docker', 'image', 'inspect', '--format', '{{.Id}}', ref])).trim());
  // No temporary registry name is left behind on the server.
  assert.doesNotMatch(await onServer('bm1', ['docker', 'images', '--format', '{{.Repository}}']), /127\.0\.0\.1:/);

  const changed = await ws.commit('one line', { 'www/index.html': `${await ws.git('show', 'HEAD:www/index.html')}\n<p>one more line</p>\n` });
  const plan = await cli(['deploy', '--dry-run', '--json'], { cwd: ws.dir });
  assert.equal(plan.code, 0, plan.stderr);
  const p = plan.json as PlanJson;
  const missing = p.layers.filter((l) => !l.present);
  assert.ok(missing.length >= 1 && missing.length <= 2, JSON.stringify(p.layers));
  assert.ok(p.missingBytes < 20_000, `only the small page layer is missing (${p.missingBytes} bytes of ${p.totalBytes})`);

  const { result: second, link: l2 } = await metered('bm1', () => cli(['deploy', '--json'], { cwd: ws.dir }));
  assert.equal(second.code, 0, second.stderr);
  const r2 = second.json as DeployJson;
  assert.equal(r2.transport, 'registry');
  assert.ok(r2.bytesSent <= p.missingBytes + 4096, `sent ${r2.bytesSent}, the missing layers are ${p.missingBytes} (plus the config)`);
  // By the link's count: the one-line change, not the 1 MB data layer again.
  assert.equal(checkAgainstTool(l2, r2.bytesSent, 'the one-line redeploy'), undefined);
  assert.ok(l2.toServer < 400 * KiB, `the one-line redeploy carried ${size(l2.toServer)} to the server (the first deploy: ${size(l1.toServer)})`);
  assert.equal(await servedCommit(bm1.host, ws.port), changed);

  const again = await cli(['deploy', '--dry-run', '--json'], { cwd: ws.dir });
  assert.equal((again.json as PlanJson).onServer, true);
  assert.equal((again.json as PlanJson).missingBytes, 0);
});

test('trimmed load where the server refuses forwarding: still only the missing layers', async () => {
  const ws = await workspace({ servers: { hardened: { host: 'bm1-nofwd' } } });
  // (www/index.html names its commit, so the www layer changes with every commit: data lives apart.)
  await ws.commit('some weight', {
    'data/blob.txt': noise(1_000_000),
    Dockerfile: (await ws.git('show', 'HEAD:Dockerfile')).replace('COPY www /www', 'COPY data /data\nCOPY www /www'),
  });
  const first = await cli(['deploy', '--json'], { cwd: ws.dir });
  assert.equal(first.code, 0, first.stderr);
  assert.equal((first.json as DeployJson).transport, 'trimmed-load');

  await ws.commit('one line', { 'start.sh': `${await ws.git('show', 'HEAD:start.sh')}\n# one more line\n` });
  const { result: second, link: l2 } = await metered('bm1', () => cli(['deploy', '--json'], { cwd: ws.dir }));
  assert.equal(second.code, 0, second.stderr);
  const r2 = second.json as DeployJson;
  assert.equal(r2.transport, 'trimmed-load');
  assert.ok(r2.bytesSent < 100_000, `the 1 MB data layer is not sent again (${r2.bytesSent} bytes)`);
  assert.equal(checkAgainstTool(l2, r2.bytesSent, 'the trimmed load'), undefined);
  assert.equal(await servedCommit(bm1.host, ws.port), r2.commit);
});

test('full load when forced, the path reported', async () => {
  const ws = await workspace();
  const r = await cli(['deploy', '--json'], { cwd: ws.dir, env: { BAREMETAL_TRANSFER: 'full-load' } });
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as DeployJson;
  assert.equal(j.transport, 'full-load');
  assert.ok(j.bytesSent > 500_000, 'a full load sends every layer, the base too');
  assert.equal(await servedCommit(bm1.host, ws.port), j.commit);
});

test('the Dockerfile that copies the whole app before installing is pointed out', async () => {
  const ws = await workspace();
  await ws.commit('bad order', { Dockerfile: 'FROM local/busybox:1\nCOPY . /app\nRUN echo npm ci\nCMD ["/bin/sh", "/app/start.sh"]\n' });
  const plan = await cli(['deploy', '--dry-run'], { cwd: ws.dir });
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /Dockerfile:3: "COPY \. \/app" \(line 2\) comes before "RUN echo npm ci" \(line 3\)/);
});


test('a connection that drops mid-transfer: clean failure, the old version serves, nothing arrived is resent', async () => {
  // This test's own slow link to bm1 (40 Mbit/s), cut mid-transfer: no other client of bm1 is slowed or cut.
  const dir = await mkdtemp(join(tmpdir(), 'bm-slowlink-'));
  const link = await slowLink(bm1, 5_000_000, dir);
  try {
    const env = { BAREMETAL_SSH_CONFIG: link.sshConfig };
    const ws = await workspace({ servers: { bm1: { host: link.host } } });
    const good = (await ws.git('rev-parse', 'HEAD')).trim();
    assert.equal((await cli(['deploy'], { cwd: ws.dir, env })).code, 0);
    // Two heavy layers on the slowed link: the small one arrives, the big one is cut off.
    await ws.commit('heavy', {
      'small.bin': noise(3_000_000),
      'big.bin': noise(24_000_000),
      Dockerfile: (await ws.git('show', 'HEAD:Dockerfile')).replace('COPY www /www', 'COPY small.bin /small.bin\nCOPY big.bin /big.bin\nCOPY www /www'),
    });
    let cut = false;
    const failed = await cli(['deploy', '--json'], {
      cwd: ws.dir,
      env,
      onStderr: (s) => {
        const sent = [...s.matchAll(/\(([\d.]+) MiB sent\)/g)].map((m) => Number(m[1]));
        if (!cut && sent.length && sent[sent.length - 1] >= 5) {
          cut = true;
          link.cut();
        }
      },
    });
    assert.ok(cut, 'the connection was cut during the transfer');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /error: The SSH connection to bm1 dropped while sending the image; .*previous version keeps serving/);
    link.unthrottle();
    assert.equal(await servedCommit(bm1.host, ws.port), good);

    const plan = await cli(['deploy', '--dry-run', '--json'], { cwd: ws.dir, env });
    assert.equal(plan.code, 0, plan.stderr);
    const p = plan.json as PlanJson;
    assert.ok(p.missingBytes < p.totalBytes - 1_000_000, `the small layer arrived and is not needed again (${p.missingBytes} of ${p.totalBytes})`);

    // The lock was freed through a new connection, and the failure recorded: the next deploy runs.
    // The relay reaches bm1 over its veth, so the link counts what the retry really sent.
    const { result: retry, link: carried } = await metered('bm1', () => cli(['deploy', '--json'], { cwd: ws.dir, env }));
    assert.equal(retry.code, 0, retry.stderr);
    const sent = (retry.json as DeployJson).bytesSent;
    assert.ok(sent <= p.missingBytes + 4096);
    assert.equal(checkAgainstTool(carried, sent, 'the retry after the cut'), undefined);
    // What the dry run said was missing (not the small layer that arrived), by the link's count:
    // its frames' headers (about 5%) and the connection's own talk on top.
    assert.ok(
      carried.toServer <= p.missingBytes * 1.1 + 256 * KiB,
      `the retry carried ${size(carried.toServer)} to the server; missing were ${size(p.missingBytes)} of the image's ${size(p.totalBytes)}: more than the missing layers was sent again`,
    );
    console.log(`# bm1's link, the retry after the cut: ${size(carried.toServer)} carried (tool: ${size(sent)}; missing ${size(p.missingBytes)} of ${size(p.totalBytes)})`);
    const h = await cli(['history', '--json'], { cwd: ws.dir, env });
    assert.deepEqual((h.json as { result: string }[]).slice(0, 2).map((e) => e.result), ['succeeded', 'failed']);
  } finally {
    await link.close();
    await rm(dir, { recursive: true, force: true });
  }
});
