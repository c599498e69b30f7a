/**
 * npm run faults: deploys and rollbacks broken on purpose against a real test server, each
 * followed by the same checks, and a table of what survived (bench/faults.md).
 *
 * A fault lands at an exact phase: the CLI runs with BAREMETAL_FAULT_STOP_AT=<phase> and stops
 * itself (SIGSTOP) at that phase's first progress event (src/cli/output.ts). Then:
 *   kill  the client is killed (kill -9) there;
 *   cut   its SSH connection is cut on the server (its sshd process killed), then the client
 *         goes on (SIGCONT) and must fail cleanly or finish.
 * Invariants after each (the issue's list): the app answered throughout with the old or the new
 * version (a poller ran during the fault: failures and the longest gap); the history on the
 * server is valid JSON lines with exactly one record per attempt that reached the server, none
 * doubled, the right result; the next command takes the lock at once (its holder is gone in
 * every row); it succeeds without any step by hand, and sends nothing already sent; no leftover
 * containers or images beyond "keep". Besides one client's death: an engine restart, a reboot,
 * a slow lossy link, a silent link (every packet dropped: silent-link.ts), two clients, damaged
 * files, a full disk, skewed clocks.
 *
 *   node --import tsx scripts/faults.ts      (as root, test servers up, CLI built)
 *   env: FAULTS_SERVER (default bm26o), FAULTS_ONLY (a substring of scenario ids), FAULTS_SET=fast
 *   (the part npm test runs), FAULTS_NO_FUZZ=1, FUZZ_MS (per parser, default 30000 here),
 *   FAULTS_FUZZ_FILE (another fuzz test file: to see that a crashed one fails the run)
 * Every check has a bound (test/faults/verdicts.ts, said in the report): a row fails when one is crossed.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commitOf, getVia, pollVia } from '../test/helpers/proxy-poll';
import { cli, CLI_LIMIT_MS, runCli, type Run } from '../test/faults/run-cli';
import { BOUNDS, errorProblem, judgeCut, judgeFuzz, judgeGap, judgeNext, judgeSilent, saidOf } from '../test/faults/verdicts';
import { FUZZ_TARGETS } from '../test/faults/fuzz-kit';
import { linkBytes, pollInside, silence } from '../test/faults/silent-link';
import { cleanupApp, makeWorkspace, onServer, PROJECT, server, testEnv, type Workspace } from '../test/helpers/world';

const exec = promisify(execFile);
const SERVER = process.env.FAULTS_SERVER ?? 'bm26o';
const log = (m: string) => console.log(`[faults] ${m}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Fault = 'kill' | 'cut';
type Op = 'deploy' | 'rollback';
interface Scenario { id: string; op: Op; fault: Fault; phase: string }

const DEPLOY_PHASES = ['connect', 'build', 'ship:mid', 'start', 'health', 'release', 'switch', 'drain', 'record', 'prune'];
const ROLLBACK_PHASES = ['connect', 'start', 'health', 'release', 'switch', 'drain', 'record'];
// While connecting there is no connection to cut yet (an unreachable server is the SSH tests' case).
const cuttable = (fault: Fault, phase: string) => fault === 'kill' || phase !== 'connect';
const SCENARIOS: Scenario[] = (['kill', 'cut'] as const).flatMap((fault) => [
  ...DEPLOY_PHASES.filter((p) => cuttable(fault, p)).map((phase) => ({ id: `${fault}/deploy/${phase}`, op: 'deploy' as const, fault, phase })),
  ...ROLLBACK_PHASES.filter((p) => cuttable(fault, p)).map((phase) => ({ id: `${fault}/rollback/${phase}`, op: 'rollback' as const, fault, phase })),
]);

interface Outcome {
  id: string;
  survived: boolean;
  broke: string[];
  gapMs: number;
  requests: number;
  lock: string;
  nextMs: number;
}

/** GET through the proxy of the server under test, by the app's host name. */
const get = (host: string) => getVia(SERVER, host);
const poll = (host: string) => pollVia(SERVER, host);

async function proxiedApp(): Promise<Workspace & { host: string }> {
  const ws = await makeWorkspace({ servers: { [SERVER]: { host: SERVER } } });
  const host = `${ws.app}.test`;
  const config = JSON.parse(readFileSync(join(ws.dir, 'baremetal.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  delete config.run.ports;
  delete config.run.healthcheck;
  config.run.release = ['sh', '-c', 'echo release ok'];
  config.proxy = { hosts: [host], port: 8080, tls: 'off', image: 'local/caddy:2', drainSeconds: 3, healthcheck: { path: '/', timeoutSeconds: 15, intervalSeconds: 0.25 } } as never;
  config.keep = 3 as never;
  await ws.writeConfig(config);
  // A layer of random bytes, so a transfer lasts long enough to be cut in the middle.
  const dockerfile = readFileSync(join(ws.dir, 'Dockerfile'), 'utf8').replace('COPY www /www', 'COPY bulk /bulk\nCOPY www /www');
  await ws.commit('through the proxy', { Dockerfile: dockerfile, 'bulk/a.bin': randomBytes(8 << 20).toString('base64') });
  return Object.assign(ws, { host });
}

/** The client's sshd process on the server: the one whose peer port is the client's own. */
async function sshdOf(pid: number): Promise<string | undefined> {
  const ours = (await exec('ss', ['-tnpH', 'state', 'established', 'dst', `${server(SERVER).host}:22`])).stdout
    .split('\n').find((l) => l.includes(`pid=${pid},`));
  // "0 0 10.213.96.1:54321 10.213.96.2:22 users:(("node",pid=…))": the client's port is the first address's.
  const port = ours ? /:(\d+)\s+[\d.]+:22\s/.exec(ours)?.[1] : undefined;
  if (!port) return undefined;
  const theirs = (await onServer(SERVER, ['ss', '-tnpH', 'state', 'established', 'sport', '= :22', 'dport', `= :${port}`])).trim();
  return /pid=(\d+)/.exec(theirs)?.[1];
}

/** The CLI with the fault switch on; `onStop` runs while it is frozen at the phase. */
const runWithFault = (ws: Workspace, args: string[], phase: string, onStop: (pid: number) => Promise<'kill' | 'continue'>, extraEnv: NodeJS.ProcessEnv = {}, limitMs?: number): Promise<Run> =>
  runCli(args, { cwd: ws.dir, env: extraEnv, fault: { phase, onStop }, limitMs });

async function historyOn(app: string): Promise<{ lines: string[]; records: { id: string; kind: string; result: string; commit: string }[] }> {
  const text = await onServer(SERVER, ['cat', `/root/.baremetal/${app}/history.jsonl`]).catch(() => '');
  const lines = text.split('\n').filter((l) => l.trim());
  return { lines, records: lines.map((l) => { try { return JSON.parse(l); } catch { return { id: '?', kind: '?', result: 'unparseable', commit: '' }; } }) };
}

async function runScenario(s: Scenario): Promise<Outcome> {
  const broke: string[] = [];
  const ws = await proxiedApp();
  try {
    // Before: A serving (and for a rollback, B serving with A kept).
    const a = await ws.git('rev-parse', 'HEAD');
    const must = async (args: string[]) => {
      const r = await cli(args, { cwd: ws.dir });
      if (r.code !== 0) throw new Error(`setup: baremetal ${args.join(' ')} failed: ${r.stderr.trim().split('\n').pop()}`);
      return r;
    };
    await must(['deploy']);
    const b = await ws.commit('version B', { 'www/b.txt': 'b\n', 'bulk/b.bin': randomBytes(6 << 20).toString('base64') });
    if (s.op === 'rollback') await must(['deploy']);
    const before = s.op === 'rollback' ? b : a;
    const after = s.op === 'rollback' ? a : b;
    const attemptsBefore = (await historyOn(ws.app)).records.length;

    const p = poll(ws.host);
    await sleep(300);
    const args = s.op === 'deploy' ? ['deploy', '--json'] : ['rollback', '--json'];
    const faulted = await runWithFault(ws, args, s.phase, async (pid) => {
      if (s.fault === 'kill') return 'kill';
      const sshd = await sshdOf(pid);
      if (!sshd) broke.push('could not find the client\'s sshd on the server');
      else await onServer(SERVER, ['kill', '-9', sshd]);
      return 'continue';
    });
    if (faulted.stoppedAt === undefined) broke.push(`the phase was not reached (exit ${faulted.code}: ${faulted.stderr.trim().split('\n').pop()})`);
    await sleep(1500);
    const seen = await p.stop();
    if (seen.failed.length) broke.push(`${seen.failed.length} requests failed (${[...new Set(seen.failed)].slice(0, 3).join('; ')})`);
    broke.push(...judgeGap(seen.maxGapMs));
    const strange = [...seen.commits].filter((c) => c !== before && c !== after);
    if (strange.length) broke.push(`served a commit that is neither the old nor the new: ${strange.join(', ')}`);
    const servingNow = commitOf((await get(ws.host).catch(() => ({ body: '' }))).body);
    if (servingNow !== before && servingNow !== after) broke.push(`after the fault the app serves ${servingNow ?? 'nothing'}`);
    // A cut is confirmed by what the client did next: ended in time, and did the work or said it failed.
    if (s.fault === 'cut' && faulted.stoppedAt !== undefined) broke.push(...judgeCut(faulted, servingNow === after));
    const faultedSaid = s.fault === 'cut' ? `the cut client ${faulted.code === 0 ? 'finished' : `failed (exit ${faulted.code}) ${((faulted.ms - (faulted.continuedAt ?? faulted.ms)) / 1000).toFixed(1)} s after the cut`}; ` : '';

    // The next command, with no step by hand: the same operation again (or, when the faulted
    // rollback went through, a redeploy of what runs). --wait, so a lock still held shows as a
    // wait (a verdict: the holder is gone in every row) rather than as a refusal.
    const next = await cli([...(s.op === 'deploy' ? ['deploy'] : servingNow === after ? ['deploy', '--commit', after] : ['rollback']), '--wait', '--json'], { cwd: ws.dir });
    const nextMs = next.ms;
    if (next.code !== 0) broke.push(`the next command failed: ${next.stderr.trim().split('\n').pop()}`);
    const judged = judgeNext(next);
    broke.push(...judged.broke);
    const lock = faultedSaid + judged.lock;
    const json = next.json as { bytesSent?: number; commit?: string } | undefined;
    const shippedBefore = s.op === 'deploy' && !['connect', 'build', 'ship:mid'].includes(s.phase);
    if (shippedBefore && json && json.bytesSent !== 0) broke.push(`the next deploy sent ${json.bytesSent} bytes again`);
    if (json?.commit !== after) broke.push(`the next command runs ${json?.commit?.slice(0, 12)}, not ${after.slice(0, 12)}`);
    const final = commitOf((await get(ws.host).catch(() => ({ body: '' }))).body);
    if (final !== after) broke.push(`after the next command the app serves ${final ?? 'nothing'}, not the new version`);

    // History: valid lines, ids unique, one record per attempt that reached the server.
    const h = await historyOn(ws.app);
    if (h.records.some((r) => r.result === 'unparseable')) broke.push('the history has a line that is not JSON');
    const ids = h.records.map((r) => r.id);
    if (new Set(ids).size !== ids.length) broke.push('a record is in the history twice');
    const reached = s.phase !== 'connect';
    const expected = attemptsBefore + (reached ? 1 : 0) + 1;
    if (h.records.length !== expected) broke.push(`the history has ${h.records.length} records, not ${expected} (${attemptsBefore} before, ${reached ? 'one for the faulted attempt, ' : ''}one for the next)`);
    if (reached && h.records.length === expected) {
      const rec = h.records[attemptsBefore]!;
      const wanted = servingNow === after && servingNow !== before ? 'succeeded' : 'failed';
      if (rec.result !== wanted) broke.push(`the faulted attempt is recorded "${rec.result}", but ${wanted === 'succeeded' ? 'it had taken the traffic' : 'it never served'}`);
    }
    // Leftovers: only the live container; images within keep; no lock.
    const names = (await onServer(SERVER, ['docker', 'ps', '-a', '--filter', `label=dev.baremetal.app=${ws.app}`, '--format', '{{.Names}}'])).split('\n').filter(Boolean);
    if (names.join() !== `${ws.app}--live`) broke.push(`containers left: ${names.join(', ')}`);
    const tags = (await onServer(SERVER, ['docker', 'images', '--filter', `label=dev.baremetal.app=${ws.app}`, '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter(Boolean);
    if (tags.length > 3 || tags.some((t) => !t.startsWith(`${ws.app}:`))) broke.push(`images left: ${tags.join(', ')}`);
    const lockLeft = await onServer(SERVER, ['sh', '-c', `test -e /root/.baremetal/${ws.app}/lock && echo held || true`]);
    if (lockLeft.trim()) broke.push('the lock is still held after the next command');
    return { id: s.id, survived: broke.length === 0, broke, gapMs: seen.maxGapMs, requests: seen.ok + seen.failed.length, lock, nextMs };
  } finally {
    await cleanupApp(SERVER, ws.app).catch(() => undefined);
    await onServer(SERVER, ['rm', '-rf', `/root/.baremetal/${ws.app}`]).catch(() => undefined);
    rmSync(ws.dir, { recursive: true, force: true });
  }
}


// ---------------------------------------------------------------- faults that are not one client's death

const TS = join(PROJECT, 'scripts', 'test-servers.sh');
const restartEngine = () => exec('bash', [TS, 'restart-engine', SERVER], { maxBuffer: 1 << 20 });

/** Waits until the app answers with one of `commits`; how long that took (or undefined after `ms`). */
async function servesAgain(host: string, commits: string[], ms: number): Promise<number | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const c = commitOf((await get(host).catch(() => ({ body: '' }))).body);
    if (c && commits.includes(c)) return Date.now() - t0;
    await sleep(200);
  }
  return undefined;
}

async function leftovers(app: string): Promise<string[]> {
  const broke: string[] = [];
  const names = (await onServer(SERVER, ['docker', 'ps', '-a', '--filter', `label=dev.baremetal.app=${app}`, '--format', '{{.Names}}'])).split('\n').filter(Boolean);
  if (names.join() !== `${app}--live`) broke.push(`containers left: ${names.join(', ')}`);
  const lockLeft = await onServer(SERVER, ['sh', '-c', `test -e /root/.baremetal/${app}/lock && echo held || true`]);
  if (lockLeft.trim()) broke.push('the lock is still held');
  return broke;
}

async function historyProblems(app: string, expected: number): Promise<string[]> {
  const h = await historyOn(app);
  const broke: string[] = [];
  if (h.records.some((r) => r.result === 'unparseable')) broke.push('the history has a line that is not JSON');
  if (new Set(h.records.map((r) => r.id)).size !== h.records.length) broke.push('a record is in the history twice');
  if (h.records.length !== expected) broke.push(`the history has ${h.records.length} records, not ${expected}`);
  return broke;
}

const FAULT_LABEL: Record<string, string> = {
  kill: 'client killed (kill -9)',
  cut: 'SSH connection cut on the server',
  'engine-restart': "the server's Docker Engine restarted",
  reboot: 'a "reboot" (engine, app and proxy stopped and started)',
  'silent-link': 'a silent link (every packet dropped both ways, no FIN, no reset)',
  'slow-lossy-link': 'a slow, lossy link (200 ms each way on the SSH stream, 1 % of packets dropped)',
  'two-clients': 'two clients deploying different commits at once',
  'garbage-history': 'a truncated history file with garbage after it',
  'truncated-cache-blob': 'a truncated blob in the local layer cache',
  'disk-full': "the server's disk full during the transfer",
  'clock-skew': 'two clients whose clocks differ by 10 minutes',
};

/** A TCP relay on 127.0.0.1 to host:port that holds every chunk `delayMs` in each direction, in order. */
async function delayRelay(host: string, port: number, delayMs: number): Promise<{ port: number; close: () => void }> {
  const net = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const pipeDelayed = (from: import('node:net').Socket, to: import('node:net').Socket) => {
    from.on('data', (chunk: Buffer) => void setTimeout(() => to.writable && to.write(chunk), delayMs));
    from.on('end', () => void setTimeout(() => to.end(), delayMs));
    from.on('error', () => to.destroy());
    from.on('close', () => void setTimeout(() => to.destroy(), delayMs));
  };
  const srv = net.createServer((client) => {
    const upstream = net.connect(port, host);
    sockets.add(client).add(upstream);
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as import('node:net').AddressInfo).port, close: () => (srv.close(), sockets.forEach((x) => x.destroy())) };
}

type Special = { id: string; run: () => Promise<Omit<Outcome, 'id' | 'survived'>> };

async function withApp<T>(fn: (ws: Workspace & { host: string }) => Promise<T>): Promise<T> {
  const ws = await proxiedApp();
  try {
    return await fn(ws);
  } finally {
    await cleanupApp(SERVER, ws.app).catch(() => undefined);
    await onServer(SERVER, ['rm', '-rf', `/root/.baremetal/${ws.app}`]).catch(() => undefined);
    rmSync(ws.dir, { recursive: true, force: true });
  }
}

const mustOk = async (ws: Workspace, args: string[], env?: NodeJS.ProcessEnv) => {
  const r = await cli(args, { cwd: ws.dir, env });
  if (r.code !== 0) throw new Error(`baremetal ${args.join(' ')} failed: ${r.stderr.trim().split('\n').pop()}`);
  return r;
};

const SPECIALS: Special[] = [
  {
    id: 'clock-skew/deploy/-',
    run: () => withApp(async (ws) => {
      // Two real clients, one's clock 5 minutes slow, the other's 5 minutes fast (libfaketime).
      const lib = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
      if (!existsSync(lib)) throw new Error('faketime is not installed (apt-get install faketime; scripts/setup.sh does)');
      const skewed = (offset: string) => ({ LD_PRELOAD: lib, FAKETIME: offset, DONT_FAKE_MONOTONIC: '1' });
      const broke: string[] = [];
      await mustOk(ws, ['deploy']);
      await ws.commit('version B', { 'www/b.txt': 'b\n' });
      // The slow client holds the lock, frozen during its health check (alive: its SSH session stays).
      let fastTried: Awaited<ReturnType<typeof cli>> | undefined;
      let waitedMs = 0;
      const slow = await runWithFault(ws, ['deploy', '--json'], 'health', async (pid) => {
        // Not stolen: judged on its own clock, the slow client's lease ended 4 minutes ago.
        fastTried = await cli(['deploy'], { cwd: ws.dir, env: skewed('+5m') });
        // Not stuck: frozen, it renews nothing; the fast client waits out the lease (60 s on the
        // server's clock), not the lease plus the clocks' 10 minutes.
        const t0 = Date.now();
        const waiting = cli(['deploy', '--wait'], { cwd: ws.dir, env: skewed('+5m') });
        const r = await waiting;
        waitedMs = Date.now() - t0;
        if (r.code !== 0) broke.push(`the fast client's --wait deploy failed: ${r.stderr.trim().split('\n').pop()}`);
        process.kill(pid, 'SIGKILL');
        return 'kill';
      }, skewed('-5m'));
      if (slow.stoppedAt === undefined) broke.push('the slow client never reached its health check');
      if (!fastTried || fastTried.code === 0) broke.push('the fast client took a live lock (its clock said the lease had long run out)');
      else if (!/is running|running for/.test(fastTried.stderr)) broke.push(`the fast client was refused, but not for the lock: ${fastTried.stderr.trim().split('\n').pop()}`);
      if (waitedMs > 100_000) broke.push(`the fast client waited ${(waitedMs / 1000).toFixed(0)} s for a frozen holder (the lease is 60 s)`);
      const head = await ws.git('rev-parse', 'HEAD');
      if ((await servesAgain(ws.host, [head], 10_000)) === undefined) broke.push('the new version does not serve');
      // The first deploy, the frozen client's (recorded by the one that took its lock over), the fast one's.
      broke.push(...(await historyProblems(ws.app, 3)), ...(await leftovers(ws.app)));
      return { broke, gapMs: 0, requests: 0, lock: `a client 5 min fast was refused the live lock of one 5 min slow, then took it over ${(waitedMs / 1000).toFixed(0)} s later (the lease, on the server's clock)`, nextMs: waitedMs };
    }),
  },
  ...(['ship:mid', 'health'] as const).map((phase): Special => ({
    id: `engine-restart/deploy/${phase}`,
    run: () => withApp(async (ws) => {
      const broke: string[] = [];
      const a = await ws.git('rev-parse', 'HEAD');
      await mustOk(ws, ['deploy']);
      const b = await ws.commit('version B', { 'bulk/b.bin': randomBytes(6 << 20).toString('base64') });
      let downMs = 0;
      const faulted = await runWithFault(ws, ['deploy', '--json'], phase, async () => {
        // Time down: from the engine's stop (its containers stop with it) until the app answers again.
        const down = Date.now();
        await restartEngine();
        const t = await servesAgain(ws.host, [a, b], 60_000);
        if (t === undefined) broke.push('the app did not come back within 60 s of the engine restart');
        downMs = Date.now() - down;
        return 'continue';
      });
      if (faulted.stoppedAt === undefined) broke.push('the phase was not reached');
      broke.push(...judgeGap(downMs, BOUNDS.downMs));
      // The faulted deploy either finished (exit 0, recorded succeeded, B serves) or failed in one
      // sentence (recorded failed); which of the two it did is measured, not assumed.
      const faultedServes = commitOf((await get(ws.host).catch(() => ({ body: '' }))).body) === b;
      if (faulted.timedOut) broke.push('the faulted deploy did not end after the engine came back');
      else if (faulted.code === 0 && !faultedServes) broke.push('the faulted deploy exited 0, but the new version does not serve');
      else if (faulted.code !== 0) {
        const p = errorProblem(faulted.stderr);
        if (p) broke.push(`the faulted deploy failed (exit ${faulted.code}) but ${p}`);
      }
      const next = await cli(['deploy', '--wait', '--json'], { cwd: ws.dir });
      if (next.code !== 0) broke.push(`the next deploy failed: ${next.stderr.trim().split('\n').pop()}`);
      const judged = judgeNext(next);
      broke.push(...judged.broke);
      if (commitOf((await get(ws.host).catch(() => ({ body: '' }))).body) !== b) broke.push('the next deploy does not serve the new version');
      // The first deploy, the faulted one (with the result its exit code said), the next one.
      const rec = (await historyOn(ws.app)).records[1];
      const wanted = faulted.code === 0 ? 'succeeded' : 'failed';
      if (rec && rec.result !== wanted) broke.push(`the faulted deploy (exit ${faulted.code}) is recorded "${rec.result}", not "${wanted}"`);
      broke.push(...(await historyProblems(ws.app, 3)), ...(await leftovers(ws.app)));
      const how = faulted.code === 0 ? 'finished' : `failed and said so (${saidOf(faulted.stderr).slice(0, 160)})`;
      return { broke, gapMs: downMs, requests: 0, lock: `the faulted deploy ${how}; the app answered again ${(downMs / 1000).toFixed(1)} s after the engine began to stop; the next deploy: lock ${judged.lock}`, nextMs: next.ms };
    }),
  })),
  {
    id: 'reboot/idle/-',
    run: () => withApp(async (ws) => {
      const broke: string[] = [];
      const a = await ws.git('rev-parse', 'HEAD');
      await mustOk(ws, ['deploy']);
      const down = Date.now();
      await restartEngine();
      const back = await servesAgain(ws.host, [a], 60_000);
      if (back === undefined) broke.push('the app (or the proxy) did not come back within 60 s');
      const t = back === undefined ? undefined : Date.now() - down;
      if (t !== undefined) broke.push(...judgeGap(t, BOUNDS.downMs, 'after the reboot the app'));
      const proxy = (await onServer(SERVER, ['docker', 'inspect', '-f', '{{.State.Status}}', 'baremetal-proxy'])).trim();
      if (proxy !== 'running') broke.push(`the proxy is ${proxy}`);
      const t0 = Date.now();
      const b = await ws.commit('after the reboot', { 'www/c.txt': 'c\n' });
      const next = await cli(['deploy', '--json'], { cwd: ws.dir });
      if (next.code !== 0) broke.push(`the next deploy failed: ${next.stderr.trim().split('\n').pop()}`);
      if (commitOf((await get(ws.host).catch(() => ({ body: '' }))).body) !== b) broke.push('the next deploy does not serve');
      broke.push(...(await historyProblems(ws.app, 2)), ...(await leftovers(ws.app)));
      return { broke, gapMs: t ?? 60_000, requests: 0, lock: `app and proxy answered again by themselves ${((t ?? 0) / 1000).toFixed(1)} s after the engine began to stop`, nextMs: Date.now() - t0 };
    }),
  },
  ...(['ship:mid', 'health', 'switch'] as const).map((phase): Special => ({
    id: `silent-link/deploy/${phase}`,
    run: () => withApp(async (ws) => {
      const broke: string[] = [];
      const a = await ws.git('rev-parse', 'HEAD');
      await mustOk(ws, ['deploy']);
      // A big random layer the server has never seen: the transfer is long enough to go silent in its middle.
      const b = await ws.commit('version B', { 'bulk/b.bin': randomBytes(24 << 20).toString('base64') });
      const attemptsBefore = (await historyOn(ws.app)).records.length;
      // The app's health from inside the server: the dropped link would fail any poll from the host.
      const inside = await pollInside(SERVER, ws.host);
      let heal: (() => void) | undefined;
      let faulted: Run;
      try {
        // Killed well after the bound, so a client that never notices still ends the row.
        faulted = await runWithFault(ws, ['deploy', '--json'], phase, async () => ((heal = silence(SERVER)), 'continue'), {}, BOUNDS.silentEndMs + 60_000);
      } finally {
        heal?.();
      }
      if (faulted.stoppedAt === undefined) broke.push(`the phase was not reached (exit ${faulted.code}: ${saidOf(faulted.stderr)})`);
      else broke.push(...judgeSilent(faulted, faulted.continuedAt ?? faulted.ms, SERVER));
      const saidAfter = faulted.ms - (faulted.continuedAt ?? faulted.ms);
      // The link is back: the next deploy, with no step by hand, takes the lock over at once and
      // finishes; its bytes as the tool says them and as the link counted them.
      const wire0 = linkBytes(SERVER);
      const next = await cli(['deploy', '--wait', '--json'], { cwd: ws.dir });
      const wire = linkBytes(SERVER) - wire0;
      await sleep(500);
      const seen = await inside.stop();
      if (next.code !== 0) broke.push(`the next deploy failed: ${saidOf(next.stderr)}`);
      const judged = judgeNext(next);
      broke.push(...judged.broke);
      const sent = (next.json as { bytesSent?: number } | undefined)?.bytesSent;
      if (phase !== 'ship:mid' && sent !== 0) broke.push(`the next deploy sent ${sent} bytes again (the image was on the server before the drop)`);
      if (commitOf((await get(ws.host).catch(() => ({ body: '' }))).body) !== b) broke.push('after the next deploy the new version does not serve');
      if (seen.failed.length) broke.push(`${seen.failed.length} requests inside the server failed (${[...new Set(seen.failed)].slice(0, 3).join('; ')})`);
      broke.push(...judgeGap(seen.maxGapMs));
      if (seen.commits.some((c) => c !== a && c !== b)) broke.push(`served ${seen.commits.join(', ')}: neither the old nor the new version`);
      // The first deploy, the silenced one (recorded by itself or by the next), the next.
      broke.push(...(await historyProblems(ws.app, attemptsBefore + 2)), ...(await leftovers(ws.app)));
      const said = faulted.timedOut ? `the client said nothing in ${(saidAfter / 1000).toFixed(0)} s and was killed` : `the client ended ${(saidAfter / 1000).toFixed(1)} s after the drop (exit ${faulted.code}: ${saidOf(faulted.stderr).slice(0, 200)})`;
      return { broke, gapMs: seen.maxGapMs, requests: seen.ok + seen.failed.length, lock: `${said}; the next deploy: lock ${judged.lock}, ${((sent ?? 0) / 1e6).toFixed(1)} MB sent by its count, ${(wire / 1e6).toFixed(1)} MB on the link`, nextMs: next.ms };
    }),
  })),
  {
    id: 'slow-lossy-link/deploy/whole',
    run: () => withApp(async (ws) => {
      const broke: string[] = [];
      const a = await ws.git('rev-parse', 'HEAD');
      await mustOk(ws, ['deploy']);
      await ws.commit('version B', { 'bulk/b.bin': randomBytes(2 << 20).toString('base64') });
      // This kernel has no netem: 200 ms each way is a relay that holds every chunk of the SSH
      // stream that long (SSH's own windows then pay the round trip, as over a long link), and
      // 1 % loss is iptables dropping packets at random on the server's link, both ways.
      const relay = await delayRelay(server(SERVER).host, 22, 200);
      const drops = [['OUTPUT', '-o'], ['INPUT', '-i']].map(([chain, dir]) => [chain!, dir!, `${SERVER}-h`, '-m', 'statistic', '--mode', 'random', '--probability', '0.01', '-j', 'DROP']);
      const sshConfig = join(os.tmpdir(), `faults-ssh-config-${process.pid}`);
      writeFileSync(sshConfig, `Host ${SERVER}-slow\n  HostName 127.0.0.1\n  Port ${relay.port}\n  HostKeyAlias ${server(SERVER).host}\n  User root\n  IdentityFile ${testEnv().identityFile}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${testEnv().knownHosts}\n  StrictHostKeyChecking yes\n  BatchMode yes\n\n${readFileSync(testEnv().sshConfig, 'utf8')}`);
      const config = JSON.parse(readFileSync(join(ws.dir, 'baremetal.json'), 'utf8')) as { servers: Record<string, { host: string }> };
      config.servers[SERVER]!.host = `${SERVER}-slow`;
      await ws.writeConfig(config);
      await ws.commit('over the slow link');
      const p = poll(ws.host);
      for (const [chain, dir, ...rest] of drops) await exec('iptables', ['-I', chain!, dir!, ...rest]);
      const t0 = Date.now();
      let r;
      try {
        r = await cli(['deploy', '--json'], { cwd: ws.dir, env: { BAREMETAL_SSH_CONFIG: sshConfig } });
      } finally {
        for (const [chain, dir, ...rest] of drops) await exec('iptables', ['-D', chain!, dir!, ...rest]).catch(() => undefined);
        relay.close();
        rmSync(sshConfig, { force: true });
      }
      const ms = Date.now() - t0;
      const seen = await p.stop();
      if (r.code !== 0) broke.push(`the deploy failed: ${r.stderr.trim().split('\n').pop()}`);
      if ((await servesAgain(ws.host, [await ws.git('rev-parse', 'HEAD')], 10_000)) === undefined) broke.push('the new version does not serve');
      // The poller's requests cross the lossy link too: a lost packet costs a retransmission (1 s
      // at first), so a few may pass their 5 s timeout; more than the bound's share is the app
      // (or the proxy) not answering. Any other failure is an answer from neither version or a refusal.
      const failed = seen.failed.filter((f) => f !== 'timeout');
      const timeouts = seen.failed.length - failed.length;
      const requests = seen.ok + seen.failed.length;
      if (failed.length) broke.push(`${failed.length} requests failed (${[...new Set(failed)].slice(0, 3).join('; ')})`);
      if (timeouts > BOUNDS.lossyTimeoutShare * requests) broke.push(`${timeouts} of ${requests} requests timed out (bound ${(BOUNDS.lossyTimeoutShare * 100).toFixed(1)} %)`);
      broke.push(...judgeGap(seen.maxGapMs, BOUNDS.lossyGapMs));
      const head = await ws.git('rev-parse', 'HEAD');
      if ([...seen.commits].some((c) => c !== a && c !== head)) broke.push(`served ${[...seen.commits].join(', ')}: neither the old nor the new version`);
      const sent = (r.json as { bytesSent?: number } | undefined)?.bytesSent ?? 0;
      broke.push(...(await historyProblems(ws.app, 2)), ...(await leftovers(ws.app)));
      return { broke, gapMs: seen.maxGapMs, requests: seen.ok + seen.failed.length, lock: `the deploy took ${(ms / 1000).toFixed(1)} s for ${(sent / 1e6).toFixed(1)} MB sent (${timeouts} of the poller's ${requests} requests timed out on the lossy link)`, nextMs: ms };
    }),
  },
  {
    id: 'two-clients/deploy/10-each',
    run: () => withApp(async (ws) => {
      const broke: string[] = [];
      await mustOk(ws, ['deploy']);
      // A second developer: a clone of the same repository, the same app, another commit.
      const other = `${ws.dir}-clone`;
      await exec('git', ['clone', '-q', ws.dir, other]);
      await exec('git', ['-C', other, 'config', 'user.email', 'other@example.test']);
      await exec('git', ['-C', other, 'config', 'user.name', 'Other Developer']);
      writeFileSync(join(other, 'www', 'other.txt'), 'other\n');
      await exec('git', ['-C', other, 'add', '-A']);
      await exec('git', ['-C', other, 'commit', '-qm', 'the other version']);
      const mine = await ws.commit('my version', { 'www/mine.txt': 'mine\n' });
      const theirs = (await exec('git', ['-C', other, 'rev-parse', 'HEAD'])).stdout.trim();
      const a = (await exec('git', ['-C', other, 'rev-parse', 'HEAD~1'])).stdout.trim();
      const p = poll(ws.host);
      const loop = async (dir: string) => {
        let failures = 0;
        for (let i = 0; i < 10; i++) if ((await cli(['deploy', '--wait'], { cwd: dir })).code !== 0) failures++;
        return failures;
      };
      const t0 = Date.now();
      const [f1, f2] = await Promise.all([loop(ws.dir), loop(other)]);
      const ms = Date.now() - t0;
      const seen = await p.stop();
      rmSync(other, { recursive: true, force: true });
      if (f1 + f2) broke.push(`${f1 + f2} of 20 deploys failed`);
      if (seen.failed.length) broke.push(`${seen.failed.length} requests failed`);
      const strange = [...seen.commits].filter((c) => ![a, mine, theirs].includes(c));
      if (strange.length) broke.push(`served ${strange.join(', ')}`);
      broke.push(...(await historyProblems(ws.app, 21)), ...(await leftovers(ws.app)));
      return { broke, gapMs: seen.maxGapMs, requests: seen.ok + seen.failed.length, lock: `20 deploys, each waiting its turn: ${(ms / 1000).toFixed(0)} s in all`, nextMs: ms };
    }),
  },
  {
    id: 'garbage-history/deploy/-',
    run: () => withApp(async (ws) => {
      const broke: string[] = [];
      const a = await ws.git('rev-parse', 'HEAD');
      await mustOk(ws, ['deploy']);
      await ws.commit('version B', { 'www/b.txt': 'b\n' });
      await mustOk(ws, ['deploy']);
      // A write cut short, then garbage: what a full disk or a hand edit leaves.
      const file = `/root/.baremetal/${ws.app}/history.jsonl`;
      await onServer(SERVER, ['sh', '-c', `head -c -40 ${file} > ${file}.t && printf '\\n{"id": 3, "garbage\\n\\0\\1\\2\\n' >> ${file}.t && mv ${file}.t ${file}`]);
      const hist = await cli(['history'], { cwd: ws.dir });
      if (hist.code !== 0) broke.push(`history failed: ${hist.stderr.trim().split('\n').pop()}`);
      const rb = await cli(['rollback', '--json'], { cwd: ws.dir });
      if (rb.code !== 0) broke.push(`the rollback failed: ${rb.stderr.trim().split('\n').pop()}`);
      if (commitOf((await get(ws.host).catch(() => ({ body: '' }))).body) !== a) broke.push('the rollback does not serve A');
      // The damaged last record is lost (it was cut); the file is whole JSON lines again.
      const h = await historyOn(ws.app);
      if (h.records.some((r) => r.result === 'unparseable')) broke.push('the history still has lines that are not JSON');
      broke.push(...(await leftovers(ws.app)));
      return { broke, gapMs: 0, requests: 0, lock: `history read past the damage; rollback worked; ${h.records.length} whole records kept`, nextMs: 0 };
    }),
  },
  {
    id: 'truncated-cache-blob/deploy/-',
    run: () => withApp(async (ws) => {
      const broke: string[] = [];
      const cache = join(os.tmpdir(), `faults-cache-${ws.app}`);
      const env = { BAREMETAL_CACHE_DIR: cache };
      await mustOk(ws, ['deploy'], env);
      // The biggest cached blob cut in half, and the server made to need it again.
      const blobs = (await exec('sh', ['-c', `find ${cache} -type f -size +1M -printf '%s %p\\n' | sort -n | tail -1`])).stdout.trim().split(' ');
      const [size, path] = [Number(blobs[0]), blobs[1]!];
      await exec('truncate', ['-s', String(Math.floor(size / 2)), path]);
      await cleanupApp(SERVER, ws.app);
      await onServer(SERVER, ['rm', '-rf', `/root/.baremetal/${ws.app}`]);
      const r = await cli(['deploy', '--json'], { cwd: ws.dir, env });
      if (r.code !== 0) broke.push(`the deploy failed: ${r.stderr.trim().split('\n').pop()}`);
      const { statSync } = await import('node:fs');
      const { createHash } = await import('node:crypto');
      if (statSync(path).size !== size) broke.push(`the cached blob is ${statSync(path).size} bytes, not its ${size}`);
      // Whole again means the bytes its name promises, and the server got them: all of it sent.
      const meta = JSON.parse(readFileSync(path.replace(/\.tar(\.gz)?$/, '.json'), 'utf8')) as { digest?: string };
      const digest = `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
      if (meta.digest !== digest) broke.push(`the cached blob's bytes are ${digest.slice(0, 19)}…, not its digest ${String(meta.digest).slice(0, 19)}…`);
      const sent = (r.json as { bytesSent?: number } | undefined)?.bytesSent ?? 0;
      if (sent < size) broke.push(`the deploy sent ${sent} bytes, less than the ${size} of the blob it had to send again`);
      if (commitOf((await get(ws.host).catch(() => ({ body: '' }))).body) !== (await ws.git('rev-parse', 'HEAD'))) broke.push('the app does not serve');
      rmSync(cache, { recursive: true, force: true });
      broke.push(...(await leftovers(ws.app)));
      return { broke, gapMs: 0, requests: 0, lock: `the blob cut to ${(Math.floor(size / 2) / 1e6).toFixed(1)} of its ${(size / 1e6).toFixed(1)} MB was found short, exported again (${meta.digest === digest ? 'its digest matches' : 'its digest does NOT match'}) and sent: ${(sent / 1e6).toFixed(1)} MB in all`, nextMs: r.ms };
    }),
  },
  {
    id: 'disk-full/deploy/ship',
    run: async () => {
      // The server's Docker on an empty 300 MB disk: the base and the proxy's images are sent
      // first (no registry), then a version 400 MB bigger cannot fit.
      await exec('bash', [TS, 'small-disk', SERVER, '300M'], { maxBuffer: 1 << 20 });
      try {
        return await withApp(async (ws) => {
          const broke: string[] = [];
          const a = await ws.git('rev-parse', 'HEAD');
          await mustOk(ws, ['deploy']);
          await ws.commit('too big', { 'bulk/huge.bin': randomBytes(300 << 20).toString('base64') });
          const p = poll(ws.host);
          const r = await cli(['deploy'], { cwd: ws.dir });
          const seen = await p.stop();
          const said = r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'));
          if (r.code === 0) broke.push('the deploy of a version that cannot fit succeeded');
          if (said.length !== 1 || !/disk is full.*then deploy again/i.test(said[0] ?? '')) broke.push(`the error does not say the disk is full: ${said.join(' | ') || r.stderr.trim().split('\n').pop()}`);
          if (seen.failed.length) broke.push(`${seen.failed.length} requests failed while the disk filled`);
          if ([...seen.commits].some((c) => c !== a)) broke.push('something other than the old version answered');
          // Space made (the oversized commit reverted): the next deploy goes through by itself.
          await ws.git('revert', '--no-edit', 'HEAD');
          const next = await cli(['deploy', '--json'], { cwd: ws.dir });
          if (next.code !== 0) broke.push(`the next deploy failed: ${next.stderr.trim().split('\n').pop()}`);
          broke.push(...(await historyProblems(ws.app, 3)), ...(await leftovers(ws.app)));
          return { broke, gapMs: seen.maxGapMs, requests: seen.ok + seen.failed.length, lock: `said: ${(said[0] ?? '').slice(0, 320)}`, nextMs: 0 };
        });
      } finally {
        await exec('bash', [TS, 'small-disk', SERVER, 'off'], { maxBuffer: 1 << 20 });
      }
    },
  },
];

/** The fuzzer's counts per parser, and what broke: a failed input, a crash, or a target that never reported. */
async function fuzzCounts(testFile = join(PROJECT, 'test', 'faults', 'fuzz.test.ts')): Promise<{ rows: { target: string; tried: number; failed: number }[]; broke: string[] }> {
  const file = join(os.tmpdir(), `faults-fuzz-${process.pid}.jsonl`);
  writeFileSync(file, '');
  log(`fuzzing the parsers (FUZZ_MS=${process.env.FUZZ_MS ?? 30000} each)`);
  const exit = await exec(process.execPath, ['--import', 'tsx', '--test', testFile], {
    env: { ...process.env, FUZZ_MS: process.env.FUZZ_MS ?? '30000', FUZZ_REPORT: file }, maxBuffer: 64 << 20,
  }).then(() => ({ code: 0 as number | null }), (e: { code?: number | null; stdout?: string; stderr?: string }) => {
    // node --test prints a crash (an import that throws, a test file that does not compile) as a "not ok" with its error.
    const out = `${e.stdout ?? ''}\n${e.stderr ?? ''}`;
    const crash = /^#? *(\w*Error\b.*: .+)$/m.exec(out)?.[1] ?? /^\s*error: '(.+)'$/m.exec(out)?.[1];
    return { code: e.code ?? null, crash: crash?.slice(0, 200) };
  });
  const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { target: string; tried: number; failed: number });
  rmSync(file, { force: true });
  return { rows, broke: judgeFuzz(rows, FUZZ_TARGETS, exit) };
}

/** The bounds, in words, for the report (test/faults/verdicts.ts holds the numbers). */
function boundsText(): string {
  const sec = (ms: number) => `${ms / 1000} s`;
  return [
    'A row survives only within these bounds (test/faults/verdicts.ts); crossing one fails it:',
    `- the app answers throughout: no request fails, nothing but the old or the new version answers, and the longest time without an answer is at most ${sec(BOUNDS.gapMs)} (an engine restart or a "reboot": back within ${sec(BOUNDS.downMs)} of the engine's stop; the slow, lossy link: at most ${sec(BOUNDS.lossyGapMs)}, and at most ${BOUNDS.lossyTimeoutShare * 100} % of the poller's requests past their 5 s timeout);`,
    `- a cut client ends within ${sec(BOUNDS.cutEndMs)} of being let go on, and either did the work (exit 0 and its version serves) or fails with exactly one \`error:\` sentence and no stack trace;`,
    `- a client on a silent link exits non-zero within ${sec(BOUNDS.silentEndMs)} of the drop, with one sentence that names the server; the app, polled from inside the server (the dropped link would fail any poll from outside), answers throughout;`,
    `- the next command (run with --wait) never waits for the lock of a client that is gone (killed, cut, or silent and given up), and ends within ${sec(BOUNDS.nextMs)}; it sends nothing the server already has;`,
    '- an engine restart: the faulted deploy is recorded with the result its exit code says;',
    `- every command has a time limit (${sec(CLI_LIMIT_MS)}): one that hangs is killed and fails its row;`,
    '- the fuzz run ends by itself and every parser reports its count (a fuzz file that crashed before fuzzing reports nothing: that fails the run).',
  ].join('\n');
}

async function main(): Promise<void> {
  const only = process.env.FAULTS_ONLY;
  // The fast part, in npm test: one of each kind of death at the phases nearest the switch, and the damaged files.
  const fast = process.env.FAULTS_SET === 'fast' ? ['kill/deploy/record', 'cut/deploy/health', 'cut/rollback/switch', 'kill/rollback/drain', 'garbage-history/deploy/-', 'truncated-cache-blob/deploy/-'] : undefined;
  const wanted = (id: string) => (fast ? fast.includes(id) : !only || id.includes(only));
  const scenarios = SCENARIOS.filter((s) => wanted(s.id));
  // The proxy's image, sent from the workstation's engine (the servers cannot pull: no internet).
  await exec('bash', [join(PROJECT, 'scripts', 'make-caddy-image.sh'), testEnv().dockerHost]);
  const fuzz = process.env.FAULTS_NO_FUZZ ? undefined : await fuzzCounts(process.env.FAULTS_FUZZ_FILE);
  const fuzzed = fuzz?.rows ?? [];
  if (fuzz?.broke.length) log(`BROKE the fuzzer: ${fuzz.broke.join('; ')}`);
  const outcomes: Outcome[] = [];
  for (const s of scenarios) {
    const t0 = Date.now();
    let o: Outcome;
    try {
      o = await runScenario(s);
    } catch (e) {
      o = { id: s.id, survived: false, broke: [`the scenario itself failed: ${(e as Error).message}`], gapMs: 0, requests: 0, lock: '?', nextMs: 0 };
    }
    outcomes.push(o);
    log(`${o.survived ? 'survived' : 'BROKE'} ${s.id} (${((Date.now() - t0) / 1000).toFixed(0)} s)${o.broke.length ? `: ${o.broke.join('; ')}` : ''}`);
  }
  for (const sp of SPECIALS.filter((x) => wanted(x.id))) {
    const t0 = Date.now();
    let o: Outcome;
    try {
      const r = await sp.run();
      o = { id: sp.id, survived: r.broke.length === 0, ...r };
    } catch (e) {
      o = { id: sp.id, survived: false, broke: [`the scenario itself failed: ${(e as Error).message}`], gapMs: 0, requests: 0, lock: '?', nextMs: 0 };
    }
    outcomes.push(o);
    log(`${o.survived ? 'survived' : 'BROKE'} ${sp.id} (${((Date.now() - t0) / 1000).toFixed(0)} s)${o.broke.length ? `: ${o.broke.join('; ')}` : ''}`);
  }
  const survived = outcomes.filter((o) => o.survived).length;
  const table = [
    '| fault | operation | phase | result | longest gap (or time down) | requests | what happened next; time |',
    '|---|---|---|---|---:|---:|---|',
    ...outcomes.map((o) => {
      const [fault, op, phase] = o.id.split('/');
      return `| ${FAULT_LABEL[fault!] ?? fault} | ${op} | ${phase} | ${o.survived ? 'survived' : `**broke**: ${o.broke.join('; ')}`} | ${(o.gapMs / 1000).toFixed(2)} s | ${o.requests} | ${o.lock}, ${(o.nextMs / 1000).toFixed(1)} s |`;
    }),
  ].join('\n');
  const fuzzTable = !fuzz
    ? '(not run: FAULTS_NO_FUZZ)'
    : [
      '| parser | inputs tried | inputs that broke it |', '|---|---:|---:|', ...fuzzed.map((f) => `| ${f.target} | ${f.tried} | ${f.failed} |`),
      ...(fuzz.broke.length ? ['', `**The fuzz run broke**: ${fuzz.broke.join('; ')}`] : []),
    ].join('\n');
  const head = (await exec('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT })).stdout.trim();
  const text = [
    '# Faults: what breaks a deploy, measured',
    `Date: ${new Date().toISOString()}; server ${SERVER} (Docker ${server(SERVER).engine}, ${server(SERVER).store}), through the proxy; at ${head}. Command: \`npm run faults\` (scripts/faults.ts).`,
    'Each fault lands at the first progress event of its phase (the CLI stops itself there: BAREMETAL_FAULT_STOP_AT). Checked after each: the app answered throughout with the old or the new version; ' +
      'the history holds exactly one valid record per attempt that reached the server, with the right result; the next command succeeds with no step by hand, sends nothing already sent, and finds the lock free or takes it over at once; ' +
      'nothing is left but the live container and the kept images.',
    boundsText(),
    `**${survived} of ${outcomes.length} survived.**`,
    table,
    '## Bad input, fuzzed (test/faults/fuzz.test.ts, seeded)',
    fuzzTable,
  ].join('\n\n');
  mkdirSync(join(PROJECT, 'bench'), { recursive: true });
  if (!only && !fast) writeFileSync(join(PROJECT, 'bench', 'faults.md'), text + '\n');
  console.log(`\n${text}`);
  process.exitCode = survived === outcomes.length && !fuzz?.broke.length ? 0 : 1;
}

void main();
