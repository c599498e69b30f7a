import { BmError } from '../../core/errors';

/** What a link-bound object needs to know of its connection. */
export interface Link {
  readonly isClosed: boolean;
  readonly lostReason?: string;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

export function connectionLost(label: string, link: Pick<Link, 'lostReason'>): BmError {
  const why = link.lostReason ? ` (${link.lostReason})` : '';
  return new BmError('ConnectionLost', `The SSH connection to ${label} was lost${why}: run the command again once the server can be reached; "baremetal status" shows what runs there.`);
}

/**
 * The same object, but every promise one of its methods returns settles once its connection is
 * gone. Needed because some of ssh2's requests never settle after a close: an SFTP request sent
 * on a dead channel is neither sent nor failed, so a deploy that tidies up after a lost link
 * would wait forever (and Node, its loop empty, exits 0). Calls made after the close fail at once.
 */
export function boundToLink<T extends object>(target: T, link: Link, label: string): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value: unknown = Reflect.get(obj, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (link.isClosed) return Promise.reject(connectionLost(label, link));
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(obj, args);
        return isPromise(result) ? untilClosed(result, link, label) : result;
      };
    },
  });
}

function untilClosed<R>(work: Promise<R>, link: Link, label: string): Promise<R> {
  const bound = new Promise<R>((resolve, reject) => {
    const onClose = () => reject(connectionLost(label, link));
    link.once('close', onClose);
    work.then(
      (v) => {
        link.off('close', onClose);
        resolve(v);
      },
      (e: unknown) => {
        link.off('close', onClose);
        // A request the close itself failed is the lost connection, said as such.
        void settleFailure(e, link, label).then(reject);
      },
    );
  });
  // A call nobody awaits (a renewal, a tidy-up in the background) used to wait forever when the
  // link died; failing it now must not crash the process as an unhandled rejection. Whoever
  // awaits it still gets the error.
  bound.catch(() => undefined);
  return bound;
}

/**
 * What a failed call says. A call the lost link failed is the lost connection, said as such:
 * the channel's own error ("socket hang up", EPIPE) often arrives a moment before the
 * connection's 'close', so a short wait tells the two apart.
 */
async function settleFailure(e: unknown, link: Link, label: string): Promise<unknown> {
  if (!link.isClosed && isChannelDrop(e)) await new Promise<void>((resolve) => {
    const t = setTimeout(done, 300);
    function done() {
      clearTimeout(t);
      link.off('close', done);
      resolve();
    }
    link.once('close', done);
  });
  if (link.isClosed) return Object.assign(connectionLost(label, link), { cause: e });
  if (isChannelDrop(e)) {
    return new BmError('EngineLost', `The Docker Engine on ${label} closed the connection in the middle of a request (${(e as Error).message}): it may have restarted; "baremetal status" shows what runs there, then run the command again.`, undefined, { cause: e });
  }
  return e;
}

function isChannelDrop(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | undefined;
  return ['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE'].includes(err?.code ?? '') || /^socket hang up$|^aborted$/.test(err?.message ?? '');
}

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
