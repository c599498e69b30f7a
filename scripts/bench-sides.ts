/**
 * The three sides of the bench, each a way to get the same image onto a server:
 * - ours: `baremetal deploy` / `rollback`;
 * - save|load: `docker save IMAGE | ssh SERVER docker load`, then `ssh SERVER docker run …`;
 * - registry: Kamal 2.8+'s local registry: a registry on the laptop's 127.0.0.1:<port>, `docker
 *   push` into it from the workstation engine, then on the server `docker pull 127.0.0.1:<port>/…`
 *   through an SSH remote forward (its own SSH connection, as Kamal opens one per host for the
 *   tunnel) and `docker run` over another SSH connection (Kamal's commands connection).
 * Plus the clean slate / clean up of bench images and containers.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { APP, docker, env, inCgroup, run, serverSocket, sshArgs, start, stop, type Run } from './bench-meter';
import { PORT } from './bench-workload';

export const PROJECT = resolve(__dirname, '..');

/** A workstation engine (where images are built) and the servers its sides deploy to. */
export interface Pair {
  id: '20.10' | '26c';
  workstation: { name: string; dockerHost: string; netns: string | null };
  ours: string;
  naive: string;
  registry: string;
}

export const PAIRS: Record<Pair['id'], Pair> = {
  // dev runs in the host's namespaces; ours and the baselines on two identical 20.10 servers.
  '20.10': { id: '20.10', workstation: { name: 'dev', dockerHost: ws('dev'), netns: null }, ours: 'bm1', naive: 'bm2', registry: 'bm2' },
  // Only one Docker 26 containerd-store server: the three sides take turns on it.
  '26c': { id: '26c', workstation: { name: 'ws26c', dockerHost: ws('ws26c'), netns: 'ws26c' }, ours: 'bm26c', naive: 'bm26c', registry: 'bm26c' },
};
function ws(name: string): string {
  return env.workstations.find((w) => w.name === name)!.dockerHost;
}

export const dockerConfig = env.dockerConfig ?? join(process.env.HOME ?? '/root', '.docker');

// ---------- ours ----------

export const cli = (cliJs: string, pair: Pair, repo: string, cacheDir: string) => (...args: string[]) => () =>
  run(...inCgroup([process.execPath, cliJs, ...args, '--server', pair.ours, '--cwd', repo]), {
    env: { DOCKER_HOST: pair.workstation.dockerHost, DOCKER_CONFIG: dockerConfig, BAREMETAL_SSH_CONFIG: env.sshConfig, SSH_AUTH_SOCK: '', BAREMETAL_CACHE_DIR: cacheDir },
  });

// ---------- docker save | ssh docker load ----------

const runScript = (name: string, image: string) =>
  `docker rm -f ${name} >/dev/null 2>&1; docker run -d --name ${name} --label dev.baremetal.app=${APP} -p ${PORT}:8080 ${image}`;

/** The naive script: send the whole image, then replace the container. No history, no health check. */
export const saveLoad = (pair: Pair, image: string) => async () => {
  const ssh = (remote: string) => [...sshArgs(pair.naive), remote].map((a) => `'${a}'`).join(' ');
  const pipe = `set -o pipefail; docker save ${image} | ${ssh('docker load')}`;
  await run(...inCgroup(['bash', '-c', pipe]), { env: { DOCKER_HOST: pair.workstation.dockerHost } });
  return run(...inCgroup([...sshArgs(pair.naive), runScript(`${APP}-naive`, image)]));
};

// ---------- Kamal's local registry ----------

/** Copies bytes between the workstation's netns 127.0.0.1:<port> and a unix socket on the host. */
const RELAY = `const net = require('net'); const [port, sock] = process.argv.slice(1);
net.createServer((c) => { const u = net.connect(sock); c.pipe(u).pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); })
  .listen(Number(port), '127.0.0.1', () => console.log('relay ready'));`;

/**
 * Debian's docker-registry (distribution v2) as a process on the laptop's 127.0.0.1:<port>, its
 * storage in `dir`. A workstation engine in its own network namespace (ws26c) gets the same
 * 127.0.0.1:<port> through a relay (as Docker Desktop forwards its VM's published ports).
 */
export class LocalRegistry {
  port = 0;
  /** Per deploy: the push's time, and how much the registry's storage grew (what the push stored). */
  pushMs: number[] = [];
  stored: number[] = [];
  private registry?: ChildProcess;
  private relay?: ChildProcess;
  private hostSide?: net.Server;

  constructor(private readonly pair: Pair, private readonly dir: string) {}

  async start(): Promise<void> {
    this.port = await freePort();
    writeFileSync(join(this.dir, 'config.yml'), [
      'version: 0.1',
      'log: { level: info, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${join(this.dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${this.port}" }`,
      '',
    ].join('\n'));
    this.registry = await start('docker-registry', ['serve', join(this.dir, 'config.yml')], /listening on/, 'docker-registry');
    const ns = this.pair.workstation.netns;
    if (!ns) return;
    const sock = join(this.dir, 'relay.sock');
    rmSync(sock, { force: true });
    this.hostSide = net.createServer((c) => {
      const r = net.connect(this.port, '127.0.0.1');
      c.pipe(r).pipe(c);
      c.on('error', () => r.destroy());
      r.on('error', () => c.destroy());
    });
    await new Promise<void>((ok) => this.hostSide!.listen(sock, ok));
    this.relay = await start('nsenter', [`--net=/run/netns/${ns}`, process.execPath, '-e', RELAY, String(this.port), sock], /relay ready/, `relay in ${ns}`);
  }

  async stop(): Promise<void> {
    await stop(this.relay);
    this.hostSide?.close();
    await stop(this.registry);
  }

  private async storageBytes(): Promise<number> {
    return Number((await run('du', ['-sb', join(this.dir, 'data')], { allowFail: true })).stdout.split('\t')[0]) || 0;
  }

  ref(commit: string): string {
    return `127.0.0.1:${this.port}/${APP}:${commit}`;
  }

  /**
   * One deploy: `docker push` into the local registry (unless it has the tag: a rollback), then
   * the tunnel (`ssh -R port:127.0.0.1:port`, closed once the pull is done, as Kamal does) and,
   * over a second connection (Kamal's commands connection), `docker pull` + `docker run`.
   */
  deploy(commit: string, push: boolean) {
    return async (): Promise<Run> => {
      const host = this.pair.workstation.dockerHost;
      const before = await this.storageBytes(); // a few ms (du of a handful of blobs)
      const t0 = performance.now();
      if (push) {
        await docker(host, 'tag', `${APP}:${commit}`, this.ref(commit));
        await docker(host, 'push', '--quiet', this.ref(commit));
      }
      this.pushMs.push(performance.now() - t0);
      this.stored.push((await this.storageBytes()) - before);
      const forward = `${this.port}:127.0.0.1:${this.port}`;
      const tunnel = await start(...inCgroup([...sshArgs(this.pair.registry, '-o', 'ExitOnForwardFailure=yes', '-R', forward), 'echo tunnel ready; exec cat >/dev/null']), /tunnel ready/, 'ssh -R tunnel');
      try {
        const script = `docker pull --quiet ${this.ref(commit)} >/dev/null && { ${runScript(`${APP}-registry`, this.ref(commit))}; }`;
        return await run(...inCgroup([...sshArgs(this.pair.registry), script]));
      } finally {
        await stop(tunnel);
      }
    };
  }
}

function freePort(): Promise<number> {
  return new Promise((ok, ko) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => ok(port));
    }).on('error', ko);
  });
}

// ---------- checks, clean slate and clean up ----------

/** Checks (outside any measured window) that a server now serves the expected version. */
export async function expectServing(server: string, version: string): Promise<void> {
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

/**
 * Removes bench containers and images from an engine (a DOCKER_HOST): this run's only, or every
 * bench- one (what an interrupted earlier run left). Registry refs (127.0.0.1:<port>/bench-…) too.
 */
export async function removeBench(host: string, onlyThisRun: boolean): Promise<void> {
  const prefix = onlyThisRun ? APP : 'bench-';
  const named = (name: string) => (onlyThisRun ? name === APP || name.startsWith(`${APP}-`) : name.startsWith(prefix));
  const lines = async (...args: string[]) => (await docker(host, ...args)).stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
  const containers = await lines('ps', '-a', '--format', '{{.ID}}\t{{.Label "dev.baremetal.app"}}\t{{.Names}}');
  const ids = containers.filter(([, label, name]) => named(label ?? '') || named(name ?? '')).map(([id]) => id);
  if (ids.length) await docker(host, 'rm', '-f', ...ids);
  const refs = (await lines('images', '--format', '{{.Repository}}\t{{.Tag}}'))
    .filter(([repo]) => named(repo.split('/').pop()!)).map(([repo, tag]) => `${repo}:${tag}`);
  const labelled = onlyThisRun ? (await lines('images', '-q', '--filter', `label=dev.baremetal.app=${APP}`)).map(([id]) => id) : [];
  const all = [...new Set([...refs, ...labelled])];
  if (all.length) await run('docker', ['-H', host, 'rmi', '-f', ...all], { allowFail: true });
}

/** A server's slate for the next side: none of this run's containers, images or deploy history. */
export async function clearServer(server: string): Promise<void> {
  await removeBench(serverSocket(server), true);
  await run('bash', [join(PROJECT, 'scripts', 'test-servers.sh'), 'exec', server, '--', 'rm', '-rf', `/root/.baremetal/${APP}`], { allowFail: true });
}
