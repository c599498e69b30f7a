/**
 * The server's disk fills while it takes in a version: one sentence that says so and what to do,
 * a non-zero exit, the running version serving throughout, and deploys working again once there
 * is room. bm26o's Docker is put on a small empty disk (scripts/test-servers.sh small-disk, a
 * tmpfs) for this file only and given its own disk back at the end, whatever happens: no other
 * test of this file's run uses bm26o meanwhile (npm test runs one file at a time), and what this
 * test deploys there is removed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { cli, errorLine, makeWorkspace, PROJECT, removeTestApp, server, servedCommit, type Workspace } from '../helpers/world';

const run = promisify(execFile);
const NAME = 'bm26o';
const target = server(NAME);
const servers = (disk: string) => run('bash', [join(PROJECT, 'scripts', 'test-servers.sh'), 'small-disk', NAME, disk], { maxBuffer: 1 << 20 });

let ws: Workspace | undefined;
let small = false;
const ownDisk = async () => {
  if (!small) return;
  await servers('off');
  small = false;
};
before(async () => {
  // 64 MB: the engine's own files, the base and a small version fit; a 96 MB layer does not.
  small = true;
  await servers('64M');
});
after(async () => {
  // The small disk goes with all it held; what was deployed on the server's own disk is removed.
  await ownDisk();
  if (ws) await removeTestApp(ws, [NAME]);
});

/** Fetches the page every 200 ms until stopped: the commits that answered, and the failures. */
function poll(host: string, port: number): { stop(): Promise<{ commits: Set<string>; ok: number; failed: string[] }> } {
  const commits = new Set<string>();
  const failed: string[] = [];
  let ok = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const c = await servedCommit(host, port);
        if (c) {
          commits.add(c);
          ok += 1;
        } else failed.push('a page without its commit');
      } catch (e) {
        failed.push((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { commits, ok, failed };
    },
  };
}

test("the server's disk full during the transfer: one sentence, exit 1, the old version serving throughout; room made, the next deploy goes", async () => {
  ws = await makeWorkspace({ prefix: 'disk', servers: { [NAME]: { host: NAME } } });
  const good = (await ws.git('rev-parse', 'HEAD')).trim();
  const d1 = await cli(['deploy'], { cwd: ws.dir });
  assert.equal(d1.code, 0, d1.stderr);
  assert.equal(await servedCommit(target.host, ws.port), good);

  // Random bytes: the layer cannot be compressed below the disk's size.
  await mkdir(join(ws.dir, 'bulk'));
  await writeFile(join(ws.dir, 'bulk', 'huge.bin'), randomBytes(96 << 20));
  await ws.commit('too big for the disk', { Dockerfile: (await ws.git('show', 'HEAD:Dockerfile')).replace('COPY www /www', 'COPY bulk /bulk\nCOPY www /www') });
  const p = poll(target.host, ws.port);
  const full = await cli(['deploy'], { cwd: ws.dir });
  const seen = await p.stop();
  assert.equal(full.code, 1, full.stderr);
  assert.equal(
    errorLine(full.stderr),
    `error: The server's disk is full: Docker ran out of space while taking in the image; free some (docker system prune, or a lower "keep"), then deploy again; the running version was not touched.`,
  );
  assert.equal(full.stderr.split('\n').filter((l) => l.startsWith('error: ')).length, 1, 'one sentence');
  assert.doesNotMatch(full.stderr, /    at /, 'no stack trace');
  assert.deepEqual({ commits: [...seen.commits], failed: seen.failed }, { commits: [good], failed: [] }, 'only the old version answered, every time');
  assert.ok(seen.ok > 0);
  assert.equal(await servedCommit(target.host, ws.port), good);

  // Room made (the big file gone again): the next deploy goes through by itself, on the same small disk.
  await ws.git('revert', '--no-edit', 'HEAD');
  const smaller = (await ws.git('rev-parse', 'HEAD')).trim();
  const d2 = await cli(['deploy'], { cwd: ws.dir });
  assert.equal(d2.code, 0, d2.stderr);
  assert.equal(await servedCommit(target.host, ws.port), smaller);

  // The server's own disk back: the version that did not fit deploys.
  await ownDisk();
  const big = (await ws.git('rev-parse', 'HEAD~1')).trim();
  const d3 = await cli(['deploy', '--commit', big], { cwd: ws.dir });
  assert.equal(d3.code, 0, d3.stderr);
  assert.equal(await servedCommit(target.host, ws.port), big);
});
