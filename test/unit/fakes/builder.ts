import { Readable } from 'node:stream';
import type { BuildRequest, Builder, ImageInfo } from '../../../src/core/ports';
import { fakeImageTar, imageIdOf } from './engine';
import { readTar } from './repo';

export interface RecordedBuild extends Omit<BuildRequest, 'context'> {
  /** The build context as the builder received it: path → content. */
  files: Map<string, string>;
}

/** The developer's engine: "builds" by reading the whole context and adding an image. */
export class FakeBuilder implements Builder {
  readonly images = new Map<string, ImageInfo>();
  readonly builds: RecordedBuild[] = [];
  readonly saved: string[] = [];
  /** Make the next builds fail with this error. */
  failWith?: Error;

  async image(tag: string): Promise<ImageInfo | undefined> {
    return this.images.get(tag);
  }

  async build(req: BuildRequest, onOutput: (line: string) => void): Promise<ImageInfo> {
    const { context, ...rest } = req;
    const files = await readTar(context);
    this.builds.push({ ...rest, files });
    if (this.failWith) throw this.failWith;
    onOutput(`#1 [internal] load build definition from ${req.dockerfile}`);
    const id = imageIdOf(`${req.tag}|${[...files.entries()].join('|')}`);
    const info: ImageInfo = { id, tags: [req.tag], labels: req.labels, created: new Date().toISOString(), size: 4096 };
    this.images.set(req.tag, info);
    return info;
  }

  async save(tag: string): Promise<Readable> {
    const info = this.images.get(tag);
    if (!info) throw new Error(`No such image: ${tag}`);
    this.saved.push(tag);
    const tarball = fakeImageTar(info);
    // Two chunks, as a stream would deliver it.
    return Readable.from([tarball.subarray(0, 1000), tarball.subarray(1000)]);
  }
}
