/**
 * What crossed a test server's link, counted by the kernel rather than by the tool: the host's
 * end of the server's veth pair (env.json's netns + "-h"). Its tx_bytes are what this machine
 * sent to the server, rx_bytes what it received, frames and all (Ethernet, IP, TCP and SSH's own
 * overhead included), so a tool's bytesSent that is too low or a rollback that quietly pulls an
 * image again shows here whatever the tool reports.
 *
 * Everything on that link counts: the integration tests run one file at a time (npm test), and a
 * test measures only while its own command runs.
 */
import { readFileSync } from 'node:fs';
import { testEnv } from './world';

export interface LinkCount {
  /** Bytes this machine sent to the server. */
  toServer: number;
  /** Bytes the server sent to this machine. */
  fromServer: number;
}

function counters(device: string): LinkCount {
  const read = (what: string) => Number(readFileSync(`/sys/class/net/${device}/statistics/${what}`, 'utf8').trim());
  return { toServer: read('tx_bytes'), fromServer: read('rx_bytes') };
}

/** The host-side veth of a test server, as scripts/test-servers.sh names it. */
export function linkDevice(serverName: string): string {
  const s = testEnv().servers.find((x) => x.name === serverName) as { netns?: string } | undefined;
  if (!s) throw new Error(`no test server ${serverName}`);
  return `${s.netns ?? serverName}-h`;
}

/** Counts the link from now on; `read()` says what crossed it since. */
export function linkMeter(serverName: string): { read(): LinkCount } {
  const device = linkDevice(serverName);
  const start = counters(device);
  return {
    read() {
      const now = counters(device);
      return { toServer: now.toServer - start.toServer, fromServer: now.fromServer - start.fromServer };
    },
  };
}

/** Runs `fn` and says what crossed the server's link while it ran. */
export async function metered<T>(serverName: string, fn: () => Promise<T>): Promise<{ result: T; link: LinkCount }> {
  const meter = linkMeter(serverName);
  const result = await fn();
  return { result, link: meter.read() };
}

export const KiB = 1024;

/** "1.2 MiB", for messages. */
export function size(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(2)} MiB` : `${(bytes / KiB).toFixed(1)} KiB`;
}

/**
 * The link carried at least what the tool says it sent (it cannot send bytes the kernel did not
 * carry), and no more than that, times `factor`, plus `slack`: the connection's own talk (the SSH
 * handshake, the engine's API, the health check, the history) and the frames' headers.
 */
export function checkAgainstTool(link: LinkCount, toolBytes: number, what: string, slack = 256 * KiB, factor = 1.1): string | undefined {
  if (link.toServer < toolBytes) return `${what}: the tool says it sent ${size(toolBytes)}, but the link carried only ${size(link.toServer)} to the server`;
  const bound = toolBytes * factor + slack;
  if (link.toServer > bound) return `${what}: the link carried ${size(link.toServer)} to the server, more than the ${size(toolBytes)} the tool says it sent (bound ${size(bound)})`;
  return undefined;
}
