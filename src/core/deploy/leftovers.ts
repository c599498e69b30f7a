/**
 * Which of an app's containers behind the proxy is the app, and which a deploy that did not
 * finish left. One answer for the deploy that tidies up before it starts and for `status`, so
 * both see the same thing after a client killed at any moment.
 */
import type { ContainerInfo } from '../ports';
import { liveName } from '../proxy/caddy-config';

const isRunning = (c: ContainerInfo): boolean => c.state === 'running' || c.state === 'restarting';

/** Never switched to (`--new-…`), or not running. */
export function isLeftover(c: ContainerInfo, app: string): boolean {
  return c.name.startsWith(`${app}--new-`) || !isRunning(c);
}

export interface SortedOut {
  /** The container that holds the live name, or should take it back (undefined: none can). */
  live?: ContainerInfo;
  /** True when `live` does not hold the live name yet (a switch cut between its two renames). */
  renameLive: boolean;
  /** What to remove. */
  left: ContainerInfo[];
  /** Everything else, `live` included: the containers a deploy drains after its switch. */
  rest: ContainerInfo[];
}

/**
 * A running container named `<app>--live` is the app. Without one (killed between renaming the
 * old container away and the new one in), the newest running container that was switched to
 * before, the old one, takes the name back: the new one was never recorded as deployed.
 */
export function sortOut(all: ContainerInfo[], app: string): SortedOut {
  const named = all.find((c) => c.name === liveName(app) && isRunning(c));
  // With the live name held, anything else is what a killed deploy left (a `--old-` one it was
  // draining included: the proxy no longer sends to it).
  const left = all.filter((c) => c !== named && (named !== undefined || isLeftover(c, app)));
  const rest = all.filter((c) => !left.includes(c));
  const live = named ?? [...rest].sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''))[0];
  return { live, renameLive: !!live && live !== named, left, rest };
}
