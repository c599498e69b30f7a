/**
 * The validated contents of baremetal.json with every default filled in, so the rest of the
 * code never has to know which fields were optional. Produced by `parseConfig` / `loadConfig`.
 */

export interface ServerConfig {
  /** The key under "servers" (what --server NAME refers to). */
  name: string;
  /** A Host of ~/.ssh/config, a host name or an address. */
  host: string;
  user?: string;
  port?: number;
  identityFile?: string;
  /** Absolute path of the Docker daemon's socket on the server. */
  dockerSocket: string;
  /** Deploy history and lock folder on the server, relative to the login's home unless absolute. */
  stateDir: string;
  /** What differs on this server (staging and production from one file); absent when nothing does. */
  overrides?: Overrides;
}

/** What a server or a group may set for its own servers, on top of the app's config. */
export interface Overrides {
  /** Merged over run.env. */
  env?: Record<string, string>;
  /** Added to run.secrets. */
  secrets?: string[];
  /** The NAME=value file secrets come from on these servers, relative to baremetal.json. */
  secretsFile?: string;
  /** Replace proxy.hosts (of every role behind the proxy). */
  proxyHosts?: string[];
}

/** How many servers move at a time; the first batch is the canary. */
export type Batch = { count: number } | { percent: number };

export interface RolloutConfig {
  batch: Batch;
}

export interface GroupConfig {
  name: string;
  /** Server names, in the order written. */
  servers: string[];
  overrides?: Overrides;
  rollout?: RolloutConfig;
}

/** One kind of container from the app's image (web, worker): what differs from run and proxy. */
export interface RoleConfig {
  name: string;
  /** The servers it runs on (groups expanded); undefined: every server deployed to. */
  servers?: string[];
  command?: string[];
  ports?: PortMapping[];
  env?: Record<string, string>;
  healthcheck?: HealthcheckConfig | false;
  /** false: not behind the proxy even when the app has one. */
  proxy?: ProxyConfig | false;
}

export interface PortMapping {
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  /** The text as written in baremetal.json, for messages. */
  spec: string;
}

export interface VolumeMapping {
  /** A Docker volume name, or an absolute path on the server for a bind mount. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readOnly: boolean;
  kind: 'volume' | 'bind';
  spec: string;
}

export interface HealthcheckConfig {
  /** The container port to probe; undefined means the first published container port. */
  port?: number;
  path: string;
  timeoutSeconds: number;
  intervalSeconds: number;
}

export type RestartPolicy = 'no' | 'always' | 'unless-stopped' | 'on-failure';

/** How the proxy serves an app's hosts: ACME certificates, Caddy's own CA, plain HTTP, or a pair from secrets. */
export type ProxyTls = 'auto' | 'internal' | 'off' | { cert: string; key: string };

/**
 * The app behind the server's shared reverse proxy (Caddy): routed by host name, on no host
 * port, switched only once the new version is healthy.
 */
export interface ProxyConfig {
  hosts: string[];
  /** The app's port inside the container. */
  port: number;
  tls: ProxyTls;
  healthcheck: { path: string; timeoutSeconds: number; intervalSeconds: number };
  /** How long requests in flight on the old version may take to finish after the switch. */
  drainSeconds: number;
  /** The proxy's image (default the official caddy:2). */
  image: string;
}

/**
 * The app as a Docker Swarm service: the manager creates and updates it, Swarm rolls it out
 * (start-first, health-checked, rolled back by itself on failure); every node is sent the image.
 */
export interface SwarmConfig {
  /** The server that is a swarm manager; it keeps the app's history and lock. */
  manager: string;
  /** Every server that is a node, the manager first (each is sent the image over its own connection). */
  nodes: string[];
  replicas: number;
  /** run.ports through Swarm's routing mesh, or on each node's own task only. */
  publish: 'ingress' | 'host';
  timeoutSeconds: number;
}

export interface Config {
  /** Path of baremetal.json as it was given to the loader. */
  file: string;
  /** Absolute folder of baremetal.json; build paths and .baremetal.secrets are relative to it. */
  dir: string;
  app: string;
  servers: Record<string, ServerConfig>;
  defaultServer?: string;
  build: {
    dockerfile: string;
    context: string;
    args: Record<string, string>;
    target?: string;
    /** Names of build secrets (RUN --mount=type=secret,id=NAME): values resolved like run.secrets. */
    secrets: string[];
    /** Where the image is built: the developer's engine, or the server's own. */
    on: 'local' | 'server';
  };
  run: {
    ports: PortMapping[];
    env: Record<string, string>;
    /** Names only: values are resolved at deploy time by `resolveSecrets`. */
    secrets: string[];
    volumes: VolumeMapping[];
    restart: RestartPolicy;
    /** Memory limit in bytes (run.memory "512m"); unset: none. */
    memoryBytes?: number;
    /** CPU limit in CPUs (run.cpus 0.5); unset: none. */
    cpus?: number;
    command?: string[];
    /** A one-off command run in a new container of the new image before traffic moves (migrations). */
    release?: string[];
    /** The shell Open Shell and `exec` with no command start (unset: bash, else sh). */
    shell?: string[];
    healthcheck: HealthcheckConfig | false;
  };
  keep: number;
  /** Set: deploys go through the server's proxy (zero downtime); unset: today's stop-and-start swap. */
  proxy?: ProxyConfig;
  /** Named groups of servers (--server GROUP). */
  groups?: Record<string, GroupConfig>;
  /** How a deploy to several servers proceeds; absent: all at once (batches for large fleets). */
  rollout?: RolloutConfig;
  /** Several containers from the one image; absent: one container named after the app. */
  roles?: Record<string, RoleConfig>;
  /**
   * The image's repository when it differs from `app`: a role's config (app "shop-web") runs the
   * app's image ("shop"), built and sent once for every role.
   */
  image?: string;
  /** Set in a role's config: which role it is. */
  role?: string;
  /** Where secret values are read from besides the environment, relative to `dir` (default .baremetal.secrets). */
  secretsFile?: string;
  /** Set: the app is a Swarm service (swarm.ts), not containers per server. */
  swarm?: SwarmConfig;
}

/** The image repository a config runs: the app's own unless it is a role's. */
export function imageName(config: Pick<Config, 'app' | 'image'>): string {
  return config.image ?? config.app;
}
