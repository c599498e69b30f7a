import http from 'node:http';
import { inspect } from 'node:util';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { asSocket } from '../../core/socket-shim';
import { withTimeout } from '../../core/time';
import type { SshConnection } from '../ssh/connection';
import type { VersionAnswer } from './engine-facts';
import { DEFAULT_SOCKET } from './engine-socket';

/**
 * An http.Agent whose "sockets" are channels of the server's SSH connection, so dockerode talks
 * to the remote Engine API with no new handshake per request (dockerode's own ssh mode opens a
 * new SSH connection for every call).
 */
export class ChannelAgent extends http.Agent {
  constructor(private readonly open: () => Promise<Duplex>) {
    // Keep-alive: consecutive API calls reuse an open channel instead of opening and closing
    // one each (about 600 bytes and a round trip per call saved). Few idle ones, because with
    // dial-stdio each channel is an SSH session and OpenSSH allows 10 per connection.
    super({ keepAlive: true, maxFreeSockets: 2 });
  }

  /**
   * docker-modem formats every request's options with util.inspect (showHidden, no depth limit)
   * for its debug log, even when that log is off: through this agent's kept-alive channels that
   * walked the whole SSH client, milliseconds of the extension host's thread per API call.
   */
  [inspect.custom](): string {
    return 'ChannelAgent';
  }

  override createConnection(_options: http.ClientRequestArgs, callback?: (err: Error | null, socket: Duplex) => void): Duplex | undefined {
    this.open().then(
      (channel) => callback?.(null, asSocket(channel)),
      (err: Error) => callback?.(err, undefined as never),
    );
    return undefined;
  }
}

/**
 * Requests carry this never-existing socket path: VS Code's extension host wraps http.request
 * to apply its proxy settings and swaps the agent of any request to a TCP host (so "docker:80"
 * would be dialled directly), but leaves requests to a socket path alone. Our agent makes the
 * connection either way; the path itself is never opened.
 */
export const NOT_A_SOCKET = '/dev/null/baremetal-ssh-channel';

export type DockerTransport = 'stream-local' | 'dial-stdio';

export interface Dialled {
  docker: Docker;
  transport: DockerTransport;
  version: VersionAnswer;
}

/** GET /version (unversioned) is the probe: it proves the engine answers and says which API it speaks. */
export async function dialEngine(conn: SshConnection, socket: string): Promise<Dialled | undefined> {
  const viaSocket = new Docker({ socketPath: NOT_A_SOCKET, agent: new ChannelAgent(() => conn.forwardStreamLocal(socket)) } as Docker.DockerOptions);
  try {
    return { docker: viaSocket, transport: 'stream-local', version: await viaSocket.version() };
  } catch {
    // fall through: forwarding refused or the socket is elsewhere; ask the docker CLI.
  }
  const argv = socket === DEFAULT_SOCKET ? ['docker', 'system', 'dial-stdio'] : ['docker', '-H', `unix://${socket}`, 'system', 'dial-stdio'];
  const viaCli = new Docker({ socketPath: NOT_A_SOCKET, agent: new ChannelAgent(() => conn.execStream(argv)) } as Docker.DockerOptions);
  try {
    return { docker: viaCli, transport: 'dial-stdio', version: await withTimeout(viaCli.version(), 10_000, () => new Error('timed out')) };
  } catch {
    return undefined;
  }
}
