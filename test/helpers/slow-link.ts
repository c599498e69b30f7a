/**
 * A slow link that one test owns: a TCP relay on this machine's loopback to a test server's
 * sshd, its upload held to a rate, and an ssh_config naming it. Shaping the server's interface
 * (tc) or killing the server's sshd sessions would slow or cut every other client of that server
 * too (other tests, the bench); here only the connections through this relay are slowed or cut.
 */
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { testEnv, type TestServer } from './world';

export interface SlowLink {
  /** The Host name the relay's ssh_config gives it. */
  host: string;
  /** That ssh_config file, for BAREMETAL_SSH_CONFIG. */
  sshConfig: string;
  /** Cuts every connection through the relay, as a dropped link would; new ones still pass. */
  cut(): void;
  /** Lifts the rate for connections from now on. */
  unthrottle(): void;
  close(): Promise<void>;
}

export async function slowLink(target: TestServer, bytesPerSecond: number, dir: string): Promise<SlowLink> {
  const sockets = new Set<net.Socket>();
  let rate = bytesPerSecond;
  const relay = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const linkRate = rate;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.pipe(client);
    // A token bucket without burst: each chunk books its time on the link, the next waits for it.
    let free = Date.now();
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      if (!Number.isFinite(linkRate)) return;
      free = Math.max(free, Date.now()) + (chunk.length * 1000) / linkRate;
      const wait = free - Date.now();
      if (wait > 2) {
        client.pause();
        setTimeout(() => client.resume(), wait);
      }
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const port = (relay.address() as net.AddressInfo).port;
  const env = testEnv();
  const host = `${target.name}-slowlink`;
  const sshConfig = join(dir, `ssh_config-${port}`);
  // HostKeyAlias: the relay answers with the server's own host key, known under its address.
  await writeFile(
    sshConfig,
    [
      `Host ${host}`,
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      `  HostKeyAlias ${target.host}`,
      `  User ${target.user}`,
      `  IdentityFile ${env.identityFile}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${env.knownHosts}`,
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '',
    ].join('\n'),
  );
  return {
    host,
    sshConfig,
    cut() {
      for (const s of sockets) s.destroy();
    },
    unthrottle() {
      rate = Infinity;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}
