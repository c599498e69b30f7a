/**
 * What a deploy asks Swarm to run: the service spec from the config, and the one image reference
 * every node resolves from its own store, with no registry anywhere.
 */
import type { Config, SwarmConfig } from '../config/types';
import type { ServiceSpec } from '../ports';
import { LABEL } from './labels';

/** Never resolves (RFC 2606): a node that tries to pull a tag under it can fetch nothing, from anyone. */
export const NOWHERE_REGISTRY = 'bm.invalid';

/**
 * The reference a service names its image by. An image ID makes no node try a pull, but IDs
 * differ between image stores (the classic store's config digest, the containerd store's
 * manifest digest): with one ID on every node, that ID; otherwise a tag of this deploy's own
 * under a registry that never resolves, which each node has locally (the node's failed pull
 * attempt is logged by Docker and the local image runs).
 */
export function pinnedReference(idsByNode: string[], repo: string, tag: string): { ref: string; byId: boolean } {
  const ids = new Set(idsByNode);
  if (ids.size === 1 && [...ids][0].startsWith('sha256:')) return { ref: [...ids][0], byId: true };
  return { ref: `${NOWHERE_REGISTRY}/${repo}:${tag}`, byId: false };
}

/** Swarm's health check, run inside each task's container: the app's HTTP probe with wget or curl. */
export function serviceHealthcheck(config: Config): ServiceSpec['healthcheck'] {
  const hc = config.run.healthcheck;
  if (!hc) return undefined;
  const port = hc.port ?? config.run.ports.find((p) => p.protocol === 'tcp')?.containerPort;
  if (port === undefined) return undefined;
  // The path comes from baremetal.json (the schema allows URL paths only) and reaches a shell here:
  // quoted for sh, with any single quote closed and escaped.
  const url = `'http://127.0.0.1:${port}${hc.path.replace(/'/g, `'\\''`)}'`;
  return {
    test: ['CMD-SHELL', `wget -q -O /dev/null ${url} || curl -fsS -o /dev/null ${url}`],
    intervalSeconds: Math.max(0.5, hc.intervalSeconds),
    timeoutSeconds: 5,
    retries: 3,
    // Failures while the app starts do not count; the first success makes the task healthy.
    startPeriodSeconds: hc.timeoutSeconds,
  };
}

export function serviceSpec(config: Config & { swarm: SwarmConfig }, image: string, commit: string, secrets: Record<string, string>): ServiceSpec {
  return {
    name: config.app,
    image,
    // Secrets reach the tasks as env only (as with one container); never as labels or argv.
    env: { ...config.run.env, ...secrets },
    labels: { [LABEL.app]: config.app, [LABEL.commit]: commit },
    replicas: config.swarm.replicas,
    ports: config.run.ports,
    publish: config.swarm.publish,
    volumes: config.run.volumes,
    ...(config.run.command && { command: config.run.command }),
    ...(config.run.memoryBytes && { memoryBytes: config.run.memoryBytes }),
    ...(config.run.cpus && { cpus: config.run.cpus }),
    ...(serviceHealthcheck(config) && { healthcheck: serviceHealthcheck(config) }),
  };
}
