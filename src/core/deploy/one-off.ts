import type { Config } from '../config/types';
import type { ContainerSpec } from '../ports';
import { PROXY_NETWORK } from '../proxy/proxy';
import { limits } from './swap';

/**
 * A one-off container of the app's image (run.release, `baremetal run`, Run Command…): the app's
 * env, its secrets (as env only, never argv or labels) and its volumes; no port, no restart; on
 * the proxy's network when the app is behind it, so it reaches what the app reaches; with the app's CPU and memory limits.
 */
export function oneOffSpec(config: Config, o: { name: string; image: string; command: string[]; secrets: Record<string, string>; labels: Record<string, string> }): ContainerSpec {
  return {
    name: o.name,
    image: o.image,
    env: { ...config.run.env, ...o.secrets },
    labels: o.labels,
    ports: [],
    volumes: config.run.volumes,
    restart: 'no',
    command: o.command,
    ...limits(config),
    ...(config.proxy ? { network: { name: PROXY_NETWORK, aliases: [] } } : {}),
  };
}
