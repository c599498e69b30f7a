/**
 * How the log panel writes an entry: for xterm (ANSI: server tags, dim times, a red bar for
 * stderr) and as plain text (Copy, Save). An app's line reaches xterm with its colours only
 * (terminal-text.ts), and Copy and Save get no escape at all. The panel's own notes (deploy
 * markers, statuses) are drawn as a band to the row's end, which no app line can draw (it would
 * need an erase, which is dropped); an app line that starts like a note is prefixed with "› ".
 * Pure, no DOM: unit-tested under node.
 */
import type { WireLine } from '../../src/protocol/logs';
import { plainLine, terminalLine } from '../../src/protocol/terminal-text';

/** A log line, or one of the panel's own notes (a deploy marker, a connection status). */
export type Entry = { kind: 'line'; line: WireLine } | { kind: 'note'; server: number; text: string; time: string; tone: 'marker' | 'status' };

/** What the formatting depends on: the servers shown (tags when more than one), whether times are on. */
export interface View {
  servers: readonly string[];
  showTimes: boolean;
}

const TAG_COLOURS = [36, 35, 33, 32, 34, 91, 96, 95];

const two = (n: number) => String(n).padStart(2, '0');

/**
 * Docker's UTC timestamp as this machine's clock time, like the editor's own logs ("14:03:07.215"
 * for the ms form). Copy and Save keep the full UTC timestamp.
 */
export function clock(iso: string, ms: boolean): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso.slice(11, ms ? 23 : 19);
  const hms = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return ms ? `${hms}.${String(d.getMilliseconds()).padStart(3, '0')}` : hms;
}

function tag(view: View, server: number): string {
  if (view.servers.length < 2) return '';
  return `\x1b[${TAG_COLOURS[server % TAG_COLOURS.length]}m${view.servers[server] ?? '?'}\x1b[0m `;
}

/** An app line whose text starts the way a note does ("── "), or with a lookalike dash. */
const NOTE_LIKE = /^\s*[\u2010-\u2015\u2212\u2500\u2501\u2504\u2505\u2508\u2509\u254c\u254d\u2550]{2}/;
const NOTE_LIKE_MARK = '› ';

/** The entry for xterm, with its newline. */
export function render(view: View, e: Entry): string {
  if (e.kind === 'note') {
    const colour = e.tone === 'marker' ? '1;30;46' : '30;43';
    // ESC[K fills the rest of the row with the band's colour.
    return `${tag(view, e.server)}\x1b[0;${colour}m── ${plainLine(e.text)} · ${clock(e.time, false)} ──\x1b[K\x1b[0m\n`;
  }
  // stderr gets a red bar in front; the app's own colours stay as they are.
  const bar = e.line.e ? '\x1b[31m▍\x1b[0m' : '';
  const time = view.showTimes && e.line.t ? `\x1b[2m${clock(e.line.t, true)}\x1b[0m ` : '';
  const x = terminalLine(e.line.x);
  const mark = NOTE_LIKE.test(x === e.line.x ? x : plainLine(x)) ? `\x1b[2m${NOTE_LIKE_MARK}\x1b[0m` : '';
  return `${tag(view, e.line.s)}${time}${bar}${mark}${x}\n`;
}

/** The entry as plain text (Copy, Save): full UTC timestamps, "[stderr]" spelled out, no escapes. */
export function plain(view: View, e: Entry): string {
  const who = view.servers.length > 1 ? `${view.servers[e.kind === 'line' ? e.line.s : e.server] ?? '?'} ` : '';
  if (e.kind === 'note') return `${who}── ${plainLine(e.text)} ──`;
  const x = plainLine(e.line.x);
  return `${who}${view.showTimes && e.line.t ? `${e.line.t} ` : ''}${e.line.e ? '[stderr] ' : ''}${NOTE_LIKE.test(x) ? NOTE_LIKE_MARK : ''}${x}`;
}
