/**
 * The interfaces the deploy engine works through. The core only sees these; the drivers
 * (ssh2, dockerode, git) implement them, and unit tests implement them with fakes.
 */
import type { Duplex, Readable } from 'node:stream';
import type { PortMapping, VolumeMapping } from './config/types';
import type { ResourceSample } from './stats/sample';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type Phase = 'connect' | 'build' | 'ship' | 'start' | 'health' | 'release' | 'switch' | 'drain' | 'prune' | 'record';

export interface ProgressEvent {
  phase: Phase;
  message: string;
  /** For the ship phase: bytes sent so far. */
  bytes?: number;
}

export type ProgressSink = (event: ProgressEvent) => void;

export interface CommitInfo {
  sha: string;
  subject: string;
  author: string;
  /** ISO 8601 commit date. */
  date: string;
}

/** The workspace's git repository. */
export interface Repo {
  readonly root: string;
  resolveCommit(ref: string): Promise<CommitInfo>;
  /** Paths with uncommitted changes (tracked or untracked, not ignored). */
  uncommittedPaths(): Promise<string[]>;
  /** Every file of the working tree git knows or would add (tracked + untracked, not ignored). */
  trackedAndUntracked(): Promise<string[]>;
  /** A tar stream of the commit's tree, exactly as committed. */
  archive(sha: string, signal?: AbortSignal): Readable;
  /** A file's contents at a commit, or undefined when it is not there. */
  fileAtCommit(sha: string, path: string): Promise<Buffer | undefined>;
  recentCommits(count: number): Promise<CommitInfo[]>;
}

export interface ImageInfo {
  id: string;
  tags: string[];
  labels: Record<string, string>;
  /** ISO 8601. */
  created: string;
  size: number;
  /** diffIDs of the layers, bottom first (known from an inspect, not from a listing). */
  layers?: string[];
  /** What the image runs on, e.g. "linux/amd64" or "linux/arm64/v8" (from an inspect). */
  platform?: string;
}

export interface BuildRequest {
  context: Readable;
  tag: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  /** Build for this platform ("linux/amd64"): the server's. */
  platform?: string;
  /** Build secrets by id: they reach the build only as RUN --mount=type=secret, never argv or layers. */
  secrets?: Record<string, string>;
}

/** How an image gets built: the docker CLI's buildx, the Engine API's BuildKit, or its legacy builder. */
export type BuilderKind = 'buildx' | 'buildkit' | 'legacy';

/** The engine where images are built: the developer's own, or the server's (build.on "server"). */
export interface Builder {
  /** Where and how it builds, for the history and the output ("buildx on Colima (unix:///…)"). */
  describe?(): Promise<string>;
  image(tag: string): Promise<ImageInfo | undefined>;
  build(req: BuildRequest, onOutput: (line: string) => void, signal?: AbortSignal): Promise<ImageInfo>;
  /** `docker save` of one image as a stream (never buffered whole). */
  save(tag: string, signal?: AbortSignal): Promise<Readable>;
}

export type ContainerState = 'created' | 'running' | 'restarting' | 'paused' | 'exited' | 'dead' | 'removing';

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  imageId: string;
  state: ContainerState;
  labels: Record<string, string>;
  /** ISO 8601, when running. */
  startedAt?: string;
  exitCode?: number;
  /** From the image's HEALTHCHECK, when it has one. */
  health?: 'starting' | 'healthy' | 'unhealthy';
  restartCount?: number;
  /** The container's address on its network, for health checks of unpublished ports. */
  ipAddress?: string;
  /** Its CPU limit (run.cpus), when it has one. */
  cpus?: number;
}

export interface ContainerSpec {
  name: string;
  image: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  ports: PortMapping[];
  volumes: VolumeMapping[];
  restart: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  command?: string[];
  /** A user-defined network to join, with DNS names other containers there find it by. */
  network?: { name: string; aliases: string[] };
  /** Memory limit in bytes (HostConfig.Memory; swap is held to the same, so the limit is real). */
  memoryBytes?: number;
  /** CPU limit in CPUs, e.g. 0.5 (HostConfig.NanoCpus). */
  cpus?: number;
  /** "uid:gid" to run as (the proxy runs as the SSH user, so its files and socket are theirs). */
  user?: string;
  /** resolv.conf options inside the container ("ndots:1"). */
  dnsOptions?: string[];
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  text: string;
  /** ISO 8601 from Docker, when timestamps were asked for. */
  time?: string;
}

export interface LogOptions {
  follow: boolean;
  tail?: number;
  since?: string;
  timestamps?: boolean;
}

export interface TerminalSize {
  rows: number;
  columns: number;
}

/** A process to run in a container, attached: its input, its output, its exit code. */
export interface ProcessRequest {
  /** The program and its arguments (never a shell string). */
  command: string[];
  /** A pseudo-terminal: one output stream, colours, Ctrl-C as a byte the terminal turns into SIGINT. */
  tty: boolean;
  /** Attach stdin (a TTY always does). */
  stdin: boolean;
  /** The terminal's size at the start (a TTY only). */
  size?: TerminalSize;
}

/**
 * A process running in a container over the server's connection. Output is buffered until the
 * first onData listener, so nothing printed at the start is lost.
 */
export interface ProcessSession {
  /** Output as it comes: with a TTY everything is 'stdout'. */
  onData(listener: (chunk: Buffer, stream: 'stdout' | 'stderr') => void): void;
  write(data: string | Uint8Array): void;
  /** Ends the process's stdin (a pipe's end). */
  endInput(): void;
  resize(size: TerminalSize): Promise<void>;
  /** Sends a signal to the process and what it started (without a TTY, Ctrl-C has no byte to travel as). */
  signal(name: 'INT' | 'TERM' | 'HUP'): Promise<void>;
  /** The exit code; rejects with ConnectionLost when the connection dropped first. */
  readonly exit: Promise<number>;
  /** Ends the session: hangs up the process (a one-off container is removed); never throws. */
  close(): Promise<void>;
}

/** This engine's place in a swarm (GET /info's Swarm part). */
export interface SwarmMembership {
  /** "active" when it is a node; "inactive", "pending", "error" or "locked" otherwise. */
  state: string;
  nodeId: string;
  isManager: boolean;
}

/** A node as the manager lists it. Nodes are told apart by ID and address, never by hostname. */
export interface SwarmNode {
  id: string;
  /** The address other nodes reach it at. */
  addr: string;
  role: 'manager' | 'worker';
  /** "ready", "down", "unknown" or "disconnected". */
  state: string;
  availability: 'active' | 'pause' | 'drain';
  engineVersion?: string;
}

/** What a Swarm service runs: one image (by a reference every node resolves locally) as N tasks. */
export interface ServiceSpec {
  name: string;
  image: string;
  env: Record<string, string>;
  /** On the service and on each task's container (bm.app, bm.commit…). */
  labels: Record<string, string>;
  replicas: number;
  ports: PortMapping[];
  /** Swarm's routing mesh, or each node's own task only. */
  publish: 'ingress' | 'host';
  volumes: VolumeMapping[];
  command?: string[];
  memoryBytes?: number;
  cpus?: number;
  /** Run inside the container by Swarm; a task counts as running only once it passes. */
  healthcheck?: { test: string[]; intervalSeconds: number; timeoutSeconds: number; retries: number; startPeriodSeconds: number };
}

export interface ServiceInfo {
  id: string;
  /** The object version an update must name (optimistic concurrency). */
  version: number;
  image: string;
  labels: Record<string, string>;
  replicas?: number;
  /** Swarm's last rolling update: "updating", "completed", "paused", "rollback_started", "rollback_completed"… */
  update?: { state: string; message?: string };
}

export interface TaskInfo {
  id: string;
  nodeId: string;
  slot?: number;
  image: string;
  /** The task's container labels (bm.commit of the deploy that made it). */
  labels: Record<string, string>;
  desiredState: string;
  /** "new", "pending", "preparing", "starting", "running", "failed", "shutdown", "rejected"… */
  state: string;
  message?: string;
  error?: string;
  /** ISO 8601 of its last state change. */
  since: string;
}

/** The Swarm API of an engine that is a node (the service calls work on a manager only). */
export interface SwarmEngine {
  membership(): Promise<SwarmMembership>;
  nodes(): Promise<SwarmNode[]>;
  service(name: string): Promise<ServiceInfo | undefined>;
  /** Created with no registry credentials: every node must have the image already. */
  createService(spec: ServiceSpec): Promise<string>;
  updateService(id: string, version: number, spec: ServiceSpec): Promise<void>;
  tasks(service: string): Promise<TaskInfo[]>;
  /** Every task's output, merged by Swarm (from whichever nodes run them). */
  serviceLogs(service: string, opts: LogOptions, signal?: AbortSignal): AsyncIterable<LogLine>;
  removeService(id: string): Promise<void>;
}

/** The server's Docker Engine, reached over the server's one SSH connection. */
export interface Engine {
  image(ref: string): Promise<ImageInfo | undefined>;
  images(labelFilter: Record<string, string>): Promise<ImageInfo[]>;
  /** `docker load` from a stream; `onBytes` counts what went on the wire. */
  load(tar: Readable, onBytes: (total: number) => void, signal?: AbortSignal): Promise<void>;
  /** Pulls `ref` (from the tunnelled registry); the engine fetches only the layers it lacks. */
  pull(ref: string, signal?: AbortSignal): Promise<void>;
  /** Chain IDs of every layer of every image the engine has (what a load may skip). */
  layerChains(): Promise<Set<string>>;
  tagImage(ref: string, repo: string, tag: string): Promise<void>;
  removeImage(ref: string): Promise<void>;
  containers(labelFilter: Record<string, string>): Promise<ContainerInfo[]>;
  container(id: string): Promise<ContainerInfo | undefined>;
  create(spec: ContainerSpec): Promise<string>;
  start(id: string): Promise<void>;
  stop(id: string, timeoutSeconds: number): Promise<void>;
  remove(id: string): Promise<void>;
  logs(id: string, opts: LogOptions, signal?: AbortSignal): AsyncIterable<LogLine>;
  /**
   * The container's CPU, memory and network, one reading a second (Podman: every 5 s) until it
   * stops or `signal` aborts; aborting closes the HTTP stream (and its SSH channel) at once.
   * Optional so fakes may omit it.
   */
  stats?(id: string, signal: AbortSignal): AsyncIterable<ResourceSample>;
  /** Renames a container (its DNS name on user-defined networks follows at once). */
  rename?(id: string, name: string): Promise<void>;
  /** Creates the bridge network unless it exists. */
  ensureNetwork?(name: string): Promise<void>;
  /** Waits until the container exits; its exit code. */
  wait?(id: string, signal?: AbortSignal): Promise<number>;
  /**
   * Runs a process in a running container (the Engine API's exec, hijacked over the connection).
   * A program the image lacks is a CommandNotFound error, never a session.
   */
  exec?(container: string, req: ProcessRequest): Promise<ProcessSession>;
  /** Creates, attaches and starts a one-off container (removed once it exits); CommandNotFound likewise. */
  runOneOff?(spec: ContainerSpec, req: Omit<ProcessRequest, 'command'>): Promise<ProcessSession>;
  /** An HTTP GET made from the server itself (through the SSH connection). */
  httpGet(host: string, port: number, path: string, timeoutMs: number): Promise<number>;
  /** The server's OS and CPU as image platforms name them ("linux", "arm", "v7"); optional so fakes may omit it. */
  platform?(): Promise<{ os: string; architecture: string; variant?: string }>;
  /** Docker's Swarm API on this engine; absent where there is none (Podman, fakes). */
  readonly swarm?: SwarmEngine;
}

/** Small files on the server (history, lock), written atomically. */
/**
 * Whether a lock's holder still exists: its SSH connection's process on the server. A holder
 * killed (kill -9, a cut link, a laptop gone to sleep) leaves its lock behind; when its
 * connection is gone on the server, nobody waits out its lease.
 */
export interface SessionProbe {
  /** This client's session, to write into the lock. */
  mine(): Promise<string | undefined>;
  /** false only when the session is known to be gone; undefined when it cannot be told. */
  alive(session: string): Promise<boolean | undefined>;
  /**
   * The server's clock minus this machine's, ms. Leases are written and judged on the server's
   * clock, so two clients whose clocks differ by minutes neither steal a live lock nor wait
   * out a dead one for longer than its lease.
   */
  clockOffsetMs?(): Promise<number>;
  /**
   * Ends a gone holder's connection on the server, if its sshd still runs there. After a link
   * that went silent the server never learns the client left: that connection would keep the
   * remote forward of its image transfer open, and the engine's half-done download of a layer,
   * which the next pull of the same layer would wait on forever.
   */
  endStale?(session: string): Promise<void>;
}

export interface ServerFiles {
  read(path: string): Promise<string | undefined>;
  /** Write to a temporary file and rename over `path`. */
  /** `secret`: readable by the login only (0600), e.g. a TLS private key. */
  writeAtomic(path: string, content: string, opts?: { secret?: boolean }): Promise<void>;
  /** Create `path` only if it does not exist; false when it does. */
  createExclusive(path: string, content: string): Promise<boolean>;
  /**
   * Removes `path` only if it still reads exactly `expected`, in one step on the server: of two
   * clients taking over the same stale lock, one gets true; the other false, and never removes
   * the lock the first has just created. False too when the file is gone or has changed.
   */
  takeOver(path: string, expected: string): Promise<boolean>;
  remove(path: string): Promise<void>;
  mkdirp(dir: string): Promise<void>;
}

/** A port on the server's loopback whose connections arrive here (an SSH remote forward). */
export interface ReverseTunnel {
  port: number;
  close(): Promise<void>;
}

/** A connected server: its engine and its files over one SSH connection. */
export interface Server {
  readonly name: string;
  readonly engine: Engine;
  readonly files: ServerFiles;
  /** user@host of the server, for the history. */
  readonly address: string;
  /** Opens 127.0.0.1:<random port> on the server, handing each connection to `onConnection`. */
  reverseTunnel(onConnection: (socket: Duplex) => void): Promise<ReverseTunnel>;
  /** False once the SSH connection has dropped (then nothing more can be done through it). */
  isConnected?(): boolean;
  /** A connection to a unix socket on the server (stream-local forwarding), e.g. the proxy's admin API. */
  connectSocket?(path: string): Promise<Duplex>;
  /** The login's home folder and ids on the server ("/home/deploy", "1001:1001"). */
  identity?(): Promise<{ home: string; uid: number; gid: number }>;
  /** Tells whether another client's SSH connection to this server still exists (stale locks). */
  sessions?: SessionProbe;
}
