/**
 * The sshd processes on a test server that serve one local process's SSH connections, found by
 * those connections' source ports: what a test may count or kill without touching the sessions
 * of other clients (other tests running at the same time, the bench).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { testEnv, type TestServer } from './world';

const run = promisify(execFile);

export async function sshdPidsOf(clientPid: number | ReadonlySet<number>, target: TestServer): Promise<string[]> {
  const clients = typeof clientPid === 'number' ? new Set([clientPid]) : clientPid;
  const netns = (testEnv().servers.find((s) => s.name === target.name) as TestServer & { netns?: string }).netns ?? target.name;
  const mine = (await run('ss', ['-tnpH', 'state', 'established', 'dst', `${target.host}:${target.port}`])).stdout
    .split('\n')
    .filter((l) => [...l.matchAll(/pid=(\d+),/g)].some((m) => clients.has(Number(m[1]))));
  const pids = new Set<string>();
  for (const line of mine) {
    const localPort = /\S+:(\d+)\s+\S+:\d+\s/.exec(line)?.[1];
    if (!localPort) continue;
    const there = (await run('ip', ['netns', 'exec', netns, 'ss', '-tnpH', 'state', 'established', 'sport', `= :${target.port}`, 'dport', `= :${localPort}`])).stdout;
    for (const m of there.matchAll(/pid=(\d+)/g)) pids.add(m[1]);
  }
  return [...pids];
}

/**
 * The local processes whose environment says HOME=<home>: one editor's (a code-server started
 * with its own home) and every process it started, not the other editors or CLIs on the machine.
 */
export function processesWithHome(home: string): Set<number> {
  const needle = `HOME=${home}\0`;
  const found = new Set<number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').includes(needle)) found.add(Number(pid));
    } catch {
      // ended meanwhile, or not ours to read
    }
  }
  return found;
}
