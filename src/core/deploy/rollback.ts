import { imageName, type Config } from '../config/types';
import { BmError, failureOf } from '../errors';
import type { Logger, ProgressSink, Server } from '../ports';
import { newDeployId, PhaseClock, toResult, type DeployResult } from './deploy';
import { appendJournal, readJournal, type DeployRecord } from './journal';
import { imageTag } from './labels';
import { recordAbandoned } from './abandoned';
import { acquireLock } from './lock';
import { currentRecord } from './status';
import { swapIn } from './swap';
import { swapThroughProxy } from './proxy-swap';

export interface RollbackDeps {
  config: Config;
  server: Server;
  serverName: string;
  secrets: Record<string, string>;
  logger: Logger;
  progress: ProgressSink;
  who: string;
  /** proxy.tls's certificate and key, when named as secrets. */
  tlsPair?: { cert: string; key: string };
}

export interface RollbackOptions {
  /** A commit (full or abbreviated sha) of an earlier deploy; default: the previous one. */
  to?: string;
  wait?: boolean;
  signal?: AbortSignal;
}

/** Picks the deploy to go back to: by sha prefix, or the newest successful one not running now. */
export function chooseRollbackTarget(history: DeployRecord[], current: DeployRecord | undefined, to: string | undefined, app: string): DeployRecord {
  const succeeded = history.filter((r) => r.result === 'succeeded' && r.app === app).reverse();
  if (to) {
    const wanted = to.toLowerCase();
    const hit = succeeded.find((r) => r.commit.startsWith(wanted) || r.tag === to);
    if (!hit) {
      throw new BmError('NothingToRollBack', `No successful deploy of commit "${to}" is in this server's history: see "baremetal history", or deploy it with "baremetal deploy --commit ${to}".`);
    }
    return hit;
  }
  const hit = succeeded.find((r) => r.tag !== current?.tag);
  if (!hit) throw new BmError('NothingToRollBack', 'There is no earlier successful deploy on this server to roll back to.');
  return hit;
}

/** Starts the kept image of an earlier deploy: no build, no transfer, health-checked. */
export async function rollback(deps: RollbackDeps, opts: RollbackOptions = {}): Promise<DeployResult> {
  const { config, server, logger, progress } = deps;
  const clock = new PhaseClock();
  const stateBase = config.servers[deps.serverName].stateDir;
  const lock = await acquireLock(server.files, stateBase, config.app, {
    owner: deps.who,
    operation: 'rollback',
    wait: opts.wait,
    signal: opts.signal,
    sessions: server.sessions,
    onTakeover: (h) => logger.info(`the lock of ${h.owner}'s ${h.operation} was left by a client that is gone: taking it over`),
  });
  let record: DeployRecord | undefined;
  await recordAbandoned(server, stateBase, config.app, lock.abandoned, deps.who, logger).catch((e: unknown) => logger.warn(`could not record the unfinished deploy left by a dead client: ${String(e)}`));
  try {
    const history = await readJournal(server.files, stateBase, config.app, logger);
    const current = await currentRecord(server, config.app, history);
    const target = chooseRollbackTarget(history, current, opts.to, config.app);
    const ref = imageTag(imageName(config), target.tag);
    const image = await server.engine.image(ref);
    if (!image) {
      throw new BmError(
        'ImagePruned',
        `The image of ${target.commit.slice(0, 12)} is no longer on ${deps.serverName} (pruned; "keep" is ${config.keep}): redeploy that commit with "baremetal deploy --commit ${target.commit.slice(0, 12)}".`,
      );
    }
    const id = newDeployId();
    record = { ...target, id, kind: 'rollback', server: deps.serverName, image: image.id, who: deps.who, startedAt: clock.startedAt.toISOString(), bytesSent: 0, transport: 'none', reason: undefined };
    await lock.describe({ ...record, result: 'failed', finishedAt: record.startedAt, phasesMs: {} }).catch(() => undefined);
    progress({ phase: 'start', message: `Rolling back to ${target.commit.slice(0, 12)} (${target.subject})` });
    let servingAfterMs: number | undefined;
    await clock.time('start', async () => {
      if (!config.proxy) return swapIn({ engine: server.engine, config, image: ref, commit: target.commit, deployId: id, secrets: deps.secrets, logger, progress, signal: opts.signal });
      // The same path as a deploy, with the kept image: nothing rebuilt or sent.
      const swapStart = Date.now();
      const r = await swapThroughProxy({
        server, serverName: deps.serverName, stateBase, config: { ...config, proxy: config.proxy }, image: ref, commit: target.commit,
        deployId: id, secrets: deps.secrets, who: deps.who, logger, progress, signal: opts.signal, tlsPair: deps.tlsPair,
      });
      // Counted from the command's start, as for a deploy.
      servingAfterMs = swapStart - clock.startedAt.getTime() + r.servingAfterMs;
      return r;
    });
    const done: DeployRecord = { ...record, finishedAt: new Date().toISOString(), result: 'succeeded', phasesMs: clock.phasesMs };
    progress({ phase: 'record', message: `Recording the rollback in ${deps.serverName}'s history` });
    await appendJournal(server.files, stateBase, done, logger);
    return { ...toResult(done, deps.serverName, clock.elapsed()), ...(servingAfterMs !== undefined && { servingAfterMs }) };
  } catch (e) {
    const err = failureOf(e, opts.signal);
    if (record) {
      const failed: DeployRecord = { ...record, finishedAt: new Date().toISOString(), result: err.code === 'Cancelled' ? 'cancelled' : 'failed', reason: err.message, phasesMs: clock.phasesMs };
      await appendJournal(server.files, stateBase, failed, logger).catch(() => undefined);
      Object.assign(err, { result: toResult(failed, deps.serverName, clock.elapsed(), err) });
    }
    throw err;
  } finally {
    await lock.release().catch(() => undefined);
  }
}
