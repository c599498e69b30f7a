import { randomBytes } from 'node:crypto';
import type { ServerFiles } from '../../core/ports';
import type { SshConnection } from './connection';
import { serverPath } from './sftp-files';

/** What one command on the server gave back. `code` is undefined when it never exited (connection dropped). */
export interface ExecResult {
  code: number | null | undefined;
  stdout: Buffer;
  stderr: string;
}

/** Runs argv on the server (encoded by the connection's remoteCommand), `stdin` fed to it. */
export type Runner = (argv: string[], stdin?: Buffer) => Promise<ExecResult>;

/**
 * The scripts run by `sh -c SCRIPT sh ARG...`: the script is a constant and every path is a
 * positional parameter, so nothing user-supplied is ever part of a command line's text (and the
 * login shell sees neither script nor paths: remoteCommand encodes them). Contents come on stdin; the byte count comes as an argument because a dropped connection
 * ends stdin exactly like a finished upload would: a short file is refused, never renamed into place.
 */
const RECEIVE = 'umask 022; cat > "$2" || { rm -f -- "$2"; exit 1; }; n=$(wc -c < "$2"); if [ $((n)) -ne "$3" ]; then echo "only $((n)) of $3 bytes arrived" >&2; rm -f -- "$2"; exit 1; fi;';

export const SCRIPTS = {
  /** Exit 3: no such file (a missing file is an answer, not an error). */
  read: 'cat -- "$1" && exit 0; [ -e "$1" ] && exit 1; exit 3',
  /** rename(2) within one folder replaces the target in one step: readers see the old file or the new one. */
  writeAtomic: `${RECEIVE} mv -f -- "$2" "$1" && exit 0; rm -f -- "$2"; exit 1`,
  // The same, readable by the login only (a private key): the temp file is born 0600.
  writeSecret: `${RECEIVE.replace('umask 022', 'umask 077')} mv -f -- "$2" "$1" && exit 0; rm -f -- "$2"; exit 1`,
  /**
   * link(2) of a complete temporary file: the existence check and the creation are one system
   * call, failing with EEXIST when the target is there, and the file appears with its whole
   * content. `set -C` (noclobber) is atomic too where the shell opens with O_EXCL (dash, bash
   * and busybox do, POSIX does not say so), but the file exists empty until written, so a
   * reader can see a blank lock: it is only the fallback for filesystems without hard links.
   * Exit 3: the target exists. A folder there would take the link inside it: counted as existing.
   */
  createExclusive:
    `${RECEIVE} if [ -d "$1" ]; then rc=3; elif err=$(ln -- "$2" "$1" 2>&1); then rc=0; elif [ -e "$1" ] || [ -L "$1" ]; then rc=3; ` +
    'elif (set -C; cat -- "$2" > "$1") 2>/dev/null; then rc=0; elif [ -e "$1" ]; then rc=3; else echo "$err" >&2; rc=1; fi; rm -f -- "$2"; exit $rc',
  /**
   * Removes $1 only if it reads as the expected content ($2, from stdin). rename(2) moves it
   * aside to a name of our own ($4) in one step, so of two clients only one gets that file; the
   * one moved is compared again, because a newer lock may have replaced the stale one between
   * the compare and the rename: that one is linked back, never over a lock made meanwhile.
   * Exit 3: not taken (gone, changed, or someone else's).
   */
  takeOver:
    `${RECEIVE} rc=3; if [ -f "$1" ] && [ "$(cat -- "$1")" = "$(cat -- "$2")" ]; then if mv -f -- "$1" "$4"; then ` +
    'if [ "$(cat -- "$4")" = "$(cat -- "$2")" ]; then rc=0; else ln -- "$4" "$1" 2>/dev/null || (set -C; cat -- "$4" > "$1") 2>/dev/null; fi; ' +
    'elif [ -e "$1" ]; then rc=1; fi; fi; rm -f -- "$2" "$4"; exit $rc',
  remove: 'rm -f -- "$1"',
  /** 0700 for every folder created, as SftpFiles does. */
  mkdirp: 'umask 077; mkdir -p -- "$1"',
} as const;

const EXISTS = 3;

export type ExecOp = keyof typeof SCRIPTS;

/** The argv of one operation: a fixed script, then its arguments, each its own word. */
export function opArgv(op: ExecOp, ...args: string[]): string[] {
  return ['sh', '-c', SCRIPTS[op], 'sh', ...args];
}

/**
 * The server's state files over exec channels of the server's one connection, for servers with
 * no SFTP subsystem. Paths resolve as SftpFiles resolves them: relative to the login folder,
 * where sshd starts every command.
 */
export class ExecFiles implements ServerFiles {
  constructor(private readonly run: Runner) {}

  async read(path: string): Promise<string | undefined> {
    const r = await this.run(opArgv('read', serverPath(path)));
    if (r.code === EXISTS) return undefined;
    check(r, 'read', path);
    return r.stdout.toString('utf8');
  }

  async writeAtomic(path: string, content: string, opts: { secret?: boolean } = {}): Promise<void> {
    const target = serverPath(path);
    const data = Buffer.from(content, 'utf8');
    check(await this.run(opArgv(opts.secret ? 'writeSecret' : 'writeAtomic', target, `${target}.tmp-${randomBytes(6).toString('hex')}`, String(data.length)), data), 'write', path);
  }

  async createExclusive(path: string, content: string): Promise<boolean> {
    const target = serverPath(path);
    const data = Buffer.from(content, 'utf8');
    const r = await this.run(opArgv('createExclusive', target, `${target}.new-${randomBytes(6).toString('hex')}`, String(data.length)), data);
    if (r.code === EXISTS) return false;
    check(r, 'create', path);
    return true;
  }

  async takeOver(path: string, expected: string): Promise<boolean> {
    const target = serverPath(path);
    const data = Buffer.from(expected, 'utf8');
    const suffix = randomBytes(6).toString('hex');
    const r = await this.run(opArgv('takeOver', target, `${target}.old-${suffix}`, String(data.length), `${target}.stale-${suffix}`), data);
    if (r.code === EXISTS) return false;
    check(r, 'take over', path);
    return true;
  }

  async remove(path: string): Promise<void> {
    check(await this.run(opArgv('remove', serverPath(path))), 'remove', path);
  }

  async mkdirp(dir: string): Promise<void> {
    check(await this.run(opArgv('mkdirp', serverPath(dir))), 'create the folder', dir);
  }
}

function check(r: ExecResult, what: string, path: string): void {
  if (r.code === 0) return;
  const why = r.stderr.trim() || (typeof r.code === 'number' ? `exit status ${r.code}` : 'the connection closed before it finished');
  throw new Error(`Could not ${what} ${path} on the server: ${why}`);
}

/** A Runner over exec channels of the connection (stdout kept as bytes: a chunk may split a UTF-8 character). */
export function sshRunner(conn: Pick<SshConnection, 'execStream'>): Runner {
  return async (argv, stdin) => {
    const channel = await conn.execStream(argv);
    return new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = [];
      let stderr = '';
      channel.on('data', (d: Buffer) => out.push(d));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      channel.on('error', reject);
      channel.on('close', (code: number | null | undefined) => resolve({ code, stdout: Buffer.concat(out), stderr }));
      channel.end(stdin);
    });
  };
}
