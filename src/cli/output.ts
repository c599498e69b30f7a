import { redact } from '../core/config/secrets';
import type { Logger, ProgressEvent } from '../core/ports';

/**
 * The CLI's contract: progress and logs on stderr, results on stdout. Every line that leaves
 * the process passes through `redact`, so a secret value never reaches a terminal or CI log.
 */
export class CliOutput implements Logger {
  secrets: Record<string, string> = {};
  private lastShip = 0;

  /** Starts every line when several servers write at once ("bm1: "). */
  private prefix = '';
  private parent?: CliOutput;

  constructor(
    readonly verbose: boolean,
    private readonly err: NodeJS.WritableStream = process.stderr,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  /** The output of one server of several: its lines start with its name, its sends are throttled on their own. */
  forServer(name: string, width = name.length): CliOutput {
    const child = new CliOutput(this.verbose, this.err, this.out);
    child.prefix = `${`${name}:`.padEnd(width + 1)} `;
    child.parent = this;
    return child;
  }

  private line(text: string): void {
    const secrets = this.parent?.secrets ?? this.secrets;
    const prefixed = this.prefix ? text.split('\n').map((l) => `${this.prefix}${l}`).join('\n') : text;
    this.err.write(`${redact(prefixed, secrets)}\n`);
  }

  debug(message: string): void {
    if (this.verbose) this.line(`  ${message}`);
  }

  info(message: string): void {
    // Build output is long: shown with --verbose, or as detail when the build fails.
    if (message.startsWith('build: ') && !this.verbose) {
      if (/^build: Step \d+\/\d+ :/.test(message)) this.line(`  ${message.slice(7)}`);
      return;
    }
    this.line(`  ${message}`);
  }

  warn(message: string): void {
    this.line(`warning: ${message}`);
  }

  error(message: string): void {
    this.line(`error: ${message}`);
  }

  /** The last step shown ("bm1: Sending the image"), for a run that ends unfinished (exit-guard.ts). */
  lastStep?: string;

  progress = (e: ProgressEvent): void => {
    faultStop(e);
    const root = this.parent ?? this;
    root.lastStep = `${this.prefix}${e.message}`.trim();
    if (e.phase === 'ship' && e.bytes !== undefined) {
      const now = Date.now();
      if (e.bytes > 0 && now - this.lastShip < 1000) return;
      this.lastShip = now;
      this.line(`› ${e.message}${e.bytes ? ` (${formatBytes(e.bytes)} sent)` : ''}`);
      return;
    }
    this.line(`› ${e.message}`);
  };

  result(value: unknown, json: boolean, human: () => string): void {
    const text = json ? JSON.stringify(value, null, 2) : human();
    this.out.write(`${redact(text, this.secrets)}\n`);
  }
}

/**
 * Fault injection for `npm run faults` (scripts/faults.ts), off unless BAREMETAL_FAULT_STOP_AT
 * names a phase ("ship:mid": once bytes are on the wire): at its first progress event the CLI
 * says so and stops itself (SIGSTOP), frozen at exactly that point, so the suite can kill it or
 * cut its connection there, then let it go on (SIGCONT) or not. A stderr pipe is written
 * synchronously on Linux, so the line is out before the stop.
 */
let faultStopped = false;
function faultStop(e: ProgressEvent): void {
  const at = process.env.BAREMETAL_FAULT_STOP_AT;
  if (!at || faultStopped) return;
  const hit = at === 'ship:mid' ? e.phase === 'ship' && (e.bytes ?? 0) > 0 : at === e.phase;
  if (!hit) return;
  faultStopped = true;
  process.stderr.write(`fault-stop: ${at}\n`);
  process.kill(process.pid, 'SIGSTOP');
}

/** Long text for a terminal: its first `head` lines and last `tail` lines, with a note of what is between. */
export function abbreviateLines(text: string, head = 10, tail = 20): string {
  const lines = text.split('\n');
  if (lines.length <= head + tail + 1) return text;
  return [...lines.slice(0, head), `… ${lines.length - head - tail} more lines …`, ...lines.slice(-tail)].join('\n');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 90) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function relativeTime(iso: string, now = Date.now()): string {
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
