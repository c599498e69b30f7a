import type { Duplex } from 'node:stream';
import { BmError } from '../../core/errors';
import type { ProcessSession, TerminalSize } from '../../core/ports';

type Listener = (chunk: Buffer, stream: 'stdout' | 'stderr') => void;

/** What a session needs from the engine besides its stream: the exit code, resize, signals, hang-up. */
export interface SessionControl {
  /** Where it runs, for the sentence when the connection drops ("bm1"). */
  label: string;
  /** The exit code, asked once the stream has ended. */
  exitCode(): Promise<number>;
  resize(size: TerminalSize): Promise<void>;
  signal(name: 'INT' | 'TERM' | 'HUP'): Promise<void>;
  /** Ends the process (and what it started) for good. */
  hangUp(): Promise<void>;
  connectionLost(): boolean;
}

/**
 * A hijacked exec or attach stream as a ProcessSession. Without a TTY the stream carries Docker's
 * 8-byte frame headers (stream id, three zero bytes, uint32 size); with one, raw bytes.
 */
export class HijackedSession implements ProcessSession {
  private listener?: Listener;
  private held: [Buffer, 'stdout' | 'stderr'][] = [];
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;
  private closing = false;
  private readonly endedPromise: Promise<void>;
  readonly exit: Promise<number>;

  constructor(
    private readonly stream: Duplex,
    private readonly tty: boolean,
    private readonly control: SessionControl,
  ) {
    stream.on('data', (d: Buffer) => (tty ? this.emit(d, 'stdout') : this.demux(d)));
    this.endedPromise = new Promise<void>((resolve) => {
      const done = () => {
        this.ended = true;
        resolve();
      };
      stream.on('end', done);
      stream.on('close', done);
      stream.on('error', done);
    });
    this.exit = this.endedPromise.then(() => this.exitCodeAfterEnd());
    // Nobody may be waiting yet; the rejection is still seen by whoever asks later.
    this.exit.catch(() => undefined);
  }

  /** True once the output has ended (the process exited, or the connection went). */
  get hasEnded(): boolean {
    return this.ended;
  }

  /** Resolves when the stream ends, or after `ms`; true when it ended. */
  async endedWithin(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
    const r = await Promise.race([this.endedPromise.then(() => true as const), timeout]);
    clearTimeout(timer);
    return r;
  }

  /** Everything held back so far (for a start failure's sentence), as text. */
  heldText(): string {
    return this.held.map(([b]) => b.toString()).join('');
  }

  onData(listener: Listener): void {
    this.listener = listener;
    for (const [chunk, s] of this.held.splice(0)) listener(chunk, s);
  }

  write(data: string | Uint8Array): void {
    if (!this.ended && this.stream.writable) this.stream.write(data);
  }

  endInput(): void {
    // Half-close: the process sees the end of its input, its output still comes back.
    if (!this.ended) this.stream.end();
  }

  async resize(size: TerminalSize): Promise<void> {
    if (this.tty && !this.ended && size.rows > 0 && size.columns > 0) await this.control.resize(size);
  }

  async signal(name: 'INT' | 'TERM' | 'HUP'): Promise<void> {
    if (!this.ended) await this.control.signal(name);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // Once the output has ended the process is gone (a one-off container removes itself).
    if (!this.ended && !this.control.connectionLost()) await this.control.hangUp().catch(() => undefined);
    this.stream.destroy();
  }

  private emit(chunk: Buffer, stream: 'stdout' | 'stderr'): void {
    if (this.listener) this.listener(chunk, stream);
    else this.held.push([chunk, stream]);
  }

  private demux(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) return;
      const payload = this.pending.subarray(8, 8 + size);
      const kind = this.pending[0] === 2 ? 'stderr' : 'stdout';
      this.pending = this.pending.subarray(8 + size);
      if (payload.length) this.emit(Buffer.from(payload), kind);
    }
  }

  private async exitCodeAfterEnd(): Promise<number> {
    const lost = () =>
      new BmError(
        'ConnectionLost',
        `The connection to ${this.control.label} dropped while the command ran: its exit code is unknown and it may still be running there; reconnect to see.`,
      );
    if (this.control.connectionLost()) throw lost();
    try {
      return await this.control.exitCode();
    } catch (e) {
      // The channel may close a moment before the connection says it has.
      if (this.control.connectionLost() || /not connected|No response from server|ECONNRESET|channel/i.test(String(e))) throw lost();
      throw e;
    }
  }
}

/** The runtime's sentence for a program the image lacks (runc, crun; Docker and Podman word it alike). */
const MISSING = /executable file not found|no such file or directory|command not found|not found in \$PATH/i;

export function isMissingCommand(text: string): boolean {
  return MISSING.test(text) && /OCI|runc|crun|exec|stat /i.test(text);
}
