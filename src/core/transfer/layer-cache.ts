import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { DEFAULT_CACHE_MAX } from './cache-eviction';

/** A layer as the registry serves it: gzip-compressed once, cached by its diffID. */
export interface CachedLayer {
  /** sha256 of the uncompressed tar (what the image config lists in rootfs.diff_ids). */
  diffId: string;
  /** sha256 of the compressed blob (what the manifest and the registry name it by). */
  digest: string;
  size: number;
  path: string;
  /** False for a layer stored as the plain tar because gzip would not shrink it (random data, archives). */
  compressed: boolean;
  /** Size of the uncompressed tar (how a layer is recognised in the next save without reading it). */
  rawSize?: number;
}

/** An image taken apart: its config (whose digest is the image ID) and its layers, in order. */
export interface ExportedImage {
  config: Buffer;
  configDigest: string;
  layers: CachedLayer[];
}

/** Shared by the CLI and the editor: BAREMETAL_CACHE_DIR, else the XDG cache folder. */
export function defaultLayerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.BAREMETAL_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'baremetal', 'layers');
}

/** Entries up to this size are kept in memory while the save stream goes by (configs, small layers). */
const IN_MEMORY_LIMIT = 4 * 1024 * 1024;

interface SaveManifest {
  Config: string;
  Layers: string[];
}

/**
 * Compressed layers on the developer's disk, keyed by diffID. Compressing once and keeping the
 * result means a layer has the same digest on every deploy, so the server recognises what it
 * already has; a layer seen before is never compressed again. Every file is written under a
 * temporary name and renamed; a blob's modification time is when a deploy last used it, which
 * is what trimLayerCache (cache-eviction.ts) evicts by, down to maxBytes.
 */
export class LayerCache {
  constructor(
    readonly dir: string,
    /** Infinity: never evicted. */
    readonly maxBytes: number = DEFAULT_CACHE_MAX,
  ) {}

  private blobPath(diffId: string): string {
    return join(this.dir, `${diffId.replace('sha256:', '')}.tar.gz`);
  }

  private metaPath(diffId: string): string {
    return join(this.dir, `${diffId.replace('sha256:', '')}.json`);
  }

  /** Which diffID a compressed blob holds (the OCI layout names layers by the blob's digest). */
  private digestPath(digest: string): string {
    return join(this.dir, 'digests', digest.replace('sha256:', ''));
  }

  /** The cached layer whose blob, as some engine saved it, had this digest. */
  async getByDigest(digest: string): Promise<CachedLayer | undefined> {
    const hit = await this.get(digest); // an uncompressed blob's digest is its diffID
    if (hit) return hit;
    const diffId = await readFile(this.digestPath(digest), 'utf8').catch(() => undefined);
    return diffId ? this.get(diffId.trim()) : undefined;
  }

  private async rememberDigest(digest: string, diffId: string): Promise<void> {
    if (digest === diffId) return;
    await mkdir(join(this.dir, 'digests'), { recursive: true });
    await this.writeAtomic(this.digestPath(digest), diffId);
  }

  async get(diffId: string): Promise<CachedLayer | undefined> {
    try {
      const meta = JSON.parse(await readFile(this.metaPath(diffId), 'utf8')) as { digest: string; size: number; compressed?: boolean; rawSize?: number };
      const path = this.blobPath(diffId);
      const st = await stat(path);
      if (st.size !== meta.size) return undefined;
      await touch(path); // used now: the last to be evicted
      return { diffId, digest: meta.digest, size: meta.size, path, compressed: meta.compressed !== false, rawSize: meta.rawSize };
    } catch {
      return undefined;
    }
  }

  /**
   * Puts one uncompressed layer stream into the cache and returns it. The layer is first
   * written as it comes while its diffID is computed; only a layer not cached yet is then
   * compressed (gzip is the slow part, and most layers of a redeploy are already here).
   */
  async put(source: Readable): Promise<CachedLayer> {
    await mkdir(this.dir, { recursive: true });
    const rawTemp = join(this.dir, `.raw-${randomBytes(6).toString('hex')}`);
    try {
      const raw = createHash('sha256');
      const head: Buffer[] = [];
      await pipeline(source, tap((c) => (raw.update(c), head.length < 1 && head.push(c))), createWriteStream(rawTemp));
      const digest = `sha256:${raw.digest('hex')}`;
      const kind = compressionOf(head[0] ?? Buffer.alloc(0));
      if (kind === 'gzip') return await this.keepCompressed(rawTemp, digest);
      if (kind === 'zstd') throw zstdRefused();
      const hit = await this.get(digest);
      if (hit) return hit;
      if (await incompressible(rawTemp)) return await this.keepRaw(rawTemp, digest);
      return await this.compress(createReadStream(rawTemp), digest, (await stat(rawTemp)).size);
    } finally {
      await rm(rawTemp, { force: true });
    }
  }

  private async putBuffer(data: Buffer): Promise<CachedLayer> {
    const kind = compressionOf(data);
    if (kind === 'zstd') throw zstdRefused();
    if (kind === 'gzip') {
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      // Streamed: a small blob may unpack to gigabytes (a layer of zeros shrinks a thousandfold).
      const { diffId, rawSize } = await unpackedDigest(Readable.from([data]));
      return this.adoptCompressed(diffId, digest, data.length, rawSize, (path) => writeFile(path, data));
    }
    const diffId = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    return (await this.get(diffId)) ?? (await this.compress(Readable.from([data]), diffId, data.length));
  }

  /**
   * A blob the engine already compressed (the containerd image store's `docker save` gives
   * the registry blobs): kept exactly as it came, so its digest is the one the engine knows,
   * and decompressed once only to learn (and later check) its diffID.
   */
  private async keepCompressed(file: string, digest: string): Promise<CachedLayer> {
    const { diffId, rawSize } = await unpackedDigest(createReadStream(file));
    return this.adoptCompressed(diffId, digest, (await stat(file)).size, rawSize, (path) => rename(file, path));
  }

  /** Files a compressed blob under its diffID, unless that layer is cached already (its digest then stays). */
  private async adoptCompressed(diffId: string, digest: string, size: number, rawSize: number, place: (path: string) => Promise<void>): Promise<CachedLayer> {
    const hit = await this.get(diffId);
    if (hit) {
      await this.rememberDigest(digest, diffId);
      return hit;
    }
    const layer: CachedLayer = { diffId, digest, size, path: this.blobPath(diffId), compressed: true, rawSize };
    await mkdir(this.dir, { recursive: true });
    await place(layer.path);
    await this.writeAtomic(this.metaPath(diffId), JSON.stringify({ digest, size, compressed: true, rawSize }));
    await this.rememberDigest(digest, diffId);
    return layer;
  }

  private async compress(source: Readable, diffId: string, rawSize: number): Promise<CachedLayer> {
    await mkdir(this.dir, { recursive: true });
    const temp = join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`);
    const packed = createHash('sha256');
    let size = 0;
    try {
      // Level 1: most of a big layer is often already compressed or random; speed wins there.
      await pipeline(source, createGzip({ level: 1 }), tap((c) => (packed.update(c), (size += c.length))), createWriteStream(temp));
      const existing = await this.get(diffId);
      if (existing) return existing; // compressed by another deploy meanwhile: keep that one, digests stay stable
      const layer: CachedLayer = { diffId, digest: `sha256:${packed.digest('hex')}`, size, path: this.blobPath(diffId), compressed: true, rawSize };
      await rename(temp, layer.path);
      await this.writeAtomic(this.metaPath(diffId), JSON.stringify({ digest: layer.digest, size: layer.size, compressed: true, rawSize }));
      return layer;
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** Stores the layer as it is: its digest is then its diffID, and nobody spends time on gzip. */
  private async keepRaw(rawTemp: string, diffId: string): Promise<CachedLayer> {
    const { size } = await stat(rawTemp);
    const layer: CachedLayer = { diffId, digest: diffId, size, path: this.blobPath(diffId), compressed: false, rawSize: size };
    await rename(rawTemp, layer.path);
    await this.writeAtomic(this.metaPath(diffId), JSON.stringify({ digest: layer.digest, size, compressed: false, rawSize: size }));
    return layer;
  }

  /**
   * Reads a `docker save` stream (the classic layout and the OCI layout of Docker 25+ both carry
   * manifest.json) and returns the image with every layer in the cache.
   */
  async exportImage(save: Readable, hints: string[] = []): Promise<ExportedImage> {
    const small = new Map<string, Buffer>();
    const large = new Map<string, CachedLayer>();
    // A layer already cached is skipped unread. The OCI layout names each blob by its digest; a
    // classic save names layers by an opaque ID in no useful order, so a layer.tar is taken for
    // the one cached layer of this image (diffIDs from `docker image inspect`) with its exact
    // size, when exactly one matches. A wrong guess is caught by the check at the end.
    const bySize = new Map<number, string[]>();
    for (const d of new Set(hints)) {
      const c = await this.get(d);
      if (c?.rawSize !== undefined) bySize.set(c.rawSize, [...(bySize.get(c.rawSize) ?? []), d]);
    }
    const hintFor = (name: string, size: number): string | undefined => {
      const oci = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
      if (oci) return `sha256:${oci[1]}`;
      const candidates = name.endsWith('/layer.tar') ? bySize.get(size) : undefined;
      return candidates?.length === 1 ? candidates[0] : undefined;
    };
    const extract = tar.extract();
    const done = new Promise<void>((resolve, reject) => {
      extract.on('entry', (header, stream, next) => {
        const fail = (e: Error) => extract.destroy(e);
        // Listened to at once: a save that dies while this entry waits on the disk (mkdir, a
        // cache lookup) errors the entry stream, and an unheard error would crash the process.
        stream.on('error', fail);
        if (header.type !== 'file') {
          stream.on('end', next).resume();
          return;
        }
        const hint = hintFor(header.name, header.size ?? -1);
        if ((header.size ?? 0) <= IN_MEMORY_LIMIT) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: unknown) => chunks.push(c as Buffer));
          stream.on('end', () => {
            small.set(header.name, Buffer.concat(chunks));
            next();
          });
          return;
        }
        // A big entry is a layer: skipped when cached, else hashed and stored as it passes.
        void (async () => {
          const cached = hint ? await this.getByDigest(hint) : undefined;
          if (cached) {
            stream.resume();
            await new Promise<void>((r) => stream.on('end', () => r()));
          }
          large.set(header.name, cached ?? (await this.put(stream as unknown as Readable)));
          next();
        })().catch(fail);
      });
      extract.on('finish', resolve);
      extract.on('error', reject);
      save.on('error', (e) => extract.destroy(e));
    });
    save.pipe(extract);
    await done;

    const manifestText = small.get('manifest.json');
    if (!manifestText) throw new Error('docker save produced no manifest.json');
    const [manifest] = JSON.parse(manifestText.toString('utf8')) as SaveManifest[];
    const config = small.get(manifest.Config);
    if (!config) throw new Error(`docker save produced no config ${manifest.Config}`);
    const layers: CachedLayer[] = [];
    for (const name of manifest.Layers) {
      const layer = large.get(name) ?? (small.has(name) ? await this.putBuffer(small.get(name) as Buffer) : undefined);
      if (!layer) throw new Error(`docker save produced no layer ${name}`);
      layers.push(layer);
    }
    const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
    if (diffIds.join() !== layers.map((l) => l.diffId).join()) {
      throw new ExportMismatch('the layers docker save produced do not match the image config');
    }
    return { config, configDigest: `sha256:${createHash('sha256').update(config).digest('hex')}`, layers };
  }


  /**
   * An image exported before, with every layer still cached, by the builder's image ID: the
   * config digest on the classic store, the manifest or index digest on the containerd store
   * (the config digest is what both stores agree on, so that is what the record is checked by).
   */
  async getImage(imageId: string): Promise<ExportedImage | undefined> {
    try {
      const file = join(this.dir, 'images', `${imageId.replace('sha256:', '')}.json`);
      const meta = JSON.parse(await readFile(file, 'utf8')) as { config: string; configDigest?: string; diffIds: string[] };
      const config = Buffer.from(meta.config, 'base64');
      const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
      if (configDigest !== (meta.configDigest ?? imageId)) return undefined;
      const layers: CachedLayer[] = [];
      for (const d of meta.diffIds) {
        const l = await this.get(d);
        if (!l) return undefined;
        layers.push(l);
      }
      await touch(file);
      return { config, configDigest, layers };
    } catch {
      return undefined;
    }
  }

  /** Remembers an exported image under the builder's ID, so shipping it again (another server, after a dry run) needs no save. */
  async putImage(image: ExportedImage, imageId: string = image.configDigest): Promise<void> {
    await mkdir(join(this.dir, 'images'), { recursive: true });
    const meta = { config: image.config.toString('base64'), configDigest: image.configDigest, diffIds: image.layers.map((l) => l.diffId) };
    await this.writeAtomic(join(this.dir, 'images', `${imageId.replace('sha256:', '')}.json`), JSON.stringify(meta));
  }

  /** Nobody reading the cache, in this process or another, ever sees a file half written. */
  private async writeAtomic(path: string, text: string): Promise<void> {
    const temp = join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(temp, text);
      await rename(temp, path);
    } finally {
      await rm(temp, { force: true });
    }
  }

  open(layer: CachedLayer, range?: { start: number; end: number }): Readable {
    return createReadStream(layer.path, range);
  }
}

/** The save's layers were not where the hints said (or not what the config lists). */
export class ExportMismatch extends Error {}

/** What a blob's first bytes say it is: the containerd store saves layers compressed. */
function compressionOf(head: Buffer): 'gzip' | 'zstd' | 'none' {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

function zstdRefused(): Error {
  return new Error(
    'the image has a zstd-compressed layer, which this tool cannot read yet: build it with gzip layers (the default; e.g. without "compression=zstd" in the build output options)',
  );
}

/** Whether gzip would save under 5% on this layer, judged on its first 4 MiB. */
async function incompressible(file: string): Promise<boolean> {
  const sample = Buffer.alloc(4 * 1024 * 1024);
  const handle = await open(file, 'r');
  try {
    const { bytesRead } = await handle.read(sample, 0, sample.length, 0);
    if (bytesRead < 64 * 1024) return false;
    return gzipSync(sample.subarray(0, bytesRead), { level: 1 }).length > bytesRead * 0.95;
  } finally {
    await handle.close();
  }
}

/** The diffID and size of a gzip blob's content, decompressed a chunk at a time and never kept. */
async function unpackedDigest(blob: Readable): Promise<{ diffId: string; rawSize: number }> {
  const unpacked = createHash('sha256');
  let rawSize = 0;
  await pipeline(blob, createGunzip(), tap((c) => (unpacked.update(c), (rawSize += c.length))), async (chunks: AsyncIterable<Buffer>) => {
    for await (const _ of chunks); // drained: only the hash and the size are wanted
  });
  return { diffId: `sha256:${unpacked.digest('hex')}`, rawSize };
}

/** Marks a cache file as used now (best effort: a read-only cache still serves). */
async function touch(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now).catch(() => undefined);
}

/** A pass-through step that sees every chunk (for hashing and counting). */
function tap(see: (chunk: Buffer) => void) {
  return async function* (chunks: AsyncIterable<Buffer>) {
    for await (const c of chunks) {
      see(c);
      yield c;
    }
  };
}
