/**
 * The last `spanMs` of timed items, oldest first: what a chart of "the last 10 minutes" holds.
 * Items arrive in time order (one reading a second per server), so trimming is from the front;
 * the front is dropped in one splice once a quarter of the array is stale, not on every push.
 */
export class TimeWindow<T> {
  private items: { t: number; v: T }[] = [];
  private start = 0;

  constructor(readonly spanMs: number) {}

  push(t: number, v: T): void {
    this.items.push({ t, v });
    this.trim(t);
  }

  /** Drops what is older than `spanMs` before `now`. */
  trim(now: number): void {
    const from = now - this.spanMs;
    while (this.start < this.items.length && this.items[this.start].t < from) this.start++;
    if (this.start > 64 && this.start * 4 > this.items.length) {
      this.items.splice(0, this.start);
      this.start = 0;
    }
  }

  get size(): number {
    return this.items.length - this.start;
  }

  /** Every item kept, oldest first. */
  entries(): { t: number; v: T }[] {
    return this.items.slice(this.start);
  }

  last(): { t: number; v: T } | undefined {
    return this.size ? this.items[this.items.length - 1] : undefined;
  }
}
