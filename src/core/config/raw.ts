/** baremetal.json as the schema accepted it, before defaults are filled in (the loader's input). */
import type { ProxyTls, RestartPolicy } from './types';

export interface RawOverrides { env?: Record<string, string>; secrets?: string[]; secretsFile?: string; proxy?: { hosts: string[] } }
export interface RawServer extends RawOverrides { host: string; user?: string; port?: number; identityFile?: string; dockerSocket?: string; stateDir?: string }
export interface RawRollout { batch?: number | string }
export type RawGroup = string[] | (RawOverrides & { servers: string[]; rollout?: RawRollout });
export type RawHealthcheck = false | { port?: number; path?: string; timeoutSeconds?: number; intervalSeconds?: number };
export type RawProxy = {
  hosts: string[]; port: number; tls?: ProxyTls; drainSeconds?: number; image?: string;
  healthcheck?: { path?: string; timeoutSeconds?: number; intervalSeconds?: number };
};
export interface RawSwarm { manager: string; nodes?: string[]; replicas?: number; publish?: 'ingress' | 'host'; timeoutSeconds?: number }
export interface RawRole { servers?: string[]; command?: string[]; ports?: string[]; env?: Record<string, string>; healthcheck?: RawHealthcheck; proxy?: false | RawProxy }
export interface RawConfig {
  app: string;
  servers: Record<string, RawServer>;
  defaultServer?: string;
  build?: { dockerfile?: string; context?: string; args?: Record<string, string>; target?: string; secrets?: string[]; on?: 'local' | 'server' };
  run?: {
    ports?: string[]; env?: Record<string, string>; secrets?: string[]; volumes?: string[]; restart?: RestartPolicy; memory?: string | number; cpus?: number;
    command?: string[]; release?: string[]; shell?: string[]; healthcheck?: RawHealthcheck;
  };
  keep?: number;
  proxy?: RawProxy;
  groups?: Record<string, RawGroup>;
  rollout?: RawRollout;
  roles?: Record<string, RawRole>;
  swarm?: RawSwarm;
}

