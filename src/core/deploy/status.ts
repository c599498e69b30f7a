import type { Config } from '../config/types';
import type { ContainerInfo, Server } from '../ports';
import { readJournal, type DeployRecord } from './journal';
import { LABEL } from './labels';
import { acquireLock } from './lock';
import { recordAbandoned } from './abandoned';
import { liveName } from '../proxy/caddy-config';
import { sortOut } from './leftovers';
import { proxyStatus, type ProxyStatus } from '../proxy/proxy-status';

/**
 * The app's serving container on a server, if any: through the proxy, the one holding the live
 * name; else the newest running one that is not a new version still being checked (a client
 * killed during a health check leaves one running: it is not what serves, nor "current").
 */
export async function runningContainer(server: Server, app: string): Promise<ContainerInfo | undefined> {
  const all = await server.engine.containers({ [LABEL.app]: app });
  const running = all.filter((c) => c.state === 'running').sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''));
  return running.find((c) => c.name === liveName(app)) ?? running.find((c) => !c.name.startsWith(`${app}--new-`)) ?? running[0];
}

/** The history record of what runs now: the one whose id the running container carries. */
export async function currentRecord(server: Server, app: string, history: DeployRecord[]): Promise<DeployRecord | undefined> {
  const running = await runningContainer(server, app);
  const id = running?.labels[LABEL.deployId];
  return id ? history.find((r) => r.id === id && r.result === 'succeeded') : undefined;
}

export interface HistoryEntry extends DeployRecord {
  current: boolean;
}

/** Newest first, the running one marked `current`. */
export async function history(server: Server, config: Config, serverName: string): Promise<HistoryEntry[]> {
  const records = await readJournal(server.files, config.servers[serverName].stateDir, config.app);
  const current = await currentRecord(server, config.app, records);
  return records.reverse().map((r) => ({ ...r, current: r.id === current?.id }));
}

export interface AppStatus {
  server: string;
  app: string;
  state: ContainerInfo['state'] | 'absent';
  commit?: string;
  subject?: string;
  container?: string;
  image?: string;
  health?: string;
  startedAt?: string;
  uptimeSeconds?: number;
  deployId?: string;
  deployedBy?: string;
  deployedAt?: string;
  /** Containers a deploy that did not finish left behind (removed when the app's lock was free). */
  leftovers?: { name: string; removed: boolean }[];
  /** The server's shared proxy: for apps behind it, or whenever one runs there. */
  proxy?: ProxyStatus;
}

/**
 * What runs, and what a dead client left: through the proxy, the container holding the live name
 * is the app; any other of its containers not running, or never switched to (`--new-…`), is a
 * leftover. They are removed only while this client can take the app's lock (a deploy in
 * progress may still be checking its new container), and said so.
 */
export async function status(server: Server, config: Config, serverName: string, opts: { who?: string; tidy?: boolean; proxy?: ProxyStatus } = {}): Promise<AppStatus> {
  const all = await server.engine.containers({ [LABEL.app]: config.app });
  // `proxy`: already asked for this server (the roles of one server share its proxy).
  const proxy = opts.proxy ?? (await proxyStatus(server, config.servers[serverName].stateDir));
  const withProxy = config.proxy || proxy.state !== 'absent' ? { proxy } : {};
  const sorted = sortOut(all, config.app);
  // Only never-switched containers (a first deploy killed before its switch): show the newest.
  const c = sorted.live ?? all.find((x) => x.state === 'running') ?? all[0];
  if (!c) return { server: serverName, app: config.app, state: 'absent', ...withProxy };
  const left = sorted.left.filter((x) => x !== c);
  // A switch cut between its renames: the old version takes its name back, as a deploy would.
  const rename = !!config.proxy && sorted.renameLive && c === sorted.live;
  let leftovers: AppStatus['leftovers'];
  if (left.length || rename) {
    let removed = false;
    if (opts.tidy) {
      const lock = await acquireLock(server.files, config.servers[serverName].stateDir, config.app, { owner: opts.who ?? 'status', operation: 'status', sessions: server.sessions }).catch(() => undefined);
      if (lock) {
        try {
          await recordAbandoned(server, config.servers[serverName].stateDir, config.app, lock.abandoned, opts.who ?? 'status', { debug() {}, info() {}, warn() {}, error() {} }).catch(() => undefined);
          for (const x of left) await server.engine.remove(x.id);
          if (rename) {
            await server.engine.rename!(c.id, liveName(config.app));
            c.name = liveName(config.app);
          }
          removed = true;
        } finally {
          await lock.release().catch(() => undefined);
        }
      }
    }
    if (left.length) leftovers = left.map((x) => ({ name: x.name, removed }));
  }
  const records = await readJournal(server.files, config.servers[serverName].stateDir, config.app);
  const rec = records.find((r) => r.id === c.labels[LABEL.deployId] && r.result === 'succeeded');
  return {
    server: serverName,
    app: config.app,
    state: c.state,
    commit: c.labels[LABEL.commit],
    subject: rec?.subject,
    container: c.name,
    image: c.image,
    health: c.health ?? (c.state === 'running' ? 'running (no HEALTHCHECK in the image)' : undefined),
    startedAt: c.startedAt,
    uptimeSeconds: c.startedAt ? Math.max(0, Math.round((Date.now() - Date.parse(c.startedAt)) / 1000)) : undefined,
    deployId: c.labels[LABEL.deployId],
    deployedBy: rec?.who,
    deployedAt: rec?.finishedAt,
    ...(leftovers ? { leftovers } : {}),
    ...withProxy,
  };
}
