import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BmError } from '../../core/errors';

/**
 * Where the developer's own Docker Engine is, found in the order the docker CLI uses: DOCKER_HOST,
 * DOCKER_CONTEXT, the current context of the CLI's config.json; then (nothing being explicit)
 * the default socket and the sockets Docker Desktop, Colima, OrbStack, Rancher Desktop, Podman
 * and rootless Docker leave, because on a Mac the default socket is often absent while one of
 * those runs. Connecting is in local-connect.ts; this part only reads files, so it is tested with made-up homes.
 */
export interface Endpoint {
  /** 'unix:///path', 'tcp://h:p', 'npipe:////./pipe/x' or 'ssh://…' */
  host: string;
  /** Human words for messages: 'DOCKER_HOST', 'Colima', 'context "colima" (DOCKER_CONTEXT)'… */
  source: string;
  /** PEM files to use (those that exist) and whether the server's certificate is checked. */
  tls?: { ca?: string; cert?: string; key?: string; verify: boolean };
  /** How it was found, so a spawned docker CLI can be pointed at the same engine (dockerCliEnv). */
  via: 'DOCKER_HOST' | 'context' | 'socket';
  /** The context's name, when via is 'context'. */
  context?: string;
}

export interface ResolveOptions {
  env: NodeJS.ProcessEnv;
  home: string;
  platform?: NodeJS.Platform;
  uid?: number;
  /** Whether a socket (or, on Windows, a pipe) is there; injected by tests. */
  exists?: (p: string) => boolean;
}

export interface Resolved {
  candidates: Endpoint[];
  /** DOCKER_HOST or DOCKER_CONTEXT named the engine: nothing else is tried. */
  explicit: boolean;
}

export const BUILD_ON_SERVER = 'set "build": { "on": "server" } in baremetal.json to build on the server instead';

export function resolveLocalEngine(opts: ResolveOptions): Resolved {
  const { env, home } = opts;
  const platform = opts.platform ?? process.platform;
  const configDir = env.DOCKER_CONFIG || path.join(home, '.docker');
  if (env.DOCKER_HOST) return { explicit: true, candidates: [fromDockerHost(env, configDir)] };
  if (env.DOCKER_CONTEXT) {
    const name = env.DOCKER_CONTEXT;
    if (name === 'default') return { explicit: true, candidates: [defaultSocket(platform, 'the default socket (DOCKER_CONTEXT=default)')] };
    const ctx = readContext(configDir, name, `context "${name}" (DOCKER_CONTEXT)`);
    if (ctx === 'missing') {
      const where = tilde(path.join(configDir, 'contexts'), home);
      throw new BmError('LocalDockerUnavailable', `DOCKER_CONTEXT names the context "${name}", which ${where} does not have: run \`docker context ls\` to see the contexts there, or unset DOCKER_CONTEXT.`);
    }
    if (ctx === 'unreadable') throw unreadableContext(configDir, name, home);
    return { explicit: true, candidates: [ctx] };
  }
  const candidates: Endpoint[] = [];
  const current = currentContext(configDir);
  if (current && current !== 'default') {
    // Not explicit: a stale current context (Docker Desktop's, say, with Colima running instead)
    // should not stop the build when the usual sockets would answer.
    const ctx = readContext(configDir, current, `current context "${current}" of ${tilde(path.join(configDir, 'config.json'), home)}`);
    if (typeof ctx === 'object') candidates.push(ctx);
  }
  candidates.push(defaultSocket(platform, 'the default socket'), ...usualSockets(opts, platform));
  // The default socket is often a link to one of the others; say it once, under its first name.
  const seen = new Set<string>();
  return { explicit: false, candidates: candidates.filter((c) => !seen.has(c.host) && seen.add(c.host)) };
}

/** The environment for a spawned `docker` (buildx) that must reach the same engine. */
export function dockerCliEnv(endpoint: Endpoint, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  if (endpoint.via === 'DOCKER_HOST') return out; // with its DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
  delete out.DOCKER_HOST;
  delete out.DOCKER_CONTEXT;
  // A context keeps its TLS material with it, which DOCKER_HOST alone would lose.
  if (endpoint.via === 'context') out.DOCKER_CONTEXT = endpoint.context;
  else out.DOCKER_HOST = endpoint.host;
  return out;
}

/** "Colima (unix:///Users/x/.colima/default/docker.sock)", for "building on …". */
export function endpointLabel(endpoint: Endpoint): string {
  return `${endpoint.source} (${endpoint.host})`;
}

export function tilde(text: string, home: string): string {
  return home && home !== '/' ? text.split(home).join('~') : text;
}

function fromDockerHost(env: NodeJS.ProcessEnv, configDir: string): Endpoint {
  const host = /^[a-z]+:\/\//.test(env.DOCKER_HOST!) ? env.DOCKER_HOST! : `tcp://${env.DOCKER_HOST}`;
  const endpoint: Endpoint = { host, source: 'DOCKER_HOST', via: 'DOCKER_HOST' };
  // As the docker CLI: DOCKER_TLS_VERIFY turns TLS on and checks the server; DOCKER_TLS alone
  // encrypts without checking; the PEM files are in DOCKER_CERT_PATH, else the config folder.
  if (host.startsWith('tcp://') && (env.DOCKER_TLS_VERIFY || env.DOCKER_TLS)) {
    endpoint.tls = { ...pemFiles(env.DOCKER_CERT_PATH || configDir), verify: !!env.DOCKER_TLS_VERIFY };
  }
  return endpoint;
}

function defaultSocket(platform: NodeJS.Platform, source: string): Endpoint {
  return { host: platform === 'win32' ? 'npipe:////./pipe/docker_engine' : 'unix:///var/run/docker.sock', source, via: 'socket' };
}

/** The sockets other engines leave, in a fixed order, those that exist. */
function usualSockets(opts: ResolveOptions, platform: NodeJS.Platform): Endpoint[] {
  const exists = opts.exists ?? existsSync;
  const h = (...parts: string[]) => path.join(opts.home, ...parts);
  let places: [string, string][];
  if (platform === 'win32') {
    places = [['Docker Desktop', 'dockerDesktopLinuxEngine'], ['Podman', 'podman-machine-default']].map(([s, pipe]) => [s, `//./pipe/${pipe}`]);
  } else {
    const uid = opts.uid ?? process.getuid?.();
    const runtime = [opts.env.XDG_RUNTIME_DIR, uid === undefined ? undefined : `/run/user/${uid}`].filter((d): d is string => !!d);
    places = [
      ['Docker Desktop', h('.docker/run/docker.sock')],
      ['Docker Desktop', h('.docker/desktop/docker.sock')],
      ['Colima', h('.colima/default/docker.sock')],
      ['Colima', h('.colima/docker.sock')],
      ['OrbStack', h('.orbstack/run/docker.sock')],
      ['Rancher Desktop', h('.rd/docker.sock')],
      ...runtime.map((d): [string, string] => ['Podman', `${d}/podman/podman.sock`]),
      ['Podman', '/run/podman/podman.sock'],
      ...(platform === 'darwin'
        ? (['machine/podman.sock', 'machine/qemu/podman.sock'].map((p) => ['Podman', h('.local/share/containers/podman', p)]) as [string, string][])
        : []),
      ...runtime.map((d): [string, string] => ['rootless Docker', `${d}/docker.sock`]),
    ];
  }
  return places
    .filter(([, p]) => exists(platform === 'win32' ? p.replace(/\//g, '\\') : p))
    .map(([source, p]) => ({ host: platform === 'win32' ? `npipe://${p}` : `unix://${p}`, source, via: 'socket' }));
}

function currentContext(configDir: string): string | undefined {
  try {
    const config = JSON.parse(readFileSync(path.join(configDir, 'config.json'), 'utf8')) as { currentContext?: unknown };
    return typeof config.currentContext === 'string' ? config.currentContext : undefined;
  } catch {
    return undefined; // no config.json (or a broken one, which the docker CLI would report itself)
  }
}

/** The docker CLI files a context under the sha256 of its name, so any name is a safe folder. */
function readContext(configDir: string, name: string, source: string): Endpoint | 'missing' | 'unreadable' {
  const id = createHash('sha256').update(name).digest('hex');
  let text: string;
  try {
    text = readFileSync(path.join(configDir, 'contexts', 'meta', id, 'meta.json'), 'utf8');
  } catch {
    return 'missing';
  }
  let docker: { Host?: unknown; SkipTLSVerify?: unknown } | undefined;
  try {
    docker = (JSON.parse(text) as { Endpoints?: { docker?: typeof docker } }).Endpoints?.docker;
  } catch {
    return 'unreadable';
  }
  if (typeof docker?.Host !== 'string' || !docker.Host) return 'unreadable';
  const endpoint: Endpoint = { host: docker.Host, source, via: 'context', context: name };
  const tls = pemFiles(path.join(configDir, 'contexts', 'tls', id, 'docker'));
  if (tls.ca || tls.cert || tls.key) endpoint.tls = { ...tls, verify: docker.SkipTLSVerify !== true };
  return endpoint;
}

function unreadableContext(configDir: string, name: string, home: string): BmError {
  const id = createHash('sha256').update(name).digest('hex');
  const file = tilde(path.join(configDir, 'contexts', 'meta', id, 'meta.json'), home);
  return new BmError('LocalDockerUnavailable', `The Docker context "${name}" has no readable endpoint in ${file}: recreate it with \`docker context create\`, or unset DOCKER_CONTEXT.`);
}

function pemFiles(dir: string): { ca?: string; cert?: string; key?: string } {
  const out: { ca?: string; cert?: string; key?: string } = {};
  for (const k of ['ca', 'cert', 'key'] as const) {
    const file = path.join(dir, `${k}.pem`);
    if (existsSync(file)) out[k] = file;
  }
  return out;
}
