/**
 * ExecFiles.takeOver, the stale lock's removal, run by real shells and userlands (dash +
 * coreutils, bash + coreutils, busybox): it removes the lock only if it still reads as the one
 * the client read, one client of many wins, and a lock that replaced the stale one in the
 * meantime is left in place. The command line's encoding for the login shell is tested with
 * ExecFiles itself (exec-files.test.ts); here the argv runs directly.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecFiles, type ExecResult, type Runner } from '../../../src/drivers/ssh/exec-files';

const root = mkdtempSync(join(tmpdir(), 'bm-takeover-'));
after(() => rmSync(root, { recursive: true, force: true }));

function userland(name: string, sh: string, tools: string[] = []): string | undefined {
  if (!existsSync(sh)) return undefined;
  const bin = join(root, `bin-${name}`);
  mkdirSync(bin);
  symlinkSync(sh, join(bin, 'sh'));
  for (const t of tools) symlinkSync(sh, join(bin, t));
  return tools.length ? bin : `${bin}:/usr/bin:/bin`;
}

const USERLANDS = [
  { name: 'dash', path: userland('dash', '/usr/bin/dash') },
  { name: 'bash', path: userland('bash', '/usr/bin/bash') },
  { name: 'busybox', path: userland('busybox', '/usr/bin/busybox', ['cat', 'ln', 'mv', 'rm', 'wc']) },
].filter((u) => u.path);

/** argv run in `cwd` with only `path`'s tools, stdin fed to it. */
function localRunner(path: string, cwd: string): Runner {
  return (argv, stdin) =>
    new Promise<ExecResult>((resolve, reject) => {
      const child = spawn(join(path.split(':')[0], argv[0]), argv.slice(1), { cwd, env: { PATH: path } });
      const out: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
      child.stdin.on('error', () => undefined);
      child.stdin.end(stdin);
    });
}

const STALE = '{"token":"0a1b","owner":"carol@gone","expiresAt":"2030-01-01T12:01:00.000Z"}';
const RENEWED = '{"token":"0a1b","owner":"carol@gone","expiresAt":"2030-01-01T12:02:00.000Z"}';

for (const u of USERLANDS) {
  describe(`takeOver under ${u.name}`, () => {
    test('removes the lock that still reads as read; keeps one that changed; a missing one is not an error', async () => {
      const home = mkdtempSync(join(root, `home-${u.name}-`));
      const files = new ExecFiles(localRunner(u.path!, home));
      writeFileSync(join(home, 'lock'), RENEWED);
      assert.equal(await files.takeOver('lock', STALE), false, 'renewed since it was read: not taken');
      assert.equal(readFileSync(join(home, 'lock'), 'utf8'), RENEWED);
      assert.equal(await files.takeOver('~/lock', RENEWED), true);
      assert.deepEqual(readdirSync(home), [], 'the lock is gone and no temporary file is left');
      assert.equal(await files.takeOver('lock', RENEWED), false, 'already gone: someone else took it');
      mkdirSync(join(home, 'adir'));
      assert.equal(await files.takeOver('adir', ''), false, 'a folder is never taken for a lock');
      assert.deepEqual(readdirSync(home), ['adir']);
    });

    test('twelve clients taking over the same stale lock at once: exactly one wins', async () => {
      const home = mkdtempSync(join(root, `race-${u.name}-`));
      const files = new ExecFiles(localRunner(u.path!, home));
      writeFileSync(join(home, 'lock'), STALE);
      const wins = await Promise.all(Array.from({ length: 12 }, () => files.takeOver('lock', STALE)));
      assert.equal(wins.filter(Boolean).length, 1, `winners: ${wins.filter(Boolean).length}`);
      assert.deepEqual(readdirSync(home), []);
    });
  });
}

test('a newer lock that replaced the stale one between the compare and the rename is put back, untouched', async () => {
  // An mv that first lets "another client" take the stale lock over and create its own, then
  // moves: the takeover moves the newer lock aside, sees it is not the one it read, and restores it.
  const bin = join(root, 'bin-late');
  mkdirSync(bin);
  symlinkSync('/usr/bin/dash', join(bin, 'sh'));
  const newer = '{"token":"ffff","owner":"alice@laptop"}';
  writeFileSync(join(bin, 'mv'), `#!/usr/bin/dash\nrm -f lock; printf '%s' '${newer}' > lock.alice && /usr/bin/ln lock.alice lock && rm lock.alice\nexec /usr/bin/mv "$@"\n`);
  chmodSync(join(bin, 'mv'), 0o755);
  const home = mkdtempSync(join(root, 'home-late-'));
  writeFileSync(join(home, 'lock'), STALE);
  const files = new ExecFiles(localRunner(`${bin}:/usr/bin:/bin`, home));
  assert.equal(await files.takeOver('lock', STALE), false);
  assert.equal(readFileSync(join(home, 'lock'), 'utf8'), newer, "Alice's lock is where it was");
  assert.deepEqual(readdirSync(home), ['lock'], 'no temporary file is left');
});
