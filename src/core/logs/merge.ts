/**
 * Merges several servers' log lines into one stream in time order, with a bounded delay. Each
 * server's own lines arrive in order, so the earliest waiting line may go as soon as no other
 * server can still send an earlier one: that server has a line waiting (necessarily later) or
 * has already shown a later one. A quiet server holds a line back for `patienceMs` at most;
 * one that has not started yet (a panel just opened: its history still on the way over a slower
 * link) for `startupMs`, so that the histories too come out merged.
 */
export interface Timed {
  /** The server's index. */
  s: number;
  /** Docker's ISO 8601 timestamp (they sort as strings). */
  t?: string;
}

export class TimeMerger<T extends Timed> {
  private readonly waiting: { item: T; at: number }[][] = [];
  private readonly lastSeen: string[] = [];
  /** Servers that sent a line, or said none is coming soon (no container, reconnecting). */
  private readonly started: boolean[] = [];
  /** When the first server started: the startup time counts from there. */
  private firstAt?: number;
  private ready?: number;

  constructor(
    private readonly servers: number,
    private readonly patienceMs = 150,
    private readonly now: () => number = Date.now,
    private readonly startupMs = 3000,
  ) {
    for (let s = 0; s < servers; s += 1) this.waiting.push([]);
  }

  /** This server will not send lines for a while (its app is not running, it is reconnecting). */
  markStarted(server: number): void {
    this.started[server] = true;
    this.firstAt ??= this.now();
    if (this.ready === undefined && this.waiting.every((_, i) => this.started[i])) this.ready = this.now();
  }

  push(item: T): void {
    this.markStarted(item.s);
    (this.waiting[item.s] ??= []).push({ item, at: this.now() });
    if (item.t && item.t > (this.lastSeen[item.s] ?? '')) this.lastSeen[item.s] = item.t;
  }

  /** The lines that may go now, in time order. */
  take(): T[] {
    return this.release(() => false);
  }

  /**
   * What take() releases, plus every line `server` has waiting, each with the other servers'
   * earlier lines: what must be shown before a note of that server (a marker, a status). The
   * others' later lines keep waiting for their turn.
   */
  takeThrough(server: number): T[] {
    return this.release(() => (this.waiting[server]?.length ?? 0) > 0);
  }

  private release(force: () => boolean): T[] {
    const out: T[] = [];
    for (;;) {
      let s = -1;
      for (let i = 0; i < this.waiting.length; i += 1) {
        const head = this.waiting[i][0];
        if (head && (s < 0 || (head.item.t ?? '') < (this.waiting[s][0].item.t ?? ''))) s = i;
      }
      if (s < 0) break;
      const head = this.waiting[s][0];
      const t = head.item.t ?? '';
      // Patience counts from the line's arrival, but not before every server had started.
      const ready = this.readyAt();
      const patient = ready !== undefined && this.now() - Math.max(head.at, ready) >= this.patienceMs;
      const othersLater = this.waiting.every((q, i) => i === s || q.length > 0 || (this.lastSeen[i] ?? '') >= t);
      if (!force() && this.servers > 1 && !othersLater && !patient) break;
      out.push(this.waiting[s].shift()!.item);
    }
    return out;
  }

  /** When every server had started, or the startup time ran out; undefined before. */
  private readyAt(): number | undefined {
    if (this.ready === undefined && this.firstAt !== undefined && this.now() - this.firstAt >= this.startupMs) this.ready = this.firstAt + this.startupMs;
    return this.ready;
  }

  get size(): number {
    return this.waiting.reduce((n, q) => n + q.length, 0);
  }
}
