import { statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ServerConfig } from '../core/config/types';
import { BmError } from '../core/errors';
import type { Logger, Server, ServerFiles } from '../core/ports';
import type { SessionProbe } from '../core/deploy/lock';
import { connectEngine, type DockerTransport, type RemoteEngine } from './docker/remote-engine';
import { SshConnection, type SshAuthHooks, type UnknownHostKey } from './ssh/connection';
import { appendKnownHost } from './ssh/known-hosts';
import { boundToLink } from './ssh/link-bound';
import { formatClientPart, goneFromHere, newConnectionId, parseClientPart, processAlive, thisMachine } from './ssh/client-identity';
import { ExecFiles, sshRunner } from './ssh/exec-files';
import { isSftpUnavailable, SftpFiles } from './ssh/sftp-files';
import { resolveSshTarget, type SshTarget } from './ssh/ssh-config';

export interface ConnectedServer extends Server {
  readonly engine: RemoteEngine;
  readonly connection: SshConnection;
  readonly transport: DockerTransport;
  /** The Docker socket on the server the engine was found at (the configured one, or rootless Docker's). */
  readonly dockerSocket: string;
}

export interface PoolOptions extends SshAuthHooks {
  logger: Logger;
  /** An ssh_config file to use instead of ~/.ssh/config (like `ssh -F`). */
  sshConfigFile?: string;
}

/** How the pool reaches a machine: swapped for fakes in unit tests. */
export interface PoolDialer {
  resolve(server: ServerConfig, sshConfigFile?: string): Promise<SshTarget>;
  connect(server: ServerConfig, target: SshTarget, opts: PoolOptions, signal?: AbortSignal): Promise<ConnectedServer>;
  /** Changes whenever an ssh_config file that may pick the machine changes. */
  sshConfigStamp(sshConfigFile?: string): string;
}

interface Entry {
  /** What baremetal.json says picks the machine, and the ssh_config files' stamp, when it was resolved. */
  configKey: string;
  /** The resolved SSH target and Docker socket: the machine itself. */
  machineKey: Promise<string>;
  server: Promise<ConnectedServer>;
}

/**
 * One SSH connection per server per process: every caller asking for the same server shares
 * it. A connection that drops is forgotten, so the next request reconnects. A server whose
 * host, user, port, key, Docker socket or ssh_config changed gets a new connection and the old
 * one is closed: the name alone would keep sending deploys and secrets to the old machine.
 */
export class ServerPool {
  private readonly servers = new Map<string, Entry>();

  constructor(
    private readonly opts: PoolOptions,
    private readonly dialer: PoolDialer = sshDialer,
  ) {}

  get(server: ServerConfig, signal?: AbortSignal): Promise<ConnectedServer> {
    const configKey = JSON.stringify([server.host, server.user, server.port, server.identityFile, server.dockerSocket, this.dialer.sshConfigStamp(this.opts.sshConfigFile)]);
    const old = this.servers.get(server.name);
    if (old && old.configKey === configKey) return old.server;
    // Something that may pick the machine changed: resolve again, and keep the old connection
    // only if it still reaches the same machine (an edited comment in ssh_config, say).
    const target = this.dialer.resolve(server, this.opts.sshConfigFile);
    const machineKey = target.then((t) => JSON.stringify([t, server.dockerSocket]));
    const pending = (async () => {
      const key = await machineKey;
      let connected: ConnectedServer | undefined;
      if (old && (await old.machineKey.catch(() => undefined)) === key) {
        const reused = await old.server.catch(() => undefined);
        if (reused && !reused.connection.isClosed) connected = reused;
      } else if (old) {
        void old.server.then((s) => s.connection.close(), () => undefined);
      }
      connected ??= await this.dialer.connect(server, await target, this.opts, signal);
      connected.connection.once('close', () => this.forget(server.name, entry));
      return connected;
    })();
    const entry: Entry = { configKey, machineKey, server: pending };
    this.servers.set(server.name, entry);
    pending.catch(() => this.forget(server.name, entry));
    return pending;
  }

  /** Drops the entry only if it is still the current one (a superseded connection closing must not drop its successor). */
  private forget(name: string, entry: Entry): void {
    if (this.servers.get(name) === entry) this.servers.delete(name);
  }

  async target(server: ServerConfig): Promise<SshTarget> {
    return this.dialer.resolve(server, this.opts.sshConfigFile);
  }

  /**
   * The server's host key when it is not trusted yet (for `trust`), or undefined when it is.
   * A changed key is an error here too: trusting never overwrites a known key.
   */
  async unknownHostKey(server: ServerConfig): Promise<UnknownHostKey | undefined> {
    try {
      await this.get(server);
      return undefined;
    } catch (e) {
      if (e instanceof BmError && e.code === 'HostKeyUnknown') return (e as BmError & { hostKey: UnknownHostKey }).hostKey;
      // Anything but the host key (e.g. authentication) means the key itself was accepted.
      if (e instanceof BmError && ['AuthFailed', 'NoDocker', 'DockerPermissionDenied', 'PassphraseNeeded'].includes(e.code)) return undefined;
      throw e;
    }
  }

  async trust(key: UnknownHostKey): Promise<void> {
    await appendKnownHost(key.knownHostsFile, key.line);
  }

  closeAll(): void {
    for (const e of this.servers.values()) void e.server.then((s) => s.connection.close(), () => undefined);
    this.servers.clear();
  }
}

/** The real dialer: ssh_config resolution, an SSH connection, and the Docker Engine behind it. */
const sshDialer: PoolDialer = {
  resolve: (server, configFile) => resolveSshTarget(server.host, { user: server.user, port: server.port, identityFile: server.identityFile }, { configFile }),
  connect: connectServer,
  sshConfigStamp(configFile) {
    const files = configFile ? [configFile] : [path.join(os.homedir(), '.ssh', 'config'), '/etc/ssh/ssh_config'];
    // A stat per request is cheap; Include files are not followed (their edits show on the next reconnect).
    return files.map((f) => {
      try {
        const st = statSync(f);
        return `${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch {
        return '-';
      }
    }).join('|');
  },
};

async function connectServer(server: ServerConfig, target: SshTarget, opts: PoolOptions, signal?: AbortSignal): Promise<ConnectedServer> {
  const connection = await SshConnection.open(target, { ...opts, label: server.name, signal, sshConfigFile: opts.sshConfigFile });
  try {
    const { engine, transport, socket } = await connectEngine(connection, server.dockerSocket, server.name);
    const v = engine.facts.version;
    opts.logger.debug(`${server.name}: Docker Engine API over ${transport} to ${socket}, API ${engine.facts.apiVersion ?? 'unversioned'} (Docker ${v.Version} ${v.Os}/${v.Arch})`);
    return {
      name: server.name,
      // Whatever is under way when the link dies ends with that sentence, never a silent wait.
      engine: boundToLink(engine, connection, server.name),
      files: boundToLink(new ChosenFiles(connection, opts.logger, server.name), connection, server.name),
      address: `${target.user}@${target.host}`,
      connection,
      transport,
      dockerSocket: socket,
      reverseTunnel: (onConnection) => connection.reverseForward(onConnection),
      isConnected: () => !connection.isClosed,
      connectSocket: (socketPath) => connection.forwardStreamLocal(socketPath),
      sessions: sessionProbe(connection, trackConnection(connection)),
      identity: once(async () => {
        const r = await connection.exec(['sh', '-c', 'echo "$HOME"; id -u; id -g']);
        const [home, uid, gid] = r.stdout.trim().split('\n');
        return { home, uid: Number(uid), gid: Number(gid) };
      }),
    };
  } catch (e) {
    connection.close();
    throw e;
  }
}

/**
 * SFTP where the server has it; exec channels of the same connection where it has no SFTP
 * subsystem. Decided at the first file operation, as SFTP was opened before (a command that
 * touches no file opens neither).
 */
class ChosenFiles implements ServerFiles {
  private chosen?: Promise<ServerFiles>;

  constructor(
    private readonly conn: SshConnection,
    private readonly logger: Logger,
    private readonly label: string,
  ) {}

  private files(): Promise<ServerFiles> {
    this.chosen ??= this.conn.sftp().then(
      () => {
        this.logger.debug(`${this.label}: files over SFTP`);
        return new SftpFiles(this.conn);
      },
      (e: unknown) => {
        if (!isSftpUnavailable(e)) throw e;
        this.logger.debug(`${this.label}: no SFTP on the server (${(e as Error).message}): files over exec`);
        return new ExecFiles(sshRunner(this.conn));
      },
    );
    return this.chosen;
  }

  async read(path: string) {
    return (await this.files()).read(path);
  }
  async writeAtomic(path: string, content: string, opts?: { secret?: boolean }) {
    return (await this.files()).writeAtomic(path, content, opts);
  }
  async createExclusive(path: string, content: string) {
    return (await this.files()).createExclusive(path, content);
  }
  async takeOver(path: string, expected: string) {
    return (await this.files()).takeOver(path, expected);
  }
  async remove(path: string) {
    return (await this.files()).remove(path);
  }
  async mkdirp(dir: string) {
    return (await this.files()).mkdirp(dir);
  }
}

/** Runs `fn` once; a failure is forgotten so the next call tries again. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    p.catch(() => (p = undefined));
    return p;
  };
}

/**
 * A session is "<pid>:<start time>" of this connection's sshd process on the server (the parent
 * of every command it runs), so a reused PID is never taken for the same connection. Gone when
 * that process is; unknown when /proc hides other users' processes (hidepid) or cannot be read.
 */
const MY_SESSION = 'set -- $(sed "s/^.*) //" /proc/$PPID/stat) && echo "$PPID:${20}"';
const SESSION_STATE =
  'pid=$1; start=$2; if grep -q hidepid /proc/self/mountinfo 2>/dev/null; then echo unknown; ' +
  'elif [ -r /proc/$pid/stat ]; then set -- $(sed "s/^.*) //" /proc/$pid/stat); if [ "${20}" = "$start" ]; then echo alive; else echo gone; fi; else echo gone; fi';

/** Ends that sshd process, only if it is still the one that started then (a PID may be reused). */
const END_SESSION =
  'pid=$1; start=$2; [ -r /proc/$pid/stat ] || exit 0; set -- $(sed "s/^.*) //" /proc/$pid/stat); if [ "${20}" = "$start" ]; then kill "$pid"; fi; exit 0';

/**
 * This process's open connections, by id: what a lock held from here names as its client part
 * (client-identity.ts). It is the process's own fact, so it lives with the process.
 */
const openConnections = new Set<string>();
const machine = thisMachine();

function trackConnection(connection: SshConnection): string {
  const id = newConnectionId();
  openConnections.add(id);
  connection.once('close', () => openConnections.delete(id));
  return id;
}

/**
 * A session is "<sshd pid>:<its start time>" on the server, then "/<machine>:<pid>:<connection>"
 * of the client when it knows its machine (older versions read the first part only).
 */
function sessionProbe(connection: SshConnection, connectionId: string): SessionProbe {
  return {
    mine: once(async () => {
      const r = await connection.exec(['sh', '-c', MY_SESSION]);
      const id = r.stdout.trim();
      if (!/^\d+:\d+$/.test(id)) return undefined;
      return machine ? `${id}/${formatClientPart({ machine, pid: process.pid, connection: connectionId })}` : id;
    }),
    async alive(session) {
      const [onServer, client] = session.split('/');
      // A holder from this machine whose process or connection is gone: known at once, even
      // while its sshd on the server still waits on a link that went silent.
      const here = goneFromHere(parseClientPart(client), { machine, pid: process.pid, openHere: (c) => openConnections.has(c), processAlive });
      if (here === false) return false;
      const [pid, start] = (onServer ?? '').split(':');
      if (!/^\d+$/.test(pid ?? '') || !/^\d+$/.test(start ?? '')) return undefined;
      const r = await connection.exec(['sh', '-c', SESSION_STATE, 'sh', pid, start]);
      const state = r.stdout.trim();
      return state === 'alive' ? true : state === 'gone' ? false : undefined;
    },
    async endStale(session) {
      const [pid, start] = (session.split('/')[0] ?? '').split(':');
      if (!/^\d+$/.test(pid ?? '') || !/^\d+$/.test(start ?? '')) return;
      await connection.exec(['sh', '-c', END_SESSION, 'sh', pid, start]);
    },
    // Asked once per connection: whole seconds, taken as the middle of that second and of the round trip.
    clockOffsetMs: once(async () => {
      const t0 = Date.now();
      const r = await connection.exec(['date', '+%s']);
      const t1 = Date.now();
      const seconds = Number(r.stdout.trim());
      if (r.code !== 0 || !Number.isFinite(seconds)) return 0;
      return Math.round(seconds * 1000 + 500 - (t0 + t1) / 2);
    }),
  };
}
