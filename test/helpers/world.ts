/**
 * What the integration tests stand on: the real test servers brought up by
 * scripts/test-servers.sh (their facts are in env.json), the built CLI as a user runs it, and
 * throwaway git workspaces made from examples/hello.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const PROJECT = resolve(__dirname, '..', '..');
const ENV_FILE = process.env.BM_TEST_ENV ?? '/srv/baremetal-test/env.json';

export interface TestServer {
  name: string;
  host: string;
  port: number;
  user: string;
  hasDocker: boolean;
  engine?: string;
  store?: string;
  knownHostsLine: string;
  hostKeyFingerprint: string;
}

export interface Workstation {
  name: string;
  dockerHost: string;
  engine: string;
  store: 'overlay2' | 'containerd';
}

export interface TestEnv {
  dockerHost: string;
  /** A docker CLI config folder whose cli-plugins hold docker-buildx. */
  dockerConfig?: string;
  workstations?: Workstation[];
  identityFile: string;
  knownHosts: string;
  sshConfig: string;
  servers: TestServer[];
}

/**
 * What a developer's shell has: DOCKER_HOST (the default workstation: Docker 26 with the
 * containerd store), DOCKER_CONFIG with the buildx plugin, the test servers' ssh config.
 */
export function cliEnv(env: TestEnv = testEnv()): NodeJS.ProcessEnv {
  return { DOCKER_HOST: env.dockerHost, ...(env.dockerConfig ? { DOCKER_CONFIG: env.dockerConfig } : {}), BAREMETAL_SSH_CONFIG: env.sshConfig, SSH_AUTH_SOCK: '' };
}

export function testEnv(): TestEnv {
  if (!existsSync(ENV_FILE)) throw new Error(`${ENV_FILE} is missing: run "bash scripts/test-servers.sh up" first`);
  return JSON.parse(readFileSync(ENV_FILE, 'utf8')) as TestEnv;
}

export function server(name: string): TestServer {
  const s = testEnv().servers.find((x) => x.name === name);
  if (!s) throw new Error(`no test server ${name}`);
  return s;
}

/**
 * Every test gets its own app name and host port, so tests never see each other's state. The
 * port here is only a first guess: makeWorkspace takes one through freeHostPort.
 */
let counter = 0;
export function uniqueApp(prefix = 't'): { app: string; port: number } {
  counter += 1;
  return { app: `${prefix}-${process.pid.toString(36)}-${counter}`, port: 18000 + ((process.pid * 7 + counter) % 2000) };
}

/** The TCP ports something listens on, on this machine and inside every test server. */
async function listeningPorts(): Promise<Set<number>> {
  const spaces = [undefined, ...testEnv().servers.map((s) => (s as TestServer & { netns?: string }).netns ?? s.name)];
  const outs = await Promise.all(
    spaces.map((ns) => run(ns ? 'nsenter' : 'ss', ns ? [`--net=/run/netns/${ns}`, 'ss', '-tlnH'] : ['-tlnH']).then((r) => r.stdout, () => '')),
  );
  const ports = new Set<number>();
  for (const out of outs) for (const m of out.matchAll(/^\S+\s+\d+\s+\d+\s+\S*:(\d+)\s/gm)) ports.add(Number(m[1]));
  return ports;
}

const PORT_DIR = join(tmpdir(), 'bm-test-ports');
const reserved: string[] = [];
process.on('exit', () => {
  for (const f of reserved) rmSync(f, { force: true });
});

/**
 * A host port for a test app that nothing listens on (here or on any test server) and that no
 * other test process running now has taken: each taken port is a file naming its process, so
 * two test files (or two sessions) never publish the same port; one whose process is gone is free.
 */
export async function freeHostPort(first = 18000 + ((process.pid * 7 + counter) % 2000)): Promise<number> {
  await mkdir(PORT_DIR, { recursive: true });
  const busy = await listeningPorts();
  for (let i = 0; i < 2000; i++) {
    const port = 18000 + ((first - 18000 + i) % 2000);
    if (busy.has(port)) continue;
    const file = join(PORT_DIR, String(port));
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
    } catch {
      // Taken: by a live process (or one still writing its pid), or left by one that is gone.
      const owner = Number(readFileSync(file, { encoding: 'utf8', flag: 'a+' }).trim() || process.pid);
      if (owner === process.pid || alive(owner)) continue;
      await writeFile(file, String(process.pid));
    }
    reserved.push(file);
    return port;
  }
  throw new Error('no free host port in 18000-19999 for a test app: stop the test runs that hold them');
}

function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface Workspace {
  dir: string;
  app: string;
  port: number;
  /** Commits the current state (after edits) and returns the full sha. */
  commit(message: string, files?: Record<string, string>): Promise<string>;
  git(...args: string[]): Promise<string>;
  writeConfig(config: object | string): Promise<void>;
}

export interface WorkspaceOptions {
  /** The app name's start (each test file's own, so that parallel sessions never share an app). */
  prefix?: string;
  servers?: Record<string, object>;
  run?: object;
  extra?: object;
}

/** A git repository holding a copy of examples/hello, with a baremetal.json for the test servers. */
export async function makeWorkspace(opts: WorkspaceOptions = {}): Promise<Workspace> {
  const { app, port: guess } = uniqueApp(opts.prefix);
  const port = await freeHostPort(guess);
  const dir = await mkdtemp(join(tmpdir(), 'bm-ws-'));
  cpSync(join(PROJECT, 'examples', 'hello'), dir, { recursive: true });
  const git = async (...args: string[]) => (await run('git', args, { cwd: dir })).stdout.trim();
  const writeConfig = (config: object | string) =>
    writeFile(join(dir, 'baremetal.json'), typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  await writeConfig({
    app,
    servers: opts.servers ?? { bm1: { host: 'bm1' } },
    run: { ports: [`${port}:8080`], env: { GREETING: 'hi' }, healthcheck: { port: 8080, path: '/', timeoutSeconds: 10, intervalSeconds: 0.25 }, ...opts.run },
    keep: 5,
    ...opts.extra,
  });
  await git('init', '-q', '-b', 'main');
  await git('config', 'user.email', 'dev@example.test');
  await git('config', 'user.name', 'Test Developer');
  const ws: Workspace = {
    dir,
    app,
    port,
    git,
    writeConfig,
    async commit(message, files = {}) {
      for (const [name, content] of Object.entries(files)) {
        await mkdir(dirname(join(dir, name)), { recursive: true });
        await writeFile(join(dir, name), content);
      }
      await git('add', '-A');
      await git('commit', '-q', '--allow-empty', '-m', message);
      return git('rev-parse', 'HEAD');
    },
  };
  await ws.commit('first version');
  return ws;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, when it is. */
  json?: unknown;
}

/** Runs the built CLI (dist/cli.js) the way a user or a CI job does. */
export function cli(
  args: string[],
  opts: {
    cwd: string; env?: NodeJS.ProcessEnv; signalAfterMs?: number; onStderr?: (s: string) => void; onStdout?: (s: string, pid: number) => void; input?: string;
    /** Deploys, rollbacks and runs agree with --yes to the secrets they send, as a CI job does; false: the user did not say --yes. */
    agreeToSecrets?: boolean;
  },
): Promise<CliResult> {
  const env = testEnv();
  const agree = opts.agreeToSecrets !== false && ['deploy', 'rollback', 'run'].includes(args[0]) && !args.includes('--yes');
  const argv = agree ? [args[0], '--yes', ...args.slice(1)] : args;
  return new Promise((resolvePromise) => {
    // BM_TEST_CLI: another build of the CLI (a deliberately broken one, to see a test fail).
    const child = spawn(process.execPath, [process.env.BM_TEST_CLI ?? join(PROJECT, 'dist', 'cli.js'), ...argv], {
      cwd: opts.cwd,
      env: { ...process.env, ...cliEnv(env), ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(stdout, child.pid ?? 0);
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(stderr);
    });
    if (opts.signalAfterMs !== undefined) setTimeout(() => child.kill('SIGINT'), opts.signalAfterMs);
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolvePromise({ code, stdout, stderr, json });
    });
  });
}

/** Runs a command inside a test server's own namespaces (its engine, its files). */
export async function onServer(name: string, argv: string[]): Promise<string> {
  const { stdout } = await run('bash', [join(PROJECT, 'scripts', 'test-servers.sh'), 'exec', name, '--', ...argv], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** GET from this machine to the server's address, as the app's users would. */
export function fetchPage(host: string, port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = http.get({ host, port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The commit the example page says it runs. */
export async function servedCommit(host: string, port: number): Promise<string | undefined> {
  const page = await fetchPage(host, port);
  return /<code id="commit">([0-9a-f]+)<\/code>/.exec(page.body)?.[1];
}

/** Removes a test app's containers and images from a server. */
export async function cleanupApp(serverName: string, app: string): Promise<void> {
  const ids = (await onServer(serverName, ['docker', 'ps', '-aq', '--filter', `label=dev.baremetal.app=${app}`])).split('\n').filter(Boolean);
  if (ids.length) await onServer(serverName, ['docker', 'rm', '-f', ...ids]);
  const images = (await onServer(serverName, ['docker', 'images', '-q', '--filter', `label=dev.baremetal.app=${app}`])).split('\n').filter(Boolean);
  if (images.length) await onServer(serverName, ['docker', 'rmi', '-f', ...new Set(images)]).catch(() => undefined);
}

/** Removes a test app from the servers (containers, images, deploy history) and its workspace. */
export async function removeTestApp(ws: Workspace, servers: readonly string[] = ['bm1']): Promise<void> {
  for (const s of servers) {
    await cleanupApp(s, ws.app);
    await onServer(s, ['rm', '-rf', `/root/.baremetal/${ws.app}`]);
  }
  // An editor's git may still be writing into the workspace's .git.
  await rm(ws.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

/** The last `error:` line the CLI printed: its one sentence for the user. */
export function errorLine(stderr: string): string {
  return stderr.split('\n').filter((l) => l.startsWith('error: ')).pop() ?? `(no error line in:\n${stderr})`;
}

/** Workspaces made through `make` have their apps removed from bm1 by `cleanup` (call it in after()). */
export function workspaceTracker(): { make: (opts?: WorkspaceOptions) => Promise<Workspace>; cleanup: () => Promise<void> } {
  const made: Workspace[] = [];
  return {
    async make(opts) {
      const ws = await makeWorkspace(opts);
      made.push(ws);
      return ws;
    },
    async cleanup() {
      for (const ws of made.splice(0)) await cleanupApp('bm1', ws.app);
    },
  };
}
