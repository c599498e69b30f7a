import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { BmError, isBmError, throwIfAborted } from '../errors';
import { asSocket } from '../socket-shim';
import type { Builder, Logger, Server } from '../ports';
import { chainIds } from './chain';
import { ExportMismatch, type ExportedImage, type LayerCache } from './layer-cache';
import { fullyQualified, loadArchive } from './load-archive';
import { registryHandler } from './registry';

/** How the image reached the server, reported with every deploy. */
export type TransferPath = 'registry' | 'trimmed-load' | 'full-load' | 'none';

export interface LayerPlan {
  diffId: string;
  digest: string;
  /** Compressed bytes. */
  size: number;
  /** Whether the server already has this layer (with the same parents). */
  present: boolean;
}

export interface ShipPlan {
  image: ExportedImage;
  layers: LayerPlan[];
  /** Compressed bytes of the layers the server lacks. */
  missingBytes: number;
}

export interface ShipResult {
  path: TransferPath;
  bytesSent: number;
  layersSent: number;
}

export interface ShipRequest {
  builder: Builder;
  server: Server;
  cache: LayerCache;
  /** `<app>:<tag>`: the local image, and the name it gets on the server. */
  ref: string;
  logger: Logger;
  onBytes: (total: number) => void;
  signal?: AbortSignal;
  /** Forces one path (troubleshooting, tests): BAREMETAL_TRANSFER=registry|trimmed-load|full-load. */
  force?: TransferPath;
}

/** Takes the local image apart into the layer cache (compressing only layers never seen). */
export async function exportImage(builder: Builder, cache: LayerCache, ref: string, signal?: AbortSignal): Promise<ExportedImage> {
  const local = await builder.image(ref);
  const known = local ? await cache.getImage(local.id) : undefined;
  if (known) return known;
  const hints = local?.layers ?? [];
  let image: ExportedImage;
  try {
    image = await cache.exportImage(await builder.save(ref, signal), hints);
  } catch (e) {
    if (!(e instanceof ExportMismatch) || !hints.length) throw e;
    image = await cache.exportImage(await builder.save(ref, signal)); // read every layer after all
  }
  await cache.putImage(image, local?.id);
  return image;
}

/** What would cross the link: the layers whose chains the server lacks. */
export async function planShipment(image: ExportedImage, server: Server): Promise<ShipPlan> {
  const present = await server.engine.layerChains();
  const chains = chainIds(image.layers.map((l) => l.diffId));
  const layers = image.layers.map((l, i) => ({ diffId: l.diffId, digest: l.digest, size: l.size, present: present.has(chains[i]) }));
  return { image, layers, missingBytes: layers.filter((l) => !l.present).reduce((n, l) => n + l.size, 0) };
}

/**
 * Sends only what the server lacks. First choice: the server's own engine pulls from a
 * read-only registry served from here through an SSH remote forward (it skips every layer it
 * has, several layers at a time). Where the server refuses the forward or its engine cannot
 * reach its own loopback: a `docker load` of an archive without the layers it has. Last: a
 * full load. The path taken is reported, never asked.
 */
export async function shipImage(req: ShipRequest, image: ExportedImage): Promise<ShipResult> {
  const paths: TransferPath[] = req.force ? [req.force] : ['registry', 'trimmed-load', 'full-load'];
  let lastError: unknown;
  for (const path of paths) {
    throwIfAborted(req.signal);
    try {
      const result = path === 'registry' ? await viaRegistry(req, image) : await viaLoad(req, image, path === 'trimmed-load');
      req.logger.info(`image sent by ${path}: ${result.layersSent} layer(s), ${result.bytesSent} bytes`);
      return result;
    } catch (e) {
      if (req.server.isConnected?.() === false) {
        throw new BmError(
          'ConnectionLost',
          `The SSH connection to ${req.server.name} dropped while sending the image; nothing was changed there and the previous version keeps serving. Deploy again once the link is back: the layers that arrived whole are not sent again.`,
          undefined,
          { cause: e },
        );
      }
      // A full disk stays full whichever way the layers travel: no other path is tried.
      if (req.signal?.aborted || (isBmError(e) && (e.code === 'Cancelled' || e.code === 'ConnectionLost' || e.code === 'DiskFull'))) throw e;
      req.logger.warn(`${path} transfer did not work (${(e as Error).message}); trying the next way`);
      lastError = e;
    }
  }
  throw lastError instanceof BmError ? lastError : new BmError('TransferFailed', `Could not send the image to ${req.server.name}: ${(lastError as Error)?.message}.`);
}

async function viaRegistry(req: ShipRequest, image: ExportedImage): Promise<ShipResult> {
  const [name, tag] = splitRef(req.ref);
  // The random path segment keeps other users of the server (who can reach its loopback) out.
  const token = randomBytes(12).toString('hex');
  let bytes = 0;
  let layersSent = 0;
  const handler = registryHandler(image, {
    repository: `${token}/${name}`,
    tag,
    onBytes: (n) => req.onBytes((bytes += n)),
    onLayer: () => (layersSent += 1),
  });
  const http1 = http.createServer({ keepAliveTimeout: 60_000 }, (rq, rs) => {
    rs.on('finish', () => req.logger.debug(`registry: ${rq.method} ${rq.url?.replace(token, '…')} → ${rs.statusCode} ${rs.getHeader('content-length') ?? ''}`));
    handler(rq, rs);
  });
  const sockets = new Set<Duplex>();
  const tunnel = await req.server.reverseTunnel((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    http1.emit('connection', asSocket(socket));
  });
  const pulled = `127.0.0.1:${tunnel.port}/${token}/${name}:${tag}`;
  try {
    await req.server.engine.pull(pulled, req.signal);
    // Fully qualified: Docker reads `app` as docker.io/library/app anyway, Podman would file a short
    // name under localhost/ and then not find `app:tag`.
    await req.server.engine.tagImage(pulled, fullyQualified(name), tag);
    return { path: 'registry', bytesSent: bytes, layersSent };
  } finally {
    await req.server.engine.removeImage(pulled).catch(() => undefined); // only the temporary name
    for (const s of sockets) s.destroy();
    await tunnel.close().catch(() => undefined);
    http1.close();
  }
}

async function viaLoad(req: ShipRequest, image: ExportedImage, trimmed: boolean): Promise<ShipResult> {
  const omit = new Set<string>();
  if (trimmed) {
    const plan = await planShipment(image, req.server);
    for (const l of plan.layers) if (l.present) omit.add(l.diffId);
  }
  let bytes = 0;
  await req.server.engine.load(loadArchive(image, req.ref, omit), (n) => req.onBytes((bytes = n)), req.signal);
  return { path: trimmed ? 'trimmed-load' : 'full-load', bytesSent: bytes, layersSent: image.layers.length - omit.size };
}

function splitRef(ref: string): [string, string] {
  const i = ref.lastIndexOf(':');
  return [ref.slice(0, i), ref.slice(i + 1)];
}
