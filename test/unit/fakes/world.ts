import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config, HealthcheckConfig, PortMapping } from '../../../src/core/config/types';
import type { DeployDeps } from '../../../src/core/deploy/deploy';
import { LayerCache } from '../../../src/core/transfer/layer-cache';
import { FakeBuilder } from './builder';
import { FakeEngine } from './engine';
import { MemoryFiles } from './files';
import { CollectingLogger, collectProgress } from './logger';
import { FakeRepo } from './repo';
import { FakeServer } from './server';

export const FAST_CHECK: HealthcheckConfig = { path: '/health', timeoutSeconds: 1, intervalSeconds: 0.05 };

export function port(hostPort: number, containerPort: number, hostIp?: string, protocol: 'tcp' | 'udp' = 'tcp'): PortMapping {
  const spec = `${hostIp ? `${hostIp}:` : ''}${hostPort}:${containerPort}${protocol === 'udp' ? '/udp' : ''}`;
  return { hostPort, containerPort, protocol, spec, ...(hostIp ? { hostIp } : {}) };
}

/** A config as parseConfig would return it, app "web" on server "prod", fast health checks. */
export function makeConfig(over: { run?: Partial<Config['run']>; build?: Partial<Config['build']>; keep?: number; dir?: string } = {}): Config {
  const dir = over.dir ?? '/work/project';
  return {
    file: `${dir}/baremetal.json`,
    dir,
    app: 'web',
    servers: { prod: { name: 'prod', host: 'prod-box', dockerSocket: '/var/run/docker.sock', stateDir: '.baremetal' } },
    build: { dockerfile: 'Dockerfile', context: '.', args: {}, secrets: [], on: 'local', ...over.build },
    run: { ports: [port(8080, 80)], env: { NODE_ENV: 'production' }, secrets: [], volumes: [], restart: 'unless-stopped', healthcheck: FAST_CHECK, ...over.run },
    keep: over.keep ?? 5,
  };
}

export function makeServer(engine: FakeEngine, files: MemoryFiles): FakeServer {
  return new FakeServer(engine, files);
}

const tempDirs: string[] = [];
/** A fresh folder, removed when the test process exits. */
export function tempDir(prefix = 'bm-test-'): string {
  if (tempDirs.length === 0) process.on('exit', () => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** An empty layer cache of this machine, in its own folder. */
export function tempCache(): LayerCache {
  return new LayerCache(join(tempDir('bm-cache-'), 'layers'));
}

/** Everything deploy() and rollback() need, all fake: server "prod" with engine and files, repo, builder, an empty layer cache. */
export function deployWorld(files: Record<string, string>, over: Parameters<typeof makeConfig>[0] = {}) {
  const engine = new FakeEngine();
  const serverFiles = new MemoryFiles();
  const server = makeServer(engine, serverFiles);
  const cache = tempCache();
  const repo = new FakeRepo('/work/project');
  const builder = new FakeBuilder();
  const logger = new CollectingLogger();
  const progress = collectProgress();
  const first = repo.commit('first commit', files);
  const config = makeConfig({ dir: repo.root, ...over });
  const deps: DeployDeps = {
    config,
    server,
    serverName: 'prod',
    repo,
    builder,
    secrets: { API_TOKEN: 't0k3n' },
    logger,
    progress,
    who: 'alice@laptop',
    cache,
  };
  return { engine, server, files: serverFiles, repo, builder, logger, progress, config, deps, first, cache };
}
