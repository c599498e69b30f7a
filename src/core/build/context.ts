import { createReadStream } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import dockerignore from '@balena/dockerignore';
import * as tar from 'tar-stream';

/** The Dockerfile is put at this name when it lives outside the build context. */
export const OUTSIDE_DOCKERFILE = '.baremetal.Dockerfile';

export interface ContextFilter {
  /** Path of the build context inside the repository ('' for the root), no trailing slash. */
  contextPrefix: string;
  /** The .dockerignore text of the context, if any. */
  dockerignore?: string;
  /** Dockerfile path inside the repository, and its content when it lies outside the context. */
  dockerfilePath: string;
}

/** Decides, for a path relative to the repository root, where it goes in the context (or nowhere). */
export function contextPathFor(repoPath: string, f: ContextFilter, ignored: (p: string) => boolean): string | undefined {
  const clean = repoPath.replace(/^\.\//, '').replace(/\/$/, '');
  if (!clean) return undefined;
  let rel: string;
  if (!f.contextPrefix) rel = clean;
  else if (clean.startsWith(`${f.contextPrefix}/`)) rel = clean.slice(f.contextPrefix.length + 1);
  else return undefined;
  // Like docker: .dockerignore may exclude anything but the Dockerfile and itself must reach the builder.
  const dockerfileInContext = !f.contextPrefix
    ? f.dockerfilePath
    : f.dockerfilePath.startsWith(`${f.contextPrefix}/`)
      ? f.dockerfilePath.slice(f.contextPrefix.length + 1)
      : undefined; // outside the context: it is added under its own name, not kept from here
  if (rel === dockerfileInContext || rel === '.dockerignore') return rel;
  return ignored(rel) ? undefined : rel;
}

export function makeIgnore(text: string | undefined): (p: string) => boolean {
  const ig = dockerignore({ ignorecase: false }).add((text ?? '').split(/\r?\n/));
  return (p) => ig.ignores(p);
}

/**
 * Re-packs a `git archive` tar into a build context: only the context folder, minus what
 * .dockerignore excludes. Streams entry by entry: nothing is held whole in memory.
 */
export function contextFromArchive(archive: Readable, f: ContextFilter, extraFiles: Record<string, Buffer> = {}): Readable {
  const ignored = makeIgnore(f.dockerignore);
  const extract = tar.extract();
  const pack = tar.pack();
  extract.on('entry', (header, stream, next) => {
    const name = (header.type as string) === 'pax-global-header' ? undefined : contextPathFor(header.name, f, ignored);
    if (!name) {
      stream.on('end', next);
      stream.resume();
      return;
    }
    const entry = pack.entry({ ...header, name }, (err) => (err ? extract.destroy(err) : next()));
    // The entry fails when the pack is destroyed under it (the engine closed the upload): its
    // error is the pack's, heard there, so it must not reach the process as an unheard one.
    entry.on('error', () => undefined);
    stream.on('error', (e) => entry.destroy(e));
    stream.pipe(entry);
  });
  extract.on('finish', () => {
    for (const [name, content] of Object.entries(extraFiles)) pack.entry({ name, mode: 0o644 }, content);
    pack.finalize();
  });
  extract.on('error', (e) => pack.destroy(e));
  archive.on('error', (e) => extract.destroy(e));
  stopWithConsumer(pack, () => {
    extract.destroy();
    archive.destroy(); // stops git archive
  });
  archive.pipe(extract);
  return pack as unknown as Readable;
}

/** The same context from the working tree (--allow-dirty): the files git lists, read from disk. */
export function contextFromFiles(root: string, repoPaths: string[], f: ContextFilter, extraFiles: Record<string, Buffer> = {}): Readable {
  const ignored = makeIgnore(f.dockerignore);
  const pack = tar.pack();
  void (async () => {
    try {
      for (const repoPath of repoPaths) {
        const name = contextPathFor(repoPath, f, ignored);
        if (!name) continue;
        const full = join(root, repoPath);
        const st = await lstat(full).catch(() => undefined);
        if (!st) continue; // deleted in the working tree
        if (st.isSymbolicLink()) {
          pack.entry({ name, type: 'symlink', linkname: await readlink(full), mode: st.mode });
          continue;
        }
        if (!st.isFile()) continue;
        if (pack.destroyed) return; // the consumer went away: read no further
        await new Promise<void>((resolve, reject) => {
          const entry = pack.entry({ name, size: st.size, mode: st.mode, mtime: st.mtime }, (err) => (err ? reject(err) : resolve()));
          entry.on('error', reject);
          const file = createReadStream(full).on('error', (e) => (entry.destroy(e), reject(e)));
          entry.on('close', () => file.destroy());
          file.pipe(entry);
        });
      }
      for (const [name, content] of Object.entries(extraFiles)) pack.entry({ name, mode: 0o644 }, content);
      pack.finalize();
    } catch (e) {
      if (!pack.destroyed) pack.destroy(e as Error);
    }
  })();
  return pack as unknown as Readable;
}

/** Runs `stop` when the pack is destroyed before it ended (its reader gave up on it). */
function stopWithConsumer(pack: tar.Pack, stop: () => void): void {
  let ended = false;
  pack.on('end', () => (ended = true));
  pack.on('close', () => {
    if (!ended) stop();
  });
}
