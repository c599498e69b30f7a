import * as vscode from 'vscode';
import { rolesOn } from '../core/config/fleet';
import { loadConfig } from '../core/config/load';
import type { Config, ServerConfig } from '../core/config/types';
import { history as readHistory, status as readStatus, type AppStatus, type HistoryEntry } from '../core/deploy/status';
import { LABEL } from '../core/deploy/labels';
import { swarmStatus, type SwarmStatus } from '../core/deploy/swarm-status';
import { swarmConfigOf } from '../core/deploy/swarm';
import { asBmError, BmError } from '../core/errors';
import type { CommitInfo, ContainerInfo, Logger } from '../core/ports';
import { withTimeout } from '../core/time';
import { GitRepo } from '../drivers/git/repo';
import type { ServerPool } from '../drivers/server-pool';
import type { UnknownHostKey } from '../drivers/ssh/connection';
import type { Runs } from './fleet-text';

export type ModelChange = 'local' | 'all';

export type ConnectionState = 'connecting' | 'connected' | 'hostKeyUnknown' | 'hostKeyChanged' | 'unreachable' | 'authFailed' | 'noDocker' | 'dockerDenied' | 'error';

/** What the editor knows of one server; refreshed in the background, read by the views. */
export interface ServerState {
  config: ServerConfig;
  connection: ConnectionState;
  error?: BmError;
  hostKey?: UnknownHostKey;
  /** The server's address as SSH resolved it (its HostName): where a browser reaches a published port. */
  address?: string;
  /** Of the app, or with roles of the first role placed on this server (one deploy moves them all). */
  status?: AppStatus;
  /** The deploys running now: the app's, or each role's (a role's containers carry their own id). */
  liveDeployIds?: string[];
  /** The app's containers, every role's with roles. */
  containers: ContainerInfo[];
  history: HistoryEntry[];
  /** On a swarm's manager: the service and every node's tasks. */
  swarm?: SwarmStatus;
  /** Its part in the app's swarm, if any: a node with no task of the app is not "not deployed". */
  swarmPart?: 'manager' | 'node';
}

/** How long a server may take to answer a refresh before it is shown as not answering. */
const REFRESH_TIMEOUT_MS = 8000;

/**
 * The one place the editor's views read from. It loads baremetal.json, asks every server (over
 * the pool's one connection each) for its status and history, and lists recent commits; views
 * never do I/O themselves. Refreshes run in the background and never block the editor.
 */
export class WorkspaceModel implements vscode.Disposable {
  /** `local`: only the commits and uncommitted files changed (the servers' views need no redraw). */
  private readonly changed = new vscode.EventEmitter<ModelChange>();
  readonly onDidChange = this.changed.event;

  config?: Config;
  configError?: BmError;
  repo?: GitRepo;
  servers = new Map<string, ServerState>();
  /** The last lost connection per server, kept until a refresh reaches it again (noteLost). */
  private readonly lost = new Map<string, BmError>();
  commits: CommitInfo[] = [];
  uncommitted: string[] = [];
  private refreshing?: Promise<void>;
  private queued?: Promise<void>;
  private timer?: ReturnType<typeof setInterval>;
  private soon: ReturnType<typeof setTimeout>[] = [];

  constructor(
    private readonly pool: ServerPool,
    private readonly logger: Logger,
    private readonly dir: () => string | undefined,
  ) {}

  /** A gentle schedule: every `intervalMs` (0: never) while the window is open; and once now. */
  start(intervalMs = 30_000): void {
    this.schedule(intervalMs);
    void this.refresh();
  }

  /** Changes the schedule (the setting was edited). */
  schedule(intervalMs: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = intervalMs > 0 ? setInterval(() => void this.refresh(), Math.max(intervalMs, 1_000)) : undefined;
  }

  /**
   * Coalesces: a refresh asked for while one runs gets one more run after it (that one may have
   * read baremetal.json before the edit that asked), shared by everyone who asks meanwhile.
   */
  refresh(): Promise<void> {
    if (this.refreshing) {
      const again = () => {
        this.queued = undefined;
        return this.refresh();
      };
      this.queued ??= this.refreshing.then(again, again);
      return this.queued;
    }
    this.refreshing = this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * Someone else deployed (a log panel saw the container change): refresh now, and again while
   * that deploy's health check runs, since its history record is written only once it passes.
   */
  refreshSoon(delaysMs: readonly number[] = [0, 3_000, 10_000]): void {
    for (const t of this.soon) clearTimeout(t);
    this.soon = delaysMs.map((ms) => setTimeout(() => void this.refreshServers(), ms));
  }

  /** The servers only: no config read, no git (a deploy elsewhere changes neither). */
  private async refreshServers(): Promise<void> {
    const config = this.config;
    if (!config || this.refreshing) return; // a full refresh under way covers it
    await Promise.all(Object.values(config.servers).map((s) => this.refreshServer(config, s)));
  }

  /** Only what lives here (commits, uncommitted files): for git changes, no server asked. */
  async refreshLocal(): Promise<void> {
    const dir = this.dir();
    if (!dir) return;
    await this.refreshCommits(dir);
    this.changed.fire('local');
  }

  private async doRefresh(): Promise<void> {
    const dir = this.dir();
    if (!dir) return;
    try {
      this.config = await loadConfig(dir);
      this.configError = undefined;
    } catch (e) {
      this.config = undefined;
      this.configError = asBmError(e);
    }
    await this.refreshCommits(dir);
    const config = this.config;
    if (!config) {
      this.servers.clear();
      this.changed.fire('all');
      return;
    }
    for (const name of [...this.servers.keys()]) if (!config.servers[name]) this.servers.delete(name);
    for (const s of Object.values(config.servers)) {
      const known = this.servers.get(s.name);
      if (!known) this.servers.set(s.name, { config: s, connection: 'connecting', containers: [], history: [] });
      else {
        // Another host or user: the address learnt from the old one's connection is stale.
        if (JSON.stringify(known.config) !== JSON.stringify(s)) known.address = undefined;
        known.config = s;
      }
    }
    this.changed.fire('all');
    await Promise.all(Object.values(config.servers).map((s) => this.refreshServer(config, s)));
  }

  private async refreshCommits(dir: string): Promise<void> {
    try {
      this.repo ??= await GitRepo.open(dir);
      [this.commits, this.uncommitted] = await Promise.all([this.repo.recentCommits(30), this.repo.uncommittedPaths()]);
    } catch (e) {
      this.repo = undefined;
      this.commits = [];
      this.logger.debug(`commits: ${asBmError(e).message}`);
    }
  }

  private async refreshServer(config: Config, s: ServerConfig): Promise<void> {
    const state = this.servers.get(s.name);
    if (!state) return;
    const before = shown(state);
    try {
      const slow = () => new BmError('Unreachable', `${s.name} did not answer within ${REFRESH_TIMEOUT_MS / 1000}s: it may be down or slow; it is retried in the background.`);
      const server = await withTimeout(this.pool.get(s), REFRESH_TIMEOUT_MS, slow);
      // With roles, each placed here has its own containers and history (APP-ROLE).
      const roles = rolesOn(config, s.name);
      const primary = roles[0] ?? config;
      const [statuses, containers, history] = await withTimeout(
        Promise.all([
          // The first role's status asks for the server's proxy; the others reuse its answer.
          readStatus(server, primary, s.name).then(async (first) => [first, ...(await Promise.all(roles.slice(1).map((r) => readStatus(server, r, s.name, { proxy: first.proxy }))))]),
          Promise.all(roles.map((r) => server.engine.containers({ [LABEL.app]: r.app }))).then((all) => all.flat()),
          readHistory(server, primary, s.name),
        ]),
        REFRESH_TIMEOUT_MS,
        slow,
      );
      const [status] = statuses;
      const liveDeployIds = statuses.map((x) => x.deployId).filter((id): id is string => !!id);
      // The connection's own target: what ssh resolved, known without asking anyone again.
      const address = server.connection.target.host;
      const swarm = config.swarm?.manager === s.name ? await withTimeout(this.swarmOf(config), REFRESH_TIMEOUT_MS, slow).catch((e: unknown) => (this.logger.warn(`swarm: ${asBmError(e).message}`), undefined)) : undefined;
      const swarmPart = config.swarm?.manager === s.name ? 'manager' : config.swarm?.nodes.includes(s.name) ? 'node' : undefined;
      this.lost.delete(s.name);
      Object.assign(state, { connection: 'connected', error: undefined, hostKey: undefined, address, status, liveDeployIds, containers, history, swarm, swarmPart });
    } catch (e) {
      // While the link stays down, the row keeps the sentence the failed operation gave (why it
      // was lost, what to do): the refresh's own "cannot reach" would tell the user less.
      const lost = this.lost.get(s.name);
      const err = lost && asBmError(e).code === 'Unreachable' ? lost : asBmError(e);
      // Said once per change, not every refresh: the log tells why a server is not connected.
      if (state.error?.message !== err.message) this.logger.warn(`${s.name}: ${err.message}`);
      state.error = err;
      state.connection = connectionStateOf(err);
      state.hostKey = (err as BmError & { hostKey?: UnknownHostKey }).hostKey;
    }
    // Views are redrawn only when what they show changed: a redraw costs the workbench's thread,
    // which is also the log panel's, and most refreshes change nothing.
    if (shown(state) !== before) this.changed.fire('all');
  }

  /**
   * A deploy, rollback or stream lost its connection to this server: its row says so at once, in
   * the same sentence as the notification, until a refresh reaches the server again.
   */
  noteLost(name: string, err: BmError): void {
    const state = this.servers.get(name);
    if (!state || err.code !== 'ConnectionLost') return;
    this.lost.set(name, err);
    state.error = err;
    state.connection = connectionStateOf(err);
    this.changed.fire('all');
  }

  /** What one server runs now, as far as the model knows. */
  runs(name: string): Runs {
    const s = this.servers.get(name);
    const known = s?.connection === 'connected' && s.status !== undefined;
    const commit = known && s.status!.state !== 'absent' ? s.status!.commit : undefined;
    return { name, known, ...(commit && { commit }) };
  }

  /** The swarm as its manager sees it; each node over the pool's connection to it (a node down still shows). */
  private swarmOf(config: Config): Promise<SwarmStatus> {
    const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    return swarmStatus({
      config: swarmConfigOf(config),
      logger: quiet,
      node: async (name) => ({ server: await this.pool.get(config.servers[name]), logger: quiet, progress: () => undefined }),
    });
  }

  /** Which servers run this commit now (for the Commits view). */
  deployedOn(sha: string): string[] {
    return [...this.servers.values()].filter((s) => s.status?.commit === sha).map((s) => s.config.name);
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    for (const t of this.soon) clearTimeout(t);
    this.changed.dispose();
  }
}

/** What the views show of a server, as one comparable string. */
function shown(s: ServerState): string {
  // (uptimeSeconds grows on every read; the views count uptime from startedAt when they draw.)
  return JSON.stringify([s.connection, s.error?.message, s.hostKey, s.address, { ...s.status, uptimeSeconds: undefined }, s.containers, s.history, s.swarm]);
}

export function connectionStateOf(err: BmError): ConnectionState {
  switch (err.code) {
    case 'HostKeyUnknown':
      return 'hostKeyUnknown';
    case 'HostKeyChanged':
    case 'HostKeyRevoked':
      return 'hostKeyChanged';
    case 'Unreachable':
    case 'ConnectionLost':
      return 'unreachable';
    case 'AuthFailed':
    case 'PassphraseNeeded':
      return 'authFailed';
    case 'NoDocker':
      return 'noDocker';
    case 'DockerPermissionDenied':
      return 'dockerDenied';
    default:
      return 'error';
  }
}
