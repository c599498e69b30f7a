import type { Duplex } from 'node:stream';

/**
 * node:http expects a net.Socket; an SSH channel is a plain Duplex without setKeepAlive,
 * setNoDelay, setTimeout, ref and unref. They are only hints, so no-ops are correct.
 */
export function asSocket(channel: Duplex): Duplex {
  const s = channel as Duplex & Record<string, unknown>;
  for (const name of ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref']) {
    if (typeof s[name] !== 'function') s[name] = () => channel;
  }
  s.remoteAddress ??= '127.0.0.1';
  return channel;
}
