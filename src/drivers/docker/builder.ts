import os from 'node:os';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { BmError } from '../../core/errors';
import type { Builder, BuildRequest, ImageInfo } from '../../core/ports';
import { toImageInfo } from './convert';
import { buildCancelled, BuildSteps, featureHint } from './build-steps';
import { engineLost, localEngineFinder } from './local-connect';
import { endpointLabel, type Endpoint } from './local-engine';
import type { BuildSession } from './build-session';
import { SessionRefused, startSessionBuild } from './session-build';

/**
 * The developer's own Docker Engine, where images are built from the commit's tree and saved for
 * shipping.
 */
export class LocalBuilder implements Builder {
  /** Where the engine was found (set on first use): for "building on Colima (unix:///…)", and dockerCliEnv for buildx. */
  endpoint?: Endpoint;
  private docker!: Docker;
  private builderKind?: 'buildkit' | 'legacy';

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

  /**
   * BuildKit unless the engine has none: Docker 18.09+ takes `version=2` builds over its API
   * (RUN --mount, heredocs need 23+); Podman's Docker-compatible API builds with its own
   * builder, and the legacy builder is said so in the output.
   */
  async kind(): Promise<'buildkit' | 'legacy'> {
    if (this.builderKind) return this.builderKind;
    const docker = await this.ready();
    const v = (await docker.version().catch(() => undefined)) as { ApiVersion?: string; Components?: { Name?: string }[] } | undefined;
    const podman = v?.Components?.some((c) => /podman/i.test(c.Name ?? '')) ?? false;
    const [major, minor] = (v?.ApiVersion ?? '1.0').split('.').map(Number);
    this.builderKind = !podman && (major > 1 || minor >= 39) ? 'buildkit' : 'legacy';
    return this.builderKind;
  }

  async describe(): Promise<string> {
    const kind = await this.kind();
    const where = this.endpoint ? endpointLabel(this.endpoint) : 'the local Docker Engine';
    return kind === 'buildkit' ? `the Engine API's BuildKit on ${where} (the context over a BuildKit session, as the docker CLI sends it)` : `the legacy builder of ${where} (it has no BuildKit)`;
  }

  async build(req: BuildRequest, onOutput: (line: string) => void, signal?: AbortSignal): Promise<ImageInfo> {
    const docker = await this.ready();
    const kind = await this.kind();
    // The context is heard from the start: a failure of it (git archive, the working tree) is
    // the reason a build broke, whoever reads the stream.
    let contextFailure: Error | undefined;
    req.context.on('error', (e: Error) => (contextFailure ??= e));
    if (kind === 'legacy') {
      onOutput('This engine has no BuildKit: building with its legacy builder (no RUN --mount, heredocs or COPY --link).');
      if (Object.keys(req.secrets ?? {}).length) {
        req.context.destroy();
        throw new BmError('BuildSecretsUnsupported', 'build.secrets need BuildKit, which this engine does not have: use Docker 18.09 or newer here, or set "build": { "on": "server" } for a server whose engine has it.');
      }
    }
    let stream: Readable;
    let session: { stream: Readable; session: BuildSession; close: () => Promise<void> } | undefined;
    try {
      if (kind === 'buildkit') session = await this.sessionBuild(docker, req, onOutput, signal);
      if (session) stream = session.stream;
      else {
        stream = (await docker.buildImage(req.context as never, {
          t: req.tag,
          dockerfile: req.dockerfile,
          buildargs: req.buildArgs,
          labels: req.labels,
          target: req.target,
          platform: req.platform,
          rm: true,
          forcerm: true,
          abortSignal: signal,
          ...(kind === 'buildkit' ? { version: '2' } : {}),
        } as never)) as unknown as Readable;
      }
    } catch (e) {
      if (signal?.aborted) throw buildCancelled();
      if (contextFailure) throw contextUnreadable(contextFailure);
      throw engineLost(e, this.endpoint);
    }
    const steps = new BuildSteps();
    let failure: string | undefined;
    let broken: Error | undefined;
    let legacyStep = '';
    try {
      await new Promise<void>((resolve) => {
        // dockerode decodes BuildKit's trace (protobuf in each message's aux) into text lines.
        (docker as Docker & { followProgress: Docker['modem']['followProgress'] }).followProgress(
          stream,
          (err: Error | null) => {
            if (err) broken = err;
            resolve();
          },
          (msg: { stream?: string; status?: string; error?: string }) => {
            const text = (msg.stream ?? msg.status ?? '').replace(/\n$/, '');
            for (const line of text ? text.split('\n') : []) {
              onOutput(line);
              steps.push(line);
              if (/^Step \d+\/\d+ : /.test(line)) legacyStep = line.replace(/^Step \d+\/\d+ : /, '');
            }
            if (msg.error) failure = msg.error.trim();
          },
        );
      });
    } finally {
      await session?.close();
    }
    if (signal?.aborted) throw buildCancelled();
    if (contextFailure) throw contextUnreadable(contextFailure);
    const syncFailure = session?.session.failure();
    if (syncFailure) throw new BmError('BuildFailed', `Sending the build context to the engine failed: ${syncFailure.message}; try again, and if it repeats, install docker buildx here (builds then go through it).`, steps.lastLines());
    if (failure) {
      if (/failed to read downloaded context|build-context-[a-z0-9]+/.test(failure)) throw contextUploadBroken(failure);
      const step = steps.failedStep ?? legacyStep;
      const reason = steps.failure && !legacyStep ? steps.failure : failure;
      throw new BmError('BuildFailed', `The image build failed${step ? ` at "${step}"` : ''}: ${reason}${featureHint(reason)}`, steps.lastLines());
    }
    if (broken) throw new BmError('BuildFailed', `The engine's build output broke off (${broken.message}): check that the engine${this.endpoint ? ` at ${endpointLabel(this.endpoint)}` : ''} still runs, then deploy again.`, steps.lastLines());
    const image = await this.image(req.tag);
    if (!image) throw new BmError('BuildFailed', `The build finished but produced no image tagged ${req.tag}.`, steps.lastLines());
    return image;
  }

  /**
   * The context goes over a BuildKit session, as the docker CLI sends it, not in the request
   * body: every engine with BuildKit reads it so (the containerd store before Docker 27.5 cannot
   * read an uploaded one, moby/moby#47717), and build secrets travel the same way. Undefined when
   * the engine opens no session: the context is then uploaded as before.
   */
  private async sessionBuild(docker: Docker, req: BuildRequest, onOutput: (line: string) => void, signal?: AbortSignal) {
    try {
      return await startSessionBuild(docker, req, signal);
    } catch (e) {
      if (!(e instanceof SessionRefused)) throw e;
      if (Object.keys(req.secrets ?? {}).length) {
        req.context.destroy();
        throw new BmError('BuildSecretsUnsupported', `build.secrets need a BuildKit session, which this engine refused (${e.reason.message}): install docker buildx on this machine (builds then go through it), or drop build.secrets.`);
      }
      onOutput(`This engine opened no BuildKit session (${e.reason.message}): uploading the context instead.`);
      return undefined;
    }
  }

  async save(tag: string, signal?: AbortSignal): Promise<Readable> {
    await this.ready();
    const stream = (await this.docker.getImage(tag).get()) as unknown as Readable;
    signal?.addEventListener('abort', () => stream.destroy(new BmError('Cancelled', 'Transfer cancelled.')), { once: true });
    return stream;
  }
}

/** The commit's files could not be read for the build (git archive failed, a file vanished). */
function contextUnreadable(e: Error): BmError {
  return new BmError('BuildFailed', `Reading the files to build failed (${e.message}): nothing was sent; check the repository with \`git status\` and deploy again.`, undefined, { cause: e });
}

/**
 * moby/moby#47717: an engine with the containerd image store before Docker 27.5 cannot read a
 * context uploaded to its API's BuildKit (it tries to fetch it as a URL). buildx sends the
 * context over a session instead, which works there.
 */
function contextUploadBroken(detail: string): BmError {
  return new BmError(
    'BuilderUnsupported',
    'This Docker Engine (containerd image store, older than 27.5) cannot build a context sent through its API (moby/moby#47717): install the docker CLI with its buildx plugin on this machine (builds then go through it), or upgrade Docker Engine to 27.5 or newer.',
    detail,
  );
}
