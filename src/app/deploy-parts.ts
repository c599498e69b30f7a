/**
 * The one place that assembles a deploy's parts from the config and the environment, for the
 * CLI and the editor alike: the builder (builders.ts), the layer cache, the repository and the
 * build secrets. Each caller adds only what is its own (its logger, progress, who it is).
 */
import { homedir } from 'node:os';
import { configFor } from '../core/config/fleet';
import { resolveBuildSecrets, resolveSecrets, resolveTlsPair } from '../core/config/secrets';
import type { Config } from '../core/config/types';
import type { Builder, Repo } from '../core/ports';
import { cacheMaxFromEnv } from '../core/transfer/cache-eviction';
import { defaultLayerCacheDir, LayerCache } from '../core/transfer/layer-cache';
import { GitRepo } from '../drivers/git/repo';
import type { ConnectedServer } from '../drivers/server-pool';
import { builderFor, localBuilder, serverBuilder } from './builders';

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

/** What a fleet's servers share: one local builder, the layer cache, the repository, the build secrets. */
export async function fleetParts(config: Config, env: NodeJS.ProcessEnv = process.env, repoDir = config.dir): Promise<Omit<DeployParts, 'tlsPair'>> {
  return {
    builder: localBuilder({ env, home: homedir() }),
    cache: layerCache(env),
    repo: await GitRepo.open(repoDir),
    buildSecrets: await resolveBuildSecrets(config, env),
  };
}

/** One server's own parts in a fleet: its secrets (its group may read another file), and its builder when it builds. */
export async function memberParts(config: Config, serverName: string, env: NodeJS.ProcessEnv = process.env) {
  const own = configFor(config, serverName);
  return {
    secrets: await resolveSecrets(own, env),
    tlsPair: await resolveTlsPair(own, env),
    builderFor: (server: ConnectedServer) => (config.build.on === 'server' ? serverBuilder(server, { env, home: homedir() }) : undefined),
  };
}
