import { parseArgs } from 'node:util';
import type { ServerPool } from '../drivers/server-pool';
import type { CliOutput } from './output';

/**
 * What every CLI command is handed: its parsed options, its output, the one pool of server
 * connections, the folder and the Ctrl-C signal. In a file of its own, so that the command files
 * (fleet, swarm, in-app, fleet-logs) need not import main.ts, which imports them.
 */
export const OPTIONS = {
  server: { type: 'string' },
  role: { type: 'string' },
  commit: { type: 'string' },
  to: { type: 'string' },
  cwd: { type: 'string' },
  tail: { type: 'string' },
  since: { type: 'string' },
  json: { type: 'boolean' },
  follow: { type: 'boolean', short: 'f' },
  timestamps: { type: 'boolean' },
  wait: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  'allow-dirty': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'rollback-on-failure': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  interactive: { type: 'boolean', short: 'i' },
  tty: { type: 'boolean', short: 't' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Args = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export interface Ctx {
  args: Args;
  rest: string[];
  command?: string[];
  out: CliOutput;
  pool: ServerPool;
  cwd: string;
  signal: AbortSignal;
  who: string;
}
