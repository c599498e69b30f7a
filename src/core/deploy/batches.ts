import type { RolloutConfig } from '../config/types';

/** Up to this many servers move all at once when the config says nothing; larger fleets go by quarters. */
export const ALL_AT_ONCE_UP_TO = 8;

/**
 * The batches a rollout goes through, in order; the first is the canary. With a release command
 * (migrations) and several servers, the first server goes alone: its release runs before any
 * other server starts the new version.
 */
export function planBatches(servers: readonly string[], rollout?: RolloutConfig, opts: { release?: boolean } = {}): string[][] {
  const n = servers.length;
  if (n === 0) return [];
  const b = rollout?.batch;
  const size = Math.max(1, b === undefined ? (n > ALL_AT_ONCE_UP_TO ? Math.ceil(n / 4) : n) : 'count' in b ? b.count : Math.ceil((b.percent * n) / 100));
  const rest = [...servers];
  const out: string[][] = [];
  if (opts.release && n > 1 && size > 1) out.push(rest.splice(0, 1));
  while (rest.length) out.push(rest.splice(0, size));
  return out;
}
