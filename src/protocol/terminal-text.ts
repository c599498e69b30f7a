/**
 * A container's log line made safe for a terminal (the log panel's xterm, `baremetal logs` on a
 * TTY). The app's colours (SGR) stay, and are reset at the line's end so that they never leak
 * into the next line or into our own markers; every other control goes: cursor moves, clears,
 * scroll regions, window titles, other OSC, DCS/PM/APC strings, lone C0 and C1 controls (8-bit
 * CSI "\x9b" included). A line redrawn with "\r" keeps what a terminal would show last: the
 * text after the last "\r". An OSC 8 hyperlink becomes its text followed by its target in
 * brackets (unless the text is the target), so that what is shown is where it goes, and a web
 * link is opened the usual way, by the panel's checked `open` message. Each line is one whole
 * unit: an escape it leaves unterminated is dropped, never carried into the next line.
 * Pure, no node, no DOM: bundled for the page too.
 */

/** Anything that may start an escape or move the cursor; a line without one is returned as it is. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;
const SGR_PARAMS = /^[0-9;:]*$/;
const RESET = '\x1b[0m';
/** The longest link target shown (a longer one is shown cut, and WebLinks would not take it anyway). */
const MAX_TARGET = 2048;

const ESC = 0x1b;
const BEL = 0x07;
const ST8 = 0x9c;

/** The line for a terminal: SGR colours kept (and reset at its end), every other control dropped. */
export function terminalLine(text: string): string {
  return CONTROL.test(text) ? clean(text, true) : text;
}

/** The line as plain text (Copy, Save, a file): no escape at all, links as "text (target)". */
export function plainLine(text: string): string {
  return CONTROL.test(text) ? clean(text, false) : text;
}

function clean(input: string, keepSgr: boolean): string {
  let text = input.replace(/\r+$/, '');
  const cr = text.lastIndexOf('\r');
  if (cr >= 0) text = text.slice(cr + 1);
  let out = '';
  let coloured = false;
  /** The open OSC 8 link: its target, and where its text starts in `out`. */
  let link: { target: string; from: number } | undefined;
  const closeLink = () => {
    if (!link) return;
    const shown = plainLine(out.slice(link.from)).trim();
    if (shown !== link.target) out += shown ? ` (${link.target})` : link.target;
    link = undefined;
  };
  let i = 0;
  while (i < text.length) {
    // Plain text up to the next control, in one piece.
    let next = i;
    while (next < text.length && !isControl(text.charCodeAt(next))) next++;
    if (next > i) out += text.slice(i, next);
    if (next >= text.length) break;
    i = next;
    const c = text.charCodeAt(i);
    if (c === 0x09) {
      out += '\t';
      i++;
      continue;
    }
    const intro = c === ESC ? text.charCodeAt(i + 1) : c >= 0x80 ? c - 0x40 : -1;
    const body = c === ESC ? i + 2 : i + 1;
    if (c === ESC && i + 1 >= text.length) break; // a lone ESC at the end
    if (intro === 0x5b) {
      // CSI: parameters, intermediates, one final byte.
      let j = body;
      while (j < text.length && inRange(text.charCodeAt(j), 0x30, 0x3f)) j++;
      const params = text.slice(body, j);
      const mid = j;
      while (j < text.length && inRange(text.charCodeAt(j), 0x20, 0x2f)) j++;
      const final = j < text.length ? text.charCodeAt(j) : -1;
      if (!inRange(final, 0x40, 0x7e)) {
        i = j; // cut short (the line's end, a control): dropped, and what follows is read afresh
        continue;
      }
      if (keepSgr && final === 0x6d && mid === j && SGR_PARAMS.test(params)) {
        out += `\x1b[${params}m`;
        coloured = true;
      }
      i = j + 1;
      continue;
    }
    if (intro === 0x5d || intro === 0x50 || intro === 0x58 || intro === 0x5e || intro === 0x5f) {
      // OSC, DCS, SOS, PM, APC: a string up to BEL or ST; unterminated, it swallows the rest.
      const end = stringEnd(text, body);
      if (intro === 0x5d) {
        const payload = text.slice(body, end.at);
        if (payload.startsWith('8;')) {
          const target = payload.slice(payload.indexOf(';', 2) + 1);
          closeLink();
          if (target && end.at < text.length) link = { target: showable(target), from: out.length };
        }
      }
      i = end.next;
      continue;
    }
    if (c === ESC) {
      // Any other escape: intermediates, then one final byte (ESC c resets the terminal, ESC 7/8, ESC ( 0 …).
      let j = body - 1;
      while (j < text.length && inRange(text.charCodeAt(j), 0x20, 0x2f)) j++;
      i = j < text.length && inRange(text.charCodeAt(j), 0x30, 0x7e) ? j + 1 : j;
      continue;
    }
    i++; // any other control character, C0 or C1
  }
  closeLink();
  return coloured ? out + RESET : out;
}

function isControl(c: number): boolean {
  return c < 0x20 || inRange(c, 0x7f, 0x9f);
}

function inRange(c: number, lo: number, hi: number): boolean {
  return c >= lo && c <= hi;
}

/** Where a control string starting at `from` ends (`at`) and what follows its terminator (`next`). */
function stringEnd(text: string, from: number): { at: number; next: number } {
  for (let j = from; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === BEL || c === ST8) return { at: j, next: j + 1 };
    if (c === ESC) return { at: j, next: text.charCodeAt(j + 1) === 0x5c ? j + 2 : j };
  }
  return { at: text.length, next: text.length };
}

/** A link target as text: no control characters, of a sane length. */
function showable(target: string): string {
  const flat = target.replace(/[\x00-\x1f\x7f-\x9f]/g, '');
  return flat.length > MAX_TARGET ? `${flat.slice(0, MAX_TARGET)}…` : flat;
}
