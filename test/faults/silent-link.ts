/**
 * A silent link for the faults suite: every packet on a test server's link dropped on the host
 * (iptables DROP in INPUT and OUTPUT on its veth), so nothing arrives and nothing says so (no
 * FIN, no reset), as when a cable is pulled or a NAT forgets the connection. The rules are
 * removed by heal(), and at the latest when this process exits, so a crashed suite never leaves
 * a server cut off.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT } from '../helpers/world';

const rules = (server: string) => [['INPUT', '-i', `${server}-h`, '-j', 'DROP'], ['OUTPUT', '-o', `${server}-h`, '-j', 'DROP']];
const dropped = new Set<string>();

function heal(server: string): void {
  for (const [chain, ...rest] of rules(server)) {
    // -D removes one copy; loop in case a crashed run left one behind.
    for (let i = 0; i < 5; i++) {
      try {
        execFileSync('iptables', ['-D', chain!, ...rest], { stdio: 'ignore' });
      } catch {
        break;
      }
    }
  }
  dropped.delete(server);
}

process.on('exit', () => [...dropped].forEach(heal));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

/** Drops every packet on the server's link from now; the returned function brings the link back. */
export function silence(server: string): () => void {
  heal(server); // never two copies
  dropped.add(server);
  for (const [chain, ...rest] of rules(server)) execFileSync('iptables', ['-I', chain!, ...rest]);
  return () => heal(server);
}

/** Bytes both ways on the server's link, as the host's veth counts them (outside the tool). */
export function linkBytes(server: string): number {
  const stat = (f: string) => Number(readFileSync(`/sys/class/net/${server}-h/statistics/${f}`, 'utf8'));
  return stat('rx_bytes') + stat('tx_bytes');
}

export interface Seen { ok: number; failed: string[]; maxGapMs: number; commits: string[] }

/** The app polled through the proxy from inside the server's own network namespace (inside-poll.ts). */
export async function pollInside(server: string, host: string): Promise<{ stop: () => Promise<Seen> }> {
  const child = spawn('nsenter', [`--net=/run/netns/${server}`, '--', process.execPath, '--import', 'tsx', join(__dirname, 'inside-poll.ts'), server, host], { cwd: PROJECT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ended = new Promise<void>((r) => child.on('close', () => r()));
  await new Promise<void>((ok, ko) => {
    const t = setInterval(() => {
      if (out.includes('polling\n')) {
        clearInterval(t);
        ok();
      } else if (child.exitCode !== null) {
        clearInterval(t);
        ko(new Error(`the poller inside ${server} did not start: ${err.trim()}`));
      }
    }, 50);
  });
  return {
    stop: async () => {
      child.stdin.end();
      await ended;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) throw new Error(`the poller inside ${server} said nothing: ${err.trim()}`);
      return JSON.parse(line) as Seen;
    },
  };
}
