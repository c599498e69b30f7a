import type { Readable } from 'node:stream';
import type { BuildRequest, Builder, ImageInfo } from '../../../src/core/ports';
import { chunked, imageIdOfParts, layerTar, makeImage, pseudoRandom, saveTar, type ImageParts, type SaveLayout } from './image-tar';
import { readTar } from './repo';

export interface RecordedBuild extends Omit<BuildRequest, 'context'> {
  /** The build context as the builder received it: path → content. */
  files: Map<string, string>;
}

/** The files of the base layer every fake image starts from (the same bytes on every build, like FROM node:20-alpine). */
export const BASE_FILES: Record<string, string | Buffer> = {
  'etc/os-release': 'ID=fakeos\nVERSION_ID=1.0\n',
  // Incompressible, so the base layer dominates what a full send costs.
  'usr/lib/runtime.so': pseudoRandom('runtime', 96 * 1024),
};

/**
 * The developer's engine: "builds" by reading the whole context into an image of two real
 * layers, a base layer shared by every build and an app layer holding the context files (it
 * changes with the commit). `save` writes a real `docker save` archive of it.
 */
export class FakeBuilder implements Builder {
  readonly images = new Map<string, ImageInfo>();
  /** The config and layer tars of every image, by image ID. */
  readonly parts = new Map<string, ImageParts>();
  readonly builds: RecordedBuild[] = [];
  readonly saved: string[] = [];
  /** Make the next builds fail with this error. */
  failWith?: Error;
  /** The layout `save` writes: classic, or OCI as Docker 25+ does. */
  layout: SaveLayout = 'classic';
  /** What the base layer holds; change it to model a new base image. */
  baseFiles: Record<string, string | Buffer> = BASE_FILES;

  /** The platform every build comes out as, whatever was asked (undefined: the one asked). */
  builtFor?: string;

  async image(tag: string): Promise<ImageInfo | undefined> {
    return this.images.get(tag);
  }

  async build(req: BuildRequest, onOutput: (line: string) => void): Promise<ImageInfo> {
    const { context, ...rest } = req;
    const files = await readTar(context);
    this.builds.push({ ...rest, files });
    if (this.failWith) throw this.failWith;
    onOutput(`#1 [internal] load build definition from ${req.dockerfile}`);
    const appFiles = Object.fromEntries([...files].filter(([name]) => !name.endsWith('/')).map(([name, content]) => [`app/${name}`, content]));
    const parts = makeImage([await layerTar(this.baseFiles), await layerTar(appFiles)], req.labels);
    const id = imageIdOfParts(parts);
    this.parts.set(id, parts);
    const size = parts.layers.reduce((n, l) => n + l.length, 0);
    // Like a builder that cannot honour --platform (no emulation): `builtFor` when set, else what was asked.
    const info: ImageInfo = { id, tags: [req.tag], labels: req.labels, created: new Date().toISOString(), size, platform: this.builtFor ?? req.platform };
    this.images.set(req.tag, info);
    return info;
  }

  /** The layer tars of a built image, base first. */
  layersOf(tag: string): Buffer[] {
    const info = this.images.get(tag);
    if (!info) throw new Error(`No such image: ${tag}`);
    return (this.parts.get(info.id) as ImageParts).layers;
  }

  async save(tag: string): Promise<Readable> {
    const info = this.images.get(tag);
    if (!info) throw new Error(`No such image: ${tag}`);
    this.saved.push(tag);
    // In small chunks, as the engine's socket delivers it.
    return chunked(await saveTar(this.parts.get(info.id) as ImageParts, tag, this.layout), 16 * 1024);
  }
}
