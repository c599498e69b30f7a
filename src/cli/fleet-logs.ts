/**
 * `baremetal logs --server GROUP|all`, or of an app with roles: the app's log from several
 * servers (or roles) as one stream in time order, each line prefixed with where it came from, as the editor's merged log panel shows it.
 * With --follow it follows every server across deploys and reconnects (core/logs/follow.ts) and
 * merges with a bounded delay (core/logs/merge.ts); without, it reads each server's lines with
 * their timestamps and sorts them.
 */
import { redact } from '../core/config/secrets';
import type { AppStream } from '../core/config/fleet';
import { runningContainer } from '../core/deploy/status';
import { asBmError } from '../core/errors';
import { followAppLogs } from '../core/logs/follow';
import { TimeMerger } from '../core/logs/merge';
import type { LogLine } from '../core/ports';
import type { Ctx } from './ctx';
import { logLineFor } from './log-text';

interface Tagged { s: number; t?: string; line: LogLine }

export async function fleetLogs(ctx: Ctx, sources: AppStream[], opts: { tail?: number; since?: string; follow: boolean }): Promise<number> {
  const width = Math.max(...sources.map((s) => s.label.length));
  const print = (t: Tagged) => {
    const l = t.line;
    const to = l.stream === 'stderr' ? process.stderr : process.stdout;
    const text = logLineFor(to, ctx.args.timestamps && l.time ? `${l.time} ${l.text}` : l.text);
    to.write(`${sources[t.s].label.padEnd(width)} | ${redact(text, ctx.out.secrets)}\n`);
  };
  if (!opts.follow) {
    let failed = 0;
    const all = (await Promise.all(sources.map(async (s, i) => {
      try {
        const server = await ctx.pool.get(s.server, ctx.signal);
        const c = await runningContainer(server, s.app);
        if (!c) {
          ctx.out.info(`${s.label}: ${s.app} is not running there`);
          return [];
        }
        const out: Tagged[] = [];
        for await (const line of server.engine.logs(c.id, { follow: false, tail: opts.tail, since: opts.since, timestamps: true }, ctx.signal)) out.push({ s: i, t: line.time, line });
        return out;
      } catch (e) {
        failed++;
        ctx.out.error(`${s.label}: ${asBmError(e).message}`);
        return [];
      }
    }))).flat();
    // Docker's timestamps sort as strings; a stable sort keeps each server's own order on ties.
    all.sort((a, b) => (a.t ?? '').localeCompare(b.t ?? ''));
    for (const t of all) print(t);
    return failed ? 1 : 0;
  }
  const merger = new TimeMerger<Tagged>(sources.length);
  const flush = () => merger.take().forEach(print);
  const timer = setInterval(flush, 100);
  try {
    await Promise.all(sources.map(async (s, i) => {
      const events = followAppLogs({ server: () => ctx.pool.get(s.server, ctx.signal), app: s.app, tail: opts.tail ?? 100, signal: ctx.signal });
      for await (const e of events) {
        if (e.kind === 'line') merger.push({ s: i, t: e.line.time, line: e.line });
        else {
          merger.markStarted(i);
          // What a server says waits for its earlier lines (and the others' before them).
          merger.takeThrough(i).forEach(print);
          if (e.kind === 'container') process.stderr.write(`${s.label.padEnd(width)} | ── ${e.replaced ? 'now following' : 'following'} ${e.container.name} (${e.commit?.slice(0, 12) ?? '?'}) ──\n`);
          else ctx.out.info(`${s.label}: ${e.message}`);
        }
      }
    }));
  } finally {
    clearInterval(timer);
    flush();
  }
  return 0;
}
