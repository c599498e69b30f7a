/**
 * The app as a Docker Swarm service on a real swarm of three test servers: bm2 (Docker 20.10,
 * the manager), bm26c (Docker 26, containerd store) and bm26o (Docker 26, classic store), linked
 * through the host (scripts/test-servers.sh link). The swarm is made in before() and taken apart
 * in after(): no swarm, service, route or host rule is left behind; another test process's swarm
 * on these servers is waited for, never taken apart (test/helpers/test-swarm.ts). Each test
 * brings the app to the version it starts from itself (serve()), so any one of them runs alone.
 *
 * This kernel has no IPVS, so Swarm's routing mesh cannot work here: the ports are published in
 * host mode (each node answers with its own task), 2 replicas on 3 nodes (one node free, so Swarm
 * can start each new task before it stops an old one).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { makeTestSwarm, removeTestSwarm } from '../helpers/test-swarm';
import { cleanupApp, cli, errorLine, fetchPage, makeWorkspace, onServer, PROJECT, removeTestApp, server, servedCommit, type Workspace } from '../helpers/world';

const run = promisify(execFile);
const NODES = ['bm2', 'bm26c', 'bm26o'] as const;
const MANAGER = 'bm2';
const script = join(PROJECT, 'scripts', 'test-servers.sh');
const made: Workspace[] = [];
let ws: Workspace;
let first = '';
let second = '';

const docker = (name: string, ...args: string[]) => onServer(name, ['docker', ...args]);

before(async () => {
  await makeTestSwarm(NODES, MANAGER);
  // The app every test works on; each test brings it to the version it starts from (serve()).
  ws = await swarmWorkspace();
  first = await ws.git('rev-parse', 'HEAD');
});

after(async () => {
  for (const ws of made) await docker(MANAGER, 'service', 'rm', ws.app).catch(() => undefined);
  await removeTestSwarm(NODES);
  // The service's task containers go with the swarm; then the images and histories.
  for (const ws of made) await removeTestApp(ws, NODES).catch(() => undefined);
});

async function swarmWorkspace(): Promise<Workspace> {
  const ws = await makeWorkspace({
    prefix: 'sw',
    servers: Object.fromEntries(NODES.map((n) => [n, { host: n }])),
    run: { healthcheck: { port: 8080, path: '/', timeoutSeconds: 20, intervalSeconds: 0.5 } },
    extra: { swarm: { manager: MANAGER, replicas: 2, publish: 'host', timeoutSeconds: 120 } },
  });
  made.push(ws);
  return ws;
}

interface TaskJson { state: string; commit?: string }
interface NodeJson { server?: string; addr: string; state: string; availability: string; tasks: TaskJson[] }
interface StatusJson { state: string; commit?: string; running: number; replicas: number; nodes: NodeJson[] }
interface ResultJson { result: string; commit: string; image: string; servingAfterMs?: number; durationMs: number; nodes: { server: string; bytesSent: number }[] }

async function statusOf(ws: Workspace): Promise<StatusJson> {
  const r = await cli(['status', '--json'], { cwd: ws.dir });
  assert.ok(r.json, r.stderr);
  return r.json as StatusJson;
}
/** The servers whose node runs a task of the app now, and what each serves on the app's port. */
async function serving(ws: Workspace): Promise<Map<string, string | undefined>> {
  const st = await statusOf(ws);
  const out = new Map<string, string | undefined>();
  for (const n of st.nodes.filter((x) => x.tasks.some((t) => t.state === 'running'))) out.set(n.server ?? n.addr, await servedCommit(n.addr, ws.port).catch(() => undefined));
  return out;
}
const historyOf = async (ws: Workspace) =>
  (await onServer(MANAGER, ['sh', '-c', `cat /root/.baremetal/${ws.app}/history.jsonl 2>/dev/null || true`])).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; commit: string; result: string; server: string });

/** The second version, made once (by the first test that needs it). */
async function secondCommit(): Promise<string> {
  if (!second) second = await ws.commit('second version', { 'www/extra.txt': 'more\n' });
  return second;
}

/** Brings the service to `commit` on both replicas, unless it runs it already (a test's starting point, not left to an earlier test). */
async function serve(commit: string): Promise<void> {
  const st = await statusOf(ws).catch(() => undefined);
  if (st?.commit === commit && st.running === 2) return;
  const r = await cli(['deploy', '--commit', commit], { cwd: ws.dir });
  assert.equal(r.code, 0, r.stderr);
}

test('deploy: built once, sent to all three nodes, two healthy replicas on two nodes, each serving the commit', async () => {
  const t0 = Date.now();
  const r = await cli(['deploy', '--commit', first], { cwd: ws.dir });
  const wall = Date.now() - t0;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/› Building /g)?.length, 1, r.stderr);
  for (const n of NODES) assert.match(r.stderr, new RegExp(`^${n}: +› Sending `, 'm'), `${n} is sent the image`);
  // bm26c's containerd store names the image by another ID than the classic stores.
  assert.match(r.stderr, /the service runs it by the tag bm\.invalid\//);
  assert.match(r.stdout, new RegExp(`^Deployed ${first.slice(0, 12)} \\(first version\\) on bm2's swarm: 2 replica\\(s\\) on 3 node\\(s\\), every replica serving after [\\d.]+ s`));
  const now = await serving(ws);
  assert.equal(now.size, 2, `two nodes run a task: ${[...now.keys()].join(', ')}`);
  for (const [node, commit] of now) assert.equal(commit, first, `${node} serves the first commit`);
  const st = await statusOf(ws);
  assert.equal(st.state, 'running');
  assert.equal(st.running, 2);
  assert.deepEqual(st.nodes.map((n) => n.server).sort(), [...NODES].sort(), 'status names every node by its server');
  const text = await cli(['status'], { cwd: ws.dir });
  assert.match(text.stdout, new RegExp(`^${ws.app} ${first.slice(0, 12)} \\(first version\\) running: 2 of 2 replicas running`, 'm'));
  assert.match(text.stdout, new RegExp(`^  bm2 \\(10\\.213\\.2\\.2, manager, ready\\): `, 'm'));
  assert.deepEqual((await historyOf(ws)).map((h) => [h.kind, h.commit, h.result, h.server]), [['deploy', first, 'succeeded', 'bm2']]);
  console.log(`# swarm first deploy (build + 3 nodes): command to every replica serving, wall ${wall} ms`);
});

test('redeploy: only the changed layers go out, Swarm replaces the tasks start-first and some node always answers', async () => {
  await serve(first);
  const second = await secondCommit();
  const nodes = NODES.map((n) => server(n).host);
  let gaps = 0;
  let probes = 0;
  let stop = false;
  // While Swarm rolls out: at every moment, at least one node answers on the app's port.
  const watcher = (async () => {
    while (!stop) {
      const answers = await Promise.all(nodes.map((h) => fetchPage(h, ws.port).then((p) => p.status === 200, () => false)));
      probes += 1;
      if (!answers.some(Boolean)) gaps += 1;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const t0 = Date.now();
  const r = await cli(['deploy', '--commit', second, '--json'], { cwd: ws.dir });
  const wall = Date.now() - t0;
  stop = true;
  await watcher;
  assert.equal(r.code, 0, r.stderr);
  const res = r.json as ResultJson;
  assert.equal(res.result, 'succeeded');
  for (const n of res.nodes) assert.ok(n.bytesSent < 100_000, `${n.server} is sent only the new layer (${n.bytesSent} bytes)`);
  const now = await serving(ws);
  assert.equal(now.size, 2);
  for (const [node, commit] of now) assert.equal(commit, second, `${node} serves the second commit`);
  assert.equal(gaps, 0, `no node answered in ${gaps} of ${probes} probes during the rollout`);
  console.log(`# swarm redeploy: command to every replica serving ${res.servingAfterMs} ms (wall ${wall} ms), ${probes} probes, none unanswered`);
});

test('a commit whose tasks fail: Swarm rolls itself back, the deploy says so in one sentence, the old version still serves', async () => {
  const second = await secondCommit();
  await serve(second);
  const broken = await ws.commit('broken version', { 'start.sh': '#!/bin/sh\necho "refusing to start"\nexit 3\n' });
  await ws.git('revert', '--no-edit', 'HEAD');
  const r = await cli(['deploy', '--commit', broken], { cwd: ws.dir });
  assert.equal(r.code, 1, r.stdout);
  assert.match(errorLine(r.stderr), /^error: Swarm rolled sw-[\w-]+ back to the version it ran before: a new task did not become healthy \(task: non-zero exit \(3\)\); see why with "baremetal logs"\.$/);
  const now = await serving(ws);
  assert.equal(now.size, 2);
  for (const [node, commit] of now) assert.equal(commit, second, `${node} still serves the second commit`);
  assert.deepEqual((await historyOf(ws)).slice(-2).map((h) => [h.commit, h.result]), [[second, 'succeeded'], [broken, 'failed']]);
});

test('rollback: a service update to the kept image of the deploy before, on both replicas', async () => {
  // Its starting point: the first version deployed, then the second (a failed deploy between counts for nothing).
  const second = await secondCommit();
  const deployed = (await historyOf(ws)).filter((h) => h.result === 'succeeded');
  if (deployed.length < 2 || deployed[deployed.length - 2].commit !== first || deployed[deployed.length - 1].commit !== second) {
    const d = await cli(['deploy', '--commit', first], { cwd: ws.dir });
    assert.equal(d.code, 0, d.stderr);
    await serve(second);
  }
  const r = await cli(['rollback'], { cwd: ws.dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^Rolled back to ${first.slice(0, 12)} \\(first version\\) on bm2's swarm: 2 replica\\(s\\)`));
  const now = await serving(ws);
  assert.equal(now.size, 2);
  for (const [node, commit] of now) assert.equal(commit, first, `${node} serves the first commit again`);
  assert.equal((await historyOf(ws)).pop()?.kind, 'rollback');
  // The service's logs, merged from the tasks on their nodes.
  const logs = await cli(['logs', '--tail', '50'], { cwd: ws.dir });
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /hello: serving \/www on :8080/);
});

test('a node taken out: its task is placed on the free node and the app keeps answering there', async () => {
  await serve(first);
  const before = await serving(ws);
  const gone = [...before.keys()].find((n) => n !== MANAGER)!;
  const id = (await docker(MANAGER, 'node', 'ls', '--format', '{{.ID}} {{.Status}}', '--filter', 'role=worker')).split('\n').filter(Boolean);
  // Which node ID is `gone`: its engine says.
  const goneId = (await docker(gone, 'info', '--format', '{{.Swarm.NodeID}}')).trim();
  assert.ok(id.some((l) => l.startsWith(goneId)), `${gone} is a worker of the swarm`);
  await docker(MANAGER, 'node', 'update', '--availability', 'drain', goneId);
  try {
    const deadline = Date.now() + 60_000;
    let now = await serving(ws);
    while ((now.has(gone) || now.size < 2 || [...now.values()].some((c) => c !== first)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      now = await serving(ws);
    }
    assert.ok(!now.has(gone), `${gone} runs no task once drained`);
    assert.equal(now.size, 2, `two other nodes run the two replicas: ${[...now.keys()].join(', ')}`);
    for (const [node, commit] of now) assert.equal(commit, first, `${node} serves`);
    const st = await cli(['status'], { cwd: ws.dir });
    assert.match(st.stdout, new RegExp(`^  ${gone} \\([\\d.]+, worker, ready, drain\\): no task$`, 'm'));
  } finally {
    await docker(MANAGER, 'node', 'update', '--availability', 'active', goneId);
  }
});

test('a node lost (its engine stopped): Swarm sees it down, its task runs on the free node, the app keeps answering', async () => {
  // bm26c is the node lost (bm26o's engine may be restarted by other suites, which would bring
  // it back mid-test): first make it hold a task, by draining the other worker that has one.
  const lost = 'bm26c';
  await serve(first);
  const idOf = async (n: string) => (await docker(n, 'info', '--format', '{{.Swarm.NodeID}}')).trim();
  if (!(await serving(ws)).has(lost)) {
    const other = [...(await serving(ws)).keys()].find((n) => n !== MANAGER && n !== lost)!;
    const otherId = await idOf(other);
    await docker(MANAGER, 'node', 'update', '--availability', 'drain', otherId);
    const deadline = Date.now() + 60_000;
    while (!(await serving(ws)).has(lost) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    await docker(MANAGER, 'node', 'update', '--availability', 'active', otherId);
  }
  assert.equal((await serving(ws)).get(lost), first, `${lost} runs a task`);
  await run('bash', [script, 'stop-engine', lost]);
  try {
    const deadline = Date.now() + 90_000;
    let st = await statusOf(ws);
    const settled = (x: StatusJson) => x.nodes.find((n) => n.server === lost)?.state === 'down' && x.running === 2;
    while (!settled(st) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      st = await statusOf(ws);
    }
    assert.equal(st.nodes.find((n) => n.server === lost)?.state, 'down', `the manager sees ${lost} down`);
    const now = await serving(ws);
    assert.ok(!now.has(lost));
    assert.equal(now.size, 2, `two other nodes run the two replicas: ${[...now.keys()].join(', ')}`);
    for (const [node, commit] of now) assert.equal(commit, first, `${node} serves`);
    // Status still answers with a node down, and says which.
    const text = await cli(['status'], { cwd: ws.dir });
    assert.match(text.stdout, new RegExp(`^  ${lost} \\([\\d.]+, worker, down\\): no task$`, 'm'));
  } finally {
    await run('bash', [script, 'start-engine', lost]);
  }
});

test('measured: a one-server deploy of the same app to bm2, for comparison', async () => {
  const one = await makeWorkspace({ prefix: 'sw1', servers: { bm2: { host: 'bm2' } } });
  try {
    const t0 = Date.now();
    const r = await cli(['deploy', '--json'], { cwd: one.dir });
    const wall = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await servedCommit(server('bm2').host, one.port), await one.git('rev-parse', 'HEAD'));
    // Like the swarm's redeploy: one changed file.
    await one.commit('second version', { 'www/extra.txt': 'more\n' });
    const t1 = Date.now();
    const again = await cli(['deploy', '--json'], { cwd: one.dir });
    const wallAgain = Date.now() - t1;
    assert.equal(again.code, 0, again.stderr);
    console.log(`# one-server deploy to bm2: first ${(r.json as ResultJson).durationMs} ms (wall ${wall} ms), redeploy ${(again.json as ResultJson).durationMs} ms (wall ${wallAgain} ms)`);
  } finally {
    await cleanupApp('bm2', one.app).catch(() => undefined);
    await removeTestApp(one, ['bm2']).catch(() => undefined);
  }
});
