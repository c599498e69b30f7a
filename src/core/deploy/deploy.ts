import { randomBytes } from 'node:crypto';
import { imageName, type Config } from '../config/types';
import { buildImage } from '../build/build-image';
import { platformMismatch, platformString, runsOn } from '../build/platform';
import { trimLayerCache } from '../transfer/cache-eviction';
import type { ExportedImage, LayerCache } from '../transfer/layer-cache';
import { exportImage, shipImage, type TransferPath } from '../transfer/ship';
import { BmError, failureOf, throwIfAborted } from '../errors';
import type { Builder, CommitInfo, ImageInfo, Logger, Phase, ProgressSink, Repo, Server } from '../ports';
import { appendJournal, readJournal, type DeployRecord } from './journal';
import { imageTag } from './labels';
import { recordAbandoned } from './abandoned';
import { acquireLock } from './lock';
import { withTimeout } from '../time';
import { pruneImages } from './prune';
import { swapIn } from './swap';
import { swapThroughProxy } from './proxy-swap';
import { proxyImageNowhere } from '../proxy/proxy';

export interface DeployDeps {
  config: Config;
  server: Server;
  /** Which server of the config; its stateDir is read from there. */
  serverName: string;
  repo: Repo;
  builder: Builder;
  secrets: Record<string, string>;
  logger: Logger;
  progress: ProgressSink;
  /** user@host of this client, for the lock and the history. */
  who: string;
  /** Compressed layers, kept between deploys (their digests must not change). */
  cache: LayerCache;
  forceTransfer?: TransferPath;
  /** A new connection to the same server, to record a failure and free the lock after a drop. */
  reconnect?: () => Promise<Server>;
  /** Values of build.secrets (RUN --mount=type=secret). */
  buildSecrets?: Record<string, string>;
  /** proxy.tls's certificate and key, when named as secrets. */
  tlsPair?: { cert: string; key: string };
  /** A fleet's one build for every server (the commit resolved, the image built and exported once). */
  shared?: SharedImage;
  /** The other roles' apps on this server: their kept images are theirs to prune, not this role's. */
  siblingApps?: string[];
}

/** What is deployed: the commit, its tag, and whether uncommitted files go with it. */
export interface BuildTarget {
  commit: CommitInfo;
  tag: string;
  dirty: boolean;
  dirtyPaths: string[];
}

/**
 * One image for many servers: the commit is resolved once, the image built once (for one
 * platform) and taken apart into the layer cache once; each server is then sent what it lacks.
 */
export interface SharedImage extends BuildTarget {
  build(platform: string | undefined, signal?: AbortSignal): Promise<ImageInfo>;
  export(signal?: AbortSignal): Promise<ExportedImage>;
}

/** The commit a deploy builds, and its tag (a dirty tree gets a tag of its own, never reused). */
export async function resolveBuildTarget(repo: Repo, opts: DeployOptions, logger: Logger): Promise<BuildTarget> {
  const commit = await repo.resolveCommit(opts.ref ?? 'HEAD');
  const dirtyPaths = opts.allowDirty ? await repo.uncommittedPaths() : [];
  const dirty = opts.allowDirty === true && dirtyPaths.length > 0;
  if (!opts.allowDirty && opts.ref === undefined) {
    const pending = await repo.uncommittedPaths();
    if (pending.length) logger.warn(`${pending.length} uncommitted change(s) are not part of this deploy (it builds ${commit.sha.slice(0, 12)} as committed); use --allow-dirty to include them`);
  }
  const tag = dirty ? `${commit.sha.slice(0, 12)}-dirty-${randomBytes(4).toString('hex')}` : commit.sha;
  return { commit, tag, dirty, dirtyPaths };
}

/**
 * The server to clean up through: ours, or a fresh connection when ours dropped. The fresh one
 * gets a few seconds only: after a link that went silent it most likely cannot connect either,
 * and the user must hear what happened within 30 s of the drop (the next run tidies up).
 */
export async function serverForCleanup(server: Server, reconnect?: () => Promise<Server>, waitMs = CLEANUP_RECONNECT_MS): Promise<Server> {
  if (server.isConnected?.() !== false || !reconnect) return server;
  return withTimeout(reconnect(), waitMs, () => new Error('no fresh connection in time')).catch(() => server);
}
const CLEANUP_RECONNECT_MS = 6_000;

export interface DeployOptions {
  ref?: string;
  allowDirty?: boolean;
  wait?: boolean;
  signal?: AbortSignal;
}

/** What `deploy --json` and `rollback --json` print. */
export interface DeployResult {
  id: string;
  kind: 'deploy' | 'rollback';
  result: DeployRecord['result'];
  commit: string;
  subject: string;
  server: string;
  image: string;
  tag: string;
  bytesSent: number;
  durationMs: number;
  phasesMs: Partial<Record<Phase, number>>;
  transport: TransferPath;
  /** Through the proxy: from the command's start until the new version took the traffic. */
  servingAfterMs?: number;
  error?: { code: string; message: string };
}

export function newDeployId(): string {
  return `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Runs `fn` and adds its duration to the phase timings. */
export class PhaseClock {
  readonly phasesMs: Partial<Record<Phase, number>> = {};
  readonly startedAt = new Date();
  async time<T>(phase: Phase, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      this.phasesMs[phase] = (this.phasesMs[phase] ?? 0) + Date.now() - t0;
    }
  }
  elapsed(): number {
    return Date.now() - this.startedAt.getTime();
  }
}

/**
 * Build the commit, ship the image, swap it in health-gated, record it, prune.
 * Whatever fails, the previously running version keeps serving and the failure is recorded.
 */
export async function deploy(deps: DeployDeps, opts: DeployOptions = {}): Promise<DeployResult> {
  const { config, server, logger, progress, signal } = { ...deps, signal: opts.signal };
  const clock = new PhaseClock();
  const id = newDeployId();
  const stateBase = config.servers[deps.serverName].stateDir;

  const shared = deps.shared;
  const { commit, tag, dirty, dirtyPaths } = shared ?? (await resolveBuildTarget(deps.repo, opts, logger));
  const ref = imageTag(imageName(config), tag);

  let bytesSent = 0;
  let transport: TransferPath = 'none';
  let builtOn: 'local' | 'server' | undefined;
  let servingAfterMs: number | undefined;
  const lock = await acquireLock(server.files, stateBase, config.app, {
    owner: deps.who,
    operation: 'deploy',
    wait: opts.wait,
    signal,
    onWaiting: (h) => progress({ phase: 'connect', message: `Waiting for ${h.owner}'s ${h.operation} to finish` }),
    sessions: server.sessions,
    onTakeover: (h) => logger.info(`the lock of ${h.owner}'s ${h.operation} was left by a client that is gone: taking it over`),
  });
  const record = (result: DeployRecord['result'], imageId: string, reason?: string): DeployRecord => ({
    id,
    kind: 'deploy',
    app: config.app,
    server: deps.serverName,
    commit: commit.sha,
    subject: commit.subject,
    author: commit.author,
    image: imageId,
    tag,
    who: deps.who,
    startedAt: clock.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    result,
    reason,
    bytesSent,
    phasesMs: clock.phasesMs,
    dirty: dirty || undefined,
    transport,
    builtOn,
  });
  // The attempt goes into the lock at once: should this client die, the next one records it.
  await recordAbandoned(server, stateBase, config.app, lock.abandoned, deps.who, logger).catch((e: unknown) => logger.warn(`could not record the unfinished deploy left by a dead client: ${String(e)}`));
  await lock.describe(record('failed', '')).catch(() => undefined);

  let imageId = '';
  let exported: ExportedImage | undefined;
  try {
    const onServer = await server.engine.image(ref);
    const serverPlatform = await server.engine.platform?.();
    const platform = serverPlatform ? platformString(serverPlatform) : undefined;
    const onServerRuns = !onServer?.platform || !serverPlatform || runsOn(onServer.platform, serverPlatform);
    // A shared dirty tag is this rollout's own: on the server, it is this very image.
    if (onServer && (!dirty || shared) && onServerRuns) {
      imageId = onServer.id;
      logger.info(`${ref} is already on ${deps.serverName}: nothing to build or send`);
    } else if (config.build.on === 'server') {
      // The builder is the server's own engine: the image is there once built, nothing to ship.
      const built = await clock.time('build', () => buildImage(deps, commit, tag, dirtyPaths, dirty, signal, { platform }));
      imageId = built.id;
      builtOn = 'server';
      throwIfAborted(signal);
    } else {
      const local = await clock.time('build', () => (shared ? shared.build(platform, signal) : buildImage(deps, commit, tag, dirtyPaths, dirty, signal, { platform })));
      imageId = local.id;
      throwIfAborted(signal);
      // Before anything is sent: an image the server's CPU cannot run never leaves this machine.
      if (serverPlatform && local.platform && !runsOn(local.platform, serverPlatform)) {
        throw platformMismatch(commit.sha, local.platform, deps.serverName, serverPlatform);
      }
      builtOn = 'local';
      await clock.time('ship', async () => {
        progress({ phase: 'ship', message: `Preparing the layers of ${ref}` });
        exported = shared ? await shared.export(signal) : await exportImage(deps.builder, deps.cache, ref, signal);
        progress({ phase: 'ship', message: `Sending ${ref} to ${deps.serverName}`, bytes: 0 });
        const onBytes = (n: number) => {
          bytesSent = n;
          progress({ phase: 'ship', message: `Sending ${ref}`, bytes: n });
        };
        const shipped = await shipImage({ builder: deps.builder, server, cache: deps.cache, ref, logger, onBytes, signal, force: deps.forceTransfer }, exported);
        transport = shipped.path;
      });
      // The history keeps the server's own ID of the image: IDs differ between image stores (a
      // config digest on the classic store, a manifest or index digest on the containerd one),
      // so the laptop's ID would not name the image there.
      imageId = (await server.engine.image(ref))?.id ?? imageId;
      throwIfAborted(signal);
    }

    const swapStartedAt = Date.now();
    const swap = await clock.time('start', async () => {
      if (!config.proxy) return swapIn({ engine: server.engine, config, image: ref, commit: commit.sha, deployId: id, secrets: deps.secrets, logger, progress, signal });
      const r = await swapThroughProxy({
        server, serverName: deps.serverName, stateBase, config: { ...config, proxy: config.proxy }, image: ref, commit: commit.sha, deployId: id,
        secrets: deps.secrets, who: deps.who, logger, progress, signal, tlsPair: deps.tlsPair, shipImage: proxyImageSender(deps, signal),
      });
      servingAfterMs = swapStartedAt - clock.startedAt.getTime() + r.servingAfterMs;
      return r;
    });
    logger.info(`${deps.serverName} now runs ${commit.sha.slice(0, 12)} (${commit.subject}) in ${swap.containerId.slice(0, 12)}`);

    const done = record('succeeded', imageId);
    progress({ phase: 'record', message: `Recording the deploy in ${deps.serverName}'s history` });
    const history = await clock.time('record', () => appendJournal(server.files, stateBase, done, logger));
    progress({ phase: 'prune', message: `Removing images beyond the ${config.keep} kept` });
    await clock.time('prune', async () => {
      // Roles share the app's images: what another role may still roll back to stays.
      const siblings = await Promise.all((deps.siblingApps ?? []).map((a) => readJournal(server.files, stateBase, a, logger).catch(() => [])));
      const kept = [...siblings.flat(), ...history];
      await pruneImages(server.engine, { apps: [config.app, ...(deps.siblingApps ?? [])], repo: imageName(config) }, config.keep, kept, imageId, logger).catch((e: unknown) => logger.warn(`prune: ${String(e)}`));
    });
    return { ...toResult(done, deps.serverName, clock.elapsed()), ...(servingAfterMs !== undefined && { servingAfterMs }) };
  } catch (e) {
    const err = failureOf(e, signal);
    const failed = record(err.code === 'Cancelled' ? 'cancelled' : 'failed', imageId, err.message);
    const cleanup = await serverForCleanup(server, deps.reconnect);
    await appendJournal(cleanup.files, stateBase, failed, logger).catch((je: unknown) => logger.warn(`could not record the failure: ${String(je)}`));
    await lock.release(cleanup.files).catch(() => undefined);
    throw Object.assign(err, { result: toResult(failed, deps.serverName, clock.elapsed(), err) });
  } finally {
    await lock.release().catch(() => undefined);
    // Only now, the transfer over and the lock freed; never evicts this deploy's image. A
    // fleet trims once, after its last server.
    if (!shared) await trimLayerCache(deps.cache, exported, logger);
  }
}

/** The proxy's image goes the way the app's does when the server cannot pull it. */
function proxyImageSender(deps: DeployDeps, signal?: AbortSignal): (ref: string) => Promise<void> {
  return async (ref) => {
    const image = await exportImage(deps.builder, deps.cache, ref, signal).catch((e: unknown) => {
      throw proxyImageNowhere({ image: ref, serverName: deps.serverName }, e);
    });
    await shipImage({ builder: deps.builder, server: deps.server, cache: deps.cache, ref, logger: deps.logger, onBytes: () => undefined, signal }, image);
  };
}

export function toResult(r: DeployRecord, server: string, durationMs: number, err?: BmError): DeployResult {
  return {
    id: r.id,
    kind: r.kind,
    result: r.result,
    commit: r.commit,
    subject: r.subject,
    server,
    image: r.image,
    tag: r.tag,
    bytesSent: r.bytesSent,
    durationMs,
    phasesMs: r.phasesMs,
    transport: (r.transport as TransferPath | undefined) ?? 'none',
    error: err ? { code: err.code, message: err.message } : undefined,
  };
}
