import http from 'node:http';
import { Transform, type Duplex, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { BmError } from '../../core/errors';
import type { ContainerInfo, ContainerSpec, Engine, ImageInfo, LogLine, LogOptions, ProcessRequest, ProcessSession } from '../../core/ports';
import type { SshConnection } from '../ssh/connection';
import { asSocket } from '../../core/socket-shim';
import { withTimeout } from '../../core/time';
import { chainIds } from '../../core/transfer/chain';
import { LogDemuxer, toContainerInfo, toCreateOptions, toImageInfo } from './convert';
import { jsonLines, progressMessages } from './json-lines';
import { isAccounted, toSample, type RawStats, type ResourceSample } from '../../core/stats/sample';
import { dialEngine, NOT_A_SOCKET, type Dialled, type DockerTransport } from './engine-dial';
import { EngineFacts, isPodman, negotiateApiVersion, type EngineInfo, type EnginePlatform } from './engine-facts';
import { execInContainer, runOneOffContainer } from './engine-exec';
import { DockerSwarm } from './swarm-engine';
import { diagnoseArgv, parseDiagnosis, reachEngine, type EngineReach } from './engine-socket';

export type { DockerTransport } from './engine-dial';

/**
 * Opens the Engine API over the connection: stream-local forwarding to the socket first; where
 * the server forbids it, `docker system dial-stdio` on the same connection. When neither answers,
 * one look at the server says why (no socket, no permission) and whether rootless Docker's
 * socket is there instead (see reachEngine). Requests are then pinned to a negotiated API version.
 */
export async function connectEngine(conn: SshConnection, socketPath: string, label: string): Promise<{ engine: RemoteEngine; transport: DockerTransport; socket: string }> {
  const reach: EngineReach<Dialled> = {
    dial: (socket) => dialEngine(conn, socket),
    diagnose: async (socket, withRootless) => {
      // Only a diagnosis: a login shell that hangs must not hold the error back for long.
      const r = await withTimeout(conn.exec(diagnoseArgv(socket, withRootless)), 10_000, () => new Error('timed out'));
      return r.code === 0 ? parseDiagnosis(r.stdout) : undefined;
    },
  };
  const { found, socket } = await reachEngine(reach, socketPath, label);
  const apiVersion = negotiateApiVersion(found.version);
  // docker-modem prefixes every path with this ("/v1.45/containers/json").
  if (apiVersion) (found.docker.modem as unknown as { version?: string }).version = `v${apiVersion}`;
  return { engine: new RemoteEngine(found.docker, conn, new EngineFacts(found.docker, found.version, apiVersion), label), transport: found.transport, socket };
}

/** The engine's own reason, or one sentence with the way out when its disk is full. */
function transferFailure(how: 'load' | 'pull', failure: string): BmError {
  if (/no space left on device|disk quota exceeded/i.test(failure)) {
    return new BmError('DiskFull', `The server's disk is full: Docker ran out of space while taking in the image; free some (docker system prune, or a lower "keep"), then deploy again; the running version was not touched.`, failure);
  }
  return new BmError('TransferFailed', `The server could not ${how} the image: ${failure}`);
}

function statusOf(e: unknown): number | undefined {
  return (e as { statusCode?: number }).statusCode;
}

export class RemoteEngine implements Engine {
  constructor(
    readonly docker: Docker,
    private readonly conn: SshConnection,
    /** Version, API, OS and architecture from connect; storage and rootless asked once, when needed. */
    readonly facts: EngineFacts,
    /** The server's name, for sentences ("The connection to bm1 dropped…"). */
    private readonly label = conn.target.host,
  ) {}

  /** Docker's Swarm API over the same connection (swarm-engine.ts). */
  get swarm(): DockerSwarm {
    return (this.swarmApi ??= new DockerSwarm(this.docker));
  }
  private swarmApi: DockerSwarm | undefined;

  exec(container: string, req: ProcessRequest): Promise<ProcessSession> {
    return execInContainer(this.docker, this.conn, this.label, container, req);
  }

  runOneOff(spec: ContainerSpec, req: Omit<ProcessRequest, 'command'>): Promise<ProcessSession> {
    return runOneOffContainer(this.docker, this.conn, this.label, spec, req);
  }

  info(): Promise<EngineInfo> {
    return this.facts.info();
  }

  platform(): Promise<EnginePlatform> {
    return this.facts.platform();
  }

  async image(ref: string): Promise<ImageInfo | undefined> {
    try {
      return toImageInfo(await this.docker.getImage(ref).inspect());
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  async images(labels: Record<string, string>): Promise<ImageInfo[]> {
    const list = await this.docker.listImages({ filters: { label: labelFilters(labels) } });
    return list.map(toImageInfo).map((i, n) => ({ ...i, tags: list[n].RepoTags?.filter((t) => t !== '<none>:<none>') ?? [] }));
  }

  async load(tar: Readable, onBytes: (total: number) => void, signal?: AbortSignal): Promise<void> {
    let total = 0;
    // Counted as it is read by the request (a 'data' listener would start the flow before
    // dockerode has piped the stream anywhere, and those first bytes would be lost).
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        onBytes((total += chunk.length));
        done(null, chunk);
      },
    });
    tar.on('error', (e) => counter.destroy(e));
    tar.pipe(counter);
    const res = (await this.docker.loadImage(counter, { quiet: true, abortSignal: signal } as never)) as unknown as Readable;
    let failure: string | undefined;
    for await (const m of progressMessages(res)) failure ??= m.error;
    if (failure) throw transferFailure('load', failure);
  }

  async pull(ref: string, signal?: AbortSignal): Promise<void> {
    const stream = isPodman(this.facts.version) ? await this.libpodPull(ref, signal) : ((await this.docker.pull(ref, { abortSignal: signal } as never)) as unknown as Readable);
    let failure: string | undefined;
    for await (const m of progressMessages(stream)) failure ??= m.error;
    if (failure) throw transferFailure('pull', failure);
  }

  /**
   * Podman's Docker-compatible pull insists on HTTPS, and marking the tunnelled registry insecure
   * would mean editing the server's registries.conf; its own libpod pull takes tlsVerify=false
   * for this one pull. Its answer is the same kind of JSON lines (stream, error).
   */
  private libpodPull(ref: string, signal?: AbortSignal): Promise<Readable> {
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        { path: '/libpod/images/pull?', method: 'POST', options: { reference: ref, tlsVerify: false, quiet: false }, isStream: true, abortSignal: signal, statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' } } as never,
        (err: unknown, stream: unknown) => (err ? reject(err) : resolve(stream as Readable)),
      );
    });
  }

  async layerChains(): Promise<Set<string>> {
    const chains = new Set<string>();
    const images = await this.docker.listImages({ all: false });
    for (const summary of images) {
      try {
        const inspect = await this.docker.getImage(summary.Id).inspect();
        for (const c of chainIds(inspect.RootFS?.Layers ?? [])) chains.add(c);
      } catch {
        /* removed meanwhile */
      }
    }
    return chains;
  }

  async tagImage(ref: string, repo: string, tag: string): Promise<void> {
    await this.docker.getImage(ref).tag({ repo, tag });
  }

  async removeImage(ref: string): Promise<void> {
    try {
      await this.docker.getImage(ref).remove();
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
  }

  async containers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const list = await this.docker.listContainers({ all: true, filters: { label: labelFilters(labels) } });
    const infos = await Promise.all(list.map((c) => this.container(c.Id)));
    return infos.filter((c): c is ContainerInfo => c !== undefined);
  }

  async container(id: string): Promise<ContainerInfo | undefined> {
    try {
      return toContainerInfo(await this.docker.getContainer(id).inspect());
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  async create(spec: ContainerSpec): Promise<string> {
    const c = await this.docker.createContainer(toCreateOptions(spec));
    return c.id;
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (e) {
      const message = (e as Error).message;
      if (/port is already allocated|address already in use/i.test(message)) {
        throw new BmError('PortTaken', portTakenSentence(message), message);
      }
      if (statusOf(e) === 304) return; // already running
      throw new BmError('StartFailed', `The container did not start: ${cleanDockerMessage(message)}`, message);
    }
  }

  async stop(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (e) {
      if (statusOf(e) !== 304 && statusOf(e) !== 404) throw e;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true });
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
  }

  async rename(id: string, name: string): Promise<void> {
    await this.docker.getContainer(id).rename({ name });
  }

  async ensureNetwork(name: string): Promise<void> {
    const existing = await this.docker.listNetworks({ filters: { name: [name] } });
    if (existing.some((n) => n.Name === name)) return;
    try {
      await this.docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { 'dev.baremetal.network': 'true' } });
    } catch (e) {
      if (statusOf(e) !== 409) throw e; // created meanwhile by another client
    }
  }

  async wait(id: string, signal?: AbortSignal): Promise<number> {
    const r = (await this.docker.getContainer(id).wait({ abortSignal: signal } as never)) as unknown as { StatusCode?: number };
    return r.StatusCode ?? -1;
  }

  async *logs(id: string, opts: LogOptions, signal?: AbortSignal): AsyncIterable<LogLine> {
    // No `since` key at all unless asked: Podman refuses an empty one ("unable to interpret time value").
    const query = { stdout: true, stderr: true, timestamps: opts.timestamps ?? false, tail: opts.tail ?? 'all', ...(opts.since ? { since: opts.since } : {}), abortSignal: signal };
    const demux = new LogDemuxer(query.timestamps);
    if (!opts.follow) {
      const buf = (await this.docker.getContainer(id).logs({ ...query, follow: false } as never)) as unknown as Buffer;
      yield* demux.push(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
      yield* demux.flush();
      return;
    }
    const stream = (await this.docker.getContainer(id).logs({ ...query, follow: true } as never)) as unknown as Readable;
    try {
      for await (const chunk of stream) yield* demux.push(chunk as Buffer);
    } catch (e) {
      if (!signal?.aborted) throw e;
    }
    yield* demux.flush();
  }

  /**
   * GET /containers/{id}/stats?stream=true: a JSON reading a second, for as long as the container
   * runs. The abort destroys the request, which closes its channel of the SSH connection.
   */
  async *stats(id: string, signal: AbortSignal): AsyncIterable<ResourceSample> {
    if (signal.aborted) return;
    let stream: Readable;
    try {
      stream = (await this.docker.getContainer(id).stats({ stream: true, abortSignal: signal } as never)) as unknown as Readable;
    } catch (e) {
      if (signal.aborted) return;
      throw e;
    }
    // A request aborted before its answer came leaves nothing; one aborted later ends this loop.
    const stop = () => stream.destroy();
    signal.addEventListener('abort', stop, { once: true });
    let first = true;
    try {
      for await (const raw of jsonLines<RawStats>(stream)) {
        if (first && !isAccounted(raw)) {
          throw new BmError('StatsUnavailable', this.unaccountedSentence());
        }
        first = false;
        const sample = toSample(raw);
        if (sample) yield sample;
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    } finally {
      signal.removeEventListener('abort', stop);
      stream.destroy();
    }
  }

  private unaccountedSentence(): string {
    return isPodman(this.facts.version)
      ? 'This Podman keeps no CPU or memory figures per container (rootless Podman on cgroup v1; `podman stats` refuses too): run the server on cgroup v2 (systemd.unified_cgroup_hierarchy=1) to see them.'
      : 'The Docker Engine reports no CPU time for this container, so its figures would be wrong: check that the server\'s cgroups are mounted (docker info shows the cgroup version).';
  }

  async httpGet(host: string, port: number, path: string, timeoutMs: number): Promise<number> {
    let channel: Duplex;
    try {
      channel = await this.conn.forwardTcp(host, port);
    } catch (e) {
      // A server that forbids TCP forwarding: ask its own curl or wget instead.
      if ((e as { reason?: number }).reason === 1) return this.httpGetOnServer(host, port, path, timeoutMs);
      throw e;
    }
    return new Promise<number>((resolve, reject) => {
      const req = http.request({ socketPath: NOT_A_SOCKET, host, port, path, method: 'GET', createConnection: () => asSocket(channel) as never, timeout: timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  private async httpGetOnServer(host: string, port: number, path: string, timeoutMs: number): Promise<number> {
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
    const r = await this.conn.exec(['sh', '-c', HTTP_STATUS_SCRIPT, 'sh', url, String(Math.max(1, Math.ceil(timeoutMs / 1000)))]);
    const status = Number(r.stdout.trim());
    if (!status) throw new Error(`no HTTP answer${r.stderr.trim() ? ` (${r.stderr.trim()})` : ''}`);
    return status;
  }
}

// $1 = URL, $2 = timeout in seconds; prints the status code (busybox wget prints headers on stderr).
const HTTP_STATUS_SCRIPT = [
  'if command -v curl >/dev/null 2>&1; then curl -s -o /dev/null -m "$2" -w "%{http_code}" "$1";',
  'else wget -q -S -T "$2" -O /dev/null "$1" 2>&1 | sed -n "s/^ *HTTP\\/[0-9.]* \\([0-9][0-9]*\\).*/\\1/p" | tail -n 1; fi',
].join(' ');

function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

function cleanDockerMessage(message: string): string {
  return message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

function portTakenSentence(message: string): string {
  const port = /(?:0\.0\.0\.0|\[::\]|[\d.]+):(\d+)/.exec(message)?.[1];
  return `Port ${port ?? '(see log)'} on the server is already in use by another program or container: free it, or change "run.ports" in baremetal.json.`;
}
