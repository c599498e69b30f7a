import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BmError } from '../errors';
import type { Logger } from '../ports';
import type { ExportedImage, LayerCache } from './layer-cache';

/** The layer cache's size limit unless BAREMETAL_CACHE_MAX says otherwise. */
export const DEFAULT_CACHE_MAX = 10 * 1024 ** 3;

/**
 * Entries used (read or written) this recently are never evicted: another deploy running at the
 * same time may be about to send them. The cache can stay above its limit until they age.
 */
export const EVICTION_GRACE_MS = 60 * 60 * 1000;

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * BAREMETAL_CACHE_MAX: bytes, or a number with K, M, G or T (counted in 1024s as Docker does;
 * "5G" = "5GB" = "5Gi" = "5GiB"), or "none" for no limit (Infinity). Unset or empty: 10 GiB. Zero, "off"
 * and anything else is refused, so that no value deletes the whole cache by accident.
 */
export function cacheMaxFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const text = (env.BAREMETAL_CACHE_MAX ?? '').trim();
  if (text === '') return DEFAULT_CACHE_MAX;
  if (text.toLowerCase() === 'none') return Infinity;
  const m = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:ib?|b)?|(b))?$/i.exec(text);
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[(m[2] ?? m[3] ?? '').toLowerCase()]) : NaN;
  if (!(bytes >= 1) || !Number.isFinite(bytes)) {
    throw new BmError(
      'ConfigInvalid',
      `BAREMETAL_CACHE_MAX is "${text}"; expected a size above zero such as 10G, 500M, 2GiB or 1073741824 (bytes; K, M, G and T count in 1024s), or "none" to never evict the layer cache.`,
    );
  }
  return bytes;
}

export interface EvictOptions {
  maxBytes: number;
  /** diffIDs and image IDs (with or without "sha256:") never to evict: what the current deploy uses. */
  keep?: Iterable<string>;
  graceMs?: number;
  now?: number;
}

export interface EvictResult {
  removed: number;
  freedBytes: number;
  /** What the cache holds afterwards. */
  totalBytes: number;
}

interface Entry {
  key: string;
  /** Deleted in this order: the layer's metadata first, so nobody finds it while its blob goes. */
  files: string[];
  size: number;
  usedMs: number;
}

/**
 * Deletes the least recently used entries until the cache fits in maxBytes. Looks only at
 * names, sizes and modification times (LayerCache touches a blob each time a deploy uses it;
 * temporary files are written then renamed, so a half-written entry is never found).
 * An entry is a layer (`<hex>.tar.gz` + `<hex>.json`), an image record (`images/<hex>.json`) or
 * a temporary file left by a crashed process (`.tmp-*`, `.raw-*`); other files are not touched.
 */
export async function evictCache(dir: string, opts: EvictOptions): Promise<EvictResult> {
  const { maxBytes, graceMs = EVICTION_GRACE_MS, now = Date.now() } = opts;
  const keep = new Set([...(opts.keep ?? [])].map((k) => k.replace('sha256:', '')));
  const entries = new Map<string, Entry>();
  const add = async (key: string, path: string, main: boolean) => {
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isFile()) return;
    const e = entries.get(key) ?? { key: key.replace(/^.*\//, ''), files: [], size: 0, usedMs: 0 };
    e.files[main ? 'push' : 'unshift'](path);
    e.size += st.size;
    if (main || !e.usedMs) e.usedMs = st.mtimeMs;
    entries.set(key, e);
  };
  const names = await list(dir);
  await Promise.all(
    names.map((name) => {
      const layer = /^([0-9a-f]{64})\.(tar\.gz|json)$/.exec(name);
      if (layer) return add(layer[1], join(dir, name), layer[2] === 'tar.gz');
      if (/^\.(tmp|raw)-/.test(name)) return add(name, join(dir, name), true);
      return undefined;
    }),
  );
  await Promise.all((await list(join(dir, 'images'))).filter((n) => /^[0-9a-f]{64}\.json$/.test(n)).map((n) => add(`images/${n.slice(0, 64)}`, join(dir, 'images', n), true)));

  let totalBytes = [...entries.values()].reduce((n, e) => n + e.size, 0);
  let removed = 0;
  let freedBytes = 0;
  let failure: unknown;
  const recent = now - graceMs;
  for (const e of [...entries.values()].sort((a, b) => a.usedMs - b.usedMs)) {
    if (totalBytes <= maxBytes) break;
    if (keep.has(e.key) || e.usedMs > recent) continue;
    // Used by another deploy since the listing? Then it stays.
    const main = e.files[e.files.length - 1];
    if (((await lstat(main).catch(() => undefined))?.mtimeMs ?? 0) > recent) continue;
    try {
      for (const f of e.files) await rm(f, { force: true });
    } catch (err) {
      failure ??= err; // say so once the others are done (a file held open on Windows, permissions)
      continue;
    }
    totalBytes -= e.size;
    freedBytes += e.size;
    removed += 1;
  }
  if (failure) throw failure;
  return { removed, freedBytes, totalBytes };
}

/**
 * After a deploy: trims the cache to its limit, keeping the image this deploy used. Quick
 * (one listing, no layer is read) and harmless: a failure is only a warning.
 */
export async function trimLayerCache(cache: LayerCache, image: ExportedImage | undefined, logger: Logger): Promise<void> {
  if (!Number.isFinite(cache.maxBytes)) return;
  try {
    const keep = image ? [image.configDigest, ...image.layers.map((l) => l.diffId)] : [];
    const r = await evictCache(cache.dir, { maxBytes: cache.maxBytes, keep });
    if (r.removed) logger.info(`layer cache: removed ${r.removed} least recently used entries (${mib(r.freedBytes)}); ${mib(r.totalBytes)} kept of ${mib(cache.maxBytes)} allowed (BAREMETAL_CACHE_MAX)`);
    if (r.totalBytes > cache.maxBytes) logger.debug(`layer cache: ${mib(r.totalBytes)} is over its ${mib(cache.maxBytes)} limit, all of it used by this deploy or in the last hour`);
  } catch (e) {
    logger.warn(`layer cache: could not evict old layers from ${cache.dir} (${(e as Error).message}); the deploy is not affected`);
  }
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

function mib(n: number): string {
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
