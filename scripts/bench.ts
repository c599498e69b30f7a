/**
 * npm run bench: our deploy (on bm1) against the pipeline a user would otherwise script (on bm2):
 * `docker save IMAGE | ssh SERVER docker load` + `ssh SERVER docker run …`, for a first deploy, a
 * redeploy after a one-line change and a rollback. What is measured and how: bench/README.md.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = '/srv/baremetal-test';
const PROJECT = resolve(__dirname, '..');
const APP = `bench-${process.pid}`;
const NAIVE_NAME = `${APP}-naive`;
const PORT = 18080;
const BASE_BYTES = 200 * 1024 * 1024;
const CACHE = join(ROOT, 'bench-cache');
const CGROUP = `/sys/fs/cgroup/unified/${APP}`; // cgroup v2: whatever we start runs in it
const NFT = `bench_${process.pid}`;
const OURS = 'bm1';
const NAIVE = 'bm2';
const WORK = join(os.tmpdir(), `${APP}-work`);
const REPO = join(WORK, 'repo');

interface Env { dockerHost: string; sshConfig: string; servers: { name: string; host: string; dockerSocketOnHost: string | null }[] }
interface Run { code: number | null; stdout: string; stderr: string }
/** One measured command or pipeline, all counted outside the tool. */
interface Sample { bytes: number; vethBytes: number; ms: number; handshakes: number; acceptedAll: number; json?: Record<string, unknown> }

// ---------- processes ----------

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; allowFail?: boolean } = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin?.on('error', () => undefined).end(opts.input);
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0 && !opts.allowFail) fail(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${stderr.slice(-2000)}`));
      else done({ code, stdout, stderr });
    });
  });
}

/** argv, started inside our cgroup, so the kernel can tell its sockets from other users' traffic. */
const inCgroup = (argv: string[]): [string, string[]] => ['sh', ['-c', `echo $$ > ${CGROUP}/cgroup.procs && exec "$@"`, 'sh', ...argv]];

const env: Env = JSON.parse(readFileSync(join(ROOT, 'env.json'), 'utf8'));
const engine = (server: string) => ['-H', `unix://${env.servers.find((s) => s.name === server)!.dockerSocketOnHost}`];
const docker = (server: string | 'dev', ...args: string[]) => run('docker', [...(server === 'dev' ? ['-H', env.dockerHost] : engine(server)), ...args]);
const ssh = (server: string, remote: string) => `ssh -F ${env.sshConfig} ${server} '${remote}'`;
const cliEnv = { DOCKER_HOST: env.dockerHost, BAREMETAL_SSH_CONFIG: env.sshConfig, SSH_AUTH_SOCK: '', BAREMETAL_CACHE_DIR: join(WORK, 'layers') };

// ---------- meters: veth counters, nftables counters of our cgroup, sshd's log ----------

/** Counters (bytes + packets, each way) and the source ports of our SSH connects, per server. */
function setUpCounters(): Promise<Run> {
  mkdirSync(CGROUP, { recursive: true });
  const cg = `socket cgroupv2 level 1 "unified/${APP}"`;
  const rules = [OURS, NAIVE].map((s) => `
    add rule inet ${NFT} out oifname "${s}-h" ${cg} counter comment "${s}"
    add rule inet ${NFT} out oifname "${s}-h" ${cg} tcp dport 22 tcp flags & (syn | ack) == syn add @ports { tcp sport }
    add rule inet ${NFT} in iifname "${s}-h" ${cg} counter comment "${s}"`);
  return run('nft', ['-f', '-'], {
    input: `add table inet ${NFT}
    add set inet ${NFT} ports { type inet_service; flags dynamic; }
    add chain inet ${NFT} out { type filter hook output priority 0; policy accept; }
    add chain inet ${NFT} in { type filter hook input priority 0; policy accept; }
    ${rules.join('')}\n`,
  });
}

interface Snapshot { veth: number; ours: number; logLength: number }
type NftItem = { rule?: { comment?: string; expr: { counter?: { bytes: number; packets: number } }[] }; set?: { name: string; elem?: number[] } };

async function nftState(): Promise<NftItem[]> {
  return (JSON.parse((await run('nft', ['-j', 'list', 'table', 'inet', NFT])).stdout) as { nftables: NftItem[] }).nftables;
}

async function snapshot(server: string): Promise<Snapshot> {
  const stat = (f: string) => Number(readFileSync(`/sys/class/net/${server}-h/statistics/${f}`, 'utf8'));
  let ours = 0;
  for (const item of await nftState()) {
    if (item.rule?.comment !== server) continue;
    for (const e of item.rule.expr) if (e.counter) ours += e.counter.bytes + 14 * e.counter.packets; // + Ethernet header, as the veth counts
  }
  return { veth: stat('rx_bytes') + stat('tx_bytes'), ours, logLength: statSync(join(ROOT, server, 'sshd.log')).size };
}

/** New `Accepted publickey` lines in the server's sshd log: all, and those from our sockets. */
async function handshakesSince(server: string, logLength: number): Promise<{ ours: number; all: number }> {
  const ports = new Set((await nftState()).find((i) => i.set?.name === 'ports')?.set?.elem ?? []);
  const lines = readFileSync(join(ROOT, server, 'sshd.log')).subarray(logLength).toString().split('\n');
  const accepted = lines.map((l) => /Accepted publickey for \S+ from \S+ port (\d+)/.exec(l)).filter((m) => m !== null);
  return { ours: accepted.filter((m) => ports.has(Number(m[1]))).length, all: accepted.length };
}

/** Runs fn and measures it from outside: wire bytes, wall time, SSH handshakes. */
async function measure(server: string, fn: () => Promise<Run | undefined>): Promise<Sample> {
  const before = await snapshot(server);
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 300)); // the last FIN/ACKs
  const after = await snapshot(server);
  const hs = await handshakesSince(server, before.logLength);
  let json: Record<string, unknown> | undefined;
  try {
    json = result ? JSON.parse(result.stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { bytes: after.ours - before.ours, vethBytes: after.veth - before.veth, ms, handshakes: hs.ours, acceptedAll: hs.all, json };
}

// ---------- the workload: a git repository with a 200 MB base layer, deps and a small app ----------

function baseBin(): string {
  const file = join(CACHE, 'base.bin');
  if (existsSync(file) && statSync(file).size === BASE_BYTES) return file;
  console.log(`generating ${BASE_BYTES} random bytes into ${file} (once)`);
  mkdirSync(CACHE, { recursive: true });
  const fd = openSync(`${file}.tmp`, 'w');
  for (let n = 0; n < BASE_BYTES; n += 1 << 20) writeSync(fd, randomBytes(1 << 20));
  closeSync(fd);
  renameSync(`${file}.tmp`, file);
  return file;
}

const page = (version: string) => `<!doctype html>\n<html><head><title>bench</title><link rel="stylesheet" href="style.css"></head>\n<body>\n<h1>Bench app</h1>\n<p id="version">${version}</p>\n<script src="app.js"></script>\n</body></html>\n`;

/** A plausible source module: code-like text that compresses the way source does. */
function sourceFile(i: number): string {
  const lines: string[] = [`// module ${i}`];
  for (let f = 0; f < 60; f += 1) {
    const id = randomBytes(4).toString('hex');
    lines.push(`export function handle_${id}(request, options = {}) {`, `  const value = options.value ?? ${f * i};`, `  if (!request.ok) throw new Error('request ${id} failed: ' + request.status);`, `  return { id: '${id}', value, at: Date.now() };`, '}', '');
  }
  return lines.join('\n');
}

async function makeRepo(): Promise<(message: string) => Promise<string>> {
  const write = (p: string, content: string | Buffer) => {
    mkdirSync(resolve(REPO, p, '..'), { recursive: true });
    writeFileSync(join(REPO, p), content);
  };
  mkdirSync(REPO, { recursive: true });
  copyFileSync(baseBin(), join(REPO, 'base.bin'));
  for (let i = 0; i < 4; i += 1) write(`deps/lib${i}.js`, `/* dependency ${i} */\n${randomBytes(768 * 1024).toString('base64').replace(/(.{100})/g, '$1\n')}`);
  write('app/index.html', page('version 1'));
  write('app/app.js', `document.title += ' ' + document.getElementById('version').textContent;\n`);
  write('app/style.css', 'body { font-family: sans-serif; margin: 2em; }\n');
  // The app's own source, as an app has it: a few dozen modules of ordinary text (~250 KB).
  for (let i = 0; i < 40; i += 1) write(`app/src/module${i}.js`, sourceFile(i));
  write('start.sh', '#!/bin/sh\nbusybox httpd -f -p 8080 -h /app &\npid=$!\ntrap \'kill "$pid"; exit 0\' TERM INT\nwait "$pid"\n');
  write('Dockerfile', 'FROM local/busybox:1\nCOPY base.bin /opt/base.bin\nCOPY deps/ /opt/deps/\nCOPY start.sh /start.sh\nCOPY app/ /app/\nEXPOSE 8080\nCMD ["/bin/sh", "/start.sh"]\n');
  write('baremetal.json', JSON.stringify({ app: APP, servers: { [OURS]: { host: OURS } }, run: { ports: [`${PORT}:8080`], healthcheck: { port: 8080, path: '/', timeoutSeconds: 30 } } }, null, 2));
  const git = (...args: string[]) => run('git', args, { cwd: REPO });
  await git('init', '-q', '-b', 'main');
  for (const [k, v] of [['user.email', 'bench@example.test'], ['user.name', 'Bench'], ['core.compression', '0']]) await git('config', k, v);
  return async (message) => {
    await git('add', '-A');
    await git('commit', '-q', '-m', message);
    return (await git('rev-parse', 'HEAD')).stdout.trim();
  };
}

// ---------- the two sides ----------

const cli = (...args: string[]) => () => run(...inCgroup([process.execPath, join(PROJECT, 'dist', 'cli.js'), ...args, '--cwd', REPO]), { env: cliEnv });

/** The naive script: send the whole image, then replace the container. No history, no health check. */
const naive = (image: string) => async () => {
  const pipe = `set -o pipefail; docker save ${image} | ${ssh(NAIVE, 'docker load')}`;
  await run(...inCgroup(['bash', '-c', pipe]), { env: { DOCKER_HOST: env.dockerHost } });
  const start = `docker rm -f ${NAIVE_NAME} >/dev/null 2>&1; docker run -d --name ${NAIVE_NAME} --label dev.baremetal.app=${APP} -p ${PORT}:8080 ${image}`;
  return run(...inCgroup(['bash', '-c', ssh(NAIVE, start)]));
};

/** Checks (outside any measured window) that a server now serves the expected version. */
async function expectServing(server: string, version: string): Promise<void> {
  const host = env.servers.find((s) => s.name === server)!.host;
  const get = () => new Promise<string>((ok, ko) => http.get({ host, port: PORT, path: '/', timeout: 3000 }, (res) => {
    let body = '';
    res.on('data', (d: Buffer) => (body += d.toString())).on('end', () => ok(body));
  }).on('error', ko).on('timeout', () => ko(new Error('timeout'))));
  for (let i = 0; i < 50; i += 1) {
    if ((await get().catch(() => '')).includes(`>${version}<`)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${server}:${PORT} does not serve "${version}"`);
}

// ---------- clean slate and clean up: only bench- containers and images ----------

async function removeBench(server: string | 'dev', onlyThisRun: boolean): Promise<void> {
  const prefix = onlyThisRun ? APP : 'bench-';
  const lines = async (...args: string[]) => (await docker(server, ...args)).stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
  const containers = await lines('ps', '-a', '--format', '{{.ID}}\t{{.Label "dev.baremetal.app"}}\t{{.Names}}');
  const ids = containers.filter(([, label, name]) => label.startsWith(prefix) || name.startsWith(prefix)).map(([id]) => id);
  if (ids.length) await docker(server, 'rm', '-f', ...ids);
  const refs = (await lines('images', '--format', '{{.Repository}}:{{.Tag}}')).map(([ref]) => ref).filter((ref) => ref.startsWith(onlyThisRun ? `${APP}:` : prefix));
  const labelled = onlyThisRun ? (await lines('images', '-q', '--filter', `label=dev.baremetal.app=${APP}`)).map(([id]) => id) : [];
  const all = [...new Set([...refs, ...labelled])];
  if (all.length) await run('docker', [...(server === 'dev' ? ['-H', env.dockerHost] : engine(server)), 'rmi', '-f', ...all], { allowFail: true });
}

async function cleanUp(): Promise<void> {
  await shapeLinks(false);
  for (const s of [OURS, NAIVE, 'dev'] as const) await removeBench(s, true).catch((e) => console.error(`cleanup ${s}: ${(e as Error).message}`));
  await run('bash', [join(PROJECT, 'scripts', 'test-servers.sh'), 'exec', OURS, '--', 'rm', '-rf', `/root/.baremetal/${APP}`], { allowFail: true });
  await run('nft', ['delete', 'table', 'inet', NFT], { allowFail: true });
  await run('rmdir', [CGROUP], { allowFail: true }); // empty once our processes have ended
  rmSync(WORK, { recursive: true, force: true });
}

// ---------- report ----------

const mb = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const ratio = (a: number, b: number) => (a / b < 0.01 ? (a / b).toExponential(1) : (a / b).toFixed(2));

function table(rows: [string, Sample, Sample][]): string {
  const head = '| step | ours bytes | naive bytes | ratio ours/naive | ours time | naive time | ratio | ours handshakes | naive handshakes |';
  const body = rows.map(([step, o, n]) => `| ${step} | ${mb(o.bytes)} | ${mb(n.bytes)} | ${ratio(o.bytes, n.bytes)} | ${sec(o.ms)} | ${sec(n.ms)} | ${ratio(o.ms, n.ms)} | ${o.handshakes} | ${n.handshakes} |`);
  return [head, '|---|---:|---:|---:|---:|---:|---:|---:|---:|', ...body].join('\n');
}

async function machine(): Promise<string> {
  const version = async (s: string | 'dev') => (await docker(s, 'version', '--format', '{{.Server.Version}}')).stdout.trim();
  const sshVersion = (await run('ssh', ['-V'])).stderr.trim();
  return `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, kernel ${os.release()}; ` +
    `Docker Engine ${await version('dev')} (dev), ${await version(OURS)} (${OURS}), ${await version(NAIVE)} (${NAIVE}); ${sshVersion}; Node ${process.version}`;
}

// ---------- the run ----------

/**
 * `--link 100mbit`: shape both test servers' links (tc tbf on the host side, both directions
 * through the server's veth) to a real uplink's rate, so times are a WAN's, not a veth's.
 */
const LINK = (() => {
  const i = process.argv.indexOf('--link');
  const rate = i > 0 ? process.argv[i + 1] : undefined;
  if (rate !== undefined && !/^\d+(k|m|g)bit$/.test(rate)) throw new Error(`--link takes a rate like 100mbit, not "${rate}"`);
  return rate;
})();

async function shapeLinks(on: boolean): Promise<void> {
  if (!LINK) return;
  for (const s of [OURS, NAIVE]) {
    if (on) {
      await run('tc', ['qdisc', 'replace', 'dev', `${s}-h`, 'root', 'tbf', 'rate', LINK, 'burst', '256kbit', 'latency', '100ms']);
      await run('ip', ['netns', 'exec', s, 'tc', 'qdisc', 'replace', 'dev', `${s}-s`, 'root', 'tbf', 'rate', LINK, 'burst', '256kbit', 'latency', '100ms']);
    } else {
      await run('tc', ['qdisc', 'del', 'dev', `${s}-h`, 'root'], { allowFail: true });
      await run('ip', ['netns', 'exec', s, 'tc', 'qdisc', 'del', 'dev', `${s}-s`, 'root'], { allowFail: true });
    }
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(PROJECT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run "node scripts/build.mjs" first');
  await removeBench('dev', false); // what an interrupted earlier run left
  for (const s of [OURS, NAIVE]) {
    await removeBench(s, false); // bench images of earlier runs too: the first deploy must send everything
    const taken = (await docker(s, 'ps', '--filter', `publish=${PORT}`, '--format', '{{.Names}}')).stdout.trim();
    if (taken) throw new Error(`port ${PORT} on ${s} is taken by ${taken} (someone else's container): try again later`);
  }
  await setUpCounters();
  await shapeLinks(true);
  const commit = await makeRepo();
  const log = (m: string) => console.log(`[bench] ${m}`);
  const old = await commit('version 1');
  log(`repository ${REPO}: ${old.slice(0, 12)}; building and compressing (not part of either side's time)`);
  const plan1 = await measure(OURS, cli('deploy', '--dry-run', '--json'));
  const layers1 = plan1.json!.layers as { size: number; present: boolean }[];

  log('1. first deploy');
  const ours1 = await measure(OURS, cli('deploy', '--json'));
  const naive1 = await measure(NAIVE, naive(`${APP}:${old}`));
  await expectServing(OURS, 'version 1');
  await expectServing(NAIVE, 'version 1');

  writeFileSync(join(REPO, 'app/index.html'), page('version 2'));
  const next = await commit('version 2: one-line change');
  const plan2 = await measure(OURS, cli('deploy', '--dry-run', '--json'));
  const missing = (plan2.json!.layers as { size: number; present: boolean }[]).filter((l) => !l.present);
  const changed = plan2.json!.missingBytes as number;
  log(`2. redeploy after a one-line change (dry-run: ${missing.length} layer(s) missing, ${changed} bytes compressed)`);
  const ours2 = await measure(OURS, cli('deploy', '--json'));
  // The same deploy once more, with nothing to send (the server has the image): everything a
  // deploy does but the transfer. The difference is what the change cost on the wire.
  const noop = await measure(OURS, cli('deploy', '--commit', next, '--json'));
  const imageWire = ours2.bytes - noop.bytes;
  const naive2 = await measure(NAIVE, naive(`${APP}:${next}`));
  await expectServing(OURS, 'version 2');
  await expectServing(NAIVE, 'version 2');

  log('3. rollback to version 1 (naive: no history, so the old image is sent again)');
  const ours3 = await measure(OURS, cli('rollback', '--json'));
  const naive3 = await measure(NAIVE, naive(`${APP}:${old}`));
  await expectServing(OURS, 'version 1');
  await expectServing(NAIVE, 'version 1');
  const status = await measure(OURS, cli('status', '--json'));
  const bareSsh = await measure(OURS, () => run(...inCgroup(['bash', '-c', ssh(OURS, 'true')])));

  const rows: [string, Sample, Sample][] = [['1. first deploy', ours1, naive1], ['2. redeploy (one-line change)', ours2, naive2], ['3. rollback (naive: re-send old image)', ours3, naive3]];
  const sent = (s: Sample) => s.json!.bytesSent as number;
  const verdict = (ok: boolean, text: string) => `- ${ok ? 'PASS' : 'MISS'}: ${text}`;
  const commands = [plan1, ours1, plan2, ours2, noop, ours3, status];
  const targets = [
    verdict(imageWire <= 1.1 * changed, `redeploy sends ≤ 1.1× the changed layer: ${imageWire} B on the wire for the image (the redeploy's ${ours2.bytes} B minus ${noop.bytes} B of the same deploy with nothing to send) vs ${changed} B compressed = ${(imageWire / changed).toFixed(2)}×; ` +
      `the tool's own count: ${sent(ours2)} B = ${(sent(ours2) / changed).toFixed(2)}×; a whole deploy's fixed cost (SSH, Docker API, lock, history, health check) is the ${noop.bytes} B; \`baremetal status\` alone ${status.bytes} B, an empty \`ssh ${OURS} true\` ${bareSsh.bytes} B`),
    verdict(naive2.bytes >= 50 * ours2.bytes, `redeploy ≥ 50× fewer bytes than naive: ${mb(naive2.bytes)} / ${mb(ours2.bytes)} = ${(naive2.bytes / ours2.bytes).toFixed(0)}×`),
    verdict(sent(ours3) === 0, `rollback sends 0 image bytes: bytesSent ${sent(ours3)} (wire: ${ours3.bytes} B of control traffic)`),
    verdict(ours3.ms <= 0.2 * ours1.ms, `rollback ≤ 0.2× our first deploy's time: ${sec(ours3.ms)} / ${sec(ours1.ms)} = ${(ours3.ms / ours1.ms).toFixed(2)}×`),
    verdict(commands.every((c) => c.handshakes === 1), `one SSH handshake per server per command: ${commands.map((c) => c.handshakes).join(', ')} (deploy --dry-run, deploy, deploy --dry-run, deploy, deploy again, rollback, status)`),
  ];
  const veth = [...rows.flatMap(([step, o, n]) => [[`${step}, ours`, o], [`${step}, naive`, n]] as [string, Sample][]), ['status (ours)', status] as [string, Sample]];
  const notes = [
    `Image: ${APP}, ${layers1.length} layers, ${mb((plan1.json!.totalBytes as number))} compressed; before the first deploy ${OURS} already had ${layers1.filter((l) => l.present).length} of them ` +
      `(${mb(layers1.filter((l) => l.present).reduce((n, l) => n + l.size, 0))}: the local/busybox:1 base, shared with other apps on the server).`,
    `Transfer path: ${ours1.json!.transport} (first), ${ours2.json!.transport} (redeploy). Our side's time includes the health check; the naive script has none (\`docker run -d\` returns at once).`,
    `Build + gzip of the layers ran before each deploy via \`deploy --dry-run\` (${sec(plan1.ms)} for version 1, ${sec(plan2.ms)} for version 2) and is in neither side's time; the naive script would need a \`docker build\` too.`,
    `Our phases (ms, the CLI's own durationMs / phasesMs; the wall time above adds Node's start and the SSH connect): ${[ours1, ours2, ours3]
      .map((o, i) => `step ${i + 1}: ${o.json!.durationMs} = ${JSON.stringify(o.json!.phasesMs).replace(/"/g, '')}`).join('; ')}.`,
    'Rollback, naive: a script without deploy history cannot start a kept image by commit, so it sends the old image again (`docker save OLD | ssh docker load`) and re-runs it.',
    'Bytes = Ethernet frames of our own processes\' connections on the host side of the server\'s veth (nftables counters matched on our cgroup, + 14 B per packet); ' +
      'raw veth counter deltas (rx + tx, everything on the link, including other users of the test servers): ' +
      veth.map(([what, s]) => `${what} ${s.vethBytes}${s.vethBytes === s.bytes ? '' : ` (ours ${s.bytes})`}`).join('; ') + '.',
    `Handshakes = new \`Accepted publickey\` lines in the server's sshd.log whose client port is one of our connections' (all new lines, others' included: ${commands.map((c) => c.acceptedAll).join(', ')} ours; ${[naive1, naive2, naive3].map((c) => c.acceptedAll).join(', ')} naive).`,
  ];
  const report = `${table(rows)}\n\nTargets:\n${targets.join('\n')}\n\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}\n`;
  console.log(`\n${report}`);
  mkdirSync(join(PROJECT, 'bench'), { recursive: true });
  const title = LINK ? `Benchmark results, links shaped to ${LINK}` : 'Benchmark results, unshaped links (veth speed)';
  writeFileSync(join(PROJECT, 'bench', LINK ? `results-${LINK}.md` : 'results.md'), `# ${title}\n\nDate: ${new Date().toISOString()}\n\nMachine: ${await machine()}\n\nCommand: \`npm run bench\` (\`node --import tsx scripts/bench.ts${LINK ? ` --link ${LINK}` : ''}\`), at ${(await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT, allowFail: true })).stdout.trim() || '(not a git checkout)'} (dist/cli.js built ${statSync(join(PROJECT, 'dist', 'cli.js')).mtime.toISOString()})\n\n${report}`);
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
