import type { ServerConfig } from '../core/config/types';
import { BmError } from '../core/errors';
import type { Logger, Server, ServerFiles } from '../core/ports';
import type { SessionProbe } from '../core/deploy/lock';
import { connectEngine, type DockerTransport, type RemoteEngine } from './docker/remote-engine';
import { SshConnection, type SshAuthHooks, type UnknownHostKey } from './ssh/connection';
import { appendKnownHost } from './ssh/known-hosts';
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

/**
 * One SSH connection per server per process: every caller asking for the same server shares
 * it. A connection that drops is forgotten, so the next request reconnects.
 */
export class ServerPool {
  private readonly servers = new Map<string, Promise<ConnectedServer>>();

  constructor(private readonly opts: PoolOptions) {}

  get(server: ServerConfig, signal?: AbortSignal): Promise<ConnectedServer> {
    let pending = this.servers.get(server.name);
    if (!pending) {
      pending = this.connect(server, signal);
      this.servers.set(server.name, pending);
      pending.catch(() => this.servers.delete(server.name));
    }
    return pending;
  }

  async target(server: ServerConfig): Promise<SshTarget> {
    return resolveSshTarget(server.host, { user: server.user, port: server.port, identityFile: server.identityFile }, { configFile: this.opts.sshConfigFile });
  }

  private async connect(server: ServerConfig, signal?: AbortSignal): Promise<ConnectedServer> {
    const target = await this.target(server);
    const connection = await SshConnection.open(target, { ...this.opts, label: server.name, signal, sshConfigFile: this.opts.sshConfigFile });
    connection.on('close', () => this.servers.delete(server.name));
    try {
      const { engine, transport, socket } = await connectEngine(connection, server.dockerSocket, server.name);
      const v = engine.facts.version;
      this.opts.logger.debug(`${server.name}: Docker Engine API over ${transport} to ${socket}, API ${engine.facts.apiVersion ?? 'unversioned'} (Docker ${v.Version} ${v.Os}/${v.Arch})`);
      return {
        name: server.name,
        engine,
        files: new ChosenFiles(connection, this.opts.logger, server.name),
        address: `${target.user}@${target.host}`,
        connection,
        transport,
        dockerSocket: socket,
        reverseTunnel: (onConnection) => connection.reverseForward(onConnection),
        isConnected: () => !connection.isClosed,
        connectSocket: (path) => connection.forwardStreamLocal(path),
        sessions: sessionProbe(connection),
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
    for (const p of this.servers.values()) void p.then((s) => s.connection.close(), () => undefined);
    this.servers.clear();
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

function sessionProbe(connection: SshConnection): SessionProbe {
  return {
    mine: once(async () => {
      const r = await connection.exec(['sh', '-c', MY_SESSION]);
      const id = r.stdout.trim();
      return /^\d+:\d+$/.test(id) ? id : undefined;
    }),
    async alive(session) {
      const [pid, start] = session.split(':');
      if (!/^\d+$/.test(pid ?? '') || !/^\d+$/.test(start ?? '')) return undefined;
      const r = await connection.exec(['sh', '-c', SESSION_STATE, 'sh', pid, start]);
      const state = r.stdout.trim();
      return state === 'alive' ? true : state === 'gone' ? false : undefined;
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
