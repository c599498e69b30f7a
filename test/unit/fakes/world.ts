import type { Config, HealthcheckConfig, PortMapping } from '../../../src/core/config/types';
import type { Server } from '../../../src/core/ports';
import type { FakeEngine } from './engine';
import type { MemoryFiles } from './files';

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
