import { posix } from 'node:path';
import type { ServerFiles } from '../../../src/core/ports';

export interface MemoryFilesOptions {
  /** Latency of every operation, like SFTP round trips. */
  delayMs?: number;
  /** Extra latency of writeAtomic only (the renewals of a lease). */
  writeDelayMs?: number;
  /**
   * Mimic SFTP's createExclusive: open with O_EXCL (the file exists, empty) and only then
   * write the content, `exclusiveWriteGapMs` later. Default: one atomic step.
   */
  exclusiveWriteGapMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function noSuchFile(path: string): Error {
  return Object.assign(new Error(`No such file: ${path}`), { code: 2 });
}

/** The server's state files, in memory. Writes need their folder to exist, as on a real disk. */
export class MemoryFiles implements ServerFiles {
  readonly files = new Map<string, string>();
  readonly dirs = new Set<string>(['.', '/']);
  readonly ops: string[] = [];
  /** Which "inode" each path points at: a write through an old handle never lands on a new file. */
  private readonly inodes = new Map<string, number>();
  private nextInode = 1;

  constructor(private readonly opts: MemoryFilesOptions = {}) {}

  private async latency(extra = 0): Promise<void> {
    const ms = (this.opts.delayMs ?? 0) + extra;
    if (ms > 0) await sleep(ms);
  }

  private checkParent(path: string): void {
    if (!this.dirs.has(posix.dirname(path))) throw noSuchFile(posix.dirname(path));
  }

  async read(path: string): Promise<string | undefined> {
    this.ops.push(`read ${path}`);
    await this.latency();
    return this.files.get(path);
  }

  async writeAtomic(path: string, content: string): Promise<void> {
    this.ops.push(`writeAtomic ${path}`);
    await this.latency(this.opts.writeDelayMs);
    this.checkParent(path);
    this.files.set(path, content); // the rename: one step, a new inode
    this.inodes.set(path, this.nextInode++);
  }

  async createExclusive(path: string, content: string): Promise<boolean> {
    this.ops.push(`createExclusive ${path}`);
    await this.latency();
    this.checkParent(path);
    if (this.files.has(path)) return false;
    if (this.opts.exclusiveWriteGapMs === undefined) {
      this.files.set(path, content);
      this.inodes.set(path, this.nextInode++);
      return true;
    }
    const inode = this.nextInode++;
    this.files.set(path, '');
    this.inodes.set(path, inode);
    await sleep(this.opts.exclusiveWriteGapMs);
    if (this.inodes.get(path) === inode) this.files.set(path, content);
    return true;
  }

  /** The compare and the removal are one step, as the server's rename is. */
  async takeOver(path: string, expected: string): Promise<boolean> {
    this.ops.push(`takeOver ${path}`);
    await this.latency();
    if (this.files.get(path) !== expected) return false;
    this.files.delete(path);
    this.inodes.delete(path);
    return true;
  }

  async remove(path: string): Promise<void> {
    this.ops.push(`remove ${path}`);
    await this.latency();
    this.files.delete(path);
    this.inodes.delete(path);
  }

  async mkdirp(dir: string): Promise<void> {
    this.ops.push(`mkdirp ${dir}`);
    await this.latency();
    let d = posix.normalize(dir).replace(/\/+$/, '');
    while (d && !this.dirs.has(d)) {
      this.dirs.add(d);
      d = posix.dirname(d);
    }
  }
}
