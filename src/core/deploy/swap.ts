import type { Config } from '../config/types';
import { BmError, isBmError } from '../errors';
import type { ContainerInfo, ContainerSpec, Engine, Logger, ProgressSink } from '../ports';
import { waitHealthy } from './health';
import { LABEL } from './labels';

export interface SwapRequest {
  engine: Engine;
  config: Config;
  /** The image reference to run (app:tag). */
  image: string;
  commit: string;
  deployId: string;
  secrets: Record<string, string>;
  logger: Logger;
  progress: ProgressSink;
  signal?: AbortSignal;
}

export interface SwapResult {
  containerId: string;
  previous: ContainerInfo[];
  healthNote: string;
}

/** run.memory and run.cpus, for every container of the app (the new one, a release command's). */
export function limits(config: Config): Pick<ContainerSpec, 'memoryBytes' | 'cpus'> {
  return {
    ...(config.run.memoryBytes !== undefined && { memoryBytes: config.run.memoryBytes }),
    ...(config.run.cpus !== undefined && { cpus: config.run.cpus }),
  };
}

/**
 * Replaces the app's running container with a new one from `image`, health-gated.
 * The old container is only stopped (not removed) until the new one is healthy; on any failure
 * the new one is removed and the old one started again, so the previous version keeps serving.
 */
export async function swapIn(req: SwapRequest): Promise<SwapResult> {
  const { engine, config, logger, progress } = req;
  const all = await engine.containers({ [LABEL.app]: config.app });
  const previous = all.filter((c) => c.state === 'running' || c.state === 'restarting');

  progress({ phase: 'start', message: `Starting ${req.image}` });
  const name = `${config.app}-${req.commit.slice(0, 12)}-${req.deployId.slice(-6)}`;
  const containerId = await engine.create({
    name,
    image: req.image,
    env: { ...config.run.env, ...req.secrets },
    labels: { [LABEL.app]: config.app, [LABEL.commit]: req.commit, [LABEL.deployId]: req.deployId },
    ports: config.run.ports,
    volumes: config.run.volumes,
    restart: config.run.restart,
    command: config.run.command,
    ...limits(config),
  });

  const restorePrevious = async (why: string) => {
    const tail = await lastLines(engine, containerId, FAILED_LOG_LINES);
    await engine.remove(containerId).catch((e: unknown) => logger.warn(`could not remove the failed container ${name}: ${String(e)}`));
    for (const c of beside ? [] : previous) {
      await engine.start(c.id).catch((e: unknown) => logger.error(`could not restart the previous container ${c.name}: ${String(e)}`));
    }
    if (previous.length) logger.info(`${why}; the previous container ${previous.map((c) => c.name).join(', ')} is serving again`);
    return tail;
  };

  // Host ports can be bound by one container at a time, so the old one pauses for the swap; an
  // app that publishes none (a worker) starts beside the old one, which stops once it is healthy.
  const beside = config.run.ports.length === 0;
  try {
    if (!beside) for (const c of previous) await engine.stop(c.id, 10);
    await engine.start(containerId);
    progress({ phase: 'health', message: 'Checking health' });
    const healthNote = await waitHealthy(engine, containerId, {
      check: config.run.healthcheck,
      ports: config.run.ports,
      signal: req.signal,
      onAttempt: (m) => logger.debug(`health: ${m}`),
    });
    logger.info(`healthy: ${healthNote}`);
    // The new version serves: the old containers (and leftovers of crashed runs) go.
    if (beside) for (const c of previous) await engine.stop(c.id, 10).catch(() => undefined);
    for (const c of all) if (c.id !== containerId) await engine.remove(c.id).catch(() => undefined);
    return { containerId, previous, healthNote };
  } catch (e) {
    const tail = await restorePrevious('the new container failed');
    if (isBmError(e) && (e.code === 'HealthCheckFailed' || e.code === 'StartFailed')) {
      const keeps = previous.length ? ' The previous version keeps serving.' : '';
      throw new BmError(e.code, `${e.message}${keeps}`, tail ? `Last log lines of the new container:\n${tail}` : e.detail);
    }
    if (isBmError(e) && e.code === 'PortTaken') {
      throw new BmError(e.code, `${e.message}${previous.length ? ' The previous version keeps serving.' : ''}`, e.detail);
    }
    throw e;
  }
}

/**
 * How much of a failed container's log is kept (it is removed right after): health checks poll
 * fast and the app logs each request, so a short tail would hold only those and hide what the
 * app said when it started. The CLI shows the start and the end of it; the editor all of it.
 */
export const FAILED_LOG_LINES = 200;

export async function lastLines(engine: Engine, id: string, count = FAILED_LOG_LINES): Promise<string> {
  const lines: string[] = [];
  try {
    for await (const l of engine.logs(id, { follow: false, tail: count })) lines.push(l.text);
  } catch {
    /* the container may be gone already */
  }
  return lines.join('\n');
}
