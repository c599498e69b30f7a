import { followApp, type ContainerEvent, type StatusEvent } from '../deploy/follow-app';
import type { ContainerInfo, LogLine, Server } from '../ports';

export type LogEvent = { kind: 'line'; line: LogLine } | ContainerEvent | StatusEvent<'connected' | 'reconnecting' | 'waiting'>;

export interface FollowOptions {
  /** The server, connected; called again after a drop (the pool reconnects). */
  server: () => Promise<Server>;
  app: string;
  /** Lines of history to start with. */
  tail: number;
  signal: AbortSignal;
  /** How often to look for the app's container while none runs. */
  pollMs?: number;
}

/**
 * The app's log on one server, live (see followApp: it moves to the container a deploy puts in
 * place, and reconnects after a drop). After a drop it resumes after the last line seen (Docker's
 * `since` with nanosecond timestamps; lines at that exact instant that were already seen are
 * skipped), so nothing is lost or shown twice.
 */
export function followAppLogs(opts: FollowOptions): AsyncGenerator<LogEvent> {
  // Per stream, the last timestamp seen and the texts seen at it. Each stream is in time order,
  // so an older line is a repeat (Docker 20.10's follower repeats lines under a flood) and is
  // dropped, as is a line already seen at the same instant.
  let last = freshCursor();
  const lastTime = () => [last.stdout.time, last.stderr.time].filter((t): t is string => !!t).sort()[0];
  // History to start with: `tail` lines for the first container, all of a replacement's.
  let tailNext: number | undefined = opts.tail;

  async function* read(server: Server, container: ContainerInfo, fresh: { first: boolean; replaced: boolean }): AsyncGenerator<LogEvent> {
    if (fresh.replaced) {
      // A new container's whole log belongs to the new version.
      tailNext = undefined;
      last = freshCursor();
    }
    const resumeAt = lastTime();
    const since = resumeAt ? toDockerSince(resumeAt) : undefined;
    const tail = resumeAt ? undefined : tailNext;
    for await (const line of server.engine.logs(container.id, { follow: true, timestamps: true, since, tail }, opts.signal)) {
      const cursor = last[line.stream];
      if (line.time && cursor.time) {
        if (line.time < cursor.time) continue;
        if (line.time === cursor.time && cursor.seen.has(line.text)) continue;
      }
      if (line.time && line.time !== cursor.time) {
        cursor.time = line.time;
        cursor.seen = new Set();
      }
      cursor.seen.add(line.text);
      yield { kind: 'line', line };
    }
  }

  // No isFinal: a log follow is never 'unavailable', it retries.
  return followApp<LogEvent>({ ...opts, pollMs: opts.pollMs ?? 500, streamName: 'log stream', connectedMessage: 'following', connectedWhen: 'open', read }) as AsyncGenerator<LogEvent>;
}

function freshCursor(): Record<'stdout' | 'stderr', { time?: string; seen: Set<string> }> {
  return { stdout: { seen: new Set() }, stderr: { seen: new Set() } };
}

/** Docker's `since` takes seconds with a fraction: "2026-11-25T19:02:20.123456789Z" → "1795…20.123456789". */
export function toDockerSince(iso: string): string {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(iso);
  if (!m) return String(Math.floor(Date.parse(iso) / 1000));
  const seconds = Math.floor(Date.parse(`${m[1]}Z`) / 1000);
  return m[2] ? `${seconds}.${m[2].padEnd(9, '0').slice(0, 9)}` : String(seconds);
}
