import { LABEL } from '../deploy/labels';
import { runningContainer } from '../deploy/status';
import { asBmError } from '../errors';
import type { ContainerInfo, Server } from '../ports';
import { sleep } from '../time';
import type { ResourceSample } from './sample';

export type StatsEvent =
  | { kind: 'sample'; sample: ResourceSample }
  /** A container starts being watched: the first one, or the one a deploy put in its place. */
  | { kind: 'container'; container: ContainerInfo; commit?: string; replaced: boolean }
  | { kind: 'status'; state: 'connected' | 'reconnecting' | 'waiting' | 'unavailable'; message: string };

export interface FollowStatsOptions {
  /** The server, connected; called again after a drop (the pool reconnects). */
  server: () => Promise<Server>;
  app: string;
  signal: AbortSignal;
  /** How often to look for the app's container while none runs. */
  pollMs?: number;
}

/**
 * The app's CPU, memory and network on one server, live, for as long as the signal allows: it
 * watches the running container and moves to the new one when a deploy replaces it (a
 * `container` event with `replaced`: the chart's deploy marker). A dropped connection is said and
 * retried; an engine that keeps no figures (rootless Podman on cgroup v1) is said once, and the
 * follow ends, since asking again would not change its answer.
 */
export async function* followAppStats(opts: FollowStatsOptions): AsyncGenerator<StatsEvent> {
  const pollMs = opts.pollMs ?? 1000;
  let current: string | undefined;
  let failures = 0;
  let announced: string | undefined;
  const status = (state: 'connected' | 'reconnecting' | 'waiting' | 'unavailable', message: string): StatsEvent | undefined => {
    if (announced === `${state}:${message}`) return undefined;
    announced = `${state}:${message}`;
    return { kind: 'status', state, message };
  };

  while (!opts.signal.aborted) {
    let server: Server;
    let container: ContainerInfo | undefined;
    try {
      server = await opts.server();
      container = await runningContainer(server, opts.app);
    } catch (e) {
      if (opts.signal.aborted) return;
      const s = status('reconnecting', `connection lost (${asBmError(e).message}); reconnecting`);
      if (s) yield s;
      await sleep(Math.min(10_000, 500 * 2 ** failures++), opts.signal);
      continue;
    }
    failures = 0;
    if (!server.engine.stats) {
      yield { kind: 'status', state: 'unavailable', message: 'this engine gives no stats' };
      return;
    }
    if (!container) {
      const s = status('waiting', `${opts.app} is not running; waiting for it`);
      if (s) yield s;
      await sleep(pollMs, opts.signal);
      continue;
    }
    if (container.id !== current) {
      yield { kind: 'container', container, commit: container.labels[LABEL.commit], replaced: current !== undefined };
      current = container.id;
    }
    try {
      for await (const sample of server.engine.stats(container.id, opts.signal)) {
        const s = status('connected', 'live');
        if (s) yield s;
        yield { kind: 'sample', sample };
      }
    } catch (e) {
      if (opts.signal.aborted) return;
      const err = asBmError(e);
      if (err.code === 'StatsUnavailable') {
        yield { kind: 'status', state: 'unavailable', message: err.message };
        return;
      }
      const s = status('reconnecting', `stats stream broke (${err.message}); reconnecting`);
      if (s) yield s;
      await sleep(500, opts.signal);
      continue;
    }
    // The stream ended by itself: the container stopped (a deploy, a crash) or the connection
    // dropped. Either way, look again.
    await sleep(200, opts.signal);
  }
}
