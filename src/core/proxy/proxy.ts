/**
 * The reverse proxy every app on a server shares: a Caddy container the tool starts on the first
 * deploy that needs it, named baremetal-proxy, on the bridge network "baremetal". It runs as the
 * SSH user (so its folder, certificates and admin socket are that user's), publishes 80 and 443,
 * and keeps its config with Caddy itself (autosaved, resumed after a restart or reboot). Its
 * admin API listens only on a unix socket in that folder, reached through the SSH connection's
 * stream-local forwarding, as the Docker socket is: nothing is opened to the network.
 */
import http from 'node:http';
import { BmError } from '../errors';
import type { Logger, ProgressSink, Server } from '../ports';
import { asSocket } from '../socket-shim';
import { sleep } from '../time';
import { ADMIN_ORIGIN, ADMIN_SOCKET, caddyConfig, featuresOf, PROXY_DIR_IN_CONTAINER, routesOf, type AppRoute, type ProxyFeatures } from './caddy-config';

export const PROXY_CONTAINER = 'baremetal-proxy';
export const PROXY_NETWORK = 'baremetal';
const PROXY_LABEL = 'dev.baremetal.proxy';

export interface ProxyDeps {
  server: Server;
  serverName: string;
  /** The login's state folder (stateDir), relative to its home unless absolute. */
  stateBase: string;
  image: string;
  logger: Logger;
  progress: ProgressSink;
  /** Sends an image the server lacks and cannot pull (the proxy's, like the app's). */
  shipImage?: (ref: string) => Promise<void>;
  signal?: AbortSignal;
}

/** The proxy's folder on the server, absolute (bind mounts need it so). */
export async function proxyDir(server: Server, stateBase: string): Promise<string> {
  if (stateBase.startsWith('/')) return `${stateBase}/proxy`;
  const id = await identityOf(server);
  return `${id.home}/${stateBase.replace(/^~\//, '')}/proxy`;
}

async function identityOf(server: Server) {
  if (!server.identity) throw new BmError('Internal', 'This connection cannot tell the login\'s home folder.');
  return server.identity();
}

/** A running proxy with an admin API that answers; started (image pulled or sent) when needed. */
export async function ensureProxy(deps: ProxyDeps): Promise<void> {
  const { server, logger } = deps;
  const engine = server.engine;
  if (!engine.ensureNetwork) throw new BmError('Internal', 'This engine driver cannot create networks.');
  await engine.ensureNetwork(PROXY_NETWORK);
  const existing = await engine.container(PROXY_CONTAINER);
  if (existing?.state === 'running') {
    await waitForAdmin(deps, 5_000);
    return;
  }
  if (existing && existing.labels[PROXY_LABEL] === undefined) {
    throw new BmError('PortTaken', `A container named ${PROXY_CONTAINER} on ${deps.serverName} is not Bare Metal's proxy: rename or remove it, then deploy again.`);
  }
  if (existing) {
    // Stopped (a reboot with the engine but not the proxy, a manual stop): start it as it was.
    deps.progress({ phase: 'switch', message: `Starting the proxy on ${deps.serverName}` });
    await engine.start(existing.id);
    await waitForAdmin(deps, 15_000);
    return;
  }
  await ensureProxyImage(deps);
  const dir = await proxyDir(server, deps.stateBase);
  for (const sub of ['run', 'certs', 'data', 'config']) await server.files.mkdirp(`${dir}/${sub}`);
  // The config Caddy starts with the first time; after that it resumes its own autosave.
  await server.files.writeAtomic(`${dir}/initial.json`, JSON.stringify(caddyConfig([])));
  const id = await identityOf(server);
  deps.progress({ phase: 'switch', message: `Starting the proxy (${deps.image}) on ${deps.serverName}` });
  const containerId = await engine.create({
    name: PROXY_CONTAINER,
    image: deps.image,
    env: { XDG_DATA_HOME: `${PROXY_DIR_IN_CONTAINER}/data`, XDG_CONFIG_HOME: `${PROXY_DIR_IN_CONTAINER}/config` },
    labels: { [PROXY_LABEL]: 'caddy' },
    ports: [
      { hostPort: 80, containerPort: 80, protocol: 'tcp', spec: '80:80' },
      { hostPort: 443, containerPort: 443, protocol: 'tcp', spec: '443:443' },
    ],
    volumes: [{ source: dir, target: PROXY_DIR_IN_CONTAINER, readOnly: false, kind: 'bind', spec: `${dir}:${PROXY_DIR_IN_CONTAINER}` }],
    restart: 'unless-stopped',
    command: ['caddy', 'run', '--resume', '--config', `${PROXY_DIR_IN_CONTAINER}/initial.json`],
    network: { name: PROXY_NETWORK, aliases: [] },
    // Docker 20.10+ lets any user bind ports below 1024 inside a container.
    user: `${id.uid}:${id.gid}`,
    // With ndots set, Docker's DNS answers a missing one-word name (`<app>--live` between the two
    // renames of a switch) at once instead of asking the server's resolvers, which may be slow or
    // unreachable: the route then falls back to `<app>--any` without a stall. Names with a dot
    // (ACME's) are resolved as before.
    dnsOptions: ['ndots:1'],
  });
  try {
    await engine.start(containerId);
  } catch (e) {
    await engine.remove(containerId).catch(() => undefined);
    if (e instanceof BmError && e.code === 'PortTaken') {
      throw new BmError('PortTaken', `Ports 80 and 443 on ${deps.serverName} are taken by something that is not Bare Metal's proxy: stop it (or move it behind the proxy as an app), then deploy again; nothing else was changed.`, e.detail);
    }
    throw e;
  }
  logger.info(`${deps.serverName}: the proxy ${PROXY_CONTAINER} (${deps.image}) runs`);
  await waitForAdmin(deps, 15_000);
}

async function ensureProxyImage(deps: ProxyDeps): Promise<void> {
  const engine = deps.server.engine;
  if (await engine.image(deps.image)) return;
  deps.progress({ phase: 'switch', message: `Pulling the proxy image ${deps.image} on ${deps.serverName}` });
  try {
    await engine.pull(deps.image, deps.signal);
    return;
  } catch (e) {
    deps.logger.info(`${deps.serverName} cannot pull ${deps.image} (${(e as Error).message}); sending it from this machine`);
  }
  if (!deps.shipImage) throw proxyImageNowhere(deps);
  try {
    await deps.shipImage(deps.image);
  } catch (e) {
    if (e instanceof BmError && e.code === 'ProxyImageMissing') throw e;
    throw proxyImageNowhere(deps, e);
  }
}

export function proxyImageNowhere(deps: Pick<ProxyDeps, 'image' | 'serverName'>, cause?: unknown): BmError {
  return new BmError(
    'ProxyImageMissing',
    `The proxy image ${deps.image} is nowhere to be found: ${deps.serverName} cannot pull it and this machine's Docker Engine does not have it; pull it here (docker pull ${deps.image}) or set "proxy.image" to one you have; nothing was changed.`,
    cause ? String((cause as Error).message ?? cause) : undefined,
  );
}

async function waitForAdmin(deps: ProxyDeps, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await adminRequest(deps, 'GET', '/config/');
      return;
    } catch (e) {
      if (Date.now() > deadline) {
        throw new BmError('StartFailed', `The proxy on ${deps.serverName} does not answer on its admin socket: see \`docker logs ${PROXY_CONTAINER}\` there.`, String(e));
      }
      await sleep(200, deps.signal);
    }
  }
}

/** One request to Caddy's admin API over the SSH connection; the body parsed as JSON. */
export async function adminRequest(deps: Pick<ProxyDeps, 'server' | 'stateBase'>, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const { server } = deps;
  if (!server.connectSocket) throw new BmError('Internal', 'This connection cannot reach unix sockets on the server.');
  const socketPath = `${await proxyDir(server, deps.stateBase)}/${ADMIN_SOCKET}`;
  const channel = await server.connectSocket(socketPath);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method,
        path,
        // Requests name no TCP host: the connection is the channel (see the Engine API's agent).
        socketPath: '/dev/null/baremetal-proxy-admin',
        createConnection: () => asSocket(channel) as never,
        headers: { Host: ADMIN_ORIGIN, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}) },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          channel.destroy();
          if ((res.statusCode ?? 500) >= 400) return reject(new BmError('ProxyConfigRefused', `The proxy refused the change: ${text.trim() || `HTTP ${res.statusCode}`}`));
          try {
            resolve(text.trim() ? JSON.parse(text) : undefined);
          } catch {
            resolve(text);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer from the proxy within 30 s')));
    req.on('error', (e) => (channel.destroy(), reject(e)));
    req.end(payload);
  });
}

/** The apps the proxy routes now, from its running config. */
export async function currentRoutes(deps: Pick<ProxyDeps, 'server' | 'stateBase'>): Promise<AppRoute[]> {
  return routesOf(await adminRequest(deps, 'GET', '/config/'));
}

/** Replaces the proxy's whole config with the one for these apps (Caddy applies it atomically). */
export async function loadRoutes(deps: Pick<ProxyDeps, 'server' | 'stateBase'>, routes: readonly AppRoute[]): Promise<void> {
  await adminRequest(deps, 'POST', '/load', caddyConfig(routes, await proxyFeatures(deps.server)));
}

/** What the running proxy's Caddy supports, from its image's version label (official images carry one). */
async function proxyFeatures(server: Server): Promise<ProxyFeatures> {
  const c = await server.engine.container(PROXY_CONTAINER);
  const image = c ? await server.engine.image(c.imageId || c.image) : undefined;
  return featuresOf(image?.labels['org.opencontainers.image.version']);
}
