import { LABEL } from '../deploy/labels';
import { runningContainer } from '../deploy/status';
import { asBmError } from '../errors';
import type { ContainerInfo, LogLine, Server } from '../ports';
import { sleep } from '../time';

export type LogEvent =
  | { kind: 'line'; line: LogLine }
  /** A container starts being followed: the first one, or the one a deploy put in its place. */
  | { kind: 'container'; container: ContainerInfo; commit?: string; replaced: boolean }
  | { kind: 'status'; state: 'connected' | 'reconnecting' | 'waiting'; message: string };

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
 * The app's log on one server, live, for as long as the signal allows: it follows the running
 * container, moves to the new one when a deploy replaces it (a `container` event marks the
 * switch), and when the SSH connection drops it says so, reconnects and resumes after the last
 * line seen (Docker's `since` with nanosecond timestamps; lines at that exact instant that were
 * already seen are skipped), so nothing is lost or shown twice.
 */
export async function* followAppLogs(opts: FollowOptions): AsyncGenerator<LogEvent> {
  const pollMs = opts.pollMs ?? 500;
  let current: string | undefined;
  // Per stream, the last timestamp seen and the texts seen at it. Each stream is in time order,
  // so an older line is a repeat (Docker 20.10's follower repeats lines under a flood) and is
  // dropped, as is a line already seen at the same instant.
  let last = freshCursor();
  const lastTime = () => [last.stdout.time, last.stderr.time].filter((t): t is string => !!t).sort()[0];
  let failures = 0;
  let announced: string | undefined;
  // History to start with: `tail` lines for the first container, all of a replacement's.
  let tailNext: number | undefined = opts.tail;

  const status = (state: 'connected' | 'reconnecting' | 'waiting', message: string): LogEvent | undefined => {
    if (announced === `${state}:${message}`) return undefined;
    announced = `${state}:${message}`;
    return { kind: 'status', state, message };
  };

  while (!opts.signal.aborted) {
    let server: Server;
    let container: ContainerInfo | undefined;
    try {
      server = await opts.server();
      container = await runningContainer(server, opts.app);
    } catch (e) {
      const s = status('reconnecting', `connection lost (${asBmError(e).message}); reconnecting`);
      if (s) yield s;
      await sleep(Math.min(10_000, 500 * 2 ** failures++), opts.signal);
      continue;
    }
    failures = 0;
    if (!container) {
      const s = status('waiting', `${opts.app} is not running; waiting for it`);
      if (s) yield s;
      await sleep(pollMs, opts.signal);
      continue;
    }
    const connected = status('connected', 'following');
    if (connected) yield connected;
    if (container.id !== current) {
      yield { kind: 'container', container, commit: container.labels[LABEL.commit], replaced: current !== undefined };
      // A new container's whole log belongs to the new version; the first one starts at `tail`.
      if (current !== undefined) tailNext = undefined;
      current = container.id;
      last = freshCursor();
    }

    try {
      const resumeAt = lastTime();
      const since = resumeAt ? toDockerSince(resumeAt) : undefined;
      const tail = resumeAt ? undefined : tailNext;
      for await (const line of server.engine.logs(current, { follow: true, timestamps: true, since, tail }, opts.signal)) {
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
    } catch (e) {
      if (opts.signal.aborted) return;
      const s = status('reconnecting', `log stream broke (${asBmError(e).message}); reconnecting`);
      if (s) yield s;
      await sleep(500, opts.signal);
      continue;
    }
    // The stream ended by itself: the container stopped (a deploy, a crash) or the connection
    // dropped. Either way, look again.
    if (server.isConnected?.() === false) {
      const s = status('reconnecting', 'connection lost; reconnecting');
      if (s) yield s;
    }
    await sleep(200, opts.signal);
  }
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
