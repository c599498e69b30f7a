/**
 * The CLI's last defence against a silent end. Node exits with code 0 once its event loop is
 * empty, even while the command's promise has not settled: a stream whose connection died
 * without an 'error' or 'end', a callback nobody calls. CI would read that as a deploy done. The
 * guard turns every such end into one sentence and a non-zero exit: only the command's own
 * answer may exit 0.
 */

/** The exit code of a run that stopped with its work unfinished (sysexits' EX_SOFTWARE). */
export const EXIT_UNFINISHED = 70;

export interface GuardedRun {
  /** The command: its number is the exit code. */
  run: () => Promise<number>;
  /** What was under way, for the sentence ("Sending the image to bm1"). */
  lastStep: () => string | undefined;
  /** Where the sentence goes (stderr). */
  write: (text: string) => void;
  /** process.exit, replaceable in tests. */
  exit: (code: number) => void;
  /** Whether to add a stray error's stack (--verbose). */
  verbose?: () => boolean;
  /** The process whose 'beforeExit', 'uncaughtException' and 'unhandledRejection' are watched. */
  proc?: Pick<NodeJS.Process, 'on' | 'off'>;
}

export function straySentence(e: unknown, lastStep: string | undefined): string {
  const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  // Our own errors are written as sentences already; anything else gets the step it broke.
  if (e instanceof Error && e.name === 'BmError') return `error: ${message}`;
  const at = lastStep ? ` during "${lastStep}"` : '';
  return `error: baremetal failed${at}: ${message}; check what runs with "baremetal status" and run the command again (with --verbose to see more).`;
}

export function unfinishedSentence(lastStep: string | undefined): string {
  const at = lastStep ? ` during "${lastStep}"` : '';
  return `error: baremetal stopped${at} with nothing left to wait for and no answer: it did not finish, so check what runs with "baremetal status" and run the command again (with --verbose to see more).`;
}

export function runGuarded(g: GuardedRun): void {
  const proc = g.proc ?? process;
  let settled = false;
  // 'beforeExit' comes only when the loop is empty: a pending answer always has something in it
  // (a socket, a timer), so this never cuts a run that is still working.
  const onBeforeExit = () => {
    if (settled) return;
    settled = true;
    g.write(`${unfinishedSentence(g.lastStep())}\n`);
    g.exit(EXIT_UNFINISHED);
  };
  proc.on('beforeExit', onBeforeExit);
  // An error thrown where nobody awaits it (an event with no listener, a promise left alone) would
  // end the process with a stack trace: it is one sentence too, the stack only with --verbose.
  const onStray = (e: unknown) => {
    if (settled) return;
    settled = true;
    g.write(`${straySentence(e, g.lastStep())}\n`);
    if (g.verbose?.() && e instanceof Error && e.stack) g.write(`${e.stack}\n`);
    g.exit(1);
  };
  proc.on('uncaughtException', onStray);
  proc.on('unhandledRejection', onStray);
  g.run().then(
    (code) => {
      settled = true;
      proc.off('beforeExit', onBeforeExit);
      g.exit(code);
    },
    (e: unknown) => {
      settled = true;
      proc.off('beforeExit', onBeforeExit);
      g.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
      g.exit(1);
    },
  );
}
