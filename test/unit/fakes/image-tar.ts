/**
 * Real image archives for the fakes and the transfer tests: layer tars, image configs, and
 * `docker save` output in the classic layout (`<hex>/layer.tar`) and the OCI layout of
 * Docker 25+ (`blobs/sha256/<hex>`), both with the manifest.json that `docker load` reads.
 */
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { ExportedImage, LayerCache } from '../../../src/core/transfer/layer-cache';

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
export const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');

/** Bytes that do not compress (like most of a real base image), the same for the same seed. */
export function pseudoRandom(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; i++) off += createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off);
  return out;
}

/** Reads a whole stream into one buffer. */
export async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

/** A buffer as a stream of `size`-byte chunks, the way a socket delivers it. */
export function chunked(data: Buffer, size = 64 * 1024): Readable {
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += size) parts.push(data.subarray(off, off + size));
  return Readable.from(parts);
}

/** A tar from name → content, deterministic (fixed owner and mtime): equal files, equal bytes. */
export async function makeTarBuffer(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  const done = collect(pack as unknown as AsyncIterable<Buffer>);
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }, content);
  pack.finalize();
  return done;
}

/** A layer: the uncompressed tar whose sha256 is its diffID. */
export const layerTar = makeTarBuffer;

/** Every file entry of a tar: name → bytes. */
export async function tarEntries(source: Readable | Buffer): Promise<Map<string, Buffer>> {
  const stream = Buffer.isBuffer(source) ? Readable.from([source]) : source;
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  stream.on('error', (e) => extract.destroy(e));
  stream.pipe(extract);
  for await (const entry of extract) {
    const data = await collect(entry);
    if (entry.header.type === 'file') out.set(entry.header.name, data);
  }
  return out;
}

/** An image as the fakes hold it: its config (whose sha256 is the image ID) and its layer tars. */
export interface ImageParts {
  config: Buffer;
  layers: Buffer[];
}

export interface ImageConfigJson {
  config?: { Labels?: Record<string, string> };
  rootfs: { type: 'layers'; diff_ids: string[] };
}

export function makeImage(layers: Buffer[], labels: Record<string, string> = {}): ImageParts {
  const json: ImageConfigJson & Record<string, unknown> = {
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: labels },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) },
  };
  return { config: Buffer.from(JSON.stringify(json)), layers };
}

export const imageIdOfParts = (parts: ImageParts): string => sha256(parts.config);

/** 'oci-gzip': the containerd image store's save, whose layer blobs are already gzip-compressed. */
export type SaveLayout = 'classic' | 'oci' | 'oci-gzip';

/** What `docker save <repoTag>` writes, in either layout. */
export async function saveTar(parts: ImageParts, repoTag: string, layout: SaveLayout = 'classic'): Promise<Buffer> {
  const configHex = hexOf(sha256(parts.config));
  const files: Record<string, Buffer | string> = {};
  let configName: string;
  let layerNames: string[];
  if (layout === 'classic') {
    configName = `${configHex}.json`;
    layerNames = parts.layers.map((l) => `${hexOf(sha256(l))}/layer.tar`);
    parts.layers.forEach((l, i) => {
      files[layerNames[i].replace('/layer.tar', '/VERSION')] = '1.0';
      files[layerNames[i]] = l;
    });
    files[configName] = parts.config;
  } else {
    const blobs = layout === 'oci-gzip' ? parts.layers.map((l) => gzipSync(l, { level: 6 })) : parts.layers;
    configName = `blobs/sha256/${configHex}`;
    layerNames = blobs.map((l) => `blobs/sha256/${hexOf(sha256(l))}`);
    const ociManifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(parts.config), size: parts.config.length },
        layers: blobs.map((l) => ({ mediaType: `application/vnd.oci.image.layer.v1.tar${layout === 'oci-gzip' ? '+gzip' : ''}`, digest: sha256(l), size: l.length })),
      }),
    );
    blobs.forEach((l, i) => (files[layerNames[i]] = l));
    files[configName] = parts.config;
    files[`blobs/sha256/${hexOf(sha256(ociManifest))}`] = ociManifest;
    files['index.json'] = JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(ociManifest), size: ociManifest.length, annotations: { 'io.containerd.image.name': repoTag } }],
    });
    files['oci-layout'] = '{"imageLayoutVersion":"1.0.0"}';
  }
  files['manifest.json'] = JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: layerNames }]);
  return makeTarBuffer(files);
}

/** The image taken apart into `cache`, as the ship phase does with the output of `docker save`. */
export async function exportParts(cache: LayerCache, parts: ImageParts, layout: SaveLayout = 'classic'): Promise<ExportedImage> {
  return cache.exportImage(chunked(await saveTar(parts, 'web:test', layout)));
}
