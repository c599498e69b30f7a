/**
 * What the server's shared proxy is doing, for `status` and the Servers view: whether its
 * container runs, which Caddy it is, and which apps (of anyone's) it routes. Read-only: it never
 * starts the proxy or changes a route, so looking cannot disturb a deploy in progress.
 */
import type { Server } from '../ports';
import { currentRoutes, PROXY_CONTAINER } from './proxy';
import type { AppRoute } from './caddy-config';

export interface ProxyStatus {
  /** "absent": never started on this server (the first deploy through the proxy starts it). */
  state: 'absent' | 'running' | 'stopped' | 'not answering';
  image?: string;
  /** Caddy's version from its image's label, when the image says. */
  version?: string;
  /** Every app the proxy routes (this config's and others'); read only while it answers. */
  routes: AppRoute[];
  /** Why the admin API did not answer, when it did not. */
  problem?: string;
}

export async function proxyStatus(server: Server, stateBase: string): Promise<ProxyStatus> {
  const c = await server.engine.container(PROXY_CONTAINER);
  if (!c) return { state: 'absent', routes: [] };
  const image = await server.engine.image(c.imageId || c.image).catch(() => undefined);
  const base = { image: c.image, version: image?.labels['org.opencontainers.image.version'] };
  if (c.state !== 'running') return { ...base, state: 'stopped', routes: [] };
  try {
    return { ...base, state: 'running', routes: await currentRoutes({ server, stateBase }) };
  } catch (e) {
    return { ...base, state: 'not answering', routes: [], problem: (e as Error).message };
  }
}

/** One line: "Caddy 2.6.2 running, routing 2 apps (shop, blog)". */
export function describeProxy(p: ProxyStatus): string {
  if (p.state === 'absent') return 'no proxy yet (the first deploy through it starts it)';
  const name = `Caddy${p.version ? ` ${p.version.replace(/^v/, '')}` : ''} (${p.image})`;
  if (p.state === 'stopped') return `${name} stopped: the next deploy through it starts it again`;
  if (p.state === 'not answering') return `${name} runs but its admin API does not answer${p.problem ? ` (${p.problem})` : ''}`;
  const apps = p.routes.map((r) => r.app);
  return `${name} running, routing ${apps.length} app${apps.length === 1 ? '' : 's'}${apps.length ? ` (${apps.join(', ')})` : ''}`;
}
