/**
 * What a rollout needs besides the shared build parts (deploy-parts.ts), for the CLI and the
 * editor alike: each server's own secrets, its connection from the caller's pool, and its own
 * logger and progress (the CLI prefixes its lines with the server's name, the editor keeps one
 * progress line per server). The caller says only how it writes.
 */
import type { Targets } from '../core/config/fleet';
import type { Config } from '../core/config/types';
import type { RolloutDeps } from '../core/deploy/rollout';
import type { Logger, ProgressSink } from '../core/ports';
import type { ServerPool } from '../drivers/server-pool';
import { memberParts } from './deploy-parts';

export interface FleetSide {
  pool: Pick<ServerPool, 'get'>;
  who: string;
  signal?: AbortSignal;
  /** The fleet's own messages (the build, the batches). */
  logger: Logger;
  progress: ProgressSink;
  /** Where one server's messages go. */
  forServer(name: string): { logger: Logger; progress: ProgressSink };
  /** Told every secret value read for the servers, before anything runs (the CLI masks them). */
  onSecrets?(values: Record<string, string>): void;
  env?: NodeJS.ProcessEnv;
}

/** Reads every server's secrets first (a missing one stops the rollout before any connection), then connects each when the rollout asks. */
export async function fleetDeps(config: Config, targets: Targets, side: FleetSide): Promise<Omit<RolloutDeps, 'repo' | 'builder' | 'cache'>> {
  const env = side.env ?? process.env;
  const own = new Map<string, Awaited<ReturnType<typeof memberParts>>>();
  for (const s of targets.servers) own.set(s.name, await memberParts(config, s.name, env));
  for (const p of own.values()) side.onSecrets?.({ ...p.secrets, ...(p.tlsPair && { TLS_CERT: p.tlsPair.cert, TLS_KEY: p.tlsPair.key }) });
  return {
    config,
    targets,
    who: side.who,
    logger: side.logger,
    progress: side.progress,
    async member(name) {
      const out = side.forServer(name);
      const server = config.servers[name];
      out.progress({ phase: 'connect', message: `Connecting to ${name}` });
      const connected = await side.pool.get(server, side.signal);
      const parts = own.get(name)!;
      const builder = parts.builderFor(connected);
      return {
        server: connected, secrets: parts.secrets, tlsPair: parts.tlsPair, logger: out.logger, progress: out.progress,
        reconnect: () => side.pool.get(server, side.signal), ...(builder && { builder }),
      };
    },
  };
}
