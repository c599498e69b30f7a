import { Duplex } from 'node:stream';
import type { ReverseTunnel, Server } from '../../../src/core/ports';
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
  /** Like an sshd with AllowTcpForwarding no: every remote forward is refused. */
  refuseTunnels = false;
  tunnelsOpened = 0;

  constructor(
    readonly engine: FakeEngine,
    readonly files: MemoryFiles,
  ) {}

  async reverseTunnel(onConnection: (socket: Duplex) => void): Promise<ReverseTunnel> {
    // ssh2's words when the server denies a tcpip-forward request.
    if (this.refuseTunnels) throw new Error('Unable to bind to 127.0.0.1:0');
    this.tunnelsOpened++;
    const loopback = this.engine.loopback;
    const port = loopback.listen(onConnection);
    return { port, close: async () => loopback.close(port) };
  }
}
