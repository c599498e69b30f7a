/**
 * Text arriving in chunks → whole lines, in time linear in the text: a partial line is kept as
 * pieces and joined once, when its newline comes (re-splitting it on every chunk made 16 MiB
 * without a newline take seconds). A line longer than the cap keeps its start, marked as cut,
 * and the rest until its newline is skipped: a progress bar drawn with "\r" (wget, tqdm) is
 * one endless line, and holding it all would only freeze whatever shows it.
 */

/** The most of one line kept (UTF-16 units, about 64 KiB of text). */
export const MAX_LINE = 64 * 1024;

/** What a cut line ends with, so that nobody takes its start for all of it. */
export const cutMark = (max: number) => ` … [line cut at ${max % 1024 === 0 ? `${max / 1024} KiB` : `${max} characters`}]`;

export class LineSplitter {
  private pieces: string[] = [];
  private kept = 0;
  private cut = false;

  constructor(private readonly max = MAX_LINE) {}

  /** The lines this text completes, without their "\n" (nor a "\r" before it). */
  push(text: string): string[] {
    const lines: string[] = [];
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      this.keep(text, from, nl);
      lines.push(this.take());
      from = nl + 1;
    }
    this.keep(text, from, text.length);
    return lines;
  }

  /** The last line, when the text ended without a newline. */
  end(): string | undefined {
    return this.kept > 0 || this.cut ? this.take() : undefined;
  }

  private keep(text: string, from: number, to: number): void {
    if (this.cut || from >= to) return;
    const room = this.max - this.kept;
    if (to - from <= room) {
      this.pieces.push(text.slice(from, to));
      this.kept += to - from;
      return;
    }
    let end = from + room;
    // Never half a character: a surrogate pair stays whole or goes.
    if (end > from && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
    this.pieces.push(text.slice(from, end));
    this.kept = this.max;
    this.cut = true;
  }

  private take(): string {
    let line = this.pieces.length === 1 ? this.pieces[0] : this.pieces.join('');
    if (this.cut) line += cutMark(this.max);
    else if (line.endsWith('\r')) line = line.slice(0, -1);
    this.pieces = [];
    this.kept = 0;
    this.cut = false;
    return line;
  }
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
