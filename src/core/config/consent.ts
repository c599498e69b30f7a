/**
 * Which of the developer's secrets a deploy sends to which host, and whether the developer has
 * agreed to it. A repository's baremetal.json names the secrets and the servers; the values come
 * from the developer's environment or any file it points at, so a hostile repository could send
 * AWS_SECRET_ACCESS_KEY to its own server. Before the first deploy of a workspace to a host the
 * developer sees the list and agrees once; a list that grows is asked about again. Only names and
 * where they come from are kept, never a value.
 */
import * as path from 'node:path';
import { configFor } from './fleet';
import { SECRETS_FILE } from './secrets';
import type { Config, ServerConfig } from './types';

export interface SecretSend {
  name: string;
  /** run: the container's env; build: the build (its output ships in the image); tls: the proxy's certificate. */
  use: 'run' | 'build' | 'tls';
  /** "the environment", or the secrets file as written in baremetal.json. */
  source: string;
  /** The secrets file lies outside the workspace (another project's, a home folder's). */
  outside: boolean;
}

export interface HostSends {
  /** The machine as baremetal.json names it: user@host:port. */
  host: string;
  servers: string[];
  sends: SecretSend[];
}

/** What the developer agreed to, per host of one workspace: items of `itemOf`. */
export interface ConsentStore {
  agreed(workspace: string): Promise<Record<string, readonly string[]>>;
  agree(workspace: string, host: string, items: readonly string[]): Promise<void>;
}

export function hostOf(server: Pick<ServerConfig, 'host' | 'user' | 'port'>): string {
  return `${server.user ? `${server.user}@` : ''}${server.host}${server.port ? `:${server.port}` : ''}`;
}

/** One line of the agreement: no value, only the name, its use and its source. */
export function itemOf(s: SecretSend): string {
  return `${s.use} ${s.name} from ${s.source}${s.outside ? ' (outside the workspace)' : ''}`;
}

/**
 * Every secret each host would receive, and from where, as resolveSecrets would read it: the
 * environment first, else the server's secrets file. Build secrets go to every host (whatever
 * the build reads can end up in the image). Hosts in the order of `serverNames`.
 */
export function secretSends(config: Config, serverNames: readonly string[], env: NodeJS.ProcessEnv, uses: readonly SecretSend['use'][] = ['run', 'build', 'tls']): HostSends[] {
  const hosts = new Map<string, HostSends>();
  for (const name of serverNames) {
    const c = configFor(config, name);
    const file = c.secretsFile ?? SECRETS_FILE;
    const rel = path.relative(config.dir, path.resolve(config.dir, file));
    const outside = rel.startsWith('..') || path.isAbsolute(rel);
    const from = (n: string) => (env[n] !== undefined ? { source: 'the environment', outside: false } : { source: file, outside });
    const tls = typeof c.proxy?.tls === 'object' ? [c.proxy.tls.cert, c.proxy.tls.key] : [];
    const sends: SecretSend[] = [
      ...c.run.secrets.map((n) => ({ name: n, use: 'run' as const, ...from(n) })),
      ...c.build.secrets.map((n) => ({ name: n, use: 'build' as const, ...from(n) })),
      ...tls.map((n) => ({ name: n, use: 'tls' as const, ...from(n) })),
    ].filter((s) => uses.includes(s.use));
    const host = hostOf(c.servers[name]);
    const entry = hosts.get(host) ?? { host, servers: [], sends: [] };
    entry.servers.push(name);
    for (const s of sends) if (!entry.sends.some((x) => itemOf(x) === itemOf(s))) entry.sends.push(s);
    hosts.set(host, entry);
  }
  return [...hosts.values()].filter((h) => h.sends.length > 0);
}

/** The hosts with something not agreed to yet, each with only what is new (agreed items stay agreed). */
export function notAgreed(hosts: readonly HostSends[], agreed: Record<string, readonly string[]>): HostSends[] {
  return hosts
    .map((h) => ({ ...h, sends: h.sends.filter((s) => !(agreed[h.host] ?? []).includes(itemOf(s))) }))
    .filter((h) => h.sends.length > 0);
}

/** What the developer is asked about: per host, each secret and where it comes from. */
export function describeSends(hosts: readonly HostSends[]): string[] {
  return hosts.flatMap((h) => [
    `${h.host} (${h.servers.join(', ')}) would receive:`,
    ...h.sends.map((s) => `  ${s.name} (${s.use === 'run' ? "the app's env" : s.use === 'build' ? 'the build' : 'the TLS certificate'}) from ${s.source}${s.outside ? ', a file outside this workspace' : ''}`),
  ]);
}

/**
 * What still needs the developer's yes before this operation sends secrets to these servers.
 * `uses`: what the operation sends (a one-off `run` sends only the app's env, not the build's or
 * the proxy's secrets, so it asks about those alone and a later deploy asks about the rest).
 */
export async function consentNeeded(config: Config, serverNames: readonly string[], env: NodeJS.ProcessEnv, store: ConsentStore, uses?: readonly SecretSend['use'][]): Promise<HostSends[]> {
  const hosts = secretSends(config, serverNames, env, uses);
  if (!hosts.length) return [];
  return notAgreed(hosts, await store.agreed(config.dir));
}

/** Remembers the yes: the items now agreed for each host, added to what was agreed before. */
export async function recordConsent(config: Config, hosts: readonly HostSends[], store: ConsentStore): Promise<void> {
  const before = await store.agreed(config.dir);
  for (const h of hosts) await store.agree(config.dir, h.host, [...new Set([...(before[h.host] ?? []), ...h.sends.map(itemOf)])]);
}
