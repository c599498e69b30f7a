/**
 * npm run bench: our deploy against the two pipelines a user would otherwise use, on real test
 * servers, for a first deploy, a redeploy after a one-line change and a rollback:
 * - `docker save IMAGE | ssh SERVER docker load` + `ssh SERVER docker run …`;
 * - Kamal 2.8+'s local registry: `docker push 127.0.0.1:<port>/…` on the laptop, then
 *   `docker pull` on the server through `ssh -R <port>:127.0.0.1:<port>`, and `docker run`.
 * Each on two pairs of workstation engine → server: Docker 20.10 (dev → bm1 / bm2) and Docker 26
 * with the containerd image store (ws26c → bm26c).
 *
 *   node --import tsx scripts/bench.ts [--pair 20.10|26c|all] [--link 100mbit] [--cli PATH]
 *
 * What is measured and how: bench/README.md. Sides: bench-sides.ts; meters: bench-meter.ts.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { APP, CGROUP, docker, measure, removeCounters, run, serverSocket, setUpCounters, sshArgs, inCgroup } from './bench-meter';
import { machine, report, type PairResult } from './bench-report';
import { PAIRS, PROJECT, LocalRegistry, clearServer, cli, expectServing, removeBench, saveLoad, type Pair } from './bench-sides';
import { PORT, makeRepo } from './bench-workload';

const WORK = join(os.tmpdir(), `${APP}-work`);
const REPO = join(WORK, 'repo');
const log = (m: string) => console.log(`[bench] ${m}`);

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/**
 * `--link 100mbit`: shape the test servers' links (tc tbf on the host side, both directions
 * through the server's veth) to a real uplink's rate, so times are a WAN's, not a veth's.
 */
const LINK = option('--link');
if (LINK !== undefined && !/^\d+(k|m|g)bit$/.test(LINK)) throw new Error(`--link takes a rate like 100mbit, not "${LINK}"`);
/**
 * `--cli PATH`: the cli.js to measure (default dist/cli.js). Where others edit the same work tree,
 * a CLI built from a clean export of a commit measures that commit, not their work in progress.
 */
const CLI_FROM_FLAG = option('--cli');
const CLI = CLI_FROM_FLAG ?? join(PROJECT, 'dist', 'cli.js');
const PAIR = option('--pair') ?? 'all';
if (PAIR !== 'all' && !(PAIR in PAIRS)) throw new Error(`--pair takes ${Object.keys(PAIRS).join(', ')} or all, not "${PAIR}"`);
const pairs: Pair[] = PAIR === 'all' ? Object.values(PAIRS) : [PAIRS[PAIR as Pair['id']]];
const servers = [...new Set(pairs.flatMap((p) => [p.ours, p.naive, p.registry]))];

async function shapeLinks(links: string[], on: boolean): Promise<void> {
  if (!LINK) return;
  for (const s of links) {
    if (on) {
      await run('tc', ['qdisc', 'replace', 'dev', `${s}-h`, 'root', 'tbf', 'rate', LINK, 'burst', '256kbit', 'latency', '100ms']);
      await run('ip', ['netns', 'exec', s, 'tc', 'qdisc', 'replace', 'dev', `${s}-s`, 'root', 'tbf', 'rate', LINK, 'burst', '256kbit', 'latency', '100ms']);
    } else {
      await run('tc', ['qdisc', 'del', 'dev', `${s}-h`, 'root'], { allowFail: true });
      await run('ip', ['netns', 'exec', s, 'tc', 'qdisc', 'del', 'dev', `${s}-s`, 'root'], { allowFail: true });
    }
  }
}

/** nftables (the byte counters) and Debian's docker-registry (the registry baseline), if missing. */
async function ensureTools(): Promise<void> {
  const absent: string[] = [];
  for (const [cmd, pkg] of [['nft', 'nftables'], ['docker-registry', 'docker-registry']]) {
    if ((await run('sh', ['-c', `command -v ${cmd}`], { allowFail: true })).code !== 0) absent.push(pkg);
  }
  if (!absent.length) return;
  log(`installing ${absent.join(' ')} (apt-get; docker-registry only as a program: the bench starts its own on 127.0.0.1)`);
  const install = (allowFail: boolean) => run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...absent], { env: { DEBIAN_FRONTEND: 'noninteractive' }, allowFail });
  if ((await install(true)).code === 0) return;
  await run('apt-get', ['update', '-q']);
  await install(false);
}

async function runPair(pair: Pair, { v1, v2 }: { v1: string; v2: string }): Promise<PairResult> {
  const load = os.loadavg()[0];
  await removeBench(pair.workstation.dockerHost, false); // what an interrupted earlier run left
  for (const s of new Set([pair.ours, pair.naive, pair.registry])) {
    await removeBench(serverSocket(s), false); // bench images of earlier runs too: the first deploy must send everything
    const taken = (await docker(serverSocket(s), 'ps', '--filter', `publish=${PORT}`, '--format', '{{.Names}}')).stdout.trim();
    if (taken) throw new Error(`port ${PORT} on ${s} is taken by ${taken} (someone else's container): try again later`);
  }
  const ours = cli(CLI, pair, REPO, join(WORK, `layers-${pair.id}`));
  const at = (server: string) => (fn: Parameters<typeof measure>[1]) => measure(server, fn);
  const o = at(pair.ours);
  log(`[${pair.id}] ours on ${pair.ours}: building and compressing version 1 (not part of anyone's time)`);
  const plan1 = await o(ours('deploy', '--commit', v1, '--dry-run', '--json'));
  log(`[${pair.id}] ours: 1. first deploy, 2. redeploy (+ the same deploy again), 3. rollback`);
  const ours1 = await o(ours('deploy', '--commit', v1, '--json'));
  await expectServing(pair.ours, 'version 1');
  const plan2 = await o(ours('deploy', '--commit', v2, '--dry-run', '--json'));
  const ours2 = await o(ours('deploy', '--commit', v2, '--json'));
  // The same deploy once more, with nothing to send (the server has the image): everything a
  // deploy does but the transfer. The difference is what the change cost on the wire.
  const noop = await o(ours('deploy', '--commit', v2, '--json'));
  await expectServing(pair.ours, 'version 2');
  const ours3 = await o(ours('rollback', '--json'));
  await expectServing(pair.ours, 'version 1');
  const status = await o(ours('status', '--json'));
  const bareSsh = await o(() => run(...inCgroup([...sshArgs(pair.ours), 'true'])));
  if (pair.naive === pair.ours) await clearServer(pair.ours);

  log(`[${pair.id}] docker save | ssh docker load on ${pair.naive} (rollback: no history, the old image is sent again)`);
  const n = at(pair.naive);
  const naive1 = await n(saveLoad(pair, `${APP}:${v1}`));
  await expectServing(pair.naive, 'version 1');
  const naive2 = await n(saveLoad(pair, `${APP}:${v2}`));
  await expectServing(pair.naive, 'version 2');
  const naive3 = await n(saveLoad(pair, `${APP}:${v1}`));
  await expectServing(pair.naive, 'version 1');
  if (pair.registry === pair.naive) await clearServer(pair.naive);

  log(`[${pair.id}] local registry (Kamal 2.8+) → ${pair.registry}: push, ssh -R + pull + run`);
  const dir = join(WORK, `registry-${pair.id}`);
  mkdirSync(dir, { recursive: true });
  const registry = new LocalRegistry(pair, dir);
  const g = at(pair.registry);
  try {
    await registry.start();
    const reg1 = await g(registry.deploy(v1, true));
    await expectServing(pair.registry, 'version 1');
    const reg2 = await g(registry.deploy(v2, true));
    const registryNoop = await g(registry.deploy(v2, true));
    await expectServing(pair.registry, 'version 2');
    const reg3 = await g(registry.deploy(v1, false));
    await expectServing(pair.registry, 'version 1');
    return {
      pair, plan1, plan2, ours: [ours1, ours2, ours3], noop, status, bareSsh, naive: [naive1, naive2, naive3],
      registry: [reg1, reg2, reg3], registryNoop, pushMs: registry.pushMs, stored: registry.stored, load: [load, os.loadavg()[0]],
    };
  } finally {
    await registry.stop();
  }
}

const resultsFile = (pair: Pair) => `results${pair.id === '20.10' ? '' : `-${pair.id}`}${LINK ? `-${LINK}` : ''}.md`;

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "node scripts/build.mjs" first`);
  await ensureTools();
  await setUpCounters(servers);
  const commits = await makeRepo(REPO, [...new Set(pairs.map((p) => p.ours))]);
  log(`repository ${REPO}: version 1 ${commits.v1.slice(0, 12)}, version 2 ${commits.v2.slice(0, 12)}`);
  const git = async (...args: string[]) => (await run('git', args, { cwd: PROJECT, allowFail: true })).stdout;
  const dirty = (await git('status', '--porcelain', '--', 'src')).split('\n').filter(Boolean).map((l) => l.slice(3));
  const head = (await git('rev-parse', '--short', 'HEAD')).trim() || '(not a git checkout)';
  const measured = CLI_FROM_FLAG
    ? `the CLI ${CLI} (built ${statSync(CLI).mtime.toISOString()})`
    : `${head}${dirty.length ? ` + uncommitted changes in ${dirty.join(', ')}` : ''} (dist/cli.js built ${statSync(CLI).mtime.toISOString()})`;
  for (const pair of pairs) {
    const links = [...new Set([pair.ours, pair.naive, pair.registry])];
    await shapeLinks(links, true); // only this pair's servers, and only while it runs: others test there too
    const result = await runPair(pair, commits).finally(() => shapeLinks(links, false));
    const text = report(result);
    console.log(`\n[${pair.id}]\n${text}`);
    const title = `Benchmark results, pair ${pair.id} (${pair.workstation.name} → ${links.join(', ')}), ${LINK ? `links shaped to ${LINK}` : 'unshaped links (veth speed)'}`;
    const command = `\`node --import tsx scripts/bench.ts${PAIR === 'all' ? '' : ` --pair ${PAIR}`}${LINK ? ` --link ${LINK}` : ''}${CLI_FROM_FLAG ? ` --cli ${CLI}` : ''}\``;
    writeFileSync(join(PROJECT, 'bench', resultsFile(pair)), `# ${title}\n\nDate: ${new Date().toISOString()}\n\nMachine: ${await machine(result)}\n\n` +
      `Command: ${command} (\`npm run bench\` runs it without, then with \`--link 100mbit\`), measuring ${measured}\n\n${text}`);
    for (const s of links) await clearServer(s);
  }
}

async function cleanUp(): Promise<void> {
  await shapeLinks(servers, false);
  for (const p of pairs) await removeBench(p.workstation.dockerHost, true).catch((e) => console.error(`cleanup ${p.workstation.name}: ${(e as Error).message}`));
  for (const s of servers) await clearServer(s).catch((e) => console.error(`cleanup ${s}: ${(e as Error).message}`));
  await removeCounters();
  await run('rmdir', [CGROUP], { allowFail: true }); // empty once our processes have ended
  rmSync(WORK, { recursive: true, force: true });
}

let cleaned = false;
const finish = async (code: number) => {
  if (!cleaned) {
    cleaned = true;
    await cleanUp();
  }
  process.exit(code);
};
process.on('SIGINT', () => void finish(130));
process.on('uncaughtException', (e) => {
  console.error(`bench failed: ${e.stack ?? e.message}`);
  void finish(1);
});
main().then(() => finish(0), (e: Error) => {
  console.error(`bench failed: ${e.stack ?? e.message}`);
  return finish(1);
});
