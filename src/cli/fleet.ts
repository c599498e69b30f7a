/**
 * deploy, rollback, status and history on several servers (a group, "all", or an app with
 * roles): one SSH connection per server, each server's lines prefixed with its name, one result
 * line per server saying which commit it runs, exit code 1 when any server failed.
 */
import type { Targets } from '../core/config/fleet';
import { roleConfigs } from '../core/config/fleet';
import type { Config } from '../core/config/types';
import { asBmError } from '../core/errors';
import { rolloutDeploy, rolloutRollback, type RolloutDeps, type RolloutResult, type ServerResult } from '../core/deploy/rollout';
import { history, status, type AppStatus, type HistoryEntry } from '../core/deploy/status';
import { fleetParts } from '../app/deploy-parts';
import { fleetDeps } from '../app/fleet-deps';
import { abbreviateLines, formatBytes, formatDuration, relativeTime } from './output';
import type { Ctx } from './ctx';

/** Each server's lines prefixed with its name when there are several; the secrets of all of them are masked in every line. */
function fleetDepsOf(ctx: Ctx, config: Config, targets: Targets): ReturnType<typeof fleetDeps> {
  const width = Math.max(...targets.servers.map((s) => s.name.length));
  const several = targets.servers.length > 1;
  return fleetDeps(config, targets, {
    pool: ctx.pool,
    who: ctx.who,
    signal: ctx.signal,
    logger: ctx.out,
    progress: ctx.out.progress,
    forServer(name) {
      const out = several ? ctx.out.forServer(name, width) : ctx.out;
      return { logger: out, progress: out.progress };
    },
    onSecrets: (values) => Object.assign(ctx.out.secrets, values),
  });
}

export async function fleetDeploy(ctx: Ctx, config: Config, targets: Targets, forceTransfer: RolloutDeps['forceTransfer']): Promise<number> {
  const shared = await fleetParts(config);
  const deps = await fleetDepsOf(ctx, config, targets);
  const r = await rolloutDeploy(
    { ...deps, ...shared, forceTransfer },
    { ref: ctx.args.commit, allowDirty: ctx.args['allow-dirty'], wait: ctx.args.wait, signal: ctx.signal, rollbackOnFailure: ctx.args['rollback-on-failure'] },
  );
  return report(ctx, r);
}

export async function fleetRollback(ctx: Ctx, config: Config, targets: Targets): Promise<number> {
  const deps = await fleetDepsOf(ctx, config, targets);
  return report(ctx, await rolloutRollback(deps, { to: ctx.args.to, wait: ctx.args.wait, signal: ctx.signal }));
}

function report(ctx: Ctx, r: RolloutResult): number {
  // What the failed container said, on stderr under its server's name, as one server's deploy shows it.
  const width = Math.max(...r.servers.map((s) => s.server.length));
  for (const s of r.servers) if (s.detail) ctx.out.forServer(s.server, width).info(abbreviateLines(s.detail).split('\n').map((l) => `  ${l}`).join('\n'));
  ctx.out.result(r, ctx.args.json ?? false, () => describeRollout(r));
  return r.result === 'succeeded' ? 0 : 1;
}

const short = (sha?: string) => sha?.slice(0, 12) ?? 'nothing';

/** The summary a user reads last: what was rolled out, then one line per server with what it runs now. */
export function describeRollout(r: RolloutResult): string {
  const width = Math.max(...r.servers.map((s) => s.server.length));
  const count = `${r.servers.length} server${r.servers.length === 1 ? '' : 's'}${r.batches.length > 1 ? ` in ${r.batches.length} batches` : ''}`;
  const what = r.kind === 'deploy' ? `${short(r.commit)} (${r.subject}) ` : '';
  const ended = r.result === 'cancelled' ? 'was cancelled' : 'failed';
  const head = r.result === 'succeeded'
    ? `${r.kind === 'deploy' ? 'Deployed' : 'Rolled back'} ${what}to ${r.target} (${count}) in ${formatDuration(r.durationMs)}:`
    : `The ${r.kind} ${r.kind === 'deploy' ? `of ${what}` : ''}to ${r.target} ${ended}; each server now runs:`;
  return [head, ...r.servers.map((s) => `  ${`${s.server}:`.padEnd(width + 1)} ${serverLine(s)}`)].join('\n');
}

function serverLine(s: ServerResult): string {
  const runs = s.roles ? s.roles.map((x) => `${x.role} ${short(x.commit)}`).join(', ') : short(s.commit);
  const sent = s.bytesSent ? `, ${formatBytes(s.bytesSent)} sent` : '';
  switch (s.outcome) {
    case 'deployed':
      return `${runs} (deployed in ${formatDuration(s.durationMs)}${sent})${s.message ? `; ${s.message}` : ''}`;
    case 'rolled-back':
      return `${runs} (put back${s.results.some((x) => x.kind === 'deploy') ? ' after the failure' : ''}, ${formatDuration(s.durationMs)})`;
    case 'failed':
      return `${runs} (failed: ${s.message ?? s.error?.message ?? 'unknown error'})`;
    case 'not-reached':
      return s.message?.startsWith('not reached') ? `${runs} (${s.message.replace(/; it still runs \S+$/, '')})` : `${runs} (${s.message ?? 'not reached'})`;
  }
}

/** status on each server of the targets, and each role there. */
export async function fleetStatus(ctx: Ctx, config: Config, targets: Targets): Promise<(AppStatus | { server: string; app: string; state: 'unknown'; error: string })[]> {
  return Promise.all(targets.servers.map(async (s) => {
    try {
      ctx.out.progress({ phase: 'connect', message: `Connecting to ${s.name}` });
      const server = await ctx.pool.get(s, ctx.signal);
      const out: AppStatus[] = [];
      for (const c of roleConfigs(config, s.name)) out.push(await status(server, c, s.name, { who: ctx.who, tidy: true, proxy: out[0]?.proxy }));
      return out;
    } catch (e) {
      return [{ server: s.name, app: config.app, state: 'unknown' as const, error: asBmError(e).message }];
    }
  })).then((r) => r.flat());
}

export interface ServerHistory {
  server: string;
  app: string;
  role?: string;
  entries: HistoryEntry[];
  error?: string;
}

/** history on each server of the targets (and each role), newest first. */
export async function fleetHistory(ctx: Ctx, config: Config, targets: Targets): Promise<ServerHistory[]> {
  return Promise.all(targets.servers.map(async (s): Promise<ServerHistory[]> => {
    try {
      const server = await ctx.pool.get(s, ctx.signal);
      const out: ServerHistory[] = [];
      for (const c of roleConfigs(config, s.name)) out.push({ server: s.name, app: c.app, ...(c.role && { role: c.role }), entries: await history(server, c, s.name) });
      return out;
    } catch (e) {
      return [{ server: s.name, app: config.app, entries: [], error: asBmError(e).message }];
    }
  })).then((r) => r.flat());
}

export function describeHistory(h: HistoryEntry[], empty: string): string {
  if (!h.length) return empty;
  return h
    .map((e) => {
      const mark = e.current ? '*' : ' ';
      const result = e.result === 'succeeded' ? '✓' : e.result === 'cancelled' ? '–' : '✗';
      return `${mark} ${result} ${e.commit.slice(0, 12)}  ${e.kind.padEnd(8)} ${relativeTime(e.startedAt).padEnd(12)} ${e.who.padEnd(20)} ${e.subject}${e.reason ? `\n      ${e.reason}` : ''}`;
    })
    .join('\n');
}
