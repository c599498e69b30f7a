import { readFile } from 'node:fs/promises';
import { posix, relative, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { imageName, type Config } from '../config/types';
import { LABEL, imageTag } from '../deploy/labels';
import { BmError } from '../errors';
import type { Builder, CommitInfo, ImageInfo, Logger, ProgressSink, Repo } from '../ports';
import { contextFromArchive, contextFromFiles, OUTSIDE_DOCKERFILE, type ContextFilter } from './context';
import { adviseOnDockerfile } from './dockerfile-advice';

export interface BuildDeps {
  config: Config;
  repo: Repo;
  builder: Builder;
  logger: Logger;
  progress: ProgressSink;
  /** Values of build.secrets, for RUN --mount=type=secret only. */
  buildSecrets?: Record<string, string>;
}

export interface BuildTarget {
  /** The server's platform ("linux/amd64"): the image is built for it. */
  platform?: string;
}

/** Builds the image of the commit (or reuses the local one), from the committed tree only. */
/** A path of baremetal.json (relative to its folder) as a path in the repository. */
export function repoPath(config: Config, repo: Repo, p: string): string {
  return relative(repo.root, resolve(config.dir, p)).split('\\').join('/');
}

export async function buildImage(
  deps: BuildDeps,
  commit: CommitInfo,
  tag: string,
  dirtyPaths: string[],
  dirty: boolean,
  signal?: AbortSignal,
  target: BuildTarget = {},
): Promise<ImageInfo> {
  const { config, repo, builder, logger, progress } = deps;
  const ref = imageTag(imageName(config), tag);
  if (!dirty) {
    const existing = await builder.image(ref);
    // One tag holds one platform: an image of this commit built for another CPU is rebuilt.
    if (existing && (!target.platform || !existing.platform || existing.platform === target.platform)) {
      logger.info(`${ref} was built before: reusing it`);
      return existing;
    }
  }
  const toRepo = (p: string) => repoPath(config, repo, p);
  const contextPrefix = toRepo(config.build.context).replace(/^\.$/, '');
  const dockerfilePath = toRepo(config.build.dockerfile);
  const readAt = async (p: string) => (dirty ? readWorkingFile(repo.root, p) : repo.fileAtCommit(commit.sha, p));
  const dockerfile = await readAt(dockerfilePath);
  if (!dockerfile) {
    const where = dirty ? 'in the working tree' : `in commit ${commit.sha.slice(0, 12)}`;
    throw new BmError('DockerfileMissing', `There is no ${config.build.dockerfile} ${where}: add and commit one, or set "build.dockerfile" in baremetal.json.`);
  }
  for (const a of adviseOnDockerfile(dockerfile.toString('utf8'))) deps.logger.warn(`${config.build.dockerfile}:${a.line}: ${a.message}`);
  const insideContext = contextPrefix === '' || dockerfilePath.startsWith(`${contextPrefix}/`);
  const filter: ContextFilter = {
    contextPrefix,
    dockerfilePath,
    dockerignore: (await readAt(posix.join(contextPrefix, '.dockerignore')))?.toString('utf8'),
  };
  const extra: Record<string, Buffer> = insideContext ? {} : { [OUTSIDE_DOCKERFILE]: dockerfile };
  const dockerfileInContext = insideContext ? (contextPrefix ? dockerfilePath.slice(contextPrefix.length + 1) : dockerfilePath) : OUTSIDE_DOCKERFILE;
  let context: Readable;
  if (dirty) {
    const files = [...new Set([...(await repo.trackedAndUntracked()), ...dirtyPaths])];
    context = contextFromFiles(repo.root, files, filter, extra);
  } else {
    context = contextFromArchive(repo.archive(commit.sha, signal), filter, extra);
  }
  const how = (await builder.describe?.()) ?? 'the local Docker Engine';
  progress({ phase: 'build', message: `Building ${commit.sha.slice(0, 12)} (${commit.subject})${target.platform ? ` for ${target.platform}` : ''}` });
  logger.info(`building with ${how}${target.platform ? ` for ${target.platform}` : ''}`);
  return builder.build(
    {
      context,
      tag: ref,
      dockerfile: dockerfileInContext,
      buildArgs: config.build.args,
      target: config.build.target,
      platform: target.platform,
      secrets: deps.buildSecrets,
      labels: {
        [LABEL.app]: imageName(config),
        [LABEL.commit]: commit.sha,
        [LABEL.subject]: commit.subject,
        [LABEL.author]: commit.author,
        [LABEL.built]: new Date().toISOString(),
        ...(dirty ? { [LABEL.dirty]: 'true' } : {}),
      },
    },
    (line) => {
      logger.info(`build: ${line}`);
      // A step starting is progress a user wants to see ("[2/4] RUN npm ci", "Step 2/4 : RUN npm ci").
      const step = /^#\d+ (\[[^\]]*\d+\/\d+\] .+)$|^\[(?:sha256:)?[0-9a-f]{5,64}\] (\[[^\]]*\d+\/\d+\] .+)$|^(Step \d+\/\d+ : .+)$/.exec(line);
      if (step) progress({ phase: 'build', message: (step[1] ?? step[2] ?? step[3]).slice(0, 120) });
    },
    signal,
  );
}

async function readWorkingFile(root: string, p: string): Promise<Buffer | undefined> {
  return readFile(resolve(root, p)).catch(() => undefined);
}
