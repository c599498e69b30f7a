import type { HealthcheckConfig, PortMapping } from '../config/types';
import { BmError } from '../errors';
import type { ContainerInfo, Engine } from '../ports';
import { sleep } from '../time';

export interface HealthOptions {
  /** An HTTP check; false: the image's own HEALTHCHECK if it has one, else "keeps running". */
  check: HealthcheckConfig | false;
  ports: PortMapping[];
  /** How long a container without a check must stay up to count as started. */
  settleMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  onAttempt?: (message: string) => void;
}

/**
 * Waits until the new container is healthy, or throws HealthCheckFailed with the reason. The
 * HTTP check is made from the server itself (through the SSH connection), so it sees exactly
 * what the server's clients would.
 */
export async function waitHealthy(engine: Engine, containerId: string, opts: HealthOptions): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? (opts.check ? opts.check.timeoutSeconds * 1000 : 30_000);
  const intervalMs = opts.check ? opts.check.intervalSeconds * 1000 : 500;
  const settleMs = opts.settleMs ?? 3000;
  const deadline = Date.now() + timeoutMs;
  const httpTarget = opts.check ? httpTargetFor(opts.check, opts.ports) : undefined;
  let lastProblem = 'it did not answer';
  let runningSince: number | undefined;
  // Most apps answer within a second: look again soon at first, then at the configured pace.
  let pause = Math.min(100, intervalMs);

  for (;;) {
    if (opts.signal?.aborted) throw new BmError('Cancelled', 'Cancelled during the health check; the previous version is serving again.');
    const c = await engine.container(containerId);
    if (!c) throw new BmError('HealthCheckFailed', 'The new container disappeared during the health check.');
    const dead = deadReason(c);
    if (dead) throw new BmError('HealthCheckFailed', `The new container ${dead}.`);

    if (opts.check) {
      const host = httpTarget?.host ?? c.ipAddress;
      const port = httpTarget?.port ?? opts.check.port;
      if (host && port) {
        try {
          const status = await engine.httpGet(host, port, opts.check.path, Math.min(5000, Math.max(500, deadline - Date.now())));
          if (status >= 200 && status < 400) return `HTTP ${status} from ${opts.check.path} on port ${port}`;
          lastProblem = `GET ${opts.check.path} answered HTTP ${status}`;
        } catch (e) {
          lastProblem = `GET ${opts.check.path} on port ${port} failed (${(e as Error).message})`;
        }
      } else {
        lastProblem = 'it has no address to check';
      }
      opts.onAttempt?.(lastProblem);
    } else if (c.health) {
      if (c.health === 'healthy') return "the image's HEALTHCHECK reports healthy";
      if (c.health === 'unhealthy') throw new BmError('HealthCheckFailed', "The new container's own HEALTHCHECK reports it unhealthy.");
      lastProblem = "its HEALTHCHECK still says 'starting'";
    } else {
      runningSince ??= Date.now();
      if (Date.now() - runningSince >= settleMs) return `it kept running for ${Math.round(settleMs / 1000)}s`;
    }

    if (Date.now() >= deadline) {
      throw new BmError('HealthCheckFailed', `The new container was not healthy within ${Math.round(timeoutMs / 1000)}s: ${lastProblem}.`);
    }
    await sleep(Math.min(pause, Math.max(0, deadline - Date.now())), opts.signal);
    pause = Math.min(pause * 2, intervalMs);
  }
}

function deadReason(c: ContainerInfo): string | undefined {
  if (c.state === 'exited' || c.state === 'dead') return `exited with code ${c.exitCode ?? '?'}`;
  if (c.state === 'restarting' || (c.restartCount ?? 0) > 0) return `keeps restarting (exit code ${c.exitCode ?? '?'})`;
  return undefined;
}

/** The published host port of the checked container port, reached on the server's loopback. */
export function httpTargetFor(check: HealthcheckConfig, ports: PortMapping[]): { host: string; port: number } | undefined {
  const tcp = ports.filter((p) => p.protocol === 'tcp');
  const mapping = check.port === undefined ? tcp[0] : tcp.find((p) => p.containerPort === check.port);
  if (!mapping) return undefined; // unpublished: the caller uses the container's own address
  const host = !mapping.hostIp || mapping.hostIp === '0.0.0.0' ? '127.0.0.1' : mapping.hostIp;
  return { host, port: mapping.hostPort };
}
