import type { Config, HealthcheckConfig, PortMapping } from '../../../src/core/config/types';
import type { DeployDeps } from '../../../src/core/deploy/deploy';
import type { Server } from '../../../src/core/ports';
import { FakeBuilder } from './builder';
import { FakeEngine } from './engine';
import { MemoryFiles } from './files';
import { CollectingLogger, collectProgress } from './logger';
import { FakeRepo } from './repo';

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
    build: { dockerfile: 'Dockerfile', context: '.', args: {}, ...over.build },
    run: { ports: [port(8080, 80)], env: { NODE_ENV: 'production' }, secrets: [], volumes: [], restart: 'unless-stopped', healthcheck: FAST_CHECK, ...over.run },
    keep: over.keep ?? 5,
  };
}

export function makeServer(engine: FakeEngine, files: MemoryFiles): Server {
  return { name: 'prod', engine, files, address: 'deploy@prod-box' };
}

/** Everything deploy() and rollback() need, all fake: server "prod" with engine and files, repo, builder. */
export function deployWorld(files: Record<string, string>, over: Parameters<typeof makeConfig>[0] = {}) {
  const engine = new FakeEngine();
  const serverFiles = new MemoryFiles();
  const repo = new FakeRepo('/work/project');
  const builder = new FakeBuilder();
  const logger = new CollectingLogger();
  const progress = collectProgress();
  const first = repo.commit('first commit', files);
  const config = makeConfig({ dir: repo.root, ...over });
  const deps: DeployDeps = {
    config,
    server: makeServer(engine, serverFiles),
    serverName: 'prod',
    repo,
    builder,
    secrets: { API_TOKEN: 't0k3n' },
    logger,
    progress,
    who: 'alice@laptop',
  };
  return { engine, files: serverFiles, repo, builder, logger, progress, config, deps, first };
}
