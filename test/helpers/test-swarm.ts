/**
 * A Docker Swarm over some test servers that one test process owns. A server is in one swarm at
 * most, so two test files (or two sessions) that each made theirs would take the other's apart
 * with `swarm leave --force`: the one that comes second waits for the first to finish instead.
 * Who holds the servers is a file naming the test process (one whose process is gone holds
 * nothing): only then are swarms left on them taken apart, as what a killed run left behind.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onServer, PROJECT, server } from './world';

const run = promisify(execFile);
const script = join(PROJECT, 'scripts', 'test-servers.sh');
const LOCK = join(tmpdir(), 'bm-test-swarm.lock');
const docker = (name: string, ...args: string[]) => onServer(name, ['docker', ...args]);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function takeServers(waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await writeFile(LOCK, String(process.pid), { flag: 'wx' });
      return;
    } catch {
      const owner = Number(readFileSync(LOCK, { encoding: 'utf8', flag: 'a+' }).trim() || process.pid);
      if (owner !== process.pid && !alive(owner)) {
        rmSync(LOCK, { force: true });
        continue;
      }
      if (owner === process.pid) return;
      if (Date.now() > deadline) throw new Error(`The test servers' swarm is held by test process ${owner} (${LOCK}): wait for it to finish, or end it, then run again.`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

async function leave(nodes: readonly string[]): Promise<void> {
  for (const n of nodes) {
    await docker(n, 'swarm', 'leave', '--force').catch(() => undefined);
    // Joining made it; leaving keeps it.
    await docker(n, 'network', 'rm', 'docker_gwbridge').catch(() => undefined);
  }
}

/** Links the nodes, and makes a swarm of them managed by `manager`, once no other test process holds them. */
export async function makeTestSwarm(nodes: readonly string[], manager: string, waitMs = 15 * 60_000): Promise<void> {
  await takeServers(waitMs);
  await run('bash', [script, 'link', ...nodes]);
  await leave(nodes); // what a run killed before its after() left
  await docker(manager, 'swarm', 'init', '--advertise-addr', server(manager).host);
  const token = (await docker(manager, 'swarm', 'join-token', '-q', 'worker')).trim();
  for (const n of nodes.filter((x) => x !== manager)) {
    await docker(n, 'swarm', 'join', '--advertise-addr', server(n).host, '--token', token, `${server(manager).host}:2377`);
  }
}

/** Takes the swarm apart, unlinks the nodes, and lets the next test process have them. */
export async function removeTestSwarm(nodes: readonly string[]): Promise<void> {
  try {
    await leave(nodes);
    await run('bash', [script, 'unlink', ...nodes]);
  } finally {
    let owner = 0;
    try {
      owner = Number(readFileSync(LOCK, 'utf8').trim());
    } catch {
      // not held
    }
    if (owner === process.pid) rmSync(LOCK, { force: true });
  }
}
