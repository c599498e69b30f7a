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

export type ToWebview =
  | { type: 'init'; app: string; servers: string[]; tail: number }
  | { type: 'lines'; lines: WireLine[] }
  | { type: 'marker'; server: number; text: string; time: string }
  | { type: 'status'; server: number; state: ServerState; message: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'copy'; text: string }
  | { type: 'save'; text: string };

const SERVER_STATES: readonly ServerState[] = ['connected', 'reconnecting', 'waiting', 'ended'];
const MAX_TEXT = 64 * 1024 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isWireLine(v: unknown): v is WireLine {
  return isObject(v) && Number.isInteger(v.s) && (v.e === 0 || v.e === 1) && typeof v.x === 'string' && (v.t === undefined || typeof v.t === 'string');
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
      return Array.isArray(v.lines) && v.lines.every(isWireLine);
    case 'marker':
      return Number.isInteger(v.server) && typeof v.text === 'string' && typeof v.time === 'string';
    case 'status':
      return Number.isInteger(v.server) && SERVER_STATES.includes(v.state as ServerState) && typeof v.message === 'string';
    default:
      return false;
  }
}
