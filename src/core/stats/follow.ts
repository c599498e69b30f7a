import { followApp, type ContainerEvent, type StatusEvent } from '../deploy/follow-app';
import { BmError } from '../errors';
import type { Server } from '../ports';
import type { ResourceSample } from './sample';

export type StatsEvent = { kind: 'sample'; sample: ResourceSample } | ContainerEvent | StatusEvent;

export interface FollowStatsOptions {
  /** The server, connected; called again after a drop (the pool reconnects). */
  server: () => Promise<Server>;
  app: string;
  signal: AbortSignal;
  /** How often to look for the app's container while none runs. */
  pollMs?: number;
}

/**
 * The app's CPU, memory and network on one server, live (see followApp: a `container` event with
 * `replaced` is the chart's deploy marker). An engine that keeps no figures (rootless Podman on
 * cgroup v1) is said once, and the follow ends, since asking again would not change its answer.
 */
export function followAppStats(opts: FollowStatsOptions): AsyncGenerator<StatsEvent> {
  async function* read(server: Server, container: { id: string }): AsyncGenerator<StatsEvent> {
    if (!server.engine.stats) throw new BmError('StatsUnavailable', 'this engine gives no stats');
    for await (const sample of server.engine.stats(container.id, opts.signal)) yield { kind: 'sample', sample };
  }
  return followApp<StatsEvent>({
    ...opts,
    pollMs: opts.pollMs ?? 1000,
    streamName: 'stats stream',
    connectedMessage: 'live',
    // A stream that fails at once (no figures) never looked live.
    connectedWhen: 'first item',
    read,
    isFinal: (e) => e.code === 'StatsUnavailable',
  });
}
