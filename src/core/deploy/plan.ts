import { buildImage, repoPath } from '../build/build-image';
import { adviseOnDockerfile } from '../build/dockerfile-advice';
import { platformMismatch, platformString, runsOn } from '../build/platform';
import { trimLayerCache } from '../transfer/cache-eviction';
import { exportImage, planShipment } from '../transfer/ship';
import type { DeployDeps, DeployOptions } from './deploy';
import { imageTag } from './labels';
import { imageName } from '../config/types';

/** What `deploy --dry-run` prints: what would cross the link, before anything is sent. */
export interface DeployPlan {
  commit: string;
  subject: string;
  server: string;
  tag: string;
  /** The server already has this exact image: a deploy would send nothing. */
  onServer: boolean;
  layers: { digest: string; size: number; present: boolean }[];
  missingBytes: number;
  totalBytes: number;
  advice: string[];
}

/** Builds (or reuses) the image and asks the server which layers it lacks. Changes nothing there. */
export async function planDeploy(deps: Omit<DeployDeps, 'secrets' | 'who'>, opts: DeployOptions = {}): Promise<DeployPlan> {
  const commit = await deps.repo.resolveCommit(opts.ref ?? 'HEAD');
  const dirtyPaths = opts.allowDirty ? await deps.repo.uncommittedPaths() : [];
  const tag = dirtyPaths.length ? `${commit.sha.slice(0, 12)}-dirty` : commit.sha;
  const ref = imageTag(imageName(deps.config), tag);
  const dockerfile = await deps.repo.fileAtCommit(commit.sha, repoPath(deps.config, deps.repo, deps.config.build.dockerfile));
  const advice = dockerfile ? adviseOnDockerfile(dockerfile.toString('utf8')).map((a) => `${deps.config.build.dockerfile}:${a.line}: ${a.message}`) : [];
  const onServer = dirtyPaths.length === 0 && (await deps.server.engine.image(ref)) !== undefined;
  if (deps.config.build.on === 'server') {
    // Building is what a deploy would do there; a dry run must change nothing on the server.
    return { commit: commit.sha, subject: commit.subject, server: deps.serverName, tag, onServer, layers: [], missingBytes: 0, totalBytes: 0, advice: [...advice, 'build.on is "server": the server builds the image itself, only the commit\'s files are sent'] };
  }
  const serverPlatform = await deps.server.engine.platform?.();
  const platform = serverPlatform ? platformString(serverPlatform) : undefined;
  const local = await buildImage(deps, commit, tag, dirtyPaths, dirtyPaths.length > 0, opts.signal, { platform });
  if (serverPlatform && local.platform && !runsOn(local.platform, serverPlatform)) throw platformMismatch(commit.sha, local.platform, deps.serverName, serverPlatform);
  const image = await exportImage(deps.builder, deps.cache, ref, opts.signal);
  const plan = await planShipment(image, deps.server);
  await trimLayerCache(deps.cache, image, deps.logger); // the dry run added to the cache too
  return {
    commit: commit.sha,
    subject: commit.subject,
    server: deps.serverName,
    tag,
    onServer,
    layers: plan.layers.map((l) => ({ digest: l.digest, size: l.size, present: onServer || l.present })),
    missingBytes: onServer ? 0 : plan.missingBytes,
    totalBytes: plan.layers.reduce((n, l) => n + l.size, 0),
    advice,
  };
}
