import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BmError } from '../../../src/core/errors';
import type { ContainerInfo, ContainerSpec, ContainerState, Engine, ImageInfo, LogLine, LogOptions } from '../../../src/core/ports';
import { chainIds } from '../../../src/core/transfer/chain';
import { loadEntries, pullOverLoopback, type ArrivedImage, type LayerStore } from './engine-transfer';
import { collect, tarEntries } from './image-tar';
import { Loopback } from './server';

/** What the app inside an image does once its container is started. The test decides. */
export interface ImageBehavior {
  /** Runs right after the container is marked running: may make it exit, restart, report health. */
  onStart?: (c: FakeContainer) => void;
  /** The HTTP status the app answers (or an Error for a failed connection); default 200. */
  http?: (path: string, c: FakeContainer) => number | Error;
  /** Container ports the app listens on, for requests to its own address; default: any. */
  listensOn?: number[];
  /** Lines the app writes to stdout when it starts. */
  logs?: string[];
}

export interface FakeContainer {
  id: string;
  spec: ContainerSpec;
  imageId: string;
  state: ContainerState;
  exitCode?: number;
  health?: ContainerInfo['health'];
  restartCount: number;
  startedAt?: string;
  ipAddress: string;
  logs: LogLine[];
  starts: number;
}

export function imageIdOf(seed: string): string {
  return `sha256:${createHash('sha256').update(seed).digest('hex')}`;
}

const clone = <T>(v: T): T => structuredClone(v);

/**
 * The server's Docker Engine in memory: images with tags, labels and layers, containers with
 * states, host ports that only one running container (or another program) can hold, logs, and
 * an HTTP GET that reaches whatever container is bound to the address, answering as its image
 * behaves. Images arrive by a real `docker load` archive or a real pull over its loopback
 * (see engine-transfer.ts), and only the layers it lacks cross.
 */
export class FakeEngine implements Engine {
  /** The server's OS and CPU, when a test gives it one (engines of today always say). */
  platform?: Engine['platform'];
  readonly imagesById = new Map<string, ImageInfo>();
  readonly containersById = new Map<string, FakeContainer>();
  /** Host ports held by other programs on the server. */
  readonly foreignPorts = new Set<number>();
  /** Every call that changes something, in order: "create NAME", "start ID", ... */
  readonly calls: string[] = [];
  readonly httpCalls: { host: string; port: number; path: string }[] = [];
  private readonly behaviors = new Map<string, ImageBehavior>();
  private nextIp = 2;

  /** The server's loopback: SSH remote forwards listen there, pulls connect there. */
  readonly loopback = new Loopback();
  /** The diffIDs of each image, by image ID (images made by addImage have none). */
  readonly layersById = new Map<string, string[]>();
  /** DiffIDs of the layers that crossed the link (by load or pull), in order of arrival. */
  readonly received: string[] = [];
  /** Every request a pull made to the registry, in order: "GET /v2/…". */
  readonly registryRequests: string[] = [];
  /** The engine cannot reach its own loopback (rootless Docker): every pull fails to connect. */
  cannotReachLoopback = false;
  /** Chains that layerChains() reports but the engine does not have (a stale listing). */
  readonly staleChains = new Set<string>();

  addImage(tag: string, labels: Record<string, string> = {}, id = imageIdOf(tag)): ImageInfo {
    const existing = this.imagesById.get(id);
    if (existing) {
      if (!existing.tags.includes(tag)) existing.tags.push(tag);
      return clone(existing);
    }
    // A tag moves: whatever image had it loses it.
    for (const other of this.imagesById.values()) other.tags = other.tags.filter((t) => t !== tag);
    const info: ImageInfo = { id, tags: [tag], labels, created: new Date().toISOString(), size: 4096 };
    this.imagesById.set(id, info);
    return clone(info);
  }

  /** How containers of `imageRef` (a tag or an id) behave. */
  behave(imageRef: string, b: ImageBehavior): void {
    this.behaviors.set(imageRef, b);
  }

  /** A container that was already there (an earlier deploy), running unless told otherwise. */
  seed(spec: Partial<ContainerSpec> & { name: string; image: string }, state: ContainerState = 'running'): FakeContainer {
    const image = this.find(spec.image);
    if (!image) throw new Error(`seed: no image ${spec.image}`);
    const c = this.newContainer({ env: {}, labels: {}, ports: [], volumes: [], restart: 'unless-stopped', ...spec }, image.id);
    c.state = state;
    if (state === 'running') c.startedAt = new Date(Date.now() - 3600_000).toISOString();
    return c;
  }

  running(): FakeContainer[] {
    return [...this.containersById.values()].filter((c) => c.state === 'running');
  }

  private find(ref: string): ImageInfo | undefined {
    const withTag = ref.includes(':') && !ref.startsWith('sha256:') ? ref : `${ref}:latest`;
    return this.imagesById.get(ref) ?? [...this.imagesById.values()].find((i) => i.tags.includes(withTag));
  }

  private behaviorOf(c: FakeContainer): ImageBehavior {
    return this.behaviors.get(c.spec.image) ?? this.behaviors.get(c.imageId) ?? {};
  }

  private newContainer(spec: ContainerSpec, imageId: string): FakeContainer {
    const c: FakeContainer = {
      id: randomBytes(32).toString('hex'),
      spec: clone(spec),
      imageId,
      state: 'created',
      restartCount: 0,
      ipAddress: `172.17.0.${this.nextIp++}`,
      logs: [],
      starts: 0,
    };
    this.containersById.set(c.id, c);
    return c;
  }

  private lookup(idOrName: string): FakeContainer | undefined {
    return this.containersById.get(idOrName) ?? [...this.containersById.values()].find((c) => c.spec.name === idOrName);
  }

  private info(c: FakeContainer): ContainerInfo {
    return {
      id: c.id,
      name: c.spec.name,
      image: c.spec.image,
      imageId: c.imageId,
      state: c.state,
      labels: clone(c.spec.labels),
      startedAt: c.state === 'running' ? c.startedAt : undefined,
      exitCode: c.exitCode,
      health: c.health,
      restartCount: c.restartCount,
      ipAddress: c.state === 'running' || c.state === 'restarting' ? c.ipAddress : undefined,
    };
  }

  async image(ref: string): Promise<ImageInfo | undefined> {
    const i = this.find(ref);
    return i && clone(i);
  }

  async images(labelFilter: Record<string, string>): Promise<ImageInfo[]> {
    return [...this.imagesById.values()].filter((i) => matches(i.labels, labelFilter)).map(clone);
  }

  /** The chains of the layers of every image held: what a load or a pull may skip. */
  private chains(): Set<string> {
    const out = new Set<string>();
    for (const id of this.imagesById.keys()) for (const c of chainIds(this.layersById.get(id) ?? [])) out.add(c);
    return out;
  }

  private store(): LayerStore {
    const chains = this.chains();
    return { hasChain: (c) => chains.has(c), hasImage: (id) => this.imagesById.has(id) };
  }

  private arrive(image: ArrivedImage): void {
    for (const tag of image.tags) this.addImage(tag, image.labels, image.id);
    if (!this.layersById.has(image.id)) this.layersById.set(image.id, image.diffIds);
    this.received.push(...image.received);
  }

  async layerChains(): Promise<Set<string>> {
    return new Set([...this.chains(), ...this.staleChains]);
  }

  async load(tar: Readable, onBytes: (total: number) => void, signal?: AbortSignal): Promise<void> {
    let total = 0;
    const archive = await collect(
      (async function* () {
        for await (const chunk of tar) {
          if (signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
          onBytes((total += (chunk as Buffer).length));
          yield chunk as Buffer;
        }
      })(),
    );
    const image = loadEntries(await tarEntries(archive), this.store());
    this.calls.push(`load ${image.tags.join(',')}`);
    this.arrive(image);
  }

  async pull(ref: string, signal?: AbortSignal): Promise<void> {
    const image = await pullOverLoopback(ref, { loopback: this.loopback, store: this.store(), signal, unreachable: this.cannotReachLoopback, requests: this.registryRequests });
    this.calls.push(`pull ${ref}`);
    this.arrive(image);
  }

  async tagImage(ref: string, repo: string, tag: string): Promise<void> {
    const i = this.find(ref);
    if (!i) throw new Error(`No such image: ${ref}`);
    // As Docker does: docker.io/library/web is the same name as web.
    this.addImage(`${repo.replace(/^docker\.io\/library\//, '')}:${tag}`, i.labels, i.id);
  }

  async removeImage(ref: string): Promise<void> {
    const i = this.find(ref);
    if (!i) return; // 404 is fine, as in RemoteEngine
    const byTag = i.id !== ref && i.tags.length > 1;
    if (byTag) {
      i.tags = i.tags.filter((t) => t !== ref);
    } else {
      const user = [...this.containersById.values()].find((c) => c.imageId === i.id);
      if (user) throw new Error(`conflict: unable to remove repository reference "${ref}" - container ${user.id.slice(0, 12)} is using its referenced image`);
      this.imagesById.delete(i.id);
      this.layersById.delete(i.id);
    }
    this.calls.push(`removeImage ${ref}`);
  }

  async containers(labelFilter: Record<string, string>): Promise<ContainerInfo[]> {
    return [...this.containersById.values()].filter((c) => matches(c.spec.labels, labelFilter)).map((c) => this.info(c));
  }

  async container(id: string): Promise<ContainerInfo | undefined> {
    const c = this.lookup(id);
    return c && this.info(c);
  }

  async create(spec: ContainerSpec): Promise<string> {
    const image = this.find(spec.image);
    if (!image) throw new Error(`No such image: ${spec.image}`);
    if (this.lookup(spec.name)) throw new Error(`Conflict. The container name "/${spec.name}" is already in use`);
    const c = this.newContainer(spec, image.id);
    this.calls.push(`create ${spec.name}`);
    return c.id;
  }

  async start(id: string): Promise<void> {
    const c = this.lookup(id);
    if (!c) throw new BmError('StartFailed', `The container did not start: no such container ${id}`);
    if (c.state === 'running') return;
    for (const p of c.spec.ports) {
      const holder = this.running().find((o) => o.spec.ports.some((q) => q.hostPort === p.hostPort && q.protocol === p.protocol));
      if (holder || this.foreignPorts.has(p.hostPort)) {
        throw new BmError(
          'PortTaken',
          `Port ${p.hostPort} on the server is already in use by another program or container: free it, or change "run.ports" in baremetal.json.`,
          `Bind for 0.0.0.0:${p.hostPort} failed: port is already allocated`,
        );
      }
    }
    this.calls.push(`start ${c.spec.name}`);
    c.state = 'running';
    c.starts++;
    c.exitCode = undefined;
    c.startedAt = new Date().toISOString();
    const b = this.behaviorOf(c);
    for (const text of b.logs ?? []) c.logs.push({ stream: 'stdout', text });
    b.onStart?.(c);
  }

  async stop(id: string): Promise<void> {
    const c = this.lookup(id);
    if (!c || c.state !== 'running') return;
    this.calls.push(`stop ${c.spec.name}`);
    c.state = 'exited';
    c.exitCode = 0;
  }

  async remove(id: string): Promise<void> {
    const c = this.lookup(id);
    if (!c) return;
    this.calls.push(`remove ${c.spec.name}`);
    this.containersById.delete(c.id);
  }

  async *logs(id: string, opts: LogOptions): AsyncIterable<LogLine> {
    const c = this.lookup(id);
    if (!c) throw new Error(`No such container: ${id}`);
    const lines = opts.tail === undefined ? c.logs : c.logs.slice(-opts.tail);
    for (const l of lines) yield clone(l);
  }

  async httpGet(host: string, port: number, path: string, timeoutMs: number): Promise<number> {
    this.httpCalls.push({ host, port, path });
    const target = this.running().find((c) =>
      host === c.ipAddress
        ? true
        : c.spec.ports.some((p) => p.protocol === 'tcp' && p.hostPort === port && (!p.hostIp || p.hostIp === '0.0.0.0' || p.hostIp === host)),
    );
    if (!target) throw new Error(`connect ECONNREFUSED ${host}:${port}`);
    const b = this.behaviorOf(target);
    if (host === target.ipAddress && b.listensOn && !b.listensOn.includes(port)) throw new Error(`connect ECONNREFUSED ${host}:${port}`);
    const answer = b.http?.(path, target) ?? 200;
    if (answer instanceof Error) throw answer;
    if (timeoutMs <= 0) throw new Error('no answer');
    return answer;
  }
}

function matches(labels: Record<string, string>, filter: Record<string, string>): boolean {
  return Object.entries(filter).every(([k, v]) => labels[k] === v);
}
