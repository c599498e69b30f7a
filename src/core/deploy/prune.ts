import type { Engine, ImageInfo, Logger } from '../ports';
import type { DeployRecord } from './journal';
import { LABEL, imageTag } from './labels';

/**
 * Which of the app's images on the server may go: everything but the images of the `keep`
 * most recent successful deploys (distinct commits) and the image now running. Pure, so the
 * rule users care most about (never delete a rollback target) is tested directly.
 */
/** The app (or a role's apps, sharing one image repository) whose images are pruned. */
export interface PruneScope {
  apps: string[];
  repo: string;
}

export function imagesToPrune(images: ImageInfo[], history: DeployRecord[], keep: number, runningImageId: string | undefined, app: string | PruneScope): ImageInfo[] {
  const { apps, repo } = typeof app === 'string' ? { apps: [app], repo: app } : app;
  const keepTags = new Set<string>();
  const keepIds = new Set<string>(runningImageId ? [runningImageId] : []);
  for (const r of [...history].sort((a, b) => a.startedAt.localeCompare(b.startedAt)).reverse()) {
    if (r.result !== 'succeeded' || !apps.includes(r.app)) continue;
    const tag = imageTag(repo, r.tag);
    if (keepTags.has(tag)) continue;
    if (keepTags.size >= keep) break;
    keepTags.add(tag);
    if (r.image) keepIds.add(r.image);
  }
  return images.filter((i) => i.labels[LABEL.app] === repo && !keepIds.has(i.id) && !i.tags.some((t) => keepTags.has(t)));
}

export async function pruneImages(engine: Engine, app: string | PruneScope, keep: number, history: DeployRecord[], runningImageId: string, logger: Logger): Promise<string[]> {
  const repo = typeof app === 'string' ? app : app.repo;
  const images = await engine.images({ [LABEL.app]: repo });
  const doomed = imagesToPrune(images, history, keep, runningImageId, app);
  const removed: string[] = [];
  for (const img of doomed) {
    try {
      for (const t of img.tags) await engine.removeImage(t);
      if (!img.tags.length) await engine.removeImage(img.id);
      removed.push(...(img.tags.length ? img.tags : [img.id]));
    } catch (e) {
      logger.warn(`prune: kept ${img.tags[0] ?? img.id}: ${(e as Error).message}`);
    }
  }
  if (removed.length) logger.info(`pruned ${removed.length} old image(s): ${removed.join(', ')}`);
  return removed;
}
