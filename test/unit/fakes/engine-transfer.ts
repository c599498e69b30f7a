/**
 * How the fake engine receives images, checked as strictly as the real one: `docker load` of an
 * archive (layers it has by chain may be missing from it, any other missing or corrupt layer is
 * refused), and `docker pull` from a registry on its loopback, over real HTTP, fetching only
 * the blobs it lacks and verifying every digest.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { BmError } from '../../../src/core/errors';
import { asSocket } from '../../../src/core/socket-shim';
import { chainIds } from '../../../src/core/transfer/chain';
import { collect, sha256, type ImageConfigJson } from './image-tar';
import type { Loopback } from './server';

/** An image that arrived: what the engine adds. */
export interface ArrivedImage {
  id: string;
  tags: string[];
  labels: Record<string, string>;
  diffIds: string[];
  /** DiffIDs of the layers that crossed the link (the others the engine had). */
  received: string[];
}

/** What the engine has, asked while an image arrives. */
export interface LayerStore {
  hasChain(chain: string): boolean;
  hasImage(id: string): boolean;
}

const failed = (what: 'load' | 'pull', message: string) => new BmError('TransferFailed', `The server could not ${what} the image: ${message}`);

/** A layer blob as the engine stores it: gzip is detected by its magic bytes, as moby does. */
function unpack(blob: Buffer): Buffer {
  return blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
}

function parseConfig(config: Buffer, what: 'load' | 'pull'): ImageConfigJson {
  const json = JSON.parse(config.toString('utf8')) as ImageConfigJson;
  if (!Array.isArray(json.rootfs?.diff_ids)) throw failed(what, 'invalid image config: no rootfs.diff_ids');
  return json;
}

/** `docker load` of the entries of an archive (moby image/tarexport/load.go). */
export function loadEntries(entries: Map<string, Buffer>, store: LayerStore): ArrivedImage {
  const tmp = '/var/lib/docker/tmp/docker-import-4242';
  const manifest = entries.get('manifest.json');
  if (!manifest) throw failed('load', `open ${tmp}/repositories: no such file or directory`);
  const [m] = JSON.parse(manifest.toString('utf8')) as { Config: string; RepoTags?: string[]; Layers: string[] }[];
  const config = entries.get(m.Config);
  if (!config) throw failed('load', `open ${tmp}/${m.Config}: no such file or directory`);
  const diffIds = parseConfig(config, 'load').rootfs.diff_ids;
  if (diffIds.length !== m.Layers.length) throw failed('load', 'invalid manifest, layers length mismatch');
  const chains = chainIds(diffIds);
  const received: string[] = [];
  for (const [i, name] of m.Layers.entries()) {
    if (store.hasChain(chains[i])) continue; // the layer file is never opened
    const blob = entries.get(name);
    if (!blob) throw failed('load', `open ${tmp}/${name}: no such file or directory`);
    const diffId = sha256(unpack(blob));
    if (diffId !== diffIds[i]) throw failed('load', `invalid diffID for layer ${i}: expected "${diffIds[i]}", got "${diffId}"`);
    received.push(diffId);
  }
  const labels = (JSON.parse(config.toString('utf8')) as ImageConfigJson).config?.Labels ?? {};
  return { id: sha256(config), tags: m.RepoTags ?? [], labels, diffIds, received };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP GET over a new connection to the loopback (the registry gets the other end). */
function get(socket: Duplex, path: string, signal?: AbortSignal, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', path, method: 'GET', headers, signal, createConnection: () => asSocket(socket) as Socket },
      (res) => collect(res).then((body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }), reject),
    );
    req.on('error', reject);
    req.end();
  });
}

const ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json';

export interface PullOptions {
  loopback: Loopback;
  store: LayerStore;
  signal?: AbortSignal;
  /** The engine cannot reach its own loopback (rootless, or in another network namespace). */
  unreachable?: boolean;
  /** Every request made, "GET <path>", in order. */
  requests: string[];
}

/** `docker pull 127.0.0.1:<port>/<repository>:<tag>` from a registry on the server's loopback. */
export async function pullOverLoopback(ref: string, o: PullOptions): Promise<ArrivedImage> {
  const m = /^127\.0\.0\.1:(\d+)\/(.+):([\w.-]+)$/.exec(ref);
  if (!m) throw failed('pull', `invalid reference format: ${ref}`);
  const [, port, repository, tag] = m;
  const call = async (path: string, headers?: Record<string, string>): Promise<Reply> => {
    const dial = `Get "http://127.0.0.1:${port}${path}": dial tcp 127.0.0.1:${port}: connect: connection refused`;
    if (o.unreachable) throw failed('pull', dial);
    let socket: Duplex;
    try {
      socket = o.loopback.connect(Number(port));
    } catch {
      throw failed('pull', dial);
    }
    o.requests.push(`GET ${path}`);
    return get(socket, path, o.signal, headers);
  };
  const blob = async (digest: string): Promise<Buffer> => {
    const r = await call(`/v2/${repository}/blobs/${digest}`);
    if (r.status !== 200) throw failed('pull', `blob ${digest}: HTTP ${r.status}`);
    if (sha256(r.body) !== digest) throw failed('pull', `filesystem layer verification failed for digest ${digest}`);
    return r.body;
  };

  const ping = await call('/v2/');
  if (ping.status !== 200 || ping.headers['docker-distribution-api-version'] !== 'registry/2.0') throw failed('pull', `no registry at 127.0.0.1:${port} (HTTP ${ping.status})`);
  const man = await call(`/v2/${repository}/manifests/${tag}`, { Accept: ACCEPT });
  if (man.status !== 200) throw failed('pull', `manifest for ${ref} not found: HTTP ${man.status}`);
  if (man.headers['content-type'] !== 'application/vnd.docker.distribution.manifest.v2+json') throw failed('pull', `unsupported manifest type ${man.headers['content-type']}`);
  if (man.headers['docker-content-digest'] !== sha256(man.body)) throw failed('pull', 'manifest verification failed');
  const manifest = JSON.parse(man.body.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };

  // An image the engine has (same config, same ID) is only tagged: nothing more is fetched.
  if (o.store.hasImage(manifest.config.digest)) return { id: manifest.config.digest, tags: [ref], labels: {}, diffIds: [], received: [] };
  const config = await blob(manifest.config.digest);
  const json = parseConfig(config, 'pull');
  const diffIds = json.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) throw failed('pull', 'the manifest and the image config list different layers');
  const chains = chainIds(diffIds);
  const received: string[] = [];
  for (const [i, layer] of manifest.layers.entries()) {
    if (o.store.hasChain(chains[i])) continue;
    const data = await blob(layer.digest);
    let diffId: string;
    try {
      diffId = sha256(gunzipSync(data));
    } catch {
      throw failed('pull', `layer ${layer.digest} is not gzip-compressed`);
    }
    if (diffId !== diffIds[i]) throw failed('pull', `layer ${layer.digest}: diffID ${diffId} does not match the config's ${diffIds[i]}`);
    received.push(diffId);
  }
  return { id: manifest.config.digest, tags: [ref], labels: json.config?.Labels ?? {}, diffIds, received };
}
