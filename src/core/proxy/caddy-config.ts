/**
 * The server's Caddy configuration as data: built from the apps routed there, and read back
 * from what Caddy runs (its own config is the one copy every client and CI sees). Pure, so what
 * is sent to the proxy is tested as values, the way Kamal tests its commands.
 *
 * Each app's route sends its hosts to the DNS name `<app>--live` on the proxy's network, which
 * Caddy resolves again every quarter second (dynamic upstreams). A deploy moves that name from the old
 * container to the new one by renaming them: traffic switches without any change to Caddy's
 * config, so no reload ever closes another app's WebSockets (caddyserver/caddy#3143, which
 * Caddy 2.6 has and 2.7+ softens with stream_close_delay). Should the name be missing (a client
 * killed between the two renames), the fallback `<app>--any` names every container of the app
 * on that network, so something healthy always answers.
 */

/** How an app's hosts get HTTPS: see ProxyTls; "files" = the certificate pair written from secrets. */
export type RouteTls = 'auto' | 'internal' | 'off' | 'files';

export interface AppRoute {
  app: string;
  hosts: string[];
  port: number;
  tls: RouteTls;
}

/** Where the proxy container sees its folder on the server (bind-mounted from ~/.baremetal/proxy). */
export const PROXY_DIR_IN_CONTAINER = '/baremetal';
export const ADMIN_SOCKET = 'run/admin.sock';
/** The Host header the admin API accepts (it refuses others: a browser cannot be tricked into it). */
export const ADMIN_ORIGIN = 'baremetal';
/**
 * How often Caddy looks the live name up again: the longest a switch takes to reach it. A lookup
 * is one query to Docker's embedded DNS on the same host, and happens only while requests come
 * (at most four a second per app): cheap, and a rollback serves a quarter of a second sooner
 * than with the 1 s of earlier versions.
 */
export const DNS_REFRESH_MS = 250;

export const liveName = (app: string) => `${app}--live`;
export const anyName = (app: string) => `${app}--any`;
const routeId = (app: string) => `baremetal-app-${app}`;
const certPath = (app: string, kind: 'crt' | 'key') => `${PROXY_DIR_IN_CONTAINER}/certs/${app}.${kind}`;

export interface ProxyFeatures {
  /**
   * Caddy 2.7+: a config change keeps proxied WebSockets and streams open this long instead of
   * closing them (caddyserver/caddy#3143). 2.6 refuses the field, and closes them on every change.
   */
  streamCloseDelay?: string;
}

/** Caddy's JSON config for these apps (sorted by name, so the same apps give the same bytes). */
export function caddyConfig(routes: readonly AppRoute[], features: ProxyFeatures = {}): Record<string, unknown> {
  const sorted = [...routes].sort((a, b) => a.app.localeCompare(b.app));
  const secure = sorted.filter((r) => r.tls !== 'off');
  const plain = sorted.filter((r) => r.tls === 'off');
  const policies = (['internal', 'auto'] as const)
    .map((kind) => ({ kind, subjects: sorted.filter((r) => r.tls === kind).flatMap((r) => r.hosts) }))
    .filter((p) => p.subjects.length)
    .map((p) => ({ subjects: p.subjects, issuers: [{ module: p.kind === 'internal' ? 'internal' : 'acme' }] }));
  const files = sorted.filter((r) => r.tls === 'files').map((r) => ({ certificate: certPath(r.app, 'crt'), key: certPath(r.app, 'key'), tags: [r.app] }));
  return {
    admin: { listen: `unix/${PROXY_DIR_IN_CONTAINER}/${ADMIN_SOCKET}`, origins: [ADMIN_ORIGIN], config: { persist: true } },
    apps: {
      http: {
        servers: {
          https: { listen: [':443'], routes: secure.map((r) => route(r, features)) },
          // Apps with tls "off"; Caddy adds its HTTP→HTTPS redirects for the others here.
          http: { listen: [':80'], routes: plain.map((r) => route(r, features)) },
        },
      },
      tls: {
        ...(policies.length ? { automation: { policies } } : {}),
        ...(files.length ? { certificates: { load_files: files } } : {}),
      },
    },
  };
}

function route(r: AppRoute, features: ProxyFeatures): Record<string, unknown> {
  return {
    '@id': routeId(r.app),
    match: [{ host: r.hosts }],
    terminal: true,
    handle: [
      {
        handler: 'reverse_proxy',
        dynamic_upstreams: { source: 'a', name: liveName(r.app), port: String(r.port), refresh: `${DNS_REFRESH_MS}ms` },
        upstreams: [{ dial: `${anyName(r.app)}:${r.port}` }],
        // A connection refused while containers change hands is tried again, not answered 502.
        load_balancing: { try_duration: '5s', try_interval: '100ms' },
        ...(features.streamCloseDelay ? { stream_close_delay: features.streamCloseDelay } : {}),
      },
    ],
  };
}

interface CaddyRoute {
  '@id'?: string;
  match?: { host?: string[] }[];
  handle?: { dynamic_upstreams?: { port?: string } }[];
}
interface CaddyShape {
  apps?: {
    http?: { servers?: Record<string, { routes?: CaddyRoute[] }> };
    tls?: { automation?: { policies?: { subjects?: string[]; issuers?: { module?: string }[] }[] }; certificates?: { load_files?: { tags?: string[] }[] } };
  };
}

/** The apps a running config routes (ours only: routes with our @id), as caddyConfig was given them. */
export function routesOf(config: unknown): AppRoute[] {
  const c = (config ?? {}) as CaddyShape;
  const internal = new Set((c.apps?.tls?.automation?.policies ?? []).filter((p) => p.issuers?.some((i) => i.module === 'internal')).flatMap((p) => p.subjects ?? []));
  const withFiles = new Set((c.apps?.tls?.certificates?.load_files ?? []).flatMap((f) => f.tags ?? []));
  const out: AppRoute[] = [];
  for (const [serverName, server] of Object.entries(c.apps?.http?.servers ?? {})) {
    for (const r of server.routes ?? []) {
      const app = /^baremetal-app-(.+)$/.exec(r['@id'] ?? '')?.[1];
      if (!app) continue;
      const hosts = r.match?.[0]?.host ?? [];
      const port = Number(r.handle?.[0]?.dynamic_upstreams?.port);
      const tls: RouteTls = serverName === 'http' ? 'off' : withFiles.has(app) ? 'files' : hosts.some((h) => internal.has(h)) ? 'internal' : 'auto';
      out.push({ app, hosts, port, tls });
    }
  }
  return out.sort((a, b) => a.app.localeCompare(b.app));
}

/** The apps with `route` put in (replacing the app's old route); another app's use of a host is an error for the caller. */
export function withRoute(routes: readonly AppRoute[], next: AppRoute): AppRoute[] {
  return [...routes.filter((r) => r.app !== next.app), next].sort((a, b) => a.app.localeCompare(b.app));
}

/** An app of `routes` other than `app` that already answers one of `hosts`. */
export function hostTakenBy(routes: readonly AppRoute[], app: string, hosts: readonly string[]): { app: string; host: string } | undefined {
  for (const r of routes) {
    if (r.app === app) continue;
    const host = r.hosts.find((h) => hosts.includes(h));
    if (host) return { app: r.app, host };
  }
  return undefined;
}

export function sameRoute(a: AppRoute | undefined, b: AppRoute): boolean {
  return !!a && a.port === b.port && a.tls === b.tls && a.hosts.join() === b.hosts.join();
}

/** What a Caddy version supports ("2.6.2", "v2.8.4"; unknown: the oldest we meet, 2.6). */
export function featuresOf(version: string | undefined): ProxyFeatures {
  const m = /(\d+)\.(\d+)/.exec(version ?? '');
  const newer = m ? Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 7) : false;
  return newer ? { streamCloseDelay: '24h' } : {};
}
