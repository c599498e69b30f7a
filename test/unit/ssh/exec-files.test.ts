/**
 * ExecFiles: what it sends (argv: a fixed script, every path its own argument, contents never in
 * argv) and what the scripts do, run by real shells and userlands: dash + coreutils, bash +
 * coreutils, and busybox's sh and applets (what small servers have). Each command line goes
 * through remoteCommand and a login shell's `-c`, as sshd runs it (fish too, where installed).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecFiles, opArgv, SCRIPTS, type ExecResult, type Runner } from '../../../src/drivers/ssh/exec-files';
import { remoteCommand } from '../../../src/drivers/ssh/remote-command';

test('argv: the script is a constant, each path one argument, the content only on stdin', async () => {
  const seen: { argv: string[]; stdin?: string }[] = [];
  const files = new ExecFiles(async (argv, stdin) => {
    seen.push({ argv, stdin: stdin?.toString() });
    return { code: 0, stdout: Buffer.alloc(0), stderr: '' };
  });
  await files.writeAtomic("~/.baremetal/it's $(x)/history.jsonl", 'secret-ish content\n');
  const [w] = seen;
  assert.deepEqual(w.argv.slice(0, 4), ['sh', '-c', SCRIPTS.writeAtomic, 'sh']);
  assert.equal(w.argv[4], ".baremetal/it's $(x)/history.jsonl", '~/ is the login folder, as SftpFiles has it');
  assert.match(w.argv[5], /^\.baremetal\/it's \$\(x\)\/history\.jsonl\.tmp-[0-9a-f]{12}$/, 'the temporary file is in the same folder');
  assert.equal(w.argv[6], String(Buffer.byteLength('secret-ish content\n')));
  assert.equal(w.stdin, 'secret-ish content\n');
  assert.ok(!w.argv.some((a) => a.includes('secret-ish')), 'the content is never an argument');
  await files.createExclusive('/srv/lock', 'é');
  assert.equal(seen[1].argv[6], '2', 'the byte count, not the character count');
  assert.deepEqual(opArgv('remove', '/a b'), ['sh', '-c', SCRIPTS.remove, 'sh', '/a b']);
});

test('no script text reaches the login shell: each travels encoded', () => {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    assert.ok(!remoteCommand(opArgv(name as keyof typeof SCRIPTS, 'x')).includes(script), name);
  }
});

const root = mkdtempSync(join(tmpdir(), 'bm-execfiles-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A PATH whose sh (and, for busybox, every tool) is the one under test. */
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
  { name: 'busybox', path: userland('busybox', '/usr/bin/busybox', ['cat', 'ln', 'mv', 'rm', 'mkdir', 'wc', 'id', 'stat', 'base64']) },
  // fish as the login shell (it reads \' inside single quotes), dash as sh.
  { name: 'fish login', path: userland('fish-login', '/usr/bin/dash'), login: '/usr/bin/fish' },
].filter((u) => u.path && (!u.login || existsSync(u.login)));

/** sshd's part: the login shell runs the quoted line in the login folder. */
function localRunner(path: string, cwd: string, cut?: (stdin: Buffer) => Buffer, login = join(path.split(':')[0]!, 'sh')): Runner {
  return (argv, stdin) =>
    new Promise<ExecResult>((resolve, reject) => {
      const child = spawn(login, ['-c', remoteCommand(argv)], { cwd, env: { PATH: path, HOME: cwd } });
      const out: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
      // A script that fails before reading its stdin closes the pipe (EPIPE here); over SSH the
      // channel takes the bytes regardless. Its exit code and stderr say what happened.
      child.stdin.on('error', () => undefined);
      child.stdin.end(stdin && cut ? cut(stdin) : stdin);
    });
}

for (const u of USERLANDS) {
  describe(`ExecFiles under ${u.name}`, () => {
    let home: string;
    let files: ExecFiles;
    before(() => {
      home = mkdtempSync(join(root, `home-${u.name}-`));
      files = new ExecFiles(localRunner(u.path!, home, undefined, u.login));
    });

    test('mkdirp, writeAtomic, read, remove; ~/ and relative paths are in the login folder', async () => {
      await files.mkdirp('~/.baremetal/app one');
      assert.equal(statSync(join(home, '.baremetal')).mode & 0o777, 0o700);
      assert.equal(statSync(join(home, '.baremetal/app one')).mode & 0o777, 0o700);
      await files.mkdirp('~/.baremetal/app one');
      assert.equal(await files.read('.baremetal/app one/history.jsonl'), undefined, 'missing is undefined, not an error');
      const text = '{"a":"é 🚀"}\n'.repeat(20_000);
      await files.writeAtomic('~/.baremetal/app one/history.jsonl', text);
      assert.equal(await files.read('~/.baremetal/app one/history.jsonl'), text);
      assert.equal(statSync(join(home, '.baremetal/app one/history.jsonl')).mode & 0o777, 0o644);
      await files.writeAtomic('.baremetal/app one/history.jsonl', 'second\n');
      assert.equal(readFileSync(join(home, '.baremetal/app one/history.jsonl'), 'utf8'), 'second\n');
      await files.writeAtomic('.baremetal/app one/empty', '');
      assert.equal(await files.read('.baremetal/app one/empty'), '');
      await files.remove('.baremetal/app one/history.jsonl');
      await files.remove('.baremetal/app one/history.jsonl');
      assert.equal(await files.read('.baremetal/app one/history.jsonl'), undefined);
      assert.deepEqual(leftovers(join(home, '.baremetal/app one')), ['empty'], 'no temporary file is left');
    });

    test('createExclusive: true once, then false (twice), the first content kept; exactly one winner of many', async () => {
      await files.mkdirp('locks');
      assert.equal(await files.createExclusive('locks/lock', '{"token":"first"}'), true);
      assert.equal(await files.createExclusive('locks/lock', '{"token":"second"}'), false);
      assert.equal(await files.createExclusive('~/locks/lock', '{"token":"third"}'), false);
      assert.equal(await files.read('locks/lock'), '{"token":"first"}');
      await files.remove('locks/lock');
      const wins = await Promise.all(Array.from({ length: 12 }, (_, i) => files.createExclusive('locks/race', `{"n":${i}}`)));
      assert.equal(wins.filter(Boolean).length, 1);
      assert.equal(await files.read('locks/race'), `{"n":${wins.indexOf(true)}}`);
      assert.deepEqual(leftovers(join(home, 'locks')), ['race']);
    });

    test('names with quotes, $( ), spaces and newlines are names, not commands', async () => {
      const name = `we'ird $(touch pwned) \`id\` ;x\nname`;
      await files.writeAtomic(name, 'ok');
      assert.equal(readFileSync(join(home, name), 'utf8'), 'ok');
      assert.equal(await files.createExclusive(name, 'again'), false);
      assert.ok(!existsSync(join(home, 'pwned')));
    });

    test('a truncated upload (the connection dropped mid-stdin) is refused and the old file stays', async () => {
      await files.writeAtomic('journal', 'old and complete\n');
      const cutting = new ExecFiles(localRunner(u.path!, home, (b) => b.subarray(0, 5), u.login));
      await assert.rejects(cutting.writeAtomic('journal', 'new and complete\n'), /only 5 of 17 bytes arrived/);
      assert.equal(readFileSync(join(home, 'journal'), 'utf8'), 'old and complete\n');
      await assert.rejects(cutting.createExclusive('lock2', 'a whole lock'), /only 5 of 12 bytes/);
      assert.ok(!existsSync(join(home, 'lock2')));
      assert.deepEqual(leftovers(home).filter((f) => /\.(tmp|new)-/.test(f)), []);
    });

    test('real failures are errors with the server\'s reason, not "missing" or "exists"', async () => {
      await files.mkdirp('adir');
      await assert.rejects(files.read('adir'), /Could not read adir on the server: .*(directory|Is a)/i);
      assert.equal(await files.createExclusive('adir', 'x'), false, 'a folder in the way is never taken for a lock we hold');
      await assert.rejects(files.writeAtomic('no/such/folder/file', 'x'), /Could not write no\/such\/folder\/file on the server: /);
      await assert.rejects(files.createExclusive('no/such/folder/lock', 'x'), /Could not create no\/such\/folder\/lock on the server: ./);
    });
  });
}

test('createExclusive without hard links (ln refused) falls back to a noclobber create, still exclusive', async () => {
  const bin = join(root, 'bin-nolink');
  mkdirSync(bin);
  symlinkSync('/usr/bin/dash', join(bin, 'sh'));
  writeFileSync(join(bin, 'ln'), '#!/usr/bin/dash\necho "ln: failed to create hard link: Operation not permitted" >&2\nexit 1\n');
  chmodSync(join(bin, 'ln'), 0o755);
  const home = mkdtempSync(join(root, 'home-nolink-'));
  const files = new ExecFiles(localRunner(`${bin}:/usr/bin:/bin`, home));
  assert.equal(await files.createExclusive('lock', 'one'), true);
  assert.equal(await files.createExclusive('lock', 'two'), false);
  assert.equal(readFileSync(join(home, 'lock'), 'utf8'), 'one');
  assert.deepEqual(leftovers(home), ['lock']);
});

function leftovers(dir: string): string[] {
  return readdirSync(dir).sort();
}
