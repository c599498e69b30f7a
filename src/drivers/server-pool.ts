import type { ServerConfig } from '../core/config/types';
import { BmError } from '../core/errors';
import type { Logger, Server } from '../core/ports';
import { connectEngine, type DockerTransport, type RemoteEngine } from './docker/remote-engine';
import { SshConnection, type SshAuthHooks, type UnknownHostKey } from './ssh/connection';
import { appendKnownHost } from './ssh/known-hosts';
import { SftpFiles } from './ssh/sftp-files';
import { resolveSshTarget, type SshTarget } from './ssh/ssh-config';

export interface ConnectedServer extends Server {
  readonly engine: RemoteEngine;
  readonly connection: SshConnection;
  readonly transport: DockerTransport;
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
      const { engine, transport } = await connectEngine(connection, server.dockerSocket, server.name);
      this.opts.logger.debug(`${server.name}: Docker Engine API over ${transport}`);
      return {
        name: server.name,
        engine,
        files: new SftpFiles(connection),
        address: `${target.user}@${target.host}`,
        connection,
        transport,
        reverseTunnel: (onConnection) => connection.reverseForward(onConnection),
        isConnected: () => !connection.isClosed,
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
      if (e instanceof BmError && ['AuthFailed', 'NoDocker', 'PassphraseNeeded'].includes(e.code)) return undefined;
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
