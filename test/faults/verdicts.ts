/**
 * The faults suite's bounds and the judgements made with them: each returns the sentences of
 * what broke (none when the bound held), so a row fails exactly when a bound is crossed.
 * bench/faults.md says the same bounds in words; change both together.
 */
import type { Run } from './run-cli';

export const BOUNDS = {
  /** The app behind the proxy while a client dies or loses its connection: the longest time without an answer. */
  gapMs: 1000,
  /** A client whose connection was cut (its sshd killed: a FIN or a reset) ends within this of being let go on. */
  cutEndMs: 40_000,
  /** A client whose link went silent (no FIN, no reset) says so and ends within this of the drop. */
  silentEndMs: 40_000,
  /** The next command after a fault, from its start to its end (it never waits for the lock of a client that is gone). */
  nextMs: 30_000,
  /** The Docker Engine restarted (or the server "rebooted"): the app answers again within this of the engine's stop. */
  downMs: 20_000,
  /** The slow, lossy link: the poller's requests that time out (5 s each) at most this share of all... */
  lossyTimeoutShare: 0.005,
  /** ...and the longest time without an answer (one lost packet costs a retransmission, 1 s at first). */
  lossyGapMs: 3000,
} as const;

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The `error:` lines a failed command printed: it must be exactly one sentence, with no stack trace. */
export function errorProblem(stderr: string): string | undefined {
  const said = stderr.split('\n').filter((l) => l.startsWith('error:'));
  if (said.length === 0) return `it printed no error (${saidOf(stderr)})`;
  if (said.length > 1) return `it printed ${said.length} errors: ${said.join(' | ')}`;
  if (/^\s+at .+:\d+:\d+\)?$/m.test(stderr)) return `it printed a stack trace: ${said[0]}`;
  if (!/[.?!]$/.test(said[0]!.trim())) return `its error is not a sentence: ${said[0]}`;
  return undefined;
}

/** The error line a command printed (for the table), or its last line. */
export const saidOf = (stderr: string) => {
  const lines = stderr.trim().split('\n');
  // A crash: Node's own report ends with its version; the thrown error is the line to show.
  return lines.find((l) => l.startsWith('error:')) ?? lines.find((l) => /^\w*Error\b.*:/.test(l)) ?? lines.pop() ?? '';
};

/**
 * A client let go on after its connection was cut: it ends in time, and either did the work
 * (exit 0, the new version serves) or failed with one sentence. Exit 0 with the work undone is the worst.
 */
export function judgeCut(run: Run, servesAfter: boolean): string[] {
  const broke: string[] = [];
  if (run.timedOut) return [`the cut client did not end and was killed after ${s(run.ms)}`];
  const after = run.ms - (run.continuedAt ?? run.ms);
  if (after > BOUNDS.cutEndMs) broke.push(`the cut client took ${s(after)} to end (bound ${s(BOUNDS.cutEndMs)})`);
  if (run.code === 0 && !servesAfter) broke.push('the cut client exited 0, but its version does not serve');
  else if (run.code === null) broke.push('the cut client died of a signal');
  else if (run.code !== 0) {
    const p = errorProblem(run.stderr);
    if (p) broke.push(`the cut client failed (exit ${run.code}) but ${p}`);
  }
  return broke;
}

/** A client whose link went silent: non-zero within the bound of the drop, one sentence that names the server. */
export function judgeSilent(run: Run, dropAt: number, serverName: string): string[] {
  const took = run.ms - dropAt;
  if (run.timedOut) return [`the client said nothing and was killed ${s(took)} after the drop (bound ${s(BOUNDS.silentEndMs)})`];
  const broke: string[] = [];
  if (took > BOUNDS.silentEndMs) broke.push(`the client ended ${s(took)} after the drop (bound ${s(BOUNDS.silentEndMs)})`);
  if (run.code === 0) broke.push('the client exited 0 although its server could not be reached');
  else {
    const p = errorProblem(run.stderr);
    if (p) broke.push(`the client failed (exit ${run.code}) but ${p}`);
    else if (!saidOf(run.stderr).includes(serverName)) broke.push(`its error does not name the server ${serverName}: ${saidOf(run.stderr)}`);
  }
  return broke;
}

/** How the next command found the lock, and whether that is within the bound. */
export function judgeNext(next: Run): { lock: string; broke: string[] } {
  const broke: string[] = [];
  const waited = /Waiting for/.test(next.stderr);
  const takenOver = /taking it over/.test(next.stderr);
  const lock = waited ? `waited for it${takenOver ? ', then took it over' : ''}` : takenOver ? 'taken over at once (holder gone)' : 'free at once';
  if (waited) broke.push(`the next command waited for the lock of a client that is gone (${s(next.ms)} in all)`);
  if (next.ms > BOUNDS.nextMs) broke.push(`the next command took ${s(next.ms)} (bound ${s(BOUNDS.nextMs)})`);
  return { lock, broke };
}

/** The poller's longest time without an answer, against its bound. */
export function judgeGap(gapMs: number, bound: number = BOUNDS.gapMs, what = 'the app'): string[] {
  return gapMs > bound ? [`${what} did not answer for ${s(gapMs)} (bound ${s(bound)})`] : [];
}

export interface FuzzRow { target: string; tried: number; failed: number }

/**
 * The fuzz run: it ended by itself, every target reported (a test that crashed before its fuzzer
 * ran reports nothing, which `every()` over the rows would call a pass), none broke.
 */
export function judgeFuzz(rows: FuzzRow[], targets: readonly string[], exit: { code: number | null; crash?: string }): string[] {
  const broke: string[] = [];
  const missing = targets.filter((t) => !rows.some((r) => r.target === t));
  if (missing.length) broke.push(`the fuzzer reported nothing for ${missing.join(', ')}${exit.crash ? ` (${exit.crash})` : ''}`);
  const failed = rows.filter((r) => r.failed > 0);
  if (failed.length) broke.push(`inputs broke ${failed.map((r) => `${r.target} (${r.failed})`).join(', ')}`);
  if (exit.code !== 0 && !missing.length && !failed.length) broke.push(`the fuzz run exited ${exit.code}${exit.crash ? `: ${exit.crash}` : ''}`);
  const empty = rows.filter((r) => r.tried === 0);
  if (empty.length) broke.push(`no input was tried for ${empty.map((r) => r.target).join(', ')}`);
  return broke;
}
