import { randomBytes, randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type Docker from 'dockerode';
import dockerignore from '@balena/dockerignore';
import type { SpooledContext, SpooledEntry } from './context-spool';
import { bytesMessage, decodePacket, encodePacket, PacketType, stringField, varintMessage, type Packet } from './filesync-wire';

/**
 * A BuildKit session on the Engine API's /session endpoint, as the docker CLI opens one: the
 * engine dials back over the upgraded connection (HTTP/2, gRPC) and fetches the context and the
 * Dockerfile from us by file sync, and build secrets by id. A build then names the session with
 * `remote=client-session`: no context is uploaded in the request body, which is what an engine
 * with the containerd image store before Docker 27.5 cannot read (moby/moby#47717).
 */
export interface BuildSession {
  id: string;
  /** A file sync failure the engine may report only as "canceled" (the real cause, for the error). */
  failure(): Error | undefined;
  close(): void;
}

export interface SessionDirs {
  /** Local folders by the name BuildKit's Dockerfile frontend asks for: "context" and "dockerfile". */
  [name: string]: { spool: SpooledContext; entries: SpooledEntry[] };
}

const FILESYNC = '/moby.filesync.v1.FileSync/DiffCopy';
const SECRETS = '/moby.buildkit.secrets.v1.Secrets/GetSecret';
const HEALTH = '/grpc.health.v1.Health/Check';
/** fsutil sends file contents in pieces of this size. */
const CHUNK = 32 * 1024;

export async function openBuildSession(docker: Docker, dirs: SessionDirs, secrets: Record<string, string>): Promise<BuildSession> {
  const id = randomUUID();
  const methods = [FILESYNC, HEALTH, ...(Object.keys(secrets).length ? [SECRETS] : [])];
  const socket = await new Promise<Duplex>((resolve, reject) => {
    docker.modem.dial(
      {
        method: 'POST',
        path: '/session',
        hijack: true,
        headers: {
          Upgrade: 'h2c',
          Connection: 'Upgrade',
          'X-Docker-Expose-Session-Uuid': id,
          'X-Docker-Expose-Session-Name': 'baremetal',
          'X-Docker-Expose-Session-Sharedkey': randomBytes(16).toString('hex'),
          'X-Docker-Expose-Session-Grpc-Method': methods,
        },
        statusCodes: { 101: true, 200: true, 400: 'bad request', 500: 'server error' },
      } as never,
      (err, s) => (err ? reject(err) : resolve(s as Duplex)),
    );
  });
  let failure: Error | undefined;
  const server = new grpc.Server();
  const raw = (b: Buffer) => b;
  server.register(HEALTH, (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, varintMessage(1, 1 /* SERVING */)), raw, raw, 'unary');
  server.register(
    SECRETS,
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const name = stringField(call.request, 1) ?? '';
      if (Object.prototype.hasOwnProperty.call(secrets, name)) cb(null, bytesMessage(1, Buffer.from(secrets[name], 'utf8')));
      else cb({ code: grpc.status.NOT_FOUND, details: `secret ${name} not found` });
    },
    raw,
    raw,
    'unary',
  );
  server.register(
    FILESYNC,
    (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      serveDir(call, dirs).catch((e: Error) => {
        failure ??= e;
        call.destroy(e);
      });
    },
    raw,
    raw,
    'bidi',
  );
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  socket.on('error', () => undefined); // the engine closing the session at the end of a build
  injector.injectConnection(socket);
  return {
    id,
    failure: () => failure,
    close: () => {
      injector.destroy();
      server.forceShutdown();
      socket.destroy();
    },
  };
}

/** One DiffCopy call: every entry's stat, then the files the engine asks for, until it says FIN. */
async function serveDir(call: grpc.ServerDuplexStream<Buffer, Buffer>, dirs: SessionDirs): Promise<void> {
  // gRPC sends a list as repeated headers, which Node's HTTP/2 joins with ", ".
  const md = (k: string) => call.metadata.get(k).flatMap((v) => String(v).split(', ')).filter((v) => v);
  const name = md('dir-name')[0] ?? '';
  const dir = dirs[name];
  if (!dir) throw new Error(`BuildKit asked for a local folder "${name}" this build does not have`);
  const entries = selectEntries(dir.entries, md('include-patterns'), md('exclude-patterns'), md('followpaths'));
  const send = (p: Packet) =>
    new Promise<void>((resolve) => {
      if (call.write(encodePacket(p))) resolve();
      else call.once('drain', () => resolve());
    });
  let queue = Promise.resolve();
  let ended = false;
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (buf: Buffer) => {
      const p = decodePacket(buf);
      if (p.type === PacketType.REQ) {
        const entry = entries[p.id ?? -1];
        if (!entry || entry.offset === undefined) return reject(new Error(`BuildKit asked for file ${p.id}, which is not a file of "${name}"`));
        queue = queue.then(async () => {
          for await (const chunk of dir.spool.read(entry)) {
            for (let i = 0; i < (chunk as Buffer).length; i += CHUNK) await send({ type: PacketType.DATA, id: p.id, data: (chunk as Buffer).subarray(i, i + CHUNK) });
          }
          await send({ type: PacketType.DATA, id: p.id });
        });
        queue.catch(reject);
      } else if (p.type === PacketType.FIN) {
        void queue.then(() => send({ type: PacketType.FIN })).then(() => {
          ended = true;
          call.end();
          resolve();
        }, reject);
      } else if (p.type === PacketType.ERR) {
        reject(new Error(`BuildKit could not take the build context: ${p.data?.toString('utf8') ?? 'no reason given'}`));
      }
    });
    call.on('error', (e) => (ended ? resolve() : reject(e)));
    call.on('end', () => (ended ? resolve() : queue.then(() => resolve(), reject)));
  });
  for (const e of entries) await send({ type: PacketType.STAT, stat: e.stat });
  await send({ type: PacketType.STAT }); // the last stat: the list is complete
  await done;
}

/**
 * What one request of the frontend wants: include patterns ("Dockerfile", ".dockerignore"),
 * exclude patterns (the .dockerignore, already applied to the context, applied again), and
 * follow paths. A folder goes with anything kept below it. Numbers are positions in the result.
 */
export function selectEntries(entries: SpooledEntry[], include: string[], exclude: string[], follow: string[]): SpooledEntry[] {
  const wanted = [...include, ...follow].filter((p) => p);
  const inc = wanted.length ? dockerignore({ ignorecase: false }).add(wanted) : undefined;
  const exc = exclude.length ? dockerignore({ ignorecase: false }).add(exclude) : undefined;
  const files = new Set(entries.filter((e) => !isDir(e) && (!inc || inc.ignores(e.stat.path)) && !exc?.ignores(e.stat.path)));
  const keptDirs = new Set<string>();
  for (const f of files) {
    const parts = f.stat.path.split('/');
    for (let i = 1; i < parts.length; i++) keptDirs.add(parts.slice(0, i).join('/'));
  }
  return entries.filter((e) => (isDir(e) ? keptDirs.has(e.stat.path) || (!inc && !exc?.ignores(e.stat.path)) : files.has(e)));
}

function isDir(e: SpooledEntry): boolean {
  return (e.stat.mode & 0x80000000) !== 0;
}
