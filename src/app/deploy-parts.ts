/**
 * The one place that assembles a deploy's parts from the config and the environment, for the
 * CLI and the editor alike: the builder (builders.ts), the layer cache, the repository and the
 * build secrets. Each caller adds only what is its own (its logger, progress, who it is).
 */
import { homedir } from 'node:os';
import { resolveBuildSecrets, resolveTlsPair } from '../core/config/secrets';
import type { Config } from '../core/config/types';
import type { Builder, Repo } from '../core/ports';
import { cacheMaxFromEnv } from '../core/transfer/cache-eviction';
import { defaultLayerCacheDir, LayerCache } from '../core/transfer/layer-cache';
import { GitRepo } from '../drivers/git/repo';
import type { ConnectedServer } from '../drivers/server-pool';
import { builderFor } from './builders';

export interface DeployParts {
  builder: Builder;
  cache: LayerCache;
  repo: Repo;
  buildSecrets: Record<string, string>;
  tlsPair?: { cert: string; key: string };
}

/** The layer cache as the environment says (a bad BAREMETAL_CACHE_MAX is an error before connecting). */
export function layerCache(env: NodeJS.ProcessEnv = process.env): LayerCache {
  return new LayerCache(defaultLayerCacheDir(env), cacheMaxFromEnv(env));
}

export async function deployParts(config: Config, server: ConnectedServer, env: NodeJS.ProcessEnv = process.env, repoDir = config.dir): Promise<DeployParts> {
  return {
    builder: builderFor(server, config.build.on, { env, home: homedir() }),
    cache: layerCache(env),
    repo: await GitRepo.open(repoDir),
    buildSecrets: await resolveBuildSecrets(config, env),
    tlsPair: await resolveTlsPair(config, env),
  };
}
