/**
 * A fleet's one build: every server's deploy asks this object for the image, and the first ask
 * builds it and takes it apart into the layer cache; the others wait for that same work. Each
 * server is then sent only the layers it lacks (ship.ts asks each server what it has).
 */
import { imageName } from '../config/types';
import { buildImage, type BuildDeps } from '../build/build-image';
import { BmError } from '../errors';
import type { ImageInfo } from '../ports';
import type { ExportedImage, LayerCache } from '../transfer/layer-cache';
import { exportImage } from '../transfer/ship';
import { resolveBuildTarget, type DeployOptions, type SharedImage } from './deploy';
import { imageTag } from './labels';

export async function shareImage(deps: BuildDeps & { cache: LayerCache }, opts: DeployOptions): Promise<SharedImage & { builds(): number }> {
  const target = await resolveBuildTarget(deps.repo, opts, deps.logger);
  const ref = imageTag(imageName(deps.config), target.tag);
  let built: { platform: string | undefined; image: Promise<ImageInfo> } | undefined;
  let exported: Promise<ExportedImage> | undefined;
  let builds = 0;
  return {
    ...target,
    builds: () => builds,
    build(platform, signal) {
      if (built && built.platform !== platform && built.platform && platform) {
        // The rollout refuses mixed CPUs before building; this guards the promise of one image.
        throw new BmError('PlatformMismatch', `This rollout builds one image, for ${built.platform}, and a server runs ${platform}: deploy each kind of server with its own group.`);
      }
      if (!built) {
        builds += 1;
        built = { platform, image: buildImage(deps, target.commit, target.tag, target.dirtyPaths, target.dirty, signal, { platform }) };
        // A failed build is not retried by the next server of the same rollout: it reports the same.
      }
      return built.image;
    },
    export(signal) {
      exported ??= exportImage(deps.builder, deps.cache, ref, signal);
      return exported;
    },
  };
}
