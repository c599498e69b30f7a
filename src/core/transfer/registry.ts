import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExportedImage } from './layer-cache';

export const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
const CONFIG_TYPE = 'application/vnd.docker.container.image.v1+json';
const LAYER_TYPE = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const PLAIN_LAYER_TYPE = 'application/vnd.docker.image.rootfs.diff.tar';

/** The image manifest (Docker schema 2) naming the config and the cached compressed layers. */
export function buildManifest(image: ExportedImage): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: CONFIG_TYPE, size: image.config.length, digest: image.configDigest },
      layers: image.layers.map((l) => ({ mediaType: l.compressed ? LAYER_TYPE : PLAIN_LAYER_TYPE, size: l.size, digest: l.digest })),
    }),
  );
}

export interface RegistryOptions {
  /** The only repository served: `<random token>/<app>`. Anything else is 404. */
  repository: string;
  tag: string;
  /** Called with the bytes of every blob body sent (what crossed the link for the image). */
  onBytes?: (n: number) => void;
  /** Called when the engine fetches a layer (it lacked it). */
  onLayer?: (digest: string) => void;
}

/**
 * A minimal read-only registry (Registry HTTP API v2: /v2/, manifests and blobs, HEAD and GET,
 * Range) for one image. It never listens on a port: the caller hands it connections that
 * arrive through the SSH remote forward, so only the server's engine can reach it.
 */
export function registryHandler(image: ExportedImage, opts: RegistryOptions) {
  const manifest = buildManifest(image);
  const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  const layers = new Map(image.layers.map((l) => [l.digest, l]));
  const prefix = `/v2/${opts.repository}/`;

  return (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return error(res, 405, 'UNSUPPORTED', 'read-only registry');
    if (path === '/v2/' || path === '/v2') return send(req, res, 200, 'application/json', Buffer.from('{}'));
    if (!path.startsWith(prefix)) return error(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    const [kind, ref] = path.slice(prefix.length).split('/');
    if (kind === 'manifests' && (ref === opts.tag || ref === manifestDigest)) {
      res.setHeader('Docker-Content-Digest', manifestDigest);
      return send(req, res, 200, MANIFEST_TYPE, manifest);
    }
    if (kind === 'blobs' && ref === image.configDigest) {
      res.setHeader('Docker-Content-Digest', ref);
      return send(req, res, 200, 'application/octet-stream', image.config, opts.onBytes);
    }
    const layer = kind === 'blobs' ? layers.get(ref) : undefined;
    if (!layer) return error(res, 404, kind === 'blobs' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', 'not found');

    res.setHeader('Docker-Content-Digest', layer.digest);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', 'application/octet-stream');
    const range = parseRange(req.headers.range, layer.size);
    if (range === 'invalid') {
      res.setHeader('Content-Range', `bytes */${layer.size}`);
      return error(res, 416, 'RANGE_INVALID', 'range not satisfiable');
    }
    const { start, end } = range ?? { start: 0, end: layer.size - 1 };
    res.setHeader('Content-Length', String(end - start + 1));
    if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${layer.size}`);
    res.statusCode = range ? 206 : 200;
    if (req.method === 'HEAD') return void res.end();
    opts.onLayer?.(layer.digest);
    const body = createReadStream(layer.path, { start, end });
    body.on('data', (c: string | Buffer) => opts.onBytes?.(c.length));
    body.on('error', () => res.destroy());
    res.on('close', () => body.destroy());
    body.pipe(res);
  };
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range only, as engines ask). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined | 'invalid' {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: Buffer, onBytes?: (n: number) => void): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', String(body.length));
  if (req.method === 'HEAD') return void res.end();
  onBytes?.(body.length);
  res.end(body);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  const body = Buffer.from(JSON.stringify({ errors: [{ code, message }] }));
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', String(body.length));
  res.end(body);
}
