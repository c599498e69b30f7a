import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { goFileMode, type Stat } from './filesync-wire';

/**
 * A build context kept for a BuildKit session: BuildKit asks for entries in its own order and
 * then for file contents by number, in any order, so the tar stream is spooled once to a private
 * temporary file (contents back to back) with an index of where each file lies. Nothing of the
 * context is held in memory but that index.
 */
export interface SpooledEntry {
  stat: Stat;
  /** Where the file's bytes start in the spool file (regular files only). */
  offset?: number;
}

export interface SpooledContext {
  /** Every entry, parent folders included, in fsutil's walk order. */
  entries: SpooledEntry[];
  read(entry: SpooledEntry): Readable;
  close(): Promise<void>;
}

export async function spoolContext(context: Readable): Promise<SpooledContext> {
  const dir = await mkdtemp(join(tmpdir(), 'baremetal-context-'));
  const file = join(dir, 'contents');
  try {
    const entries = await spoolTo(context, file);
    return {
      entries: inWalkOrder(withParents(entries)),
      read: (e) => createReadStream(file, { start: e.offset ?? 0, end: (e.offset ?? 0) + (e.stat.size ?? 0) - 1 }),
      close: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

function spoolTo(context: Readable, file: string): Promise<SpooledEntry[]> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(file, { mode: 0o600 });
    const extract = tar.extract();
    const entries = new Map<string, SpooledEntry>();
    let offset = 0;
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      extract.destroy();
      context.destroy();
      out.destroy();
      reject(e);
    };
    out.on('error', fail);
    context.on('error', fail);
    extract.on('error', fail);
    extract.on('entry', (header, stream, next) => {
      stream.on('error', fail);
      const path = cleanPath(header.name);
      const type = header.type === 'directory' ? 'directory' : header.type === 'symlink' ? 'symlink' : header.type === 'file' || header.type === 'contiguous-file' ? 'file' : undefined;
      if (!path || !type) {
        stream.resume();
        stream.on('end', next);
        return;
      }
      // Owners are reset as the docker CLI does for a local context; the times are the tar's.
      const stat: Stat = { path, mode: goFileMode(type, header.mode ?? (type === 'directory' ? 0o755 : 0o644)), modTime: BigInt((header.mtime ?? new Date(0)).getTime()) * 1_000_000n };
      if (type === 'symlink') stat.linkname = header.linkname ?? '';
      if (type !== 'file') {
        entries.set(path, { stat });
        stream.resume();
        stream.on('end', next);
        return;
      }
      const entry: SpooledEntry = { stat: { ...stat, size: header.size ?? 0 }, offset };
      entries.set(path, entry);
      stream.on('data', (chunk) => {
        if (!Buffer.isBuffer(chunk)) return;
        offset += chunk.length;
        if (!out.write(chunk)) {
          stream.pause();
          out.once('drain', () => stream.resume());
        }
      });
      stream.on('end', next);
    });
    extract.on('finish', () => out.end(() => !failed && resolve([...entries.values()])));
    context.pipe(extract);
  });
}

function cleanPath(name: string): string {
  return name
    .split('/')
    .filter((p) => p && p !== '.')
    .join('/');
}

/** Adds the folders a tar left out (a context from the working tree lists files only): BuildKit needs each parent first. */
export function withParents(entries: SpooledEntry[]): SpooledEntry[] {
  const have = new Set(entries.map((e) => e.stat.path));
  const out = [...entries];
  for (const e of entries) {
    const parts = e.stat.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (have.has(dir)) continue;
      have.add(dir);
      out.push({ stat: { path: dir, mode: goFileMode('directory', 0o755), modTime: e.stat.modTime } });
    }
  }
  return out;
}

/** fsutil walks a folder's entries by name, each folder's contents right after it: "a", "a/b", "a.txt". */
export function inWalkOrder(entries: SpooledEntry[]): SpooledEntry[] {
  return [...entries].sort((x, y) => compareWalk(x.stat.path, y.stat.path));
}

export function compareWalk(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return Buffer.compare(Buffer.from(pa[i]), Buffer.from(pb[i]));
  }
  return pa.length - pb.length;
}
