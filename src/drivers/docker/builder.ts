import os from 'node:os';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { BmError } from '../../core/errors';
import type { Builder, BuildRequest, ImageInfo } from '../../core/ports';
import { toImageInfo } from './convert';
import { progressMessages } from './json-lines';
import { engineLost, localEngineFinder } from './local-connect';
import type { Endpoint } from './local-engine';

/**
 * The developer's own Docker Engine, where images are built from the commit's tree and saved for
 * shipping.
 */
export class LocalBuilder implements Builder {
  /** Where the engine was found (set on first use): for "building on Colima (unix:///…)", and dockerCliEnv for buildx. */
  endpoint?: Endpoint;
  private docker!: Docker;

  /** Without `docker`, the engine is found as the docker CLI finds it (local-engine.ts), on first use. */
  constructor(docker?: Docker, private readonly find = localEngineFinder(process.env, os.homedir())) {
    if (docker) this.docker = docker;
  }

  static connect(env: NodeJS.ProcessEnv, home: string): LocalBuilder {
    return new LocalBuilder(undefined, localEngineFinder(env, home));
  }

  async ready(): Promise<Docker> {
    if (!this.docker) ({ docker: this.docker, endpoint: this.endpoint } = await this.find());
    return this.docker;
  }

  async image(tag: string): Promise<ImageInfo | undefined> {
    await this.ready();
    try {
      return toImageInfo(await this.docker.getImage(tag).inspect());
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return undefined;
      throw engineLost(e, this.endpoint);
    }
  }

  async build(req: BuildRequest, onOutput: (line: string) => void, signal?: AbortSignal): Promise<ImageInfo> {
    await this.ready();
    let stream: Readable;
    try {
      stream = (await this.docker.buildImage(req.context as never, {
        t: req.tag,
        dockerfile: req.dockerfile,
        buildargs: req.buildArgs,
        labels: req.labels,
        target: req.target,
        rm: true,
        forcerm: true,
        abortSignal: signal,
      } as never)) as unknown as Readable;
    } catch (e) {
      throw engineLost(e, this.endpoint);
    }
    const tail: string[] = [];
    let currentStep = '';
    let failure: string | undefined;
    for await (const msg of progressMessages(stream)) {
      const text = (msg.stream ?? msg.status ?? '').replace(/\n$/, '');
      if (text) {
        for (const line of text.split('\n')) {
          onOutput(line);
          tail.push(line);
          if (/^Step \d+\/\d+ : /.test(line)) currentStep = line;
        }
        while (tail.length > 30) tail.shift();
      }
      if (msg.error) failure = msg.error.trim();
    }
    if (signal?.aborted) throw new BmError('Cancelled', 'Build cancelled; nothing was sent to the server.');
    if (failure) {
      const step = currentStep ? ` at "${currentStep.replace(/^Step \d+\/\d+ : /, '')}"` : '';
      throw new BmError('BuildFailed', `The image build failed${step}: ${failure}`, tail.join('\n'));
    }
    const image = await this.image(req.tag);
    if (!image) throw new BmError('BuildFailed', `The build finished but produced no image tagged ${req.tag}.`, tail.join('\n'));
    return image;
  }

  async save(tag: string, signal?: AbortSignal): Promise<Readable> {
    await this.ready();
    const stream = (await this.docker.getImage(tag).get()) as unknown as Readable;
    signal?.addEventListener('abort', () => stream.destroy(new BmError('Cancelled', 'Transfer cancelled.')), { once: true });
    return stream;
  }
}
