import type { Duplex } from 'node:stream';

/**
 * How long the server may stay silent before its link counts as dead. A link that goes silent
 * (Wi-Fi gone, a NAT that forgot the connection: no FIN, no RST) gives TCP nothing to report
 * for many minutes. Keep-alive pings go out every PING_MS, and a live server answers each at
 * once, so silence this long means the packets vanish. On a slow but live link replies still
 * come: the server acknowledges what it reads (window adjusts), and while a ping waits behind
 * our own data, that data draining into the kernel shows the link is alive (see watchLink).
 * BAREMETAL_LINK_TIMEOUT (seconds) changes it, for links known to stall longer.
 */
export const PING_MS = 5_000;
export function silenceLimitMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.BAREMETAL_LINK_TIMEOUT);
  return Number.isFinite(s) && s >= 2 ? s * 1000 : 20_000;
}

export interface LinkWatchOptions {
  limitMs: number;
  /** How often the watch looks (tests make it short). */
  checkMs?: number;
  now?: () => number;
  onSilent: (silentForMs: number) => void;
}

/**
 * Watches the bytes that arrive on the connection's own socket (ssh2 reads the same stream; a
 * second 'data' listener only observes). Stops by itself when the socket closes.
 */
export function watchLink(socket: Duplex, opts: LinkWatchOptions): { stop(): void } {
  const now = opts.now ?? Date.now;
  let last = now();
  const onData = () => (last = now());
  socket.on('data', onData);
  let queued = writeQueue(socket);
  const timer = setInterval(() => {
    // On a very slow upload the server's answers come seldom (an acknowledgement per megabyte
    // read; our pings queue behind our own data). Our queue shrinking is then the sign of life:
    // the kernel takes more of it only as the server acknowledges what it received.
    const q = writeQueue(socket);
    if (q !== undefined && queued !== undefined && q < queued) last = now();
    queued = q;
    const silent = now() - last;
    if (silent < opts.limitMs) return;
    stop();
    opts.onSilent(silent);
  }, opts.checkMs ?? 1000);
  // Never the reason the process stays up: something else waits on the link if it matters.
  timer.unref?.();
  const stop = () => {
    clearInterval(timer);
    socket.off('data', onData);
  };
  socket.once('close', stop);
  return { stop };
}

/** Bytes waiting to enter the kernel's send buffer (node's TCP handle), when the socket has one. */
function writeQueue(socket: Duplex): number | undefined {
  const size = (socket as unknown as { _handle?: { writeQueueSize?: unknown } })._handle?.writeQueueSize;
  return typeof size === 'number' ? size : undefined;
}

/** The sentence part that says why a connection was lost ("no answer for 20 s: …"). */
export function silentReason(silentForMs: number): string {
  return `no answer for ${Math.round(silentForMs / 1000)} s: the network link went silent`;
}
