import { asBmError, type BmError } from '../errors';
import type { ContainerInfo, Server } from '../ports';
import { sleep } from '../time';
import { LABEL } from './labels';
import { runningContainer } from './status';

/** A container starts being watched: the first one, or the one a deploy put in its place. */
export type ContainerEvent = { kind: 'container'; container: ContainerInfo; commit?: string; replaced: boolean };
export type FollowState = 'connected' | 'reconnecting' | 'waiting' | 'unavailable';
export type StatusEvent<S extends FollowState = FollowState> = { kind: 'status'; state: S; message: string };

export interface FollowAppOptions<T> {
  /** The server, connected; called again after a drop (the pool reconnects). */
  server: () => Promise<Server>;
  app: string;
  signal: AbortSignal;
  /** How often to look for the app's container while none runs. */
  pollMs: number;
  /** What is read, in messages: "log stream", "stats stream". */
  streamName: string;
  /** The connected state's message ("following", "live"). */
  connectedMessage: string;
  /**
   * Say "connected" as soon as a stream is open (a quiet log is still followed), or only at its
   * first item (a stream that fails at once never looked live).
   */
  connectedWhen: 'open' | 'first item';
  /** One stream of the container, until it ends; `fresh` when this container is new to the follow. */
  read: (server: Server, container: ContainerInfo, fresh: { first: boolean; replaced: boolean }) => AsyncIterable<T>;
  /** An error after which asking again would not change the answer: said, and the follow ends. */
  isFinal?: (e: BmError) => boolean;
}

/**
 * Follows whatever runs as the app on one server, for as long as the signal allows: it reads the
 * running container, moves to the new one when a deploy replaces it (a `container` event with
 * `replaced`), waits while none runs, and when the connection drops it says so and retries with
 * a backoff. Each change of state is said once. Logs and stats differ only in what they read.
 */
export async function* followApp<T>(opts: FollowAppOptions<T>): AsyncGenerator<T | ContainerEvent | StatusEvent> {
  let current: string | undefined;
  let failures = 0;
  let announced: string | undefined;
  const status = (state: FollowState, message: string): StatusEvent | undefined => {
    if (announced === `${state}:${message}`) return undefined;
    announced = `${state}:${message}`;
    return { kind: 'status', state, message };
  };

  while (!opts.signal.aborted) {
    let server: Server;
    let container: ContainerInfo | undefined;
    try {
      server = await opts.server();
      container = await runningContainer(server, opts.app);
    } catch (e) {
      if (opts.signal.aborted) return;
      const s = status('reconnecting', `connection lost (${asBmError(e).message}); reconnecting`);
      if (s) yield s;
      await sleep(Math.min(10_000, 500 * 2 ** failures++), opts.signal);
      continue;
    }
    failures = 0;
    if (!container) {
      const s = status('waiting', `${opts.app} is not running; waiting for it`);
      if (s) yield s;
      await sleep(opts.pollMs, opts.signal);
      continue;
    }
    const fresh = { first: current === undefined, replaced: current !== undefined && container.id !== current };
    if (opts.connectedWhen === 'open') {
      const s = status('connected', opts.connectedMessage);
      if (s) yield s;
    }
    if (container.id !== current) {
      yield { kind: 'container', container, commit: container.labels[LABEL.commit], replaced: current !== undefined };
      current = container.id;
    }
    try {
      for await (const item of opts.read(server, container, fresh)) {
        const s = status('connected', opts.connectedMessage);
        if (s) yield s;
        yield item;
      }
    } catch (e) {
      if (opts.signal.aborted) return;
      const err = asBmError(e);
      if (opts.isFinal?.(err)) {
        yield { kind: 'status', state: 'unavailable', message: err.message };
        return;
      }
      const s = status('reconnecting', `${opts.streamName} broke (${err.message}); reconnecting`);
      if (s) yield s;
      await sleep(500, opts.signal);
      continue;
    }
    // The stream ended by itself: the container stopped (a deploy, a crash) or the connection
    // dropped. Either way, look again.
    if (server.isConnected?.() === false) {
      const s = status('reconnecting', 'connection lost; reconnecting');
      if (s) yield s;
    }
    await sleep(200, opts.signal);
  }
}
