import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { posix, relative, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../config/types';
import { contextFromArchive, contextFromFiles, OUTSIDE_DOCKERFILE, type ContextFilter } from '../build/context';
import { asBmError, BmError, isBmError, throwIfAborted } from '../errors';
import type { Builder, CommitInfo, Logger, Phase, ProgressSink, Repo, Server } from '../ports';
import { appendJournal, readJournal, type DeployRecord } from './journal';
import { LABEL, imageTag } from './labels';
import { acquireLock } from './lock';
import { pruneImages } from './prune';
import { swapIn } from './swap';

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
}

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
  transport: string;
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

  const commit = await deps.repo.resolveCommit(opts.ref ?? 'HEAD');
  const dirtyPaths = opts.allowDirty ? await deps.repo.uncommittedPaths() : [];
  const dirty = opts.allowDirty === true && dirtyPaths.length > 0;
  if (!opts.allowDirty && opts.ref === undefined) {
    const pending = await deps.repo.uncommittedPaths();
    if (pending.length) logger.warn(`${pending.length} uncommitted change(s) are not part of this deploy (it builds ${commit.sha.slice(0, 12)} as committed); use --allow-dirty to include them`);
  }
  const tag = dirty ? `${commit.sha.slice(0, 12)}-dirty-${randomBytes(4).toString('hex')}` : commit.sha;
  const ref = imageTag(config.app, tag);

  let bytesSent = 0;
  let transport = 'none';
  const lock = await acquireLock(server.files, stateBase, config.app, {
    owner: deps.who,
    operation: 'deploy',
    wait: opts.wait,
    signal,
    onWaiting: (h) => progress({ phase: 'connect', message: `Waiting for ${h.owner}'s ${h.operation} to finish` }),
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
  });

  let imageId = '';
  try {
    const onServer = await server.engine.image(ref);
    if (onServer && !dirty) {
      imageId = onServer.id;
      logger.info(`${ref} is already on ${deps.serverName}: nothing to build or send`);
    } else {
      const local = await clock.time('build', () => buildImage(deps, commit, tag, dirtyPaths, dirty, signal));
      imageId = local.id;
      throwIfAborted(signal);
      transport = 'load';
      await clock.time('ship', async () => {
        progress({ phase: 'ship', message: `Sending ${ref} to ${deps.serverName}`, bytes: 0 });
        const tar = await deps.builder.save(ref, signal);
        await server.engine.load(tar, (n) => {
          bytesSent = n;
          progress({ phase: 'ship', message: `Sending ${ref}`, bytes: n });
        }, signal);
      });
      throwIfAborted(signal);
      const arrived = await server.engine.image(ref);
      if (!arrived) throw new BmError('TransferFailed', `The image ${ref} did not arrive on ${deps.serverName}; deploy again.`);
    }

    const swap = await clock.time('start', () =>
      swapIn({ engine: server.engine, config, image: ref, commit: commit.sha, deployId: id, secrets: deps.secrets, logger, progress, signal }),
    );
    logger.info(`${deps.serverName} now runs ${commit.sha.slice(0, 12)} (${commit.subject}) in ${swap.containerId.slice(0, 12)}`);

    const done = record('succeeded', imageId);
    await clock.time('record', () => appendJournal(server.files, stateBase, done, logger));
    await clock.time('prune', async () => {
      const history = await readJournal(server.files, stateBase, config.app, logger);
      await pruneImages(server.engine, config.app, config.keep, history, swap.containerId, logger).catch((e: unknown) => logger.warn(`prune: ${String(e)}`));
    });
    return toResult(done, deps.serverName, clock.elapsed());
  } catch (e) {
    // Whatever the aborted stream threw ("aborted", EPIPE…), the user asked for this.
    const err = signal?.aborted && !isBmError(e, 'Cancelled') ? new BmError('Cancelled', 'Cancelled; the previous version keeps serving.') : asBmError(e);
    const failed = record(err.code === 'Cancelled' ? 'cancelled' : 'failed', imageId, err.message);
    await appendJournal(server.files, stateBase, failed, logger).catch((je: unknown) => logger.warn(`could not record the failure: ${String(je)}`));
    throw Object.assign(err, { result: toResult(failed, deps.serverName, clock.elapsed(), err) });
  } finally {
    await lock.release().catch(() => undefined);
  }
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
    transport: r.transport ?? 'none',
    error: err ? { code: err.code, message: err.message } : undefined,
  };
}

/** Builds the image of the commit (or reuses the local one), from the committed tree only. */
async function buildImage(deps: DeployDeps, commit: CommitInfo, tag: string, dirtyPaths: string[], dirty: boolean, signal?: AbortSignal) {
  const { config, repo, builder, logger, progress } = deps;
  const ref = imageTag(config.app, tag);
  if (!dirty) {
    const existing = await builder.image(ref);
    if (existing) {
      logger.info(`${ref} was built before on this machine: reusing it`);
      return existing;
    }
  }
  const toRepo = (p: string) => relative(repo.root, resolve(config.dir, p)).split('\\').join('/');
  const contextPrefix = toRepo(config.build.context).replace(/^\.$/, '');
  const dockerfilePath = toRepo(config.build.dockerfile);
  const readAt = async (p: string) => (dirty ? readWorkingFile(repo.root, p) : repo.fileAtCommit(commit.sha, p));
  const dockerfile = await readAt(dockerfilePath);
  if (!dockerfile) {
    const where = dirty ? 'in the working tree' : `in commit ${commit.sha.slice(0, 12)}`;
    throw new BmError('DockerfileMissing', `There is no ${config.build.dockerfile} ${where}: add and commit one, or set "build.dockerfile" in baremetal.json.`);
  }
  const insideContext = contextPrefix === '' || dockerfilePath.startsWith(`${contextPrefix}/`);
  const filter: ContextFilter = {
    contextPrefix,
    dockerfilePath,
    dockerignore: (await readAt(posix.join(contextPrefix, '.dockerignore')))?.toString('utf8'),
  };
  const extra: Record<string, Buffer> = insideContext ? {} : { [OUTSIDE_DOCKERFILE]: dockerfile };
  const dockerfileInContext = insideContext ? (contextPrefix ? dockerfilePath.slice(contextPrefix.length + 1) : dockerfilePath) : OUTSIDE_DOCKERFILE;
  let context: Readable;
  if (dirty) {
    const files = [...new Set([...(await repo.trackedAndUntracked()), ...dirtyPaths])];
    context = contextFromFiles(repo.root, files, filter, extra);
  } else {
    context = contextFromArchive(repo.archive(commit.sha, signal), filter, extra);
  }
  progress({ phase: 'build', message: `Building ${commit.sha.slice(0, 12)} (${commit.subject})` });
  return builder.build(
    {
      context,
      tag: ref,
      dockerfile: dockerfileInContext,
      buildArgs: config.build.args,
      target: config.build.target,
      labels: {
        [LABEL.app]: config.app,
        [LABEL.commit]: commit.sha,
        [LABEL.subject]: commit.subject,
        [LABEL.author]: commit.author,
        [LABEL.built]: new Date().toISOString(),
        ...(dirty ? { [LABEL.dirty]: 'true' } : {}),
      },
    },
    (line) => logger.info(`build: ${line}`),
    signal,
  );
}

async function readWorkingFile(root: string, p: string): Promise<Buffer | undefined> {
  return readFile(resolve(root, p)).catch(() => undefined);
}
