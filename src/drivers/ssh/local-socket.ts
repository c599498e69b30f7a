import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';

export interface LocalSocket {
  /** unix:///…/docker.sock, for DOCKER_HOST of a docker CLI run here. */
  host: string;
  close(): Promise<void>;
}

/**
 * The server's Docker socket, as a unix socket on this machine for as long as one build lasts:
 * each connection to it is a new channel of the server's SSH connection (`open`), so the
 * developer's `docker buildx` reaches the server's engine with no second login. A unix socket
 * in a folder only this user may enter: nothing listens on the network, nobody else gets in.
 */
export async function localSocketFor(open: () => Promise<Duplex>): Promise<LocalSocket> {
  const dir = await mkdtemp(join(tmpdir(), 'baremetal-sock-'));
  await chmod(dir, 0o700);
  const path = join(dir, 'docker.sock');
  const clients = new Set<net.Socket>();
  const server = net.createServer((client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.pause();
    open().then(
      (channel) => {
        channel.on('error', () => client.destroy());
        client.on('error', () => channel.destroy());
        client.pipe(channel).pipe(client);
        client.resume();
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    host: `unix://${path}`,
    close: async () => {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
