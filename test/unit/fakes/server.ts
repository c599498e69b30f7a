import { Duplex } from 'node:stream';
import type { ReverseTunnel, Server, ServerFiles } from '../../../src/core/ports';
import type { FakeEngine } from './engine';
import type { MemoryFiles } from './files';

/**
 * Two connected ends, like the two sides of a TCP connection or an SSH channel: what one writes
 * the other reads, ending one ends the other's reading, destroying one closes both. Plain
 * Duplexes, without net.Socket's methods, as an ssh2 channel is.
 */
export function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        peer().push(chunk);
        cb();
      },
      final(cb) {
        peer().push(null);
        cb();
      },
      destroy(err, cb) {
        if (!peer().destroyed) peer().destroy();
        cb(err);
      },
    });
  ends.push(make(() => ends[1]), make(() => ends[0]));
  return [ends[0], ends[1]];
}

/**
 * The server's loopback interface: ports that something listens on (here, only SSH remote
 * forwards), and connections made to them by programs on the server (its Docker Engine).
 */
export class Loopback {
  private readonly listeners = new Map<number, (socket: Duplex) => void>();
  private readonly live = new Map<Duplex, number>();
  private nextPort = 41000;
  /** Every connection made, by port. */
  readonly connections: number[] = [];

  listen(onConnection: (socket: Duplex) => void): number {
    const port = this.nextPort++;
    this.listeners.set(port, onConnection);
    return port;
  }

  close(port: number): void {
    this.listeners.delete(port);
  }

  /** Closes the port and breaks the connections made to it (the SSH connection behind it dropped). */
  breakPort(port: number): void {
    this.close(port);
    for (const [socket, p] of this.live) if (p === port) socket.destroy();
  }

  /** Ports open right now. */
  get open(): number[] {
    return [...this.listeners.keys()];
  }

  /** Connects to 127.0.0.1:port; the listener gets the other end. */
  connect(port: number): Duplex {
    const listener = this.listeners.get(port);
    if (!listener) throw Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: 'ECONNREFUSED' });
    this.connections.push(port);
    const [client, server] = duplexPair();
    this.live.set(client, port);
    client.on('close', () => this.live.delete(client));
    listener(server);
    return client;
  }
}

/**
 * A connected server: the fake engine and files, and SSH remote forwards that open ports on the
 * engine's loopback, so a pull from 127.0.0.1:<port> reaches this process as it would over SSH.
 */
export class FakeServer implements Server {
  readonly name = 'prod';
  readonly address = 'deploy@prod-box';
  readonly files: ServerFiles;
  /** Like an sshd with AllowTcpForwarding no: every remote forward is refused. */
  refuseTunnels = false;
  tunnelsOpened = 0;
  private connected = true;
  private readonly ports = new Set<number>();

  constructor(
    readonly engine: FakeEngine,
    files: MemoryFiles,
  ) {
    this.files = connectionFiles(files, () => this.connected);
  }

  isConnected(): boolean {
    return this.connected;
  }

  /** The SSH connection drops: its forwards close, their connections break, its SFTP fails. */
  drop(): void {
    this.connected = false;
    for (const port of this.ports) this.engine.loopback.breakPort(port);
  }

  async reverseTunnel(onConnection: (socket: Duplex) => void): Promise<ReverseTunnel> {
    // ssh2's words when the server denies a tcpip-forward request.
    if (this.refuseTunnels) throw new Error('Unable to bind to 127.0.0.1:0');
    if (!this.connected) throw new Error('Not connected');
    this.tunnelsOpened++;
    const loopback = this.engine.loopback;
    const port = loopback.listen(onConnection);
    this.ports.add(port);
    return { port, close: async () => loopback.close(port) };
  }
}

/** The server's files through one connection: every operation fails once it dropped. */
function connectionFiles(files: MemoryFiles, connected: () => boolean): ServerFiles {
  const through =
    <A extends unknown[], R>(op: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (!connected()) throw new Error('No response from server');
      return op.apply(files, args);
    };
  return {
    read: through(files.read),
    writeAtomic: through(files.writeAtomic),
    createExclusive: through(files.createExclusive),
    takeOver: through(files.takeOver),
    remove: through(files.remove),
    mkdirp: through(files.mkdirp),
  };
}
