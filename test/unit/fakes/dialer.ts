import { EventEmitter } from 'node:events';
import type { ServerConfig } from '../../../src/core/config/types';
import type { ConnectedServer, PoolDialer } from '../../../src/drivers/server-pool';
import type { SshTarget } from '../../../src/drivers/ssh/ssh-config';

/** A connection the pool can close, and a test can drop (the link went away). */
export class FakeConnection extends EventEmitter {
  isClosed = false;
  constructor(readonly target: SshTarget, readonly dockerSocket: string) {
    super();
  }
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.emit('close');
  }
}

/**
 * The machines the pool can reach, without SSH: an ssh_config as a table of aliases
 * (HostName, User, ProxyJump), whose edits change the stamp the pool checks.
 */
export class FakeDialer implements PoolDialer {
  readonly sshConfig = new Map<string, { hostName?: string; user?: string; proxyJump?: string }>();
  /** Every connection opened, in order. */
  readonly opened: FakeConnection[] = [];
  private edits = 0;

  editSshConfig(alias: string, entry: { hostName?: string; user?: string; proxyJump?: string }): void {
    this.sshConfig.set(alias, entry);
    this.edits++;
  }

  sshConfigStamp(): string {
    return String(this.edits);
  }

  async resolve(server: ServerConfig): Promise<SshTarget> {
    const c = this.sshConfig.get(server.host) ?? {};
    return {
      alias: server.host,
      host: c.hostName ?? server.host,
      port: server.port ?? 22,
      user: server.user ?? c.user ?? 'me',
      identityFiles: server.identityFile ? [server.identityFile] : [],
      identitiesOnly: false,
      ...(c.proxyJump && { proxyJump: c.proxyJump }),
      knownHostsFiles: [],
    };
  }

  async connect(server: ServerConfig, target: SshTarget): Promise<ConnectedServer> {
    const connection = new FakeConnection(target, server.dockerSocket);
    this.opened.push(connection);
    // Only what the pool itself touches; a test reads where the connection went.
    return { name: server.name, address: `${target.user}@${target.host}`, connection } as unknown as ConnectedServer;
  }
}
