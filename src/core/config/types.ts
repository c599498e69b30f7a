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
}
