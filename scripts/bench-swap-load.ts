/**
 * The steady load of npm run bench:swap: WORKERS loops in this process (node:http), each one
 * request every PERIOD_MS (closed loop: a slow answer delays that worker's next request, never
 * makes it send two at once); half keep one connection alive (an Agent with keepAlive), half open
 * a new connection per request. Every request has a deadline and is recorded: when it started,
 * how it ended (HTTP status or error code), how long it took, which commit answered, and whether
 * it went over a reused connection.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export const WORKERS = 8;
export const PERIOD_MS = 50; // 8 workers × 20 requests/s = 160 requests/s
/** Longer than the proxy's own retry window (try_duration 5 s), so its 502 is seen rather than our timeout. */
export const TIMEOUT_MS = 6000;

export interface Sample {
  /** ms on the bench clock (performance.now()) when the request was sent. */
  t: number;
  /** ms until the whole answer was read, or until the error. */
  ms: number;
  /** HTTP status; 0 when the request failed without one. */
  status: number;
  /** An error's code (ECONNREFUSED, ECONNRESET, timeout, …). */
  error?: string;
  /** The commit the page names (12 characters). */
  commit?: string;
  keepAlive: boolean;
  /** The request went over a connection an earlier request had used. */
  reused: boolean;
}

export const ok = (s: Sample) => s.status === 200;
export const end = (s: Sample) => s.t + s.ms;
export const now = () => performance.now();

export interface Target {
  host: string;
  port: number;
  /** The Host header (through the proxy: the app's host name). */
  hostHeader?: string;
}

function once(target: Target, agent: http.Agent | false): Promise<Sample> {
  const t = now();
  return new Promise((resolve) => {
    let settled = false;
    let reused = false;
    const done = (s: Omit<Sample, 't' | 'ms' | 'keepAlive' | 'reused'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ t, ms: now() - t, keepAlive: agent !== false, reused, ...s });
    };
    const headers: Record<string, string> = agent === false ? { Connection: 'close' } : {};
    if (target.hostHeader) headers.Host = target.hostHeader;
    const req = http.get({ host: target.host, port: target.port, path: '/', headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, commit: /<code id="commit">([0-9a-f]{12})/.exec(body)?.[1] }));
      res.on('error', (e: NodeJS.ErrnoException) => done({ status: 0, error: e.code ?? e.message }));
    });
    req.on('socket', () => (reused = req.reusedSocket));
    req.on('error', (e: NodeJS.ErrnoException) => done({ status: 0, error: e.code ?? e.message }));
    const timer = setTimeout(() => {
      done({ status: 0, error: 'timeout' });
      req.destroy();
    }, TIMEOUT_MS);
  });
}

/** Starts the load; stop() ends it after the requests in flight and returns every sample. */
export function startLoad(target: Target): { samples: Sample[]; stop: () => Promise<Sample[]> } {
  const samples: Sample[] = [];
  let stopping = false;
  const agents: http.Agent[] = [];
  const worker = async (i: number) => {
    const keepAlive = i % 2 === 0;
    const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
    if (agent) agents.push(agent);
    let next = now() + (i * PERIOD_MS) / WORKERS; // staggered, so the requests are spread evenly
    while (!stopping) {
      await sleep(next - now());
      if (stopping) break;
      samples.push(await once(target, agent));
      next = Math.max(next + PERIOD_MS, now());
    }
  };
  const running = Array.from({ length: WORKERS }, (_, i) => worker(i));
  return {
    samples,
    stop: async () => {
      stopping = true;
      await Promise.all(running);
      for (const a of agents) a.destroy();
      return samples;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** The q-quantile (0..1) of values, nearest rank; NaN for none. */
export function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** The longest time between two successful answers (by when they arrived) within [from, to]. */
export function longestGap(samples: Sample[], from: number, to: number): { ms: number; at: number } {
  const ends = samples.filter(ok).map(end).filter((e) => e >= from && e <= to).sort((a, b) => a - b);
  let best = { ms: 0, at: from };
  for (let i = 1; i < ends.length; i++) if (ends[i] - ends[i - 1] > best.ms) best = { ms: ends[i] - ends[i - 1], at: ends[i - 1] };
  return best;
}
