/** The tables of npm run bench:swap, from what one run of each mode recorded. */
import type { DeployResult } from '../src/core/deploy/deploy';
import type { CliRun } from './bench-swap-app';
import { end, longestGap, ok, PERIOD_MS, quantile, WORKERS, type Sample } from './bench-swap-load';

export interface Op {
  kind: 'deploy' | 'rollback';
  run: CliRun;
  json: DeployResult;
  /** The commit it switched to (12 characters). */
  commit: string;
}

export interface ModeResult {
  mode: 'proxy' | 'direct';
  app: string;
  first: CliRun;
  second: CliRun;
  ops: Op[];
  samples: Sample[];
  idle: { from: number; to: number };
  proxyWasRunning: boolean;
  loadAvg: number;
}

const SLOW_MS = 100;
const TITLE = { proxy: 'through the proxy', direct: 'old swap (no proxy)' };
const sec = (ms: number) => (Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`);
const msec = (ms: number) => (Number.isNaN(ms) ? '–' : ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`);
const median = (xs: number[]) => quantile(xs, 0.5);
const medMax = (xs: number[]) => `${sec(median(xs))} (max ${sec(Math.max(...xs))})`;
const during = (r: ModeResult, s: Sample) => r.ops.some((o) => s.t >= o.run.start && s.t <= o.run.end);
const wall = (c: CliRun) => c.end - c.start;

/** The first answer from the version the command switched to, after the command was started. */
function seenServing(r: ModeResult, op: Op): number {
  const s = r.samples.filter((x) => ok(x) && x.commit === op.commit && end(x) >= op.run.start).sort((x, y) => end(x) - end(y))[0];
  return s ? end(s) - op.run.start : NaN;
}

/** The CLI's own figure: servingAfterMs through the proxy; without it, durationMs (serving only when the command is done). */
const cliServing = (op: Op) => op.json.servingAfterMs ?? op.json.durationMs;

function failureLabel(s: Sample): string {
  return s.error ?? `HTTP ${s.status}`;
}

/** What the CLI was doing at time t of an op: its last stderr line by then, without names and numbers. */
function phaseAt(r: ModeResult, t: number): string {
  const op = r.ops.find((o) => t >= o.run.start && t <= o.run.end);
  if (!op) return 'between commands';
  const line = [...op.run.lines].reverse().find((l) => l.t <= t);
  return line ? `${op.kind}: ${normalize(line.text, r.app)}` : `${op.kind}: before its first line (Node start, config)`;
}

export function normalize(text: string, app: string): string {
  return text
    .replace(/^\s*(› )?/, '')
    .split(app).join('APP')
    .replace(/\b[0-9a-f]{12,64}\b/g, 'SHA')
    .replace(/--(new|old)-[0-9a-f]{6}/g, '--$1-…')
    .replace(/\d+(\.\d+)? (ms|s)\b/g, '… $2')
    .replace(/\(.*\)/, '(…)')
    .trim();
}

/**
 * When each stderr line of a command arrived, from the spawn (median over the commands of a
 * kind), with two moments of the load among them: the last answer of the old version and the
 * first of the new one.
 */
function timeline(r: ModeResult, kind: Op['kind']): { label: string; at: number }[] {
  const ops = r.ops.filter((o) => o.kind === kind);
  const at = new Map<string, number[]>();
  const mark = (label: string, ms: number) => at.set(label, [...(at.get(label) ?? []), ms]);
  for (const o of ops) {
    const answers = r.samples.filter((s) => ok(s) && end(s) >= o.run.start && end(s) <= o.run.end);
    const old = answers.filter((s) => s.commit !== o.commit).map(end);
    mark('(Node starts, reads baremetal.json)', 0);
    for (const l of o.run.lines) mark(normalize(l.text, r.app), l.t - o.run.start);
    if (old.length) mark('_(the load: last answer of the old version)_', Math.max(...old) - o.run.start);
    mark('_(the load: first answer of the new version)_', seenServing(r, o));
    mark('(the command exits)', o.run.end - o.run.start);
  }
  return [...at].map(([label, ms]) => ({ label, at: median(ms) })).sort((x, y) => x.at - y.at);
}

function modeRows(r: ModeResult) {
  const swapsFrom = r.ops[0].run.start;
  const swapsTo = r.ops[r.ops.length - 1].run.end;
  const loadFrom = r.samples.length ? Math.min(...r.samples.map((s) => s.t)) : 0;
  const loadTo = r.samples.length ? Math.max(...r.samples.map(end)) : 0;
  const failed = r.samples.filter((s) => !ok(s));
  const idle = r.samples.filter((s) => ok(s) && s.t >= r.idle.from && s.t <= r.idle.to).map((s) => s.ms);
  const busy = r.samples.filter((s) => ok(s) && during(r, s)).map((s) => s.ms);
  const gap = longestGap(r.samples, swapsFrom, swapsTo);
  const gapOp = r.ops.findIndex((o) => gap.at >= o.run.start && gap.at <= o.run.end);
  const kinds = (k: Op['kind']) => r.ops.filter((o) => o.kind === k);
  const firstWall = wall(r.first);
  const rollbacks = kinds('rollback');
  const reused = r.samples.filter((s) => s.reused).length;
  return {
    requests: `${r.samples.length} (${(r.samples.length / ((loadTo - loadFrom) / 1000)).toFixed(0)}/s; ${r.samples.filter((s) => during(r, s)).length} while a command ran; ${Math.round((100 * reused) / r.samples.length)} % over a reused connection)`,
    failed: failed.length ? `**${failed.length}** (${((100 * failed.length) / r.samples.length).toFixed(2)} %)` : '**0**',
    gap: `**${sec(gap.ms)}**${gapOp >= 0 ? ` (in ${r.ops[gapOp].kind} #${gapOp + 1})` : ''}`,
    idle: `${msec(quantile(idle, 0.5))} / ${msec(quantile(idle, 0.99))}`,
    busy: `${msec(quantile(busy, 0.5))} / ${msec(quantile(busy, 0.99))}`,
    ...Object.fromEntries((['deploy', 'rollback'] as const).flatMap((k) => [
      [`${k}Cli`, medMax(kinds(k).map(cliServing))],
      [`${k}Seen`, medMax(kinds(k).map((o) => seenServing(r, o)))],
      [`${k}Wall`, medMax(kinds(k).map((o) => wall(o.run)))],
    ])),
    first: `${sec(firstWall)} (durationMs ${sec(r.first.json!.durationMs)}: build ${sec(r.first.json!.phasesMs.build ?? NaN)}, transfer ${sec(r.first.json!.phasesMs.ship ?? NaN)} of ${(r.first.json!.bytesSent / 1e6).toFixed(2)} MB, start ${sec(r.first.json!.phasesMs.start ?? NaN)}${r.mode === 'proxy' && !r.proxyWasRunning ? ', the proxy started by it' : ''})`,
    ratioWall: `${(median(rollbacks.map((o) => wall(o.run))) / firstWall).toFixed(2)}×`,
    ratioServing: `**${(median(rollbacks.map((o) => seenServing(r, o))) / firstWall).toFixed(2)}×**`,
  } as Record<string, string>;
}

const ROWS: [string, string][] = [
  ['requests (the whole load: idle, the commands, 1 s before and 2 s after)', 'requests'],
  ['failed requests (error, timeout or not 200)', 'failed'],
  ['longest gap between successful answers, during the commands', 'gap'],
  ['latency p50 / p99 at idle (successful answers)', 'idle'],
  ['latency p50 / p99 while a command runs (successful answers)', 'busy'],
  ['deploy: command → serving, the CLI\'s `--json`¹', 'deployCli'],
  ['deploy: command → first answer of the new version, seen by the load', 'deploySeen'],
  ['deploy: the whole command', 'deployWall'],
  ['rollback: command → serving, the CLI\'s `--json`¹', 'rollbackCli'],
  ['rollback: command → first answer of the new version, seen by the load', 'rollbackSeen'],
  ['rollback: the whole command', 'rollbackWall'],
  ['first deploy of A (fresh build + transfer): the whole command', 'first'],
  ['rollback: command → serving (seen by the load) ÷ first deploy (medians; the goal: ≤ 0.2)', 'ratioServing'],
  ['rollback ÷ first deploy, whole commands (with the drain of an app that ignores SIGTERM)', 'ratioWall'],
];

export function report(results: ModeResult[], opts: { ops: number; idleMs: number; timeoutMs: number; bulkMb: number }): string {
  const rows = results.map(modeRows);
  const table = [
    `| | ${results.map((r) => TITLE[r.mode]).join(' | ')} |`,
    `|---|${results.map(() => '---').join('|')}|`,
    ...ROWS.map(([label, key]) => `| ${label} | ${rows.map((r) => r[key]).join(' | ')} |`),
  ].join('\n');

  // Grouped by what the CLI was doing when the request was sent, with when that was (median, from the command's spawn).
  const grouped = (r: ModeResult, pick: (s: Sample) => boolean, key: (s: Sample) => string) => {
    const groups = new Map<string, { at: number[]; ms: number[] }>();
    for (const s of r.samples.filter(pick)) {
      const k = key(s);
      const g = groups.get(k) ?? { at: [], ms: [] };
      g.at.push(s.t - (r.ops.find((o) => s.t >= o.run.start && s.t <= o.run.end)?.run.start ?? NaN));
      g.ms.push(s.ms);
      groups.set(k, g);
    }
    return [...groups].sort((x, y) => y[1].ms.length - x[1].ms.length);
  };
  const failures = results.map((r) => {
    const lines = grouped(r, (s) => !ok(s), (s) => `${failureLabel(s)}${s.reused ? ' (reused connection)' : ''} | ${phaseAt(r, s.t)}`)
      .map(([k, g]) => `| ${k} | ${sec(median(g.at))} | ${g.ms.length} |`);
    return `**${TITLE[r.mode]}**: ${lines.length ? `\n\n| error | what the CLI was doing (its last line by then) | sent at (median, from the spawn) | requests |\n|---|---|---:|---:|\n${lines.join('\n')}` : 'none.'}`;
  });

  const slow = results.map((r) => {
    const lines = grouped(r, (s) => ok(s) && s.ms >= SLOW_MS, (s) => phaseAt(r, s.t))
      .map(([k, g]) => `| ${k} | ${sec(median(g.at))} | ${g.ms.length} | ${msec(median(g.ms))} | ${msec(Math.max(...g.ms))} |`);
    return `**${TITLE[r.mode]}**: ${lines.length ? `\n\n| what the CLI was doing when the request was sent | sent at (median, from the spawn) | answers | latency median | max |\n|---|---:|---:|---:|---:|\n${lines.join('\n')}` : 'none.'}`;
  });

  const timelines = results.flatMap((r) => (['deploy', 'rollback'] as const).map((k) => {
    const t = timeline(r, k);
    const rows = t.map((x, i) => `| ${x.label} | ${sec(x.at)} | ${i + 1 < t.length ? sec(t[i + 1].at - x.at) : ''} |`);
    return `**${TITLE[r.mode]}, ${k}** (medians of ${r.ops.filter((o) => o.kind === k).length}):\n\n| line on stderr, or moment of the load | at (from the spawn) | to the next |\n|---|---:|---:|\n${rows.join('\n')}`;
  }));

  return [
    'How the two swaps go (the code, not this run): without the proxy (src/core/deploy/swap.ts) the old container is stopped ' +
      '(`docker stop`, 10 s timeout) before the new one is started on the same host port and health-checked; this app\'s PID 1 ignores SIGTERM, ' +
      'so the old one keeps answering through those 10 s and is then killed. Through the proxy (proxy-swap.ts) the new container starts beside the old one, ' +
      'is health-checked, and takes the DNS name Caddy follows (looked up again every quarter second); 2 s later the old one is stopped with ' +
      '`drainSeconds` (10) as its timeout, which this app waits out in full: the command ends about 12 s after the switch.',
    `${opts.ops} commands per mode on bm2, back to back (1 s apart): rollback (to A), deploy --commit B, rollback, …, each checked to rebuild and send nothing, after A (fresh) and B were deployed once. ` +
      `Load: ${WORKERS} workers in the bench process, each a request every ${PERIOD_MS} ms (${(WORKERS * 1000) / PERIOD_MS}/s in all), half with a keep-alive agent, half a new connection each; ` +
      `a request fails on an error, on no answer within ${opts.timeoutMs / 1000} s, or on a status other than 200. Idle: ${opts.idleMs / 1000} s of the same load before the first command. ` +
      `Medians over the ${Math.ceil(opts.ops / 2)} rollbacks and the ${Math.floor(opts.ops / 2)} deploys, with the maximum.`,
    table,
    '¹ Through the proxy, `servingAfterMs`: from the start of the deploy or rollback in the CLI (after Node started and SSH connected) until the new container took the live name. ' +
      'Without the proxy there is no such figure: `durationMs` (the same start, until the command is done; the new version serves from its health check on, shortly before). ' +
      '"Seen by the load" is from spawning the CLI until the first answer carrying the new commit. ' +
      'The whole rollback includes stopping the old version, which for this app (SIGTERM ignored) is the full stop timeout in both modes; ' +
      `the first deploy builds and sends the app with ${opts.bulkMb} MB of random data standing for its dependencies (BENCH_SWAP_BULK_MB), as a real app's first deploy does.`,
    '## Where failed requests came from',
    ...failures,
    `## Slow answers (${SLOW_MS} ms or more, successful)`,
    ...slow,
    '## Where the time of a command goes',
    'When each line the CLI prints on stderr arrived in the bench, counted from spawning the CLI.',
    ...timelines,
  ].join('\n\n');
}
