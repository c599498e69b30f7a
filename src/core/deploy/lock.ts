import { randomBytes } from 'node:crypto';
import { BmError } from '../errors';
import type { ServerFiles, SessionProbe } from '../ports';
import { stateDir, type DeployRecord } from './journal';
import { sleep } from '../time';

export interface LockInfo {
  token: string;
  owner: string;
  operation: string;
  acquiredAt: string;
  expiresAt: string;
  /** The holder's SSH connection on the server, when the server can tell (see SessionProbe). */
  session?: string;
  /**
   * The deploy or rollback under way, as its history record would read had it failed now: a
   * client that takes over a dead holder's lock records the attempt, so none is missing.
   */
  attempt?: DeployRecord;
}

export type { SessionProbe } from '../ports';

export interface LockOptions {
  owner: string;
  operation: string;
  wait?: boolean;
  signal?: AbortSignal;
  /** A lease, renewed while held, so a crashed client never blocks others for long. */
  leaseMs?: number;
  pollMs?: number;
  /** This machine's clock (tests); the lease uses it plus the server's offset (SessionProbe.clockOffsetMs). */
  now?: () => number;
  onWaiting?: (holder: LockInfo) => void;
  sessions?: SessionProbe;
  /** Told when a dead holder's lock is taken over before its lease ran out. */
  onTakeover?: (holder: LockInfo) => void;
}

export interface HeldLock {
  /** Removes the lock if it is still ours; `via` is a fresh connection's files when ours dropped. */
  release(via?: ServerFiles): Promise<void>;
  /** Names the attempt in the lock (written at once), for whoever finds it left behind. */
  describe(attempt: DeployRecord): Promise<void>;
  /** The dead holder whose lock this one took over, if any (see recordAbandoned). */
  readonly abandoned?: LockInfo;
}

export function lockPath(base: string, app: string): string {
  return `${stateDir(base, app)}/lock`;
}

/**
 * One deploy or rollback per app per server at a time. The lock is a file created exclusively on
 * the server; it holds a lease that the holder renews, and a lease that ran out may be taken.
 */
export async function acquireLock(files: ServerFiles, base: string, app: string, opts: LockOptions): Promise<HeldLock> {
  const leaseMs = opts.leaseMs ?? 60_000;
  const offset = (await opts.sessions?.clockOffsetMs?.().catch(() => 0)) ?? 0;
  const local = opts.now ?? Date.now;
  // The server's time: the one clock every client of this lock shares.
  const now = () => local() + offset;
  const path = lockPath(base, app);
  const token = randomBytes(8).toString('hex');
  const session = await opts.sessions?.mine().catch(() => undefined);
  const info = (): LockInfo => ({
    token,
    owner: opts.owner,
    operation: opts.operation,
    acquiredAt: new Date(acquiredAt).toISOString(),
    expiresAt: new Date(now() + leaseMs).toISOString(),
    ...(session ? { session } : {}),
    ...(attempt ? { attempt } : {}),
  });
  let attempt: DeployRecord | undefined;
  let abandoned: LockInfo | undefined;
  let acquiredAt = now();
  await files.mkdirp(stateDir(base, app));
  for (;;) {
    if (opts.signal?.aborted) throw new BmError('Cancelled', 'Cancelled while waiting for the deploy lock; nothing was changed.');
    acquiredAt = now();
    if (await files.createExclusive(path, JSON.stringify(info()))) break;
    let text = await files.read(path);
    let holder = parseLock(text);
    if (!holder) {
      // Unreadable: perhaps being written this instant. Look again before calling it corrupt.
      await sleep(opts.pollMs ?? 500, opts.signal);
      text = await files.read(path);
      holder = parseLock(text);
    }
    const holderGone = holder?.session && opts.sessions ? (await opts.sessions.alive(holder.session).catch(() => undefined)) === false : false;
    if (!holder || holderGone || Date.parse(holder.expiresAt) < now()) {
      // Expired (its client died) or corrupt: take it over. The server removes it only if it is
      // still the very lock we read, in one step: a second client taking over the same stale
      // lock never removes the one the first has just created (a check then a remove could).
      // Renewed since we read it: not taken, and the next look sees its new lease.
      if (text !== undefined && (await files.takeOver(path, text)) && holder) {
        abandoned = holder;
        if (holderGone) {
          opts.onTakeover?.(holder);
          if (holder.session) await opts.sessions?.endStale?.(holder.session).catch(() => undefined);
        }
      }
      continue;
    }
    if (!opts.wait) {
      const age = Math.round((now() - Date.parse(holder.acquiredAt)) / 1000);
      throw new BmError(
        'LockHeld',
        `A ${holder.operation} of ${app} by ${holder.owner} has been running for ${age}s on this server: wait for it to finish, or run again with --wait.`,
      );
    }
    opts.onWaiting?.(holder);
    await sleep(opts.pollMs ?? 2000, opts.signal);
  }

  // Renew the lease while held, but only while the lock is still ours (a renewal must never
  // overwrite a lock someone took over), and never after release.
  let released = false;
  let renewing: Promise<void> = Promise.resolve();
  const renew = setInterval(() => {
    renewing = (async () => {
      const current = parseLock(await files.read(path));
      if (released || current?.token !== token) return;
      await files.writeAtomic(path, JSON.stringify(info()));
    })().catch(() => undefined);
  }, Math.max(1000, leaseMs / 3));
  renew.unref?.();
  return {
    abandoned,
    async describe(a) {
      attempt = a;
      const current = parseLock(await files.read(path));
      if (!released && current?.token === token) await files.writeAtomic(path, JSON.stringify(info()));
    },
    async release(via = files) {
      if (released) return;
      released = true;
      clearInterval(renew);
      await renewing;
      const current = parseLock(await via.read(path).catch(() => undefined));
      if (current?.token === token) await via.remove(path);
    },
  };
}

export function parseLock(text: string | undefined): LockInfo | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as LockInfo;
    return typeof v.token === 'string' && typeof v.expiresAt === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
