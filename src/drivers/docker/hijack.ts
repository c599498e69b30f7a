import http from 'node:http';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { NOT_A_SOCKET } from './engine-dial';

/**
 * A hijacked Engine API request (exec start, container attach): after the answer's headers the
 * connection is the process's stdin and output. Made here rather than through docker-modem,
 * which sends its options as a JSON body on attach: Podman, which reads no body there, passed
 * that JSON to the process as its first input. Through our agent, the connection is a channel
 * of the server's one SSH connection (stream-local or dial-stdio alike).
 */
export function hijack(docker: Docker, path: string, body?: object): Promise<Duplex> {
  const modem = docker.modem as unknown as { agent?: http.Agent; version?: string };
  const payload = body ? JSON.stringify(body) : '';
  return new Promise<Duplex>((resolve, reject) => {
    const req = http.request({
      socketPath: NOT_A_SOCKET,
      agent: modem.agent,
      method: 'POST',
      path: `${modem.version ? `/${modem.version}` : ''}${path}`,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'tcp',
        'Content-Length': Buffer.byteLength(payload),
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
    });
    req.on('upgrade', (_res, socket, head) => {
      if (head.length) socket.unshift(head);
      resolve(socket);
    });
    // An engine that does not switch protocols answers an error (404 no such container, 409 not
    // running, or the runtime's own reason on some versions).
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let message = text.trim();
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          /* plain text */
        }
        reject(Object.assign(new Error(message || `HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
