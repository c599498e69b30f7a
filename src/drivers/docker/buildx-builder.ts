import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { BmError } from '../../core/errors';
import { LineSplitter } from '../../core/logs/line-splitter';
import type { Builder, BuildRequest, ImageInfo } from '../../core/ports';
import { buildCancelled, BuildSteps, featureHint } from './build-steps';

/** The engine a buildx build goes to, and how to read and save its images (the Engine API). */
export interface BuildxTarget {
  image(tag: string): Promise<ImageInfo | undefined>;
  save(tag: string, signal?: AbortSignal): Promise<Readable>;
  /** The environment a docker CLI needs to reach that same engine (DOCKER_HOST or DOCKER_CONTEXT). */
  cliEnv(): Promise<NodeJS.ProcessEnv>;
  /** "Colima (unix:///…)", "the server bm1". */
  where(): Promise<string>;
  /** A buildx builder to use instead of the developer's current one (the server's engine: "default"). */
  builder?: string;
  /** Called once a build is over (what cliEnv opened for it can be closed). */
  done?(): Promise<void>;
}

/** Names of the variables that carry build secrets to buildx (its argv names only the variable). */
const SECRET_ENV_PREFIX = 'BAREMETAL_BUILD_SECRET_';

/** The argv of `docker buildx build`: pure, so what reaches a process's arguments is tested. */
export function buildxArgs(req: BuildRequest, iidFile: string, builder?: string): string[] {
  const args = ['buildx', 'build', ...(builder ? ['--builder', builder] : []), '--progress=plain', '--load', '--iidfile', iidFile, '-f', req.dockerfile, '-t', req.tag];
  if (req.platform) args.push('--platform', req.platform);
  if (req.target) args.push('--target', req.target);
  for (const [k, v] of Object.entries(req.buildArgs)) args.push('--build-arg', `${k}=${v}`);
  for (const [k, v] of Object.entries(req.labels)) args.push('--label', `${k}=${v}`);
  for (const id of Object.keys(req.secrets ?? {})) args.push('--secret', `id=${id},env=${SECRET_ENV_PREFIX}${id}`);
  args.push('-'); // the context: the commit's tar on stdin
  return args;
}

/**
 * Builds with the developer's own `docker buildx build`: BuildKit as they have it set up (their
 * builder, their cache, emulation for other CPUs), the context streamed on stdin as a tar of
 * exactly the commit, secrets through the environment of that one process. Reading and saving
 * the result goes through the Engine API of the same engine.
 */
export class BuildxBuilder implements Builder {
  constructor(
    private readonly target: BuildxTarget,
    private readonly docker = 'docker',
  ) {}

  /** Whether a docker CLI with the buildx plugin answers here (the CLI is optional for users). */
  static async available(env: NodeJS.ProcessEnv, docker = 'docker'): Promise<boolean> {
    return new Promise((resolve) => {
      const p = spawn(docker, ['buildx', 'version'], { env, stdio: 'ignore' });
      const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
      p.on('error', () => (clearTimeout(timer), resolve(false)));
      p.on('exit', (code) => (clearTimeout(timer), resolve(code === 0)));
    });
  }

  async describe(): Promise<string> {
    return `docker buildx on ${await this.target.where()}`;
  }

  image(tag: string): Promise<ImageInfo | undefined> {
    return this.target.image(tag);
  }

  save(tag: string, signal?: AbortSignal): Promise<Readable> {
    return this.target.save(tag, signal);
  }

  async build(req: BuildRequest, onOutput: (line: string) => void, signal?: AbortSignal): Promise<ImageInfo> {
    if (signal?.aborted) throw buildCancelled();
    const dir = await mkdtemp(join(tmpdir(), 'baremetal-build-'));
    const iidFile = join(dir, 'iid');
    const env: NodeJS.ProcessEnv = { ...(await this.target.cliEnv()) };
    for (const [id, value] of Object.entries(req.secrets ?? {})) env[`${SECRET_ENV_PREFIX}${id}`] = value;
    const steps = new BuildSteps();
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        const p = spawn(this.docker, buildxArgs(req, iidFile, this.target.builder), { env, stdio: ['pipe', 'pipe', 'pipe'] });
        // Cancel: SIGINT is buildx's Ctrl-C (it cancels the solve on the engine), then SIGKILL.
        let killer: NodeJS.Timeout | undefined;
        const onAbort = () => {
          p.kill('SIGINT');
          killer = setTimeout(() => p.kill('SIGKILL'), 5_000);
          req.context.destroy();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        // Each stream's own decoder and splitter: linear in the output, lines capped (a RUN step's progress bar).
        const reader = () => ({ decoder: new StringDecoder('utf8'), splitter: new LineSplitter() });
        const emit = (line: string) => {
          onOutput(line);
          steps.push(line);
        };
        const out = reader();
        const err = reader();
        const lines = (chunk: Buffer, r: ReturnType<typeof reader>) => r.splitter.push(r.decoder.write(chunk)).forEach(emit);
        p.stdout.on('data', (c: Buffer) => lines(c, out));
        p.stderr.on('data', (c: Buffer) => lines(c, err));
        p.stdin.on('error', () => undefined); // buildx quit early (a failure it reports itself)
        req.context.on('error', (e) => p.stdin.destroy(e));
        req.context.pipe(p.stdin);
        p.on('error', (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        });
        p.on('close', (c) => {
          signal?.removeEventListener('abort', onAbort);
          if (killer) clearTimeout(killer);
          for (const r of [out, err]) {
            r.splitter.push(r.decoder.end()).forEach(emit);
            const last = r.splitter.end();
            if (last !== undefined) emit(last);
          }
          resolve(c);
        });
      });
      if (signal?.aborted) throw buildCancelled();
      if (code !== 0) {
        const step = steps.failedStep ? ` at "${steps.failedStep}"` : '';
        const reason = steps.failure ?? `docker buildx exited with ${code}`;
        throw new BmError('BuildFailed', `The image build failed${step}: ${reason}${featureHint(reason)}`, steps.lastLines());
      }
      const id = (await readFile(iidFile, 'utf8').catch(() => '')).trim();
      const image = await this.target.image(req.tag);
      if (!image) throw new BmError('BuildFailed', `docker buildx finished (${id || 'no image ID'}) but the engine has no image tagged ${req.tag}: is your buildx builder one that loads into this engine?`, steps.lastLines());
      return image;
    } finally {
      await rm(dir, { recursive: true, force: true });
      await this.target.done?.();
    }
  }
}
