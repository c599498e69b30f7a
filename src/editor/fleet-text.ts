/**
 * What the editor says about a fleet (no vscode: unit tested): a group's line in the Servers
 * view, the Commits view's "on web", the targets' quick pick, one progress line for several
 * servers, and a rollout's outcome per server.
 */
import type { Config } from '../core/config/types';
import type { RolloutResult, ServerResult } from '../core/deploy/rollout';
import type { ProgressEvent } from '../core/ports';
import { progressText } from './progress-text';

/** What one server runs, as the model knows it: `known` false while it has not answered. */
export interface Runs {
  name: string;
  commit?: string;
  known: boolean;
}

const short = (sha: string) => sha.slice(0, 7);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "a1b2c3d", "not deployed", or "?" (not connected). */
export function runsText(r: Runs): string {
  if (!r.known) return '?';
  return r.commit ? short(r.commit) : 'not deployed';
}

/** "2 servers · a1b2c3d on all", "mixed: bm1 a1b2c3d, bm2 e4f5a6b", "2 servers · not deployed". */
export function groupDescription(members: readonly Runs[]): string {
  const count = plural(members.length, 'server');
  if (!members.length) return count;
  if (members.every((m) => !m.known)) return `${count} · connecting…`;
  const each = members.map((m) => `${m.name} ${runsText(m)}`).join(', ');
  if (members.some((m) => !m.known)) return `${count} · ${each}`;
  const commits = new Set(members.map((m) => m.commit));
  if (commits.size > 1) return `mixed: ${each}`;
  const [one] = commits;
  return one ? `${count} · ${short(one)} on all` : `${count} · not deployed`;
}

/**
 * Where a commit runs, said short: a group whose servers all run it is named instead of its
 * servers (larger groups first), then the servers no such group covers, in their order.
 */
export function deployedOnNames(running: readonly string[], groups: Readonly<Record<string, readonly string[]>> = {}): string[] {
  const on = new Set(running);
  const full = Object.entries(groups).filter(([, servers]) => servers.length > 0 && servers.every((s) => on.has(s)));
  const covered = new Set<string>();
  const picked = new Set<string>();
  for (const [name, servers] of [...full].sort((a, b) => b[1].length - a[1].length)) {
    if (servers.every((s) => covered.has(s))) continue;
    picked.add(name);
    for (const s of servers) covered.add(s);
  }
  return [...full.filter(([name]) => picked.has(name)).map(([name]) => name), ...running.filter((s) => !covered.has(s))];
}

export interface TargetPick {
  label: string;
  description?: string;
  detail?: string;
  /** What --server would say: a group, "all", or a server; undefined for a heading. */
  target?: string;
  heading?: boolean;
}

/** Whether a deploy or rollback asks where to: groups, or more than one server. */
export function asksForTargets(config: Pick<Config, 'servers' | 'groups'>): boolean {
  return Object.keys(config.groups ?? {}).length > 0 || Object.keys(config.servers).length > 1;
}

/** The targets' quick pick: each group (its servers and what each runs), all, then each server. */
export function targetPicks(config: Pick<Config, 'servers' | 'groups' | 'defaultServer'>, runs: (server: string) => Runs): TargetPick[] {
  const names = Object.keys(config.servers);
  const groups = Object.entries(config.groups ?? {});
  const mark = (t: string) => (config.defaultServer === t ? ' (default)' : '');
  const out: TargetPick[] = [];
  if (groups.length) {
    out.push({ label: 'Groups', heading: true });
    for (const [name, g] of groups) {
      out.push({ label: name, description: `group of ${plural(g.servers.length, 'server')}${mark(name)}`, detail: g.servers.map((s) => `${s}: ${runsText(runs(s))}`).join(' · '), target: name });
    }
  }
  out.push({ label: 'Servers', heading: true });
  out.push({ label: 'all', description: `every server: ${names.join(', ')}`, detail: groupDescription(names.map(runs)), target: 'all' });
  for (const n of names) out.push({ label: n, description: `${config.servers[n].host}${mark(n)}`, detail: `runs ${runsText(runs(n))}`, target: n });
  return out;
}

/**
 * One progress line for several servers at once: "bm1: Sending … · bm2: Checking health". The
 * fleet's own step (the build, a batch) leads while it is the latest news. Given the batches,
 * a server's first step of its deploy says where the others are: the earlier batches' servers
 * are done, the later ones wait for their batch.
 */
export class FleetProgress {
  private fleet?: string;
  private readonly servers = new Map<string, { phase?: string; text: string }>();

  constructor(names: readonly string[] = [], private readonly batches: readonly (readonly string[])[] = [names]) {
    for (const n of names) this.servers.set(n, { text: 'waiting' });
  }

  /** `server` undefined: the fleet's own event. Returns the line to show. */
  report(server: string | undefined, e: Pick<ProgressEvent, 'message' | 'bytes'> & { phase: string }): string {
    if (server === undefined) {
      this.fleet = shortText(e);
      // The fleet speaks once every server is connected (the build, then the batches).
      for (const s of this.servers.values()) if (s.phase === 'connect') Object.assign(s, { phase: 'connected', text: 'connected' });
      return this.text();
    }
    this.servers.set(server, { phase: e.phase, text: shortText(e) });
    this.fleet = undefined;
    if (e.phase !== 'connect') this.batchStarted(this.batchOf(server));
    return this.text();
  }

  private batchOf(server: string): number {
    return this.batches.findIndex((b) => b.includes(server));
  }

  private batchStarted(k: number): void {
    if (k < 0 || this.batches.length < 2) return;
    for (const [name, s] of this.servers) {
      const j = this.batchOf(name);
      if (j < k && s.phase !== 'done') Object.assign(s, { phase: 'done', text: 'done' });
      else if (j > k && s.phase !== 'queued') Object.assign(s, { phase: 'queued', text: `waiting for batch ${j + 1}` });
    }
  }

  text(): string {
    const each = [...this.servers].map(([n, s]) => `${n}: ${s.text}`).join(' · ');
    return this.fleet ? `${this.fleet}${each ? ` — ${each}` : ''}` : each;
  }
}

/** A step's words with full commit ids cut to 12 (the image tag `app:<40 hex>` fills a line several servers share). */
function shortText(e: Pick<ProgressEvent, 'message' | 'bytes'> & { phase: string }): string {
  return progressText(e).replace(/\b([0-9a-f]{12})[0-9a-f]{28}\b/g, '$1');
}

function serverOutcome(s: ServerResult): string {
  const runs = s.commit ? short(s.commit) : 'nothing';
  switch (s.outcome) {
    case 'deployed':
      return `${s.server} runs ${runs} (deployed${s.message ? `; ${s.message}` : ''})`;
    case 'rolled-back':
      return `${s.server} runs ${runs} (put back)`;
    case 'failed':
      return `${s.server} runs ${runs} (failed: ${(s.message ?? s.error?.message ?? 'unknown error').replace(/\.$/, '')})`;
    case 'not-reached':
      return `${s.server} runs ${runs} (${s.message?.startsWith('not reached') ? 'not reached' : (s.message ?? 'not reached').replace(/\.$/, '')})`;
  }
}

/** The last word of a rollout, one clause per server: what it runs now and why. */
export function rolloutSummary(r: RolloutResult): string {
  const what = r.kind === 'deploy' && r.commit ? `${short(r.commit)} (${r.subject}) ` : '';
  const each = r.servers.map(serverOutcome).join(' · ');
  if (r.result === 'succeeded') return `${r.kind === 'deploy' ? 'Deployed' : 'Rolled back'} ${what}to ${r.target}: ${each}.`;
  const ended = r.result === 'cancelled' ? 'was cancelled' : 'failed';
  return `The ${r.kind} ${r.kind === 'deploy' ? `of ${what}` : ''}to ${r.target} ${ended}: ${each}.`;
}

/**
 * The servers a failed deploy moved that can go back, by the commit each ran before (the
 * rollbackOnFailure rule: a server where nothing ran before keeps the new commit).
 */
export function movedBack(r: RolloutResult): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (r.kind !== 'deploy' || r.result === 'succeeded') return out;
  for (const s of r.servers) {
    if (s.outcome !== 'deployed' || !s.previousCommit || s.previousCommit === s.commit) continue;
    out.set(s.previousCommit, [...(out.get(s.previousCommit) ?? []), s.server]);
  }
  return out;
}

/** What the status bar says: the default target (a server, a group, or every server) and what it runs. */
export interface BarText {
  text: string;
  tooltip: string;
}

/** A server on the status bar: what it runs once connected, else its state ("unreachable") and why. */
export type BarRuns = Runs & { problem?: string; why?: string };

/**
 * `app@bm1 a1b2c3d ↑2` for one server; for a group or several servers `app@web a1b2c3d ↑2` when
 * all run one commit, `app@web mixed` when they differ, each server in the tooltip. `ahead`: how
 * many commits HEAD is ahead of a commit (-1: further than the list goes; undefined: no commits known).
 */
export function statusBarText(app: string, target: string, runs: readonly BarRuns[], ahead: (sha: string) => number | undefined): BarText {
  const many = runs.length > 1;
  let text = `$(server-environment) ${app}@${target}`;
  let tooltip = many ? `${app} on ${target} (${runs.map((r) => r.name).join(', ')})` : `${app} on ${target}`;
  const down = runs.filter((r) => r.problem);
  const known = runs.filter((r) => r.known && !r.problem);
  const commits = new Set(known.map((r) => r.commit));
  if (!many && down.length) {
    text += ` $(warning) ${down[0].problem}`;
    tooltip += `: ${down[0].why ?? down[0].problem}`;
  } else if (known.length && commits.size === 1) {
    const [sha] = commits;
    if (sha) {
      const n = ahead(sha);
      const arrow = n === undefined || n === 0 ? '' : n > 0 ? ` $(arrow-up)${n}` : ' $(arrow-up)30+';
      const words = n === undefined || n < 0 ? '' : n > 0 ? `; HEAD is ${n} commit(s) ahead` : ' (HEAD)';
      text += ` ${short(sha)}${arrow}`;
      tooltip += `: ${many ? 'all run' : 'runs'} ${sha.slice(0, 12)}${words}`;
    } else text += ' (not deployed)';
  } else if (commits.size > 1) text += ' $(warning) mixed';
  if (many) {
    if (down.length) text += ` · ${down.length} of ${runs.length} ${down.length === 1 ? down[0].problem : 'not connected'}`;
    tooltip += `\n${runs.map((r) => `${r.name}: ${r.problem ? (r.why ?? r.problem) : runsText(r)}`).join('\n')}`;
  }
  return { text, tooltip: `${tooltip}\nClick for actions` };
}
