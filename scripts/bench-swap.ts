/**
 * npm run bench:swap: what users of an app see while it is redeployed and rolled back, through
 * the server's Caddy proxy against today's swap without it (stop the old container, start the
 * new one), on test server bm2 (Docker 20.10), in one run.
 *
 * For each mode: an app whose PID 1 ignores SIGTERM (bench-swap-app.ts), two commits A and B
 * deployed once (A: a fresh build and transfer, the "first deploy" the rollback is compared
 * with), then a steady load (bench-swap-load.ts, 160 requests/s, keep-alive and new
 * connections) for IDLE_MS with nothing happening, then OPS commands back to back: rollback (to
 * A), deploy --commit B, rollback, … each of them "nothing rebuilt or sent" (checked).
 *
 *   node --import tsx scripts/bench-swap.ts      (as root, test servers up, CLI built)
 *
 * Env: BENCH_SWAP_OPS (default 20), BENCH_SWAP_MODES (proxy,direct), BENCH_SWAP_BULK_MB (the
 * app's dependencies, default 100; 0 gives the 1 MB app of the first runs). Writes bench/swap-results.md;
 * every request's record stays in /tmp/bench-swap-<id>/requests-<mode>.csv.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onServer, PROJECT, server, testEnv } from '../test/helpers/world';
import { makeApp, mustSucceed, runCli, type CliRun } from './bench-swap-app';
import { now, sleep, startLoad, TIMEOUT_MS, type Sample, type Target } from './bench-swap-load';
import { report, type ModeResult, type Op } from './bench-swap-report';

const exec = promisify(execFile);
const SERVER = 'bm2';
const OPS = Number(process.env.BENCH_SWAP_OPS ?? 20);
const IDLE_MS = 15_000;
/** The app's dependencies' weight, MB (a typical Node or Python app image adds 100 MB or more to its base). */
const BULK_MB = Number(process.env.BENCH_SWAP_BULK_MB ?? 100);
const ID = `${Date.now().toString(36).slice(-5)}${process.pid.toString(36).slice(-2)}`;
const WORK = join(os.tmpdir(), `bench-swap-${ID}`);
const DIRECT_PORT = 20_000 + (process.pid % 1000);
// Not "bench-…": scripts/bench.ts removes every container and image of that prefix on bm1 and bm2 when it starts.
const ADMIN = ['curl', '-s', '-H', 'Host: baremetal', '--unix-socket', '/root/.baremetal/proxy/run/admin.sock'];
const log = (m: string) => console.log(`[bench:swap] ${m}`);

interface Mode {
  id: 'proxy' | 'direct';
  app: string;
  config: object;
  target: Target;
}

const MODES: Mode[] = [
  {
    id: 'proxy',
    app: `swapbench-${ID}-p`,
    config: { run: {}, proxy: { hosts: [`bench-${ID}.test`], port: 8080, tls: 'off', image: 'local/caddy:2', drainSeconds: 10 } },
    target: { host: server(SERVER).host, port: 80, hostHeader: `bench-${ID}.test` },
  },
  {
    id: 'direct',
    app: `swapbench-${ID}-d`,
    config: { run: { ports: [`${DIRECT_PORT}:8080`] } },
    target: { host: server(SERVER).host, port: DIRECT_PORT },
  },
];
const wanted = (process.env.BENCH_SWAP_MODES ?? 'proxy,direct').split(',');
const modes = MODES.filter((m) => wanted.includes(m.id));

async function runMode(mode: Mode): Promise<ModeResult> {
  const dir = join(WORK, mode.id);
  mkdirSync(dir, { recursive: true });
  const env = { BAREMETAL_CACHE_DIR: join(WORK, `layers-${mode.id}`) }; // an empty layer cache: the first deploy compresses everything
  const { a, b } = await makeApp(dir, mode.app, mode.config, BULK_MB * 1024 * 1024);
  const short = (c: string) => c.slice(0, 12);
  if (mode.id === 'direct') {
    const taken = (await onServer(SERVER, ['docker', 'ps', '--filter', `publish=${DIRECT_PORT}`, '--format', '{{.Names}}'])).trim();
    if (taken) throw new Error(`port ${DIRECT_PORT} on ${SERVER} is taken by ${taken}: try again (the port follows the process id)`);
  }
  const proxyWasRunning = (await onServer(SERVER, ['docker', 'ps', '-q', '--filter', 'name=^baremetal-proxy$'])).trim() !== '';

  log(`[${mode.id}] ${mode.app}: first deploy of A ${short(a)} (fresh build and transfer), then B ${short(b)}`);
  const first = await runCli(dir, ['deploy', '--commit', a], env);
  mustSucceed(first);
  const second = await runCli(dir, ['deploy', '--commit', b], env);
  mustSucceed(second);
  await expectServing(mode.target, b);

  log(`[${mode.id}] load on, ${IDLE_MS / 1000} s idle, then ${OPS} commands (rollback / deploy --commit B, alternately)`);
  const load = startLoad(mode.target);
  await sleep(1000); // connections opened, Caddy's and the engine's first-request costs out of the idle figures
  const idle = { from: now(), to: now() + IDLE_MS };
  await sleep(IDLE_MS);
  const ops: Op[] = [];
  for (let i = 0; i < OPS; i++) {
    const kind = i % 2 === 0 ? 'rollback' : 'deploy';
    const expected = kind === 'rollback' ? a : b;
    const run: CliRun = await runCli(dir, kind === 'rollback' ? ['rollback'] : ['deploy', '--commit', b], env);
    const json = mustSucceed(run);
    if (json.commit !== expected) throw new Error(`${kind} #${i + 1} went to ${short(json.commit)}, not ${short(expected)}`);
    if (json.bytesSent !== 0 || json.phasesMs.build !== undefined || json.phasesMs.ship !== undefined) {
      throw new Error(`${kind} #${i + 1} rebuilt or sent something (${json.bytesSent} B, phases ${JSON.stringify(json.phasesMs)}): it would not measure the swap`);
    }
    ops.push({ kind, run, json, commit: short(expected) });
    await sleep(1000);
    const after = load.samples.filter((s) => s.t > run.end && s.status === 200);
    if (after.length && after.some((s) => s.commit !== short(expected))) throw new Error(`after ${kind} #${i + 1}, answers still came from ${short(expected === a ? b : a)}`);
    log(`[${mode.id}] ${i + 1}/${OPS} ${kind} → ${short(expected)}: ${((run.end - run.start) / 1000).toFixed(1)} s`);
  }
  await sleep(2000);
  const samples = await load.stop();
  writeCsv(join(WORK, `requests-${mode.id}.csv`), samples);
  writeFileSync(join(WORK, `commands-${mode.id}.json`), JSON.stringify({ first, second, ops: ops.map((o) => o.run) }, null, 1));
  return { mode: mode.id, app: mode.app, first, second, ops, samples, idle, proxyWasRunning, loadAvg: os.loadavg()[0] };
}

async function expectServing(target: Target, commit: string): Promise<void> {
  const load = startLoad(target); // one round of the workers is enough
  await sleep(200);
  const got = (await load.stop()).filter((s) => s.status === 200).map((s) => s.commit);
  if (!got.length || got.some((c) => c !== commit.slice(0, 12))) throw new Error(`expected ${commit.slice(0, 12)} to answer, got ${got.join(', ') || 'no answer'}`);
}

function writeCsv(file: string, samples: Sample[]): void {
  const rows = samples.map((s) => [s.t.toFixed(1), s.ms.toFixed(1), s.status, s.error ?? '', s.commit ?? '', s.keepAlive ? 1 : 0, s.reused ? 1 : 0].join(','));
  writeFileSync(file, ['t_ms,latency_ms,status,error,commit,keepalive,reused', ...rows].join('\n') + '\n');
}

/** The app's containers, images, history and route on the server, and its images on the workstation. */
async function removeApp(mode: Mode): Promise<void> {
  const ids = (await onServer(SERVER, ['docker', 'ps', '-aq', '--filter', `label=dev.baremetal.app=${mode.app}`])).split('\n').filter(Boolean);
  if (ids.length) await onServer(SERVER, ['docker', 'rm', '-f', ...ids]);
  const images = (await onServer(SERVER, ['docker', 'images', '-q', '--filter', `reference=${mode.app}:*`])).split('\n').filter(Boolean);
  if (images.length) await onServer(SERVER, ['docker', 'rmi', '-f', ...new Set(images)]).catch(() => undefined);
  await onServer(SERVER, ['rm', '-rf', `/root/.baremetal/${mode.app}`]);
  if (mode.id === 'proxy') {
    // Our route only (the proxy stays: other apps on bm2 may use it).
    await onServer(SERVER, [...ADMIN, '-X', 'DELETE', `http://baremetal/id/baremetal-app-${mode.app}`]).catch(() => undefined);
  }
  const host = testEnv().dockerHost;
  const local = (await exec('docker', ['-H', host, 'images', '-q', '--filter', `reference=${mode.app}:*`])).stdout.split('\n').filter(Boolean);
  if (local.length) await exec('docker', ['-H', host, 'rmi', '-f', ...new Set(local)]).catch(() => undefined);
}

async function engines(): Promise<string> {
  const serverEngine = (await onServer(SERVER, ['docker', 'version', '--format', '{{.Server.Version}}'])).trim();
  const ws = (await exec('docker', ['-H', testEnv().dockerHost, 'version', '--format', '{{.Server.Version}}'])).stdout.trim();
  const caddy = (await onServer(SERVER, ['docker', 'exec', 'baremetal-proxy', 'caddy', 'version']).catch(() => '?')).trim().split(' ')[0];
  return `server ${SERVER}: Docker ${serverEngine} (${server(SERVER).store}); workstation engine (DOCKER_HOST, builds): Docker ${ws}; proxy: Caddy ${caddy} (local/caddy:2, from Debian 12)`;
}

async function machine(loadAtStart: number): Promise<string> {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${os.release()}, Node ${process.version}; ` +
    `1-minute load average ${loadAtStart.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end (a shared machine: other developers' builds and tests run beside)`;
}

/** The commit the run started from (taken at the start: the CLI it runs was built from it). */
async function sourceState(): Promise<string> {
  // Not trimmed before splitting: porcelain lines start with a space (" M src/…").
  const git = async (...args: string[]) => (await exec('git', args, { cwd: PROJECT }).catch(() => ({ stdout: '' }))).stdout;
  const dirty = (await git('status', '--porcelain', '--', 'src')).split('\n').filter(Boolean).map((l) => l.slice(3));
  return `${(await git('rev-parse', '--short', 'HEAD')).trim() || '?'}${dirty.length ? ` + uncommitted changes in ${dirty.join(', ')}` : ''}`;
}

async function main(): Promise<void> {
  const startedAt = sourceState();
  if (!existsSync(join(PROJECT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run "node scripts/build.mjs" first');
  const loadAtStart = os.loadavg()[0];
  await exec('bash', [join(PROJECT, 'scripts', 'make-caddy-image.sh'), testEnv().dockerHost]);
  mkdirSync(WORK, { recursive: true });
  const results: ModeResult[] = [];
  for (const mode of modes) {
    try {
      results.push(await runMode(mode));
    } finally {
      await removeApp(mode); // before the next mode: its first deploy must send everything again
    }
  }
  const head = await startedAt;
  const text = report(results, { ops: OPS, idleMs: IDLE_MS, timeoutMs: TIMEOUT_MS, bulkMb: BULK_MB });
  console.log(`\n${text}`);
  const command = `\`npm run bench:swap\` (\`node --import tsx scripts/bench-swap.ts\`${OPS !== 20 ? `, BENCH_SWAP_OPS=${OPS}` : ''}), as root, at ${head} (dist/cli.js built ${statSync(join(PROJECT, 'dist', 'cli.js')).mtime.toISOString()})`;
  const out = [
    '# Benchmark: deploys and rollbacks under load, through the proxy and with the old swap',
    `Date: ${new Date().toISOString()}`,
    `Machine: ${await machine(loadAtStart)}`,
    `Engines: ${await engines()}`,
    `Command: ${command}`,
    `Every request's record (time, latency, status or error, commit, keep-alive, reused) and every command's stderr lines with their times: \`${WORK}/requests-<mode>.csv\`, \`commands-<mode>.json\` (bench clock, ms; not kept in the repository).`,
    text,
  ].join('\n\n');
  if (modes.length === MODES.length && OPS === 20) writeFileSync(join(PROJECT, 'bench', 'swap-results.md'), out + '\n');
  else log('a partial run (BENCH_SWAP_MODES / BENCH_SWAP_OPS): bench/swap-results.md left as it was');
}

process.on('SIGINT', () => {
  log('interrupted: removing this run\'s apps');
  void Promise.allSettled(modes.map(removeApp)).then(() => process.exit(130));
});
main().then(
  () => {
    for (const d of ['proxy', 'direct', 'layers-proxy', 'layers-direct']) rmSync(join(WORK, d), { recursive: true, force: true });
    process.exit(0);
  },
  (e: Error) => {
    console.error(`bench:swap failed: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
