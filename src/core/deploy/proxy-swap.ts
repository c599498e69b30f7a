/**
 * A deploy or rollback through the server's proxy: the new container starts beside the old one
 * on the proxy's network (no host port), is health-checked there, runs the release command if
 * there is one, and only then takes over the app's DNS name `<app>--live`, which the proxy
 * follows within a second. Requests in flight on the old container may finish (drainSeconds)
 * before it stops. Killed at any moment, the app is served by the old version or the new one:
 * until the rename the old one holds the name; between the two renames the proxy falls back to
 * `<app>--any`, which every healthy container of the app carries; the next run tidies up.
 */
import type { Config } from '../config/types';
import { BmError, isBmError } from '../errors';
import type { ContainerInfo, Engine, Logger, ProgressSink, Server } from '../ports';
import { anyName, hostTakenBy, liveName, sameRoute, withRoute, type AppRoute, type RouteTls } from '../proxy/caddy-config';
import { currentRoutes, ensureProxy, loadRoutes, PROXY_NETWORK, proxyDir } from '../proxy/proxy';
import { sleep } from '../time';
import { waitHealthy } from './health';
import { LABEL } from './labels';
import { acquireLock } from './lock';
import { sortOut } from './leftovers';
import { oneOffSpec } from './one-off';
import { lastLines, limits, type SwapResult } from './swap';

/** How long the old container keeps its place after the switch before it is asked to stop. */
const DRAIN_GRACE_MS = 2_000;

export interface ProxySwapRequest {
  server: Server;
  serverName: string;
  stateBase: string;
  config: Config & { proxy: NonNullable<Config['proxy']> };
  image: string;
  commit: string;
  deployId: string;
  secrets: Record<string, string>;
  who: string;
  logger: Logger;
  progress: ProgressSink;
  /** Sends the proxy's image when the server lacks it and cannot pull it. */
  shipImage?: (ref: string) => Promise<void>;
  /** The values of proxy.tls's cert and key secrets, when the pair comes from secrets. */
  tlsPair?: { cert: string; key: string };
  signal?: AbortSignal;
}

export interface ProxySwapResult extends SwapResult {
  /** From the start of the swap until the new version took the traffic. */
  servingAfterMs: number;
}


export async function swapThroughProxy(req: ProxySwapRequest): Promise<ProxySwapResult> {
  const { server, config, logger, progress } = req;
  const engine = server.engine;
  const t0 = Date.now();
  const route: AppRoute = { app: config.app, hosts: config.proxy.hosts, port: config.proxy.port, tls: routeTls(config.proxy.tls) };
  const proxyDeps = { server, serverName: req.serverName, stateBase: req.stateBase, image: config.proxy.image, logger, progress, shipImage: req.shipImage, signal: req.signal };
  await ensureProxy(proxyDeps);
  const routes = await currentRoutes(proxyDeps);
  const taken = hostTakenBy(routes, config.app, route.hosts);
  if (taken) {
    throw new BmError('HostTaken', `${taken.host} is already routed to the app "${taken.app}" on ${req.serverName}: choose another host in proxy.hosts, or remove it from "${taken.app}"; nothing was changed.`);
  }

  const previous = await tidyUp(engine, config.app, logger);
  const live = previous.find((c) => c.name === liveName(config.app));

  progress({ phase: 'start', message: `Starting ${req.image} beside the running version` });
  const newName = `${config.app}--new-${req.deployId.slice(-6)}`;
  const containerId = await engine.create({
    name: newName,
    image: req.image,
    env: { ...config.run.env, ...req.secrets },
    labels: { [LABEL.app]: config.app, [LABEL.commit]: req.commit, [LABEL.deployId]: req.deployId },
    ports: [],
    volumes: config.run.volumes,
    restart: config.run.restart,
    command: config.run.command,
    ...limits(config),
    network: { name: PROXY_NETWORK, aliases: [anyName(config.app)] },
  });
  const discard = async (why: string): Promise<string> => {
    const tail = await lastLines(engine, containerId);
    await engine.remove(containerId).catch((e: unknown) => logger.warn(`could not remove the failed container ${newName}: ${String(e)}`));
    logger.info(`${why}; ${live ? `${live.name} kept serving throughout` : 'nothing was serving before'}`);
    return tail;
  };

  try {
    await engine.start(containerId);
    progress({ phase: 'health', message: `Checking health (GET ${config.proxy.healthcheck.path} on port ${config.proxy.port})` });
    const healthNote = await waitHealthy(engine, containerId, {
      check: { port: config.proxy.port, ...config.proxy.healthcheck },
      ports: [],
      signal: req.signal,
      onAttempt: (m) => logger.debug(`health: ${m}`),
    });
    logger.info(`healthy: ${healthNote}`);
    if (config.run.release) await runRelease(req);

    // Only a new app, new hosts, port or TLS, or a new certificate change the proxy's config (a reload there).
    const known = routes.find((r) => r.app === config.app);
    const newCertificate = route.tls === 'files' ? await writeCertificate(req) : false;
    if (!sameRoute(known, route) || newCertificate) {
      progress({ phase: 'switch', message: `Routing ${route.hosts.join(', ')} to ${config.app}` });
      const lock = await acquireLock(server.files, req.stateBase, '_proxy', { owner: req.who, operation: `route ${config.app}`, wait: true, signal: req.signal, sessions: server.sessions });
      try {
        await loadRoutes(proxyDeps, withRoute(await currentRoutes(proxyDeps), route));
      } finally {
        await lock.release().catch(() => undefined);
      }
    }

    progress({ phase: 'switch', message: `Switching ${config.app} to ${req.commit.slice(0, 12)}` });
    if (live) await engine.rename!(live.id, `${config.app}--old-${req.deployId.slice(-6)}`);
    await engine.rename!(containerId, liveName(config.app));
    const servingAfterMs = Date.now() - t0;
    logger.info(`serving ${req.commit.slice(0, 12)} after ${(servingAfterMs / 1000).toFixed(1)} s`);

    for (const c of previous) {
      if (c.state === 'running' || c.state === 'restarting') {
        progress({ phase: 'drain', message: `Letting requests on ${c.name} finish (up to ${config.proxy.drainSeconds} s)` });
        // The proxy stops sending to it within one DNS refresh (DNS_REFRESH_MS; 1 s in routes
        // written by earlier versions, still running until a route changes), so 2 s cover both;
        // then its own SIGTERM handling finishes what is in flight, and drainSeconds bounds an
        // app that ignores SIGTERM.
        await sleep(DRAIN_GRACE_MS);
        await engine.stop(c.id, config.proxy.drainSeconds).catch((e: unknown) => logger.warn(`stopping ${c.name}: ${String(e)}`));
      }
      await engine.remove(c.id).catch(() => undefined);
    }
    return { containerId, previous, healthNote, servingAfterMs };
  } catch (e) {
    const tail = await discard('the new container failed');
    if (isBmError(e) && (e.code === 'HealthCheckFailed' || e.code === 'StartFailed' || e.code === 'ReleaseFailed')) {
      const keeps = live ? ' The previous version keeps serving; the new one never received a request.' : '';
      throw new BmError(e.code, `${e.message}${keeps}`, tail ? `Last log lines of the new container:\n${tail}` : e.detail);
    }
    throw e;
  }
}

/**
 * The certificate pair from secrets, as files in the proxy's folder (the key readable by the
 * login only); true when they changed (Caddy reads them when its config is loaded).
 */
async function writeCertificate(req: ProxySwapRequest): Promise<boolean> {
  if (!req.tlsPair) throw new BmError('SecretMissing', 'proxy.tls names a certificate and key, but their secrets have no values: set them in the environment or in .baremetal.secrets.');
  const dir = `${await proxyDir(req.server, req.stateBase)}/certs`;
  await req.server.files.mkdirp(dir);
  let changed = false;
  for (const [ext, value] of [['crt', req.tlsPair.cert], ['key', req.tlsPair.key]] as const) {
    const path = `${dir}/${req.config.app}.${ext}`;
    if ((await req.server.files.read(path)) === value) continue;
    await req.server.files.writeAtomic(path, value, { secret: true });
    changed = true;
  }
  return changed;
}

function routeTls(tls: NonNullable<Config['proxy']>['tls']): RouteTls {
  return typeof tls === 'object' ? 'files' : tls;
}

/**
 * The app's containers before a swap, after removing what a killed client left (see sortOut);
 * a container cut off between the two renames takes the live name back.
 */
async function tidyUp(engine: Engine, app: string, logger: Logger): Promise<ContainerInfo[]> {
  const { live, renameLive, left, rest } = sortOut(await engine.containers({ [LABEL.app]: app }), app);
  for (const c of left) {
    await engine.remove(c.id).catch(() => undefined);
    logger.info(`removed ${c.name}, left by an earlier deploy that did not finish`);
  }
  if (live && renameLive) {
    await engine.rename!(live.id, liveName(app));
    logger.info(`${live.name} takes the live name back (an earlier switch was cut off)`);
    live.name = liveName(app);
  }
  return rest;
}

/** run.release once, in a one-off container of the new image; its output on failure. */
async function runRelease(req: ProxySwapRequest): Promise<void> {
  const { config, logger, progress } = req;
  const engine = req.server.engine;
  const command = config.run.release!;
  progress({ phase: 'release', message: `Running the release command: ${command.join(' ')}` });
  const id = await engine.create(
    oneOffSpec(config, {
      name: `${config.app}--release-${req.deployId.slice(-6)}`,
      image: req.image,
      command,
      secrets: req.secrets,
      labels: { [LABEL.app]: `${config.app}--release`, [LABEL.deployId]: req.deployId },
    }),
  );
  try {
    await engine.start(id);
    const code = await engine.wait!(id, req.signal);
    const output = await lastLines(engine, id);
    for (const l of output.split('\n').filter(Boolean)) logger.info(`release: ${l}`);
    if (code !== 0) {
      throw new BmError('ReleaseFailed', `The release command (${command.join(' ')}) exited with ${code}.`, output ? `Its output:\n${output}` : undefined);
    }
  } finally {
    await engine.remove(id).catch(() => undefined);
  }
}
