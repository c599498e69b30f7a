/**
 * Fleets on real servers: a group of bm1 (Docker 20.10) and bm26c (Docker 26, containerd store),
 * built once on the workstation's engine. A deploy to both at once, a canary that fails health
 * with batch 1, --rollback-on-failure, roles from one image, and an unknown group.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { cleanupApp, cli, errorLine, makeWorkspace, onServer, removeTestApp, server, servedCommit, type Workspace } from '../helpers/world';
import { checkAgainstTool, KiB, linkMeter, size } from '../helpers/link-meter';

const SERVERS = ['bm1', 'bm26c'] as const;
const made: Workspace[] = [];
after(async () => {
  for (const ws of made) {
    for (const s of SERVERS) {
      for (const role of ['web', 'worker']) {
        await cleanupApp(s, `${ws.app}-${role}`).catch(() => undefined);
        await onServer(s, ['rm', '-rf', `/root/.baremetal/${ws.app}-${role}`]).catch(() => undefined);
      }
    }
    await removeTestApp(ws, SERVERS);
  }
});

/** A workspace whose second commit's start.sh exits at once where FAIL_HERE is set (bm1's env, by a server override). */
async function fleetWorkspace(extra: object = {}, servers: Record<string, object> = { bm1: { host: 'bm1', env: { FAIL_HERE: '1' } }, bm26c: { host: 'bm26c' } }): Promise<Workspace> {
  const ws = await makeWorkspace({ prefix: 'fl', servers, extra: { groups: { web: ['bm1', 'bm26c'] }, ...extra } });
  made.push(ws);
  return ws;
}
const failingStart = '#!/bin/sh\n[ -n "$FAIL_HERE" ] && { echo "refusing to start here"; exit 3; }\necho "hello: serving /www on :8080"\nbusybox httpd -f -v -p 8080 -h /www &\npid=$!\ntrap \'kill "$pid"; exit 0\' TERM INT\nwait "$pid"\n';

interface ServerJson { server: string; outcome: string; commit?: string; message?: string; bytesSent: number; results: { bytesSent: number; kind: string }[]; roles?: { role: string; commit?: string }[] }
interface RolloutJson { result: string; builds: number; batches: string[][]; servers: ServerJson[] }
const byName = (r: RolloutJson, name: string) => r.servers.find((s) => s.server === name)!;
const historyOf = async (ws: Workspace, s: string, app = ws.app) =>
  (await onServer(s, ['sh', '-c', `cat /root/.baremetal/${app}/history.jsonl 2>/dev/null || true`])).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; commit: string; result: string });

test('a group deploy: built once, both servers serve the commit, each has its own history', async () => {
  const ws = await fleetWorkspace({}, { bm1: { host: 'bm1' }, bm26c: { host: 'bm26c' } });
  const first = await ws.git('rev-parse', 'HEAD');
  const r = await cli(['deploy', '--server', 'web'], { cwd: ws.dir });
  assert.equal(r.code, 0, r.stderr);
  // Each server's progress on lines of its own; one build for both.
  assert.match(r.stderr, /^bm1: +› Connecting to bm1$/m);
  assert.match(r.stderr, /^bm26c: › Connecting to bm26c$/m);
  assert.match(r.stderr, /^bm26c: › Sending /m);
  assert.equal(r.stderr.match(/› Building /g)?.length, 1, r.stderr);
  assert.match(r.stdout, new RegExp(`^Deployed ${first.slice(0, 12)} \\(first version\\) to web \\(2 servers\\) in [\\d.]+ s:\\n  bm1: +${first.slice(0, 12)} \\(deployed in .*sent\\)\\n  bm26c: ${first.slice(0, 12)} \\(deployed in .*sent\\)\\n$`));
  for (const s of SERVERS) {
    assert.equal(await servedCommit(server(s).host, ws.port), first, `${s} serves the commit`);
    assert.deepEqual((await historyOf(ws, s)).map((h) => [h.kind, h.commit, h.result]), [['deploy', first, 'succeeded']]);
  }
  // history and status on the group, per server.
  const h = await cli(['history', '--server', 'web', '--json'], { cwd: ws.dir });
  assert.equal(h.code, 0, h.stderr);
  assert.deepEqual((h.json as { server: string; entries: unknown[] }[]).map((x) => [x.server, x.entries.length]), [['bm1', 1], ['bm26c', 1]]);
  // logs on the group: both servers' lines, each under its server's name, in time order.
  const lg = await cli(['logs', '--server', 'web', '--timestamps'], { cwd: ws.dir });
  assert.equal(lg.code, 0, lg.stderr);
  const lines = lg.stdout.split('\n').filter(Boolean);
  for (const s of SERVERS) assert.ok(lines.some((l) => new RegExp(`^${s} +\\| \\S+ hello: serving /www on :8080`).test(l)), `${s}'s start line: ${lg.stdout}`);
  const times = lines.map((l) => / \| (\S+) /.exec(l)?.[1] ?? '');
  assert.deepEqual(times, [...times].sort(), 'merged in time order');
  const st = await cli(['status', '--server', 'web'], { cwd: ws.dir });
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`^bm1: ${ws.app} ${first.slice(0, 12)} .*running`, 'm'));
  assert.match(st.stdout, new RegExp(`^bm26c: ${ws.app} ${first.slice(0, 12)} .*running`, 'm'));

  // The next commit: each server is sent only what it lacks (the changed www layer, not the base).
  const second = await ws.commit('second version', { 'www/extra.html': '<p>two</p>\n' });
  const meters = new Map(SERVERS.map((s) => [s, linkMeter(s)]));
  const r2 = await cli(['deploy', '--server', 'web', '--json'], { cwd: ws.dir });
  assert.equal(r2.code, 0, r2.stderr);
  const j = r2.json as RolloutJson;
  for (const s of SERVERS) {
    assert.equal(byName(j, s).commit, second);
    assert.ok(byName(j, s).bytesSent > 0 && byName(j, s).bytesSent < 200_000, `${s} got the changed layers only (${byName(j, s).bytesSent} bytes)`);
    // Each server's own link agrees.
    assert.equal(checkAgainstTool(meters.get(s)!.read(), byName(j, s).bytesSent, `the redeploy to ${s}`), undefined);
    assert.equal(await servedCommit(server(s).host, ws.port), second);
  }
});

test('batch 1: the canary fails health, the rollout stops, the second server is never touched', async () => {
  const ws = await fleetWorkspace({ rollout: { batch: 1 } });
  const first = await ws.git('rev-parse', 'HEAD');
  const d1 = await cli(['deploy', '--server', 'web'], { cwd: ws.dir });
  assert.equal(d1.code, 0, d1.stderr);
  await ws.commit('second version fails on bm1', { 'start.sh': failingStart });
  const r = await cli(['deploy', '--server', 'web'], { cwd: ws.dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /Batch 1 of 2 \(canary\): bm1/);
  assert.doesNotMatch(r.stderr, /^bm26c: +› (Sending|Starting)/m, 'bm26c was not deployed to');
  // Which server runs what, one line each.
  assert.match(r.stdout, /^The deploy of [0-9a-f]{12} \(second version fails on bm1\) to web failed; each server now runs:$/m);
  assert.match(r.stdout, new RegExp(`^  bm1: +${first.slice(0, 12)} \\(failed: .+\\)$`, 'm'));
  assert.match(r.stdout, new RegExp(`^  bm26c: ${first.slice(0, 12)} \\(not reached: the rollout stopped after bm1 failed\\)$`, 'm'));
  for (const s of SERVERS) assert.equal(await servedCommit(server(s).host, ws.port), first, `${s} still serves the first commit`);
  assert.equal((await historyOf(ws, 'bm26c')).length, 1, 'nothing was recorded on bm26c');
  assert.deepEqual((await historyOf(ws, 'bm1')).map((h) => h.result), ['succeeded', 'failed']);
});

test('--rollback-on-failure puts the servers already moved back on the previous commit', async () => {
  const ws = await fleetWorkspace();
  const first = await ws.git('rev-parse', 'HEAD');
  assert.equal((await cli(['deploy', '--server', 'web'], { cwd: ws.dir })).code, 0);
  const second = await ws.commit('second version fails on bm1', { 'start.sh': failingStart });
  const r = await cli(['deploy', '--server', 'web', '--rollback-on-failure', '--json'], { cwd: ws.dir });
  assert.equal(r.code, 1, r.stderr);
  const j = r.json as RolloutJson;
  assert.equal(j.result, 'failed');
  assert.deepEqual([byName(j, 'bm1').outcome, byName(j, 'bm1').commit], ['failed', first]);
  assert.deepEqual([byName(j, 'bm26c').outcome, byName(j, 'bm26c').commit], ['rolled-back', first]);
  assert.match(byName(j, 'bm1').message ?? '', /\./);
  for (const s of SERVERS) assert.equal(await servedCommit(server(s).host, ws.port), first, `${s} serves the first commit again`);
  assert.deepEqual((await historyOf(ws, 'bm26c')).map((h) => [h.kind, h.commit, h.result]), [
    ['deploy', first, 'succeeded'], ['deploy', second, 'succeeded'], ['rollback', first, 'succeeded'],
  ]);
});

test('roles: web and worker from one image, built and sent once per server', async () => {
  const ws = await fleetWorkspace({
    roles: {
      web: {},
      worker: { command: ['/bin/sh', '-c', 'echo "worker: started with GREETING=$GREETING"; exec sleep 100000'], ports: [], healthcheck: false, servers: ['bm26c'] },
    },
  }, { bm1: { host: 'bm1' }, bm26c: { host: 'bm26c' } });
  // 300 KB no server has: what crosses for this image is counted, once per server.
  const first = await ws.commit('with its own data', { 'www/data.txt': randomBytes(225_000).toString('base64') });
  const toC = linkMeter('bm26c');
  const r = await cli(['deploy', '--server', 'all', '--json'], { cwd: ws.dir });
  const carried = toC.read();
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as RolloutJson;
  assert.equal(j.builds, 1);
  assert.equal(r.stderr.match(/› Building /g)?.length, 1);
  const c = byName(j, 'bm26c');
  assert.deepEqual(c.roles?.map((x) => [x.role, x.commit]), [['web', first], ['worker', first]]);
  assert.ok(c.results[0].bytesSent > 150_000, `the web role sent the image's new layer to bm26c (${c.results[0].bytesSent} bytes)`);
  assert.equal(c.results[1].bytesSent, 0, 'the worker found it there');
  // By bm26c's link: the image crossed once (twice would be another 300 KB), both roles' talk on top.
  assert.equal(checkAgainstTool(carried, c.bytesSent, 'the web and worker roles on bm26c', 160 * KiB), undefined);
  console.log(`# bm26c's link, web and worker roles: ${size(carried.toServer)} carried (tool: ${size(c.bytesSent)})`);
  assert.deepEqual(byName(j, 'bm1').roles?.map((x) => x.role), ['web']);
  for (const s of SERVERS) assert.equal(await servedCommit(server(s).host, ws.port), first);
  const worker = (await onServer('bm26c', ['docker', 'ps', '--filter', `label=dev.baremetal.app=${ws.app}-worker`, '--format', '{{.ID}} {{.Image}}'])).trim().split(' ');
  assert.equal(worker[1], `${ws.app}:${first}`, "the worker runs the app's image");
  const logs = await onServer('bm26c', ['docker', 'logs', worker[0]]);
  assert.match(logs, /worker: started with GREETING=hi/);
  assert.equal((await onServer('bm1', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${ws.app}-worker`])).trim(), '', 'no worker on bm1');
  assert.equal((await historyOf(ws, 'bm26c', `${ws.app}-worker`)).length, 1);

  // logs and exec find each role's containers: merged under "server role", or the one --role names.
  const merged = await cli(['logs', '--server', 'bm26c'], { cwd: ws.dir });
  assert.equal(merged.code, 0, merged.stderr);
  assert.match(merged.stdout, /^bm26c worker \| worker: started with GREETING=hi$/m);
  const one = await cli(['logs', '--server', 'bm26c', '--role', 'worker'], { cwd: ws.dir });
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout, 'worker: started with GREETING=hi\n');
  const nowhere = await cli(['logs', '--server', 'bm1', '--role', 'worker'], { cwd: ws.dir });
  assert.equal(errorLine(nowhere.stderr), 'error: The role worker does not run on bm1: name a server it runs on with --server, or leave out --role.');
  const deployOne = await cli(['deploy', '--role', 'worker'], { cwd: ws.dir });
  assert.equal(errorLine(deployOne.stderr), 'error: --role is for logs, exec and run; deploy acts on every role of the app at once, so leave it out.');
  const unknown = await cli(['logs', '--role', 'cron', '--server', 'bm26c'], { cwd: ws.dir });
  assert.equal(errorLine(unknown.stderr), 'error: No role named "cron" in baremetal.json; its roles are web, worker.');
  const inWorker = await cli(['exec', '--server', 'bm26c', '--role', 'worker', '--', 'sh', '-c', 'echo "$GREETING from $(cat /proc/1/cmdline | tr "\\0" " ")"'], { cwd: ws.dir });
  assert.equal(inWorker.code, 0, inWorker.stderr);
  // The worker's command ends in `exec sleep 100000`: that is its PID 1.
  assert.match(inWorker.stdout, /^hi from sleep 100000 $/m);
  const inWeb = await cli(['exec', '--server', 'bm26c', '--', 'cat', '/proc/1/cmdline'], { cwd: ws.dir });
  assert.equal(inWeb.code, 0, inWeb.stderr);
  assert.doesNotMatch(inWeb.stdout, /sleep/);
  assert.match(inWeb.stderr, /in the web role \(--role worker for another\)/);
});

test('an unknown group or server lists the known ones', async () => {
  const ws = await fleetWorkspace();
  const r = await cli(['deploy', '--server', 'webs'], { cwd: ws.dir });
  assert.equal(r.code, 1);
  assert.equal(errorLine(r.stderr), 'error: No server or group named "webs" in baremetal.json; known servers: bm1, bm26c; groups: web.');
});
