import { readFileSync } from 'node:fs';
import https from 'node:https';
import Docker from 'dockerode';
import { BmError } from '../../core/errors';
import { withTimeout } from '../../core/time';
import { BUILD_ON_SERVER, endpointLabel, resolveLocalEngine, tilde, type Endpoint, type ResolveOptions } from './local-engine';

export interface ConnectOptions extends ResolveOptions {
  /** How long each candidate may take to answer GET /_ping. */
  timeoutMs?: number;
  /** Replaces GET /_ping (tests). */
  ping?: (docker: Docker, endpoint: Endpoint) => Promise<void>;
}

export interface LocalEngine {
  docker: Docker;
  endpoint: Endpoint;
}

interface Failure {
  endpoint: Endpoint;
  why: string;
  code?: string;
}

const OR_START = `${BUILD_ON_SERVER}, or start Docker here`;

/**
 * The first candidate of resolveLocalEngine that answers, tried in order (a stale socket of an
 * engine that is not running refuses at once, so trying one after another costs little).
 */
export async function connectLocalEngine(opts: ConnectOptions): Promise<LocalEngine> {
  const { candidates, explicit } = resolveLocalEngine(opts);
  const timeoutMs = opts.timeoutMs ?? 3000;
  const ping = opts.ping ?? (async (docker: Docker) => void (await docker.ping()));
  const failures: Failure[] = [];
  for (const endpoint of candidates) {
    if (endpoint.host.startsWith('ssh://')) {
      // dockerode's ssh mode would open a new SSH connection for every API call; not worth it yet.
      if (explicit) throw new BmError('LocalDockerUnavailable', `${capital(endpoint.source)} points at ${endpoint.host}, and the local builder cannot use ssh:// engines yet: point it at a unix:// socket or a tcp:// address, or ${BUILD_ON_SERVER}.`);
      failures.push({ endpoint, why: 'ssh://, not supported here yet' });
      continue;
    }
    let options: Docker.DockerOptions;
    try {
      options = dockerOptions(endpoint);
    } catch (e) {
      failures.push({ endpoint, why: e instanceof Error ? e.message : String(e) });
      continue;
    }
    // The probe alone gets a socket timeout: on the engine kept, a quiet build step may last minutes.
    const probe = new Docker({ ...options, timeout: timeoutMs });
    try {
      await withTimeout(ping(probe, endpoint), timeoutMs, () => Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
      return { docker: new Docker(options), endpoint };
    } catch (e) {
      failures.push({ endpoint, why: reason(e, timeoutMs), code: (e as { code?: string }).code });
    }
  }
  throw nobodyAnswered(failures, explicit, opts.home);
}

/**
 * connectLocalEngine, run on the first call and its answer kept (concurrent first calls share
 * it); a failure is not kept, so the next call looks again: Docker may have been started since.
 */
export function localEngineFinder(env: NodeJS.ProcessEnv, home: string): () => Promise<LocalEngine> {
  let pending: Promise<LocalEngine> | undefined;
  return () =>
    (pending ??= connectLocalEngine({ env, home }).catch((e: unknown) => {
      pending = undefined;
      throw e;
    }));
}

/**
 * dockerode's options for an endpoint. Every field is given, because dockerode fills the ones
 * left out from process.env.DOCKER_HOST, which need not be the environment resolved here.
 */
export function dockerOptions(endpoint: Endpoint): Docker.DockerOptions {
  const none = { host: undefined, port: undefined, protocol: undefined, ca: undefined, cert: undefined, key: undefined, timeout: undefined };
  const { host } = endpoint;
  if (host.startsWith('unix://')) return { ...none, socketPath: host.slice('unix://'.length) || '/var/run/docker.sock' };
  if (host.startsWith('npipe://')) return { ...none, socketPath: host.slice('npipe://'.length) || '//./pipe/docker_engine' };
  if (!host.startsWith('tcp://')) throw new Error(`${host} is not a unix://, npipe:// or tcp:// address`);
  const url = new URL(host);
  const tls = endpoint.tls;
  const base = { ...none, host: url.hostname, port: Number(url.port) || (tls ? 2376 : 2375), pathPrefix: url.pathname || '/' };
  if (!tls) return { ...base, protocol: 'http' } as Docker.DockerOptions;
  const pem = { ca: read(tls.ca), cert: read(tls.cert), key: read(tls.key) };
  // dockerode has no "do not check the certificate" switch; an agent of our own carries it.
  const agent = tls.verify ? undefined : new https.Agent({ ...pem, rejectUnauthorized: false });
  return { ...base, protocol: 'https', ...pem, agent } as Docker.DockerOptions;
}

/**
 * The sentence for a connection error of a later call, once the engine had been found (it may
 * have stopped since); anything else is returned as it is.
 */
export function engineLost(e: unknown, endpoint: Endpoint | undefined): unknown {
  const code = (e as { code?: string }).code ?? '';
  // EPIPE and ECONNRESET: a kept-alive connection to an engine that has stopped since.
  if (!['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPIPE', 'ECONNRESET'].includes(code)) return e;
  if (code === 'EACCES' && endpoint) return denied(endpoint, '');
  const where = endpoint ? `of ${endpointLabel(endpoint)}` : 'on this machine';
  return new BmError('LocalDockerUnavailable', `The Docker Engine ${where} stopped answering (${reason(e, 0)}): ${OR_START}.`, undefined, { cause: e });
}

function nobodyAnswered(failures: Failure[], explicit: boolean, home: string): BmError {
  // A socket we may not open is the answer, whatever else was tried: the engine runs.
  const refused = failures.find((f) => f.code === 'EACCES');
  if (refused) return denied(refused.endpoint, home);
  const item = (f: Failure) => `${f.endpoint.source} ${shortHost(f.endpoint, home)} (${f.why})`;
  if (explicit && failures.length === 1) {
    return new BmError('LocalDockerUnavailable', `No Docker Engine answers at ${item(failures[0])}: ${OR_START}.`);
  }
  // Three in full, the rest by name only, to keep the sentence one a user reads.
  const shown = failures.slice(0, 3).map(item);
  const rest = [...new Set(failures.slice(3).map((f) => f.endpoint.source))];
  const looked = shown.join(', ') + (rest.length ? `, and the sockets of ${rest.join(', ')}` : '');
  return new BmError('LocalDockerUnavailable', `No Docker Engine answers on this machine (looked at ${looked}): ${OR_START}.`);
}

function denied(endpoint: Endpoint, home: string): BmError {
  return new BmError(
    'LocalDockerUnavailable',
    `Cannot use the Docker Engine of ${endpoint.source}, permission denied on ${shortHost(endpoint, home)}: add your user to the docker group (sudo usermod -aG docker $USER) and log in again, or ${BUILD_ON_SERVER}.`,
  );
}

function reason(e: unknown, timeoutMs: number): string {
  const { code, statusCode } = e as { code?: string; statusCode?: number };
  if (code === 'ENOENT') return 'no such socket';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EPIPE' || code === 'ECONNRESET') return 'connection broken';
  if (code === 'ETIMEDOUT') return `no answer within ${Math.round(timeoutMs / 100) / 10} s`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host name';
  if (statusCode) return `HTTP ${statusCode} to GET /_ping`;
  return e instanceof Error ? e.message : String(e);
}

/** A socket as its path (home shortened), anything else as its address. */
function shortHost(endpoint: Endpoint, home: string): string {
  return tilde(endpoint.host.startsWith('unix://') ? endpoint.host.slice('unix://'.length) : endpoint.host, home);
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function read(file: string | undefined): Buffer | undefined {
  return file ? readFileSync(file) : undefined;
}
