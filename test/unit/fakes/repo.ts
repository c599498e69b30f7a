import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { CommitInfo, Repo } from '../../../src/core/ports';

/** A tar as `git archive` makes it: each folder's entry before its files. */
export function makeTar(files: Record<string, string | Buffer>, opts: { dirs?: boolean } = {}): Readable {
  const pack = tar.pack();
  const seen = new Set<string>();
  for (const [name, content] of Object.entries(files)) {
    if (opts.dirs !== false) {
      const parts = name.split('/').slice(0, -1);
      for (let i = 1; i <= parts.length; i++) {
        const dir = `${parts.slice(0, i).join('/')}/`;
        if (!seen.has(dir)) pack.entry({ name: dir, type: 'directory', mode: 0o755 });
        seen.add(dir);
      }
    }
    pack.entry({ name, mode: 0o644 }, content);
  }
  pack.finalize();
  return pack as unknown as Readable;
}

/** Reads a tar back: file name → content (folders are listed with an empty content and a '/'). */
export async function readTar(stream: Readable): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const extract = tar.extract();
  stream.on('error', (e) => extract.destroy(e));
  stream.pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const name = entry.header.type === 'directory' ? entry.header.name.replace(/\/?$/, '/') : entry.header.name;
    out.set(name, Buffer.concat(chunks).toString('utf8'));
  }
  return out;
}

export function shaOf(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

/** A repository with commits whose trees the test writes; HEAD is the last commit added. */
export class FakeRepo implements Repo {
  readonly root: string;
  readonly commits: (CommitInfo & { files: Record<string, string> })[] = [];
  readonly archived: string[] = [];
  uncommitted: string[] = [];

  constructor(root = '/work/project') {
    this.root = root;
  }

  commit(subject: string, files: Record<string, string>): CommitInfo {
    const info = { sha: shaOf(`${subject}${this.commits.length}`), subject, author: 'Ada <ada@example.com>', date: new Date().toISOString() };
    this.commits.push({ ...info, files });
    return info;
  }

  private at(ref: string) {
    const c = ref === 'HEAD' ? this.commits.at(-1) : this.commits.find((x) => x.sha.startsWith(ref));
    if (!c) throw new Error(`unknown revision ${ref}`);
    return c;
  }

  async resolveCommit(ref: string): Promise<CommitInfo> {
    const { sha, subject, author, date } = this.at(ref);
    return { sha, subject, author, date };
  }
  async uncommittedPaths(): Promise<string[]> {
    return this.uncommitted;
  }
  async trackedAndUntracked(): Promise<string[]> {
    return Object.keys(this.at('HEAD').files);
  }
  archive(sha: string): Readable {
    this.archived.push(sha);
    return makeTar(this.at(sha).files);
  }
  async fileAtCommit(sha: string, path: string): Promise<Buffer | undefined> {
    const content = this.at(sha).files[path];
    return content === undefined ? undefined : Buffer.from(content);
  }
  async recentCommits(count: number): Promise<CommitInfo[]> {
    return this.commits.slice(-count).reverse().map(({ sha, subject, author, date }) => ({ sha, subject, author, date }));
  }
}
