/**
 * Messages between the extension and the log panel's webview. Both sides import this module
 * (the compiler checks every send and every handler) and validate what they receive: a
 * webview message is untrusted input. No vscode, no node: it is bundled for the browser too.
 */

/** One log line: the server's index in `init.servers`, the stream, Docker's timestamp, the text. */
export interface WireLine {
  s: number;
  e: 0 | 1;
  t?: string;
  x: string;
}

export type ServerState = 'connected' | 'reconnecting' | 'waiting' | 'ended';

/**
 * A batch of lines packed into three strings: the texts and the timestamps each joined by "\n",
 * and one character per line for its server and stream. VS Code serialises every webview
 * message (JSON, more than once on its way to the page); one object per line made that the
 * extension host's biggest cost under a log flood, while a few long strings go through fast.
 */
export interface LineBatch {
  type: 'lines';
  text: string;
  times: string;
  kinds: string;
}

export type ToWebview =
  | { type: 'init'; app: string; servers: string[]; tail: number }
  | LineBatch
  | { type: 'marker'; server: number; text: string; time: string }
  | { type: 'status'; server: number; state: ServerState; message: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'copy'; text: string }
  | { type: 'save'; text: string }
  /** A web link in the log, Ctrl/Cmd+clicked: the editor opens it (and asks first, for a new site). */
  | { type: 'open'; url: string };

/** What the page keeps with VS Code (setState) so that the panel can be restored after a reload. */
export interface SavedPanelState {
  app: string;
  servers: string[];
}

/** The saved state, checked (it comes back from the page); undefined when it is not one. */
export function savedPanelState(v: unknown): SavedPanelState | undefined {
  if (!isObject(v) || typeof v.app !== 'string' || !Array.isArray(v.servers) || !v.servers.length) return undefined;
  if (!v.servers.every((s) => typeof s === 'string')) return undefined;
  return { app: v.app, servers: v.servers as string[] };
}

const SERVER_STATES: readonly ServerState[] = ['connected', 'reconnecting', 'waiting', 'ended'];
const MAX_TEXT = 64 * 1024 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A line's kind character is KIND_BASE + server × 2 + (stderr ? 1 : 0): printable, so a batch stays readable when logged. */
const KIND_BASE = 48;

/** Lines → one message. A text never holds "\n" (lines are split on it); should one, it shows as ␤. */
export function packLines(lines: readonly WireLine[]): LineBatch {
  let kinds = '';
  const texts: string[] = new Array<string>(lines.length);
  const times: string[] = new Array<string>(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    kinds += String.fromCharCode(KIND_BASE + l.s * 2 + l.e);
    texts[i] = l.x.includes('\n') ? l.x.replaceAll('\n', '\u2424') : l.x;
    times[i] = l.t ?? '';
  }
  return { type: 'lines', text: texts.join('\n'), times: times.join('\n'), kinds };
}

/** One message → lines; undefined when its parts do not agree (the message is then dropped). */
export function unpackLines(m: LineBatch): WireLine[] | undefined {
  const n = m.kinds.length;
  const texts = m.text.split('\n');
  const times = m.times.split('\n');
  if (n === 0 || texts.length !== n || times.length !== n) return undefined;
  const out: WireLine[] = new Array<WireLine>(n);
  for (let i = 0; i < n; i++) {
    const k = m.kinds.charCodeAt(i) - KIND_BASE;
    if (k < 0) return undefined;
    out[i] = times[i] ? { s: k >> 1, e: (k & 1) as 0 | 1, t: times[i], x: texts[i] } : { s: k >> 1, e: (k & 1) as 0 | 1, x: texts[i] };
  }
  return out;
}

/** An http(s) address and nothing else (no file:, command:, javascript: …), of a sane length. */
export function isWebLink(url: string): boolean {
  if (url.length > 2048) return false;
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Checks a message from the webview; anything else is dropped by the caller. */
export function isFromWebview(v: unknown): v is FromWebview {
  if (!isObject(v)) return false;
  switch (v.type) {
    case 'ready':
      return true;
    case 'copy':
    case 'save':
      return typeof v.text === 'string' && v.text.length <= MAX_TEXT;
    case 'open':
      return typeof v.url === 'string' && isWebLink(v.url);
    default:
      return false;
  }
}

/** Checks a message from the extension (the webview trusts nothing it did not check). */
export function isToWebview(v: unknown): v is ToWebview {
  if (!isObject(v)) return false;
  switch (v.type) {
    case 'init':
      return typeof v.app === 'string' && Array.isArray(v.servers) && v.servers.every((s) => typeof s === 'string') && Number.isInteger(v.tail);
    case 'lines':
      return typeof v.text === 'string' && typeof v.times === 'string' && typeof v.kinds === 'string' && v.text.length <= MAX_TEXT;
    case 'marker':
      return Number.isInteger(v.server) && typeof v.text === 'string' && typeof v.time === 'string';
    case 'status':
      return Number.isInteger(v.server) && SERVER_STATES.includes(v.state as ServerState) && typeof v.message === 'string';
    default:
      return false;
  }
}
