import * as vscode from 'vscode';
import { redact } from '../../core/config/secrets';
import { asBmError, type BmError } from '../../core/errors';
import type { InAppProcess } from '../../core/exec/in-app';
import type { Logger, ProcessSession, TerminalSize } from '../../core/ports';

/** What a terminal runs: a shell in the app's container (reconnects after a drop) or a one-off command (never re-run by itself). */
export interface TerminalJob {
  kind: 'shell' | 'run';
  serverName: string;
  /** Connects (again) and starts the process at the terminal's size. */
  start(size: TerminalSize | undefined): Promise<InAppProcess>;
  /** Masked in what the terminal itself writes (the process's own output is its own). */
  secrets: Record<string, string>;
}

const RED = '\x1b[31m';
const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';

/**
 * An editor terminal onto a process in the app (a Pseudoterminal): keys go to it as typed (its
 * TTY turns Ctrl-C into SIGINT), its output comes back as it is, the size follows the panel.
 * Closing the terminal ends the process. A dropped connection is said in red, and Enter
 * reconnects a shell.
 */
export class AppTerminal implements vscode.Pseudoterminal {
  private readonly writes = new vscode.EventEmitter<string>();
  private readonly closes = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.writes.event;
  readonly onDidClose = this.closes.event;
  private size?: TerminalSize;
  private session?: ProcessSession;
  /** What a key does while no process runs: reconnect on Enter, or close. */
  private idle?: 'reconnect' | 'close';
  private disposed = false;

  constructor(
    private readonly job: TerminalJob,
    private readonly logger: Logger,
  ) {}

  open(dimensions: vscode.TerminalDimensions | undefined): void {
    this.size = dimensions ? { rows: dimensions.rows, columns: dimensions.columns } : undefined;
    void this.run();
  }

  handleInput(data: string): void {
    if (this.session) return this.session.write(data);
    if (this.idle === 'reconnect' && data.includes('\r')) void this.run();
    else if (this.idle === 'close') this.closes.fire();
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    this.size = { rows: dimensions.rows, columns: dimensions.columns };
    void this.session?.resize(this.size).catch(() => undefined);
  }

  close(): void {
    this.disposed = true;
    void this.session?.close();
    this.session = undefined;
    this.writes.dispose();
    this.closes.dispose();
  }

  private line(text: string): void {
    if (!this.disposed) this.writes.fire(`${redact(text, this.job.secrets)}\r\n`);
  }

  private async run(): Promise<void> {
    this.idle = undefined;
    this.line(`${DIM}Connecting to ${this.job.serverName}…${RESET}`);
    let proc: InAppProcess;
    try {
      proc = await this.job.start(this.size);
    } catch (e) {
      return this.stopped(asBmError(e));
    }
    if (this.disposed) return void proc.session.close();
    this.session = proc.session;
    const what = this.job.kind === 'shell' ? `${proc.command.join(' ')} in ${proc.container.name}` : `${proc.command.join(' ')} in a new container of ${proc.image ?? proc.container.image}`;
    this.logger.info(redact(`${this.job.kind}: ${what} on ${this.job.serverName}`, this.job.secrets));
    this.line(`${DIM}${what}${RESET}`);
    // One decoder for the whole stream: a UTF-8 character may be split between two chunks.
    const decoder = new TextDecoder('utf-8');
    proc.session.onData((chunk) => {
      if (!this.disposed) this.writes.fire(decoder.decode(chunk, { stream: true }));
    });
    try {
      const code = await proc.session.exit;
      this.session = undefined;
      if (this.disposed) return;
      if (this.job.kind === 'shell') return this.closes.fire(code);
      this.line('');
      this.line(`${BOLD}${code === 0 ? '' : RED}${proc.command[0]} exited with code ${code}.${RESET} ${DIM}Press any key to close.${RESET}`);
      this.idle = 'close';
    } catch (e) {
      this.session = undefined;
      this.stopped(asBmError(e));
    }
  }

  private stopped(err: BmError): void {
    this.logger.warn(`${this.job.kind} on ${this.job.serverName}: ${err.message}`);
    if (this.disposed) return;
    this.line('');
    this.line(`${RED}${err.message}${RESET}`);
    const reconnectable = this.job.kind === 'shell' && ['ConnectionLost', 'Unreachable', 'Internal'].includes(err.code);
    this.line(`${DIM}${reconnectable ? 'Press Enter to reconnect.' : 'Press any key to close.'}${RESET}`);
    this.idle = reconnectable ? 'reconnect' : 'close';
  }
}
