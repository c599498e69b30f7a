import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { simpleGit, type SimpleGit } from 'simple-git';
import { BmError } from '../../core/errors';
import type { CommitInfo, Repo } from '../../core/ports';

// One commit per record (\x1e), fields split by \x1f: safe for any subject line.
const FORMAT = '--format=%H%x1f%s%x1f%an <%ae>%x1f%cI%x1e';

function parseCommits(out: string): CommitInfo[] {
  return out
    .split('\x1e')
    .map((r) => r.trim())
    .filter(Boolean)
    .map((r) => {
      const [sha, subject, author, date] = r.split('\x1f');
      return { sha, subject, author, date };
    });
}

/** The workspace's git repository. Text queries through simple-git; binary output by spawning git. */
export class GitRepo implements Repo {
  private constructor(
    readonly root: string,
    private readonly git: SimpleGit,
  ) {}

  static async open(dir: string): Promise<GitRepo> {
    const git = simpleGit(dir);
    let root: string;
    try {
      root = (await git.revparse(['--show-toplevel'])).trim();
    } catch {
      throw new BmError('NotARepository', `${dir} is not inside a git repository: deploys are tied to commits, so run "git init" and commit your app first.`);
    }
    return new GitRepo(root, simpleGit(root));
  }

  async resolveCommit(ref: string): Promise<CommitInfo> {
    if (ref.startsWith('-')) throw new BmError('CommitNotFound', `"${ref}" is not a commit.`);
    let sha: string;
    try {
      sha = (await this.git.raw(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`])).trim();
    } catch {
      sha = '';
    }
    if (!/^[0-9a-f]{40,64}$/.test(sha)) {
      throw new BmError('CommitNotFound', `The commit "${ref}" does not exist in this repository: check the name, or fetch it first.`);
    }
    const [commit] = parseCommits(await this.git.raw(['show', '-s', FORMAT, sha]));
    if (!commit) throw new BmError('CommitNotFound', `The commit "${ref}" does not exist in this repository.`);
    return commit;
  }

  async uncommittedPaths(): Promise<string[]> {
    const status = await this.git.status();
    return status.files.map((f) => f.path);
  }

  async trackedAndUntracked(): Promise<string[]> {
    const out = await this.git.raw(['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
    return [...new Set(out.split('\0').filter(Boolean))];
  }

  archive(sha: string, signal?: AbortSignal): Readable {
    const child = spawn('git', ['archive', '--format=tar', sha], { cwd: this.root, stdio: ['ignore', 'pipe', 'pipe'], signal });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      if (code !== 0 && !signal?.aborted) child.stdout.destroy(new Error(`git archive failed: ${stderr.trim()}`));
    });
    child.on('error', (e) => child.stdout.destroy(e));
    return child.stdout;
  }

  async fileAtCommit(sha: string, path: string): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const child = spawn('git', ['show', `${sha}:${path}`], { cwd: this.root, stdio: ['ignore', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.on('close', (code) => resolve(code === 0 ? Buffer.concat(chunks) : undefined));
      child.on('error', () => resolve(undefined));
    });
  }

  /** The commit's message, stat and patch, as `git show` prints them. */
  async show(sha: string): Promise<string> {
    return this.git.raw(['show', '--stat', '--patch', '--format=fuller', '--end-of-options', sha]);
  }

  async recentCommits(count: number): Promise<CommitInfo[]> {
    return parseCommits(await this.git.raw(['log', `-n${count}`, FORMAT]));
  }
}
