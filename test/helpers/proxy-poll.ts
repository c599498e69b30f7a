/**
 * What the users of an app behind a test server's proxy see: a GET by host name through port 80
 * (or 443), and a poller that asks all the time while something happens to the server.
 */
import http from 'node:http';
import https from 'node:https';
import { server } from './world';

export const commitOf = (body: string) => /<code id="commit">([0-9a-f]+)<\/code>/.exec(body)?.[1];

/** GET through the proxy by host name, as the app's users do. */
export function getVia(on: string, host: string, path = '/', scheme: 'http' | 'https' = 'http'): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const lib = scheme === 'https' ? https : http;
    const req = lib.get(
      { host: server(on).host, port: scheme === 'https' ? 443 : 80, path, headers: { Host: host }, servername: host, rejectUnauthorized: false, timeout: 5000, agent: false },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, location: res.headers.location }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Requests every ~20 ms from two workers until stopped: failures, the longest gap between successes, commits seen. */
export function pollVia(on: string, host: string) {
  let stop = false;
  let last = Date.now();
  const r = { ok: 0, failed: [] as string[], maxGapMs: 0, commits: new Set<string>() };
  const worker = async () => {
    while (!stop) {
      try {
        const res = await getVia(on, host);
        if (res.status === 200) {
          r.ok++;
          const now = Date.now();
          r.maxGapMs = Math.max(r.maxGapMs, now - last);
          last = now;
          r.commits.add(commitOf(res.body) ?? '?');
        } else r.failed.push(`HTTP ${res.status}`);
      } catch (e) {
        r.failed.push((e as Error).message);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  const workers = [worker(), worker()];
  return { stop: async () => ((stop = true), await Promise.all(workers), r) };
}
