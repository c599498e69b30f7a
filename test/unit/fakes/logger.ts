import type { Logger, ProgressEvent, ProgressSink } from '../../../src/core/ports';

export type Level = 'debug' | 'info' | 'warn' | 'error';

/** A Logger that keeps every line, for assertions on what a user would read in the log. */
export class CollectingLogger implements Logger {
  readonly lines: { level: Level; message: string }[] = [];
  debug(message: string): void { this.lines.push({ level: 'debug', message }); }
  info(message: string): void { this.lines.push({ level: 'info', message }); }
  warn(message: string): void { this.lines.push({ level: 'warn', message }); }
  error(message: string): void { this.lines.push({ level: 'error', message }); }
  at(level: Level): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A ProgressSink that keeps the events. */
export function collectProgress(): ProgressSink & { events: ProgressEvent[] } {
  const events: ProgressEvent[] = [];
  return Object.assign((e: ProgressEvent) => void events.push(e), { events });
}
