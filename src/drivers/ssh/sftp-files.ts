import { randomBytes } from 'node:crypto';
import type { SFTPWrapper } from 'ssh2';
import type { ServerFiles } from '../../core/ports';
import type { SshConnection } from './connection';

/**
 * The server's small state files (deploy history, lock) over SFTP on the server's one
 * connection. Relative paths are relative to the login directory, as OpenSSH's sftp-server does.
 */
export class SftpFiles implements ServerFiles {
  constructor(private readonly conn: SshConnection) {}

  async read(path: string): Promise<string | undefined> {
    const sftp = await this.conn.sftp();
    return new Promise((resolve, reject) => {
      sftp.readFile(serverPath(path), (err, data) => {
        if (!err) return resolve(data.toString('utf8'));
        if (isNoSuchFile(err)) return resolve(undefined);
        reject(err);
      });
    });
  }

  async writeAtomic(path: string, content: string, opts: { secret?: boolean } = {}): Promise<void> {
    const sftp = await this.conn.sftp();
    const target = serverPath(path);
    const temp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
    await call<void>((cb) => sftp.writeFile(temp, content, { mode: opts.secret ? 0o600 : 0o644 }, cb));
    try {
      // posix-rename replaces the target in one step; plain SFTP rename refuses to overwrite.
      await call<void>((cb) => sftp.ext_openssh_rename(temp, target, cb));
    } catch (e) {
      await call<void>((cb) => sftp.unlink(temp, cb)).catch(() => undefined);
      throw e;
    }
  }

  async createExclusive(path: string, content: string): Promise<boolean> {
    const sftp = await this.conn.sftp();
    const target = serverPath(path);
    // Write the whole content under a temporary name, then hard-link it to the target: link()
    // fails when the target exists, so the file appears complete or not at all (a reader never
    // sees an empty lock). OpenSSH's hardlink@openssh.com; plain exclusive open elsewhere.
    const temp = `${target}.new-${randomBytes(6).toString('hex')}`;
    await call<void>((cb) => sftp.writeFile(temp, content, { mode: 0o644 }, cb));
    try {
      await call<void>((cb) => sftp.ext_openssh_hardlink(temp, target, cb));
      return true;
    } catch (e) {
      if (await exists(sftp, target)) return false;
      if (!/not supported|unsupported/i.test((e as Error).message)) throw e;
    } finally {
      await call<void>((cb) => sftp.unlink(temp, cb)).catch(() => undefined);
    }
    let handle: Buffer;
    try {
      handle = await call<Buffer>((cb) => sftp.open(target, 'wx', 0o644, cb));
    } catch (e) {
      // OpenSSH answers a plain FAILURE for EEXIST: tell it apart by looking.
      if (await exists(sftp, target)) return false;
      throw e;
    }
    const data = Buffer.from(content);
    await call<void>((cb) => sftp.write(handle, data, 0, data.length, 0, cb));
    await call<void>((cb) => sftp.close(handle, cb));
    return true;
  }

  async takeOver(path: string, expected: string): Promise<boolean> {
    const sftp = await this.conn.sftp();
    const target = serverPath(path);
    if ((await this.read(path)) !== expected) return false;
    // rename() moves the file aside in one step: of two clients, one gets it, the other finds
    // nothing to move. The one moved is compared again, since a newer lock may have replaced
    // the stale one since our read: that one goes back, by plain SFTP rename, which OpenSSH
    // does as link + unlink and so never over a lock created meanwhile.
    const aside = `${target}.stale-${randomBytes(6).toString('hex')}`;
    try {
      await call<void>((cb) => sftp.rename(target, aside, cb));
    } catch (e) {
      if (!(await exists(sftp, target))) return false;
      throw e;
    }
    const moved = await this.read(aside);
    if (moved === expected) {
      await call<void>((cb) => sftp.unlink(aside, cb)).catch(() => undefined);
      return true;
    }
    await call<void>((cb) => sftp.rename(aside, target, cb)).catch(() => call<void>((cb) => sftp.unlink(aside, cb)).catch(() => undefined));
    return false;
  }

  async remove(path: string): Promise<void> {
    const sftp = await this.conn.sftp();
    await call<void>((cb) => sftp.unlink(serverPath(path), cb)).catch((e: unknown) => {
      if (!isNoSuchFile(e)) throw e;
    });
  }

  async mkdirp(dir: string): Promise<void> {
    const sftp = await this.conn.sftp();
    const parts = serverPath(dir).split('/');
    let current = parts[0] === '' ? '' : '.';
    for (const part of parts) {
      if (!part) continue;
      current = current === '' ? `/${part}` : `${current}/${part}`;
      if (!(await exists(sftp, current))) {
        await call<void>((cb) => sftp.mkdir(current, { mode: 0o700 }, cb)).catch(async (e: unknown) => {
          if (!(await exists(sftp, current))) throw e;
        });
      }
    }
  }
}

/** `~/x` is `x`: relative paths are relative to the login folder, for SFTP and for exec alike. */
export function serverPath(path: string): string {
  return path.replace(/^~\//, '');
}

/**
 * The server offers no SFTP: sshd refused the subsystem ("Subsystem sftp" missing from
 * sshd_config), or it ran a missing sftp-server that exited at once. Not a refused channel
 * (MaxSessions), which says nothing about SFTP itself.
 */
export function isSftpUnavailable(e: unknown): boolean {
  return /Unable to start subsystem|exit code \d+ while establishing SFTP session/.test((e as Error)?.message ?? '');
}

function isNoSuchFile(e: unknown): boolean {
  return (e as { code?: number }).code === 2;
}

function exists(sftp: SFTPWrapper, path: string): Promise<boolean> {
  return new Promise((resolve) => sftp.stat(path, (err) => resolve(!err)));
}

function call<T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}
