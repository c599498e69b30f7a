/**
 * A deploy or rollback to several servers: the one-server pipeline (deploy.ts, rollback.ts) run
 * on each, batch after batch, in parallel within a batch, over one SSH connection per server.
 * The image is built once, before any server is touched, and each server is sent only what it
 * lacks. A failure stops the rollout after its batch: the servers not reached keep what they run,
 * and `rollbackOnFailure` puts the servers already moved back on what they ran before. Each
 * server keeps its own history, lock and kept images, as with one server.
 */
import { roleConfigs, type Targets } from '../config/fleet';
import { imageName, type Config } from '../config/types';
import { asBmError, BmError, throwIfAborted } from '../errors';
import type { Builder, Logger, ProgressSink, Repo, Server } from '../ports';
import { platformString } from '../build/platform';
import { trimLayerCache } from '../transfer/cache-eviction';
import type { ExportedImage, LayerCache } from '../transfer/layer-cache';
import type { TransferPath } from '../transfer/ship';
import { planBatches } from './batches';
import { deploy, type DeployOptions, type DeployResult } from './deploy';
import { imageTag, LABEL } from './labels';
import { rollback, type RollbackOptions } from './rollback';
import { shareImage } from './shared-image';
import { runningContainer } from './status';

/** What one server's deploy needs besides what the whole fleet shares. */
export interface MemberParts {
  server: Server;
  secrets: Record<string, string>;
  tlsPair?: { cert: string; key: string };
  /** Names the server in what it logs (the CLI prefixes "bm1: "). */
  logger: Logger;
  progress: ProgressSink;
  reconnect?: () => Promise<Server>;
  /** build.on "server": the server's own engine builds. */
  builder?: Builder;
}

export interface RolloutDeps {
  config: Config;
  targets: Targets;
  /** Connects to one server (one SSH connection, kept for the whole rollout) and gathers its parts. */
  member(name: string): Promise<MemberParts>;
  repo: Repo;
  builder: Builder;
  cache: LayerCache;
  buildSecrets?: Record<string, string>;
  who: string;
  forceTransfer?: TransferPath;
  /** The fleet's own messages: the build, the batches. */
  logger: Logger;
  progress: ProgressSink;
}

export type ServerOutcome = 'deployed' | 'rolled-back' | 'failed' | 'not-reached';

export interface ServerResult {
  server: string;
  outcome: ServerOutcome;
  /** The commit the server runs now (its first role's), undefined when nothing runs. */
  commit?: string;
  /** What it ran before this command. */
  previousCommit?: string;
  /** Per role, when the app has roles: which commit each runs now. */
  roles?: { role: string; app: string; commit?: string }[];
  /** One sentence: why it failed, or why it was not reached or not put back. */
  message?: string;
  error?: { code: string; message: string };
  /** Longer material of a failure (the new container's last log lines), for the log. */
  detail?: string;
  /** Each role's deploy or rollback on this server, as one-server commands report them. */
  results: DeployResult[];
  bytesSent: number;
  durationMs: number;
}

export interface RolloutResult {
  kind: 'deploy' | 'rollback';
  /** What --server named: a group, "all", or a server. */
  target: string;
  result: 'succeeded' | 'failed' | 'cancelled';
  commit?: string;
  subject?: string;
  batches: string[][];
  servers: ServerResult[];
  /** How many times the image was built for this rollout (0 when every server had it). */
  builds: number;
  durationMs: number;
}

export interface RolloutOptions extends DeployOptions {
  rollbackOnFailure?: boolean;
}

interface Member extends MemberParts {
  name: string;
  configs: Config[];
  /** Commit running before, per role app. */
  before: Map<string, string | undefined>;
  /** Commit running now, per role app, as this command changed it. */
  now: Map<string, string | undefined>;
  /** Role apps this command's deploy moved to the new commit. */
  moved: Set<string>;
}

const short = (sha: string | undefined) => sha?.slice(0, 12) ?? 'nothing';

export async function rolloutDeploy(deps: RolloutDeps, opts: RolloutOptions = {}): Promise<RolloutResult> {
  const t0 = Date.now();
  const { config, logger, signal } = { ...deps, signal: opts.signal };
  const names = deps.targets.servers.map((s) => s.name);
  const batches = planBatches(names, deps.targets.rollout, { release: config.run.release !== undefined });
  const shared = await shareImage({ config, repo: deps.repo, builder: deps.builder, logger, progress: deps.progress, buildSecrets: deps.buildSecrets, cache: deps.cache }, opts);
  const base = { kind: 'deploy' as const, target: deps.targets.name, commit: shared.commit.sha, subject: shared.commit.subject, batches };

  const reached = await connectAll(deps, names, config);
  if ('failed' in reached) return { ...base, ...reached.failed, builds: 0, durationMs: Date.now() - t0 };
  const members = reached.members;
  // Migrations run once, on the first server, before any other server runs the new version.
  for (const m of members.slice(1)) m.configs = m.configs.map((c) => (c.run.release ? { ...c, run: { ...c.run, release: undefined } } : c));

  let exported: ExportedImage | undefined;
  if (config.build.on !== 'server') {
    const platform = await onePlatform(members);
    const ref = imageTag(imageName(config), shared.tag);
    const lacking = await Promise.all(members.map(async (m) => shared.dirty || !(await m.server.engine.image(ref))));
    if (lacking.some(Boolean)) {
      // Built and taken apart before any server is touched: a build that fails changes nothing anywhere.
      try {
        await shared.build(platform, signal);
        throwIfAborted(signal);
        exported = await shared.export(signal);
      } catch (e) {
        const err = asBmError(e);
        return { ...base, result: err.code === 'Cancelled' ? 'cancelled' : 'failed', builds: shared.builds(), durationMs: Date.now() - t0, servers: members.map((m) => untouched(m, `nothing was deployed: ${err.message}`, err)) };
      }
    }
  }

  const results = new Map<string, ServerResult>();
  let stopped: string | undefined;
  for (const [i, batch] of batches.entries()) {
    if (stopped) break;
    if (batches.length > 1) deps.progress({ phase: 'start', message: `Batch ${i + 1} of ${batches.length}${i === 0 ? ' (canary)' : ''}: ${batch.join(', ')}` });
    const done = await Promise.all(batch.map((name) => deployOn(deps, members.find((m) => m.name === name)!, shared, opts)));
    for (const r of done) results.set(r.server, r);
    const failed = done.filter((r) => r.outcome === 'failed').map((r) => r.server);
    if (failed.length) stopped = `the rollout stopped after ${failed.join(', ')} failed`;
    else if (signal?.aborted) stopped = 'the rollout was cancelled';
  }
  for (const m of members) if (!results.has(m.name)) results.set(m.name, untouched(m, `not reached: ${stopped ?? 'the rollout stopped'}; it still runs ${short(m.before.get(m.configs[0]?.app))}`));

  if (stopped && opts.rollbackOnFailure) {
    await Promise.all(members.filter((m) => m.moved.size > 0).map(async (m) => results.set(m.name, await putBack(deps, m, results.get(m.name)!, signal))));
  }
  if (exported) await trimLayerCache(deps.cache, exported, logger);
  const servers = names.map((n) => results.get(n)!);
  const result = signal?.aborted ? 'cancelled' : servers.some((s) => s.outcome === 'failed') ? 'failed' : 'succeeded';
  return { ...base, result, servers, builds: shared.builds(), durationMs: Date.now() - t0 };
}

/** Every server's connection first, in parallel: one unreachable server stops the rollout before anything changes. */
async function connectAll(deps: RolloutDeps, names: string[], config: Config): Promise<{ members: Member[] } | { failed: Pick<RolloutResult, 'result' | 'servers'> }> {
  const settled = await Promise.allSettled(names.map(async (name): Promise<Member> => {
    const parts = await deps.member(name);
    const configs = roleConfigs(config, name);
    const before = new Map<string, string | undefined>();
    for (const c of configs) before.set(c.app, (await runningContainer(parts.server, c.app))?.labels[LABEL.commit]);
    return { ...parts, name, configs, before, now: new Map(before), moved: new Set() };
  }));
  if (settled.every((s) => s.status === 'fulfilled')) return { members: settled.map((s) => (s as PromiseFulfilledResult<Member>).value) };
  const servers = settled.map((s, i): ServerResult => {
    if (s.status === 'fulfilled') return untouched(s.value, `not reached: another server could not be reached, so nothing was changed; it still runs ${short(s.value.before.get(s.value.configs[0]?.app))}`);
    const err = asBmError(s.reason);
    return { server: names[i], outcome: 'failed', message: err.message, error: { code: err.code, message: err.message }, results: [], bytesSent: 0, durationMs: 0 };
  });
  return { failed: { result: servers.some((s) => s.error?.code === 'Cancelled') ? 'cancelled' : 'failed', servers } };
}

/** The one platform every server runs, or a sentence naming who runs what (one image cannot serve two CPUs). */
async function onePlatform(members: Member[]): Promise<string | undefined> {
  const seen = await Promise.all(members.map(async (m) => {
    const p = await m.server.engine.platform?.();
    return { name: m.name, platform: p ? platformString(p) : undefined };
  }));
  const kinds = [...new Set(seen.map((s) => s.platform).filter((p): p is string => p !== undefined))];
  if (kinds.length > 1) {
    throw new BmError(
      'PlatformMismatch',
      `These servers run different CPUs (${seen.map((s) => `${s.name}: ${s.platform ?? 'unknown'}`).join(', ')}) and one image serves one: deploy each kind with its own group (--server GROUP), or set "build": { "on": "server" } so each server builds its own; nothing was built or sent.`,
    );
  }
  return kinds[0];
}

/** Each role in turn on one server; the first role that fails stops the server (the others keep what they run). */
async function deployOn(deps: RolloutDeps, m: Member, shared: Awaited<ReturnType<typeof shareImage>>, opts: RolloutOptions): Promise<ServerResult> {
  const t0 = Date.now();
  const results: DeployResult[] = [];
  for (const c of m.configs) {
    try {
      const r = await deploy({
        config: c, server: m.server, serverName: m.name, repo: deps.repo, builder: m.builder ?? deps.builder, secrets: m.secrets, logger: m.logger, progress: m.progress,
        who: deps.who, cache: deps.cache, forceTransfer: deps.forceTransfer, reconnect: m.reconnect, buildSecrets: deps.buildSecrets, tlsPair: m.tlsPair,
        shared, siblingApps: m.configs.filter((x) => x !== c).map((x) => x.app),
      }, opts);
      results.push(r);
      m.now.set(c.app, r.commit);
      m.moved.add(c.app);
    } catch (e) {
      const err = asBmError(e);
      const failed = (e as { result?: DeployResult }).result;
      if (failed) results.push(failed);
      const role = c.role ? `the role ${c.role}: ` : '';
      return summarize(m, 'failed', results, Date.now() - t0, `${role}${err.message}`, err);
    }
  }
  return summarize(m, 'deployed', results, Date.now() - t0);
}

/** After a failed rollout: the server's moved roles back on what they ran before. */
async function putBack(deps: RolloutDeps, m: Member, now: ServerResult, signal?: AbortSignal): Promise<ServerResult> {
  const t0 = Date.now();
  const results = [...now.results];
  const elapsed = () => now.durationMs + Date.now() - t0;
  for (const c of m.configs.filter((x) => m.moved.has(x.app))) {
    const to = m.before.get(c.app);
    const role = c.role ? `the role ${c.role}: ` : '';
    if (!to) return summarize(m, 'deployed', results, elapsed(), `${role}nothing ran there before, so it keeps the new commit`);
    try {
      const r = await rollback({ config: c, server: m.server, serverName: m.name, secrets: m.secrets, tlsPair: m.tlsPair, logger: m.logger, progress: m.progress, who: deps.who }, { to, signal });
      results.push(r);
      m.now.set(c.app, r.commit);
    } catch (e) {
      const err = asBmError(e);
      return summarize(m, 'failed', results, elapsed(), `${role}putting it back on ${short(to)} failed: ${err.message}`, err);
    }
  }
  return summarize(m, 'rolled-back', results, elapsed());
}

/** One server's line of the result: which commit each role runs now. */
function summarize(m: Member, outcome: ServerOutcome, results: DeployResult[], durationMs: number, message?: string, err?: BmError): ServerResult {
  const roles = m.configs.map((c) => ({ role: c.role ?? '', app: c.app, commit: m.now.get(c.app) }));
  return {
    server: m.name,
    outcome,
    commit: roles[0]?.commit,
    previousCommit: m.before.get(m.configs[0]?.app),
    ...(m.configs.some((c) => c.role) && { roles }),
    ...(message && { message }),
    ...(err && { error: { code: err.code, message: err.message } }),
    ...(err?.detail && { detail: err.detail }),
    results,
    bytesSent: results.reduce((n, r) => n + r.bytesSent, 0),
    durationMs,
  };
}

function untouched(m: Member, message: string, err?: BmError): ServerResult {
  return summarize(m, 'not-reached', [], 0, message, err);
}

/** `rollback --server GROUP`: each server back on its previous deploy (or --to), batch after batch. */
export async function rolloutRollback(deps: Omit<RolloutDeps, 'repo' | 'builder' | 'cache' | 'buildSecrets' | 'forceTransfer'>, opts: RollbackOptions = {}): Promise<RolloutResult> {
  const t0 = Date.now();
  const names = deps.targets.servers.map((s) => s.name);
  const batches = planBatches(names, deps.targets.rollout);
  const base = { kind: 'rollback' as const, target: deps.targets.name, batches, builds: 0 };
  const reached = await connectAll(deps as RolloutDeps, names, deps.config);
  if ('failed' in reached) return { ...base, ...reached.failed, durationMs: Date.now() - t0 };
  const results = new Map<string, ServerResult>();
  let stopped: string | undefined;
  for (const batch of batches) {
    if (stopped) break;
    const done = await Promise.all(batch.map(async (name) => {
      const m = reached.members.find((x) => x.name === name)!;
      const t = Date.now();
      const rs: DeployResult[] = [];
      for (const c of m.configs) {
        try {
          const r = await rollback({ config: c, server: m.server, serverName: m.name, secrets: m.secrets, tlsPair: m.tlsPair, logger: m.logger, progress: m.progress, who: deps.who }, opts);
          rs.push(r);
          m.now.set(c.app, r.commit);
        } catch (e) {
          const err = asBmError(e);
          return summarize(m, 'failed', rs, Date.now() - t, `${c.role ? `the role ${c.role}: ` : ''}${err.message}`, err);
        }
      }
      return summarize(m, 'rolled-back', rs, Date.now() - t);
    }));
    for (const r of done) results.set(r.server, r);
    const failed = done.filter((r) => r.outcome === 'failed').map((r) => r.server);
    if (failed.length) stopped = `the rollback stopped after ${failed.join(', ')} failed`;
  }
  for (const m of reached.members) if (!results.has(m.name)) results.set(m.name, untouched(m, `not reached: ${stopped}; it still runs ${short(m.before.get(m.configs[0]?.app))}`));
  const servers = names.map((n) => results.get(n)!);
  return { ...base, result: servers.some((s) => s.outcome === 'failed') ? 'failed' : 'succeeded', servers, durationMs: Date.now() - t0 };
}
