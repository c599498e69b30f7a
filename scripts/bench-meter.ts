/**
 * The bench's processes and meters: everything it starts runs in a cgroup v2 of its own, and
 * nftables counts that cgroup's packets on each server's link; SSH handshakes come from the
 * servers' sshd logs. What is measured and why: bench/README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = '/srv/baremetal-test';
export const APP = `bench-${process.pid}`;
export const CGROUP = `/sys/fs/cgroup/unified/${APP}`; // cgroup v2: whatever we start runs in it
const NFT = `bench_${process.pid}`;

export interface Env {
  dockerHost: string;
  sshConfig: string;
  dockerConfig?: string;
  workstations: { name: string; dockerHost: string; engine: string; store: string }[];
  servers: { name: string; host: string; dockerSocketOnHost: string | null; engine: string; store: string }[];
}
export interface Run { code: number | null; stdout: string; stderr: string }
/** One measured command or pipeline, all counted outside the tool. */
export interface Sample { bytes: number; vethBytes: number; ms: number; handshakes: number; acceptedAll: number; json?: Record<string, unknown> }

export const env: Env = JSON.parse(readFileSync(join(ROOT, 'env.json'), 'utf8'));

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; allowFail?: boolean } = {}): Promise<Run> {
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

/** A long-running process (registry, relay, tunnel); resolves once `ready` matches its output. */
export function start(cmd: string, args: string[], ready: RegExp, what: string): Promise<ChildProcess> {
  return new Promise((ok, ko) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => ko(new Error(`${what} did not start in 20 s:\n${out.slice(-2000)}`)), 20_000);
    const look = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        ok(child);
      }
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.on('error', ko);
    child.on('exit', (code) => {
      clearTimeout(timer);
      ko(new Error(`${what} exited ${code}:\n${out.slice(-2000)}`));
    });
  });
}

/** Ends a process started with start() (by its own pid) and waits for it. */
export function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.removeAllListeners('exit');
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

/** argv, started inside our cgroup, so the kernel can tell its sockets from other users' traffic. */
export const inCgroup = (argv: string[]): [string, string[]] => ['sh', ['-c', `echo $$ > ${CGROUP}/cgroup.procs && exec "$@"`, 'sh', ...argv]];

export const serverSocket = (server: string) => `unix://${env.servers.find((s) => s.name === server)!.dockerSocketOnHost}`;
/** `docker` against an engine given by its DOCKER_HOST. */
export const docker = (host: string, ...args: string[]) => run('docker', ['-H', host, ...args]);
export const sshArgs = (server: string, ...rest: string[]) => ['ssh', '-F', env.sshConfig, ...rest, server];

// ---------- meters: veth counters, nftables counters of our cgroup, sshd's log ----------

/** Counters (bytes + packets, each way) and the source ports of our SSH connects, per server. */
export function setUpCounters(servers: string[]): Promise<Run> {
  mkdirSync(CGROUP, { recursive: true });
  const cg = `socket cgroupv2 level 1 "unified/${APP}"`;
  const rules = servers.map((s) => `
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

export const removeCounters = () => run('nft', ['delete', 'table', 'inet', NFT], { allowFail: true });

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
export async function measure(server: string, fn: () => Promise<Run | undefined>): Promise<Sample> {
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
