/**
 * Messages between the extension and the resource panel's webview (Show Resource Use). Both sides
 * import this module and validate what they receive, as for the log panel (protocol/logs.ts).
 * No vscode, no node: it is bundled for the browser too.
 */

/** One reading of one server: ms since the epoch, CPU % (null: none yet), memory and its limit in bytes, network in bytes/s. */
export interface WirePoint {
  t: number;
  cpu: number | null;
  mem: number;
  limit: number;
  rx: number;
  tx: number;
}

export type StatsState = 'connected' | 'reconnecting' | 'waiting' | 'unavailable' | 'ended';

export type ToWebview =
  | { type: 'init'; app: string; servers: string[]; spanMs: number }
  | { type: 'points'; server: number; points: WirePoint[] }
  /** A deploy or rollback: the container changed at `t` (ms since the epoch). */
  | { type: 'marker'; server: number; t: number; text: string }
  /** The container now watched on a server, and its CPU limit (run.cpus) when it has one. */
  | { type: 'container'; server: number; name: string; commit?: string; cpus?: number }
  | { type: 'status'; server: number; state: StatsState; message: string };

export type FromWebview = { type: 'ready' };

const STATES: readonly StatsState[] = ['connected', 'reconnecting', 'waiting', 'unavailable', 'ended'];
/** More than 10 minutes of one reading a second, with room: a larger batch is not ours. */
const MAX_POINTS = 2000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const index = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 64;
const text = (v: unknown, max = 1000): v is string => typeof v === 'string' && v.length <= max;

function isPoint(v: unknown): v is WirePoint {
  return isObject(v) && finite(v.t) && (v.cpu === null || finite(v.cpu)) && finite(v.mem) && finite(v.limit) && finite(v.rx) && finite(v.tx);
}

/** Checks a message from the webview; anything else is dropped by the caller. */
export function isFromWebview(v: unknown): v is FromWebview {
  return isObject(v) && v.type === 'ready';
}

/** Checks a message from the extension (the webview trusts nothing it did not check). */
export function isToWebview(v: unknown): v is ToWebview {
  if (!isObject(v)) return false;
  switch (v.type) {
    case 'init':
      return text(v.app) && Array.isArray(v.servers) && v.servers.length <= 64 && v.servers.every((s) => text(s)) && finite(v.spanMs);
    case 'points':
      return index(v.server) && Array.isArray(v.points) && v.points.length <= MAX_POINTS && v.points.every(isPoint);
    case 'marker':
      return index(v.server) && finite(v.t) && text(v.text);
    case 'container':
      return index(v.server) && text(v.name) && (v.commit === undefined || text(v.commit)) && (v.cpus === undefined || finite(v.cpus));
    case 'status':
      return index(v.server) && STATES.includes(v.state as StatsState) && text(v.message);
    default:
      return false;
  }
}
