/**
 * remoteCommand: the exec string sshd hands to the login's shell. The oracle is each real login
 * shell installed here running it with `-c`, as sshd does: the program at the end must receive
 * exactly the arguments given, and nothing else may run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { DECODER, remoteCommand } from '../../../src/drivers/ssh/remote-command';

/**
 * Login shells a server may give a user. fish is the one that broke the former quoting (it reads
 * `\'` inside single quotes); zsh with RC_QUOTES reads `''` inside single quotes as a quote. The
 * project's setup installs fish, zsh and tcsh; a machine without them still checks sh and bash.
 */
const LOGIN_SHELLS: { name: string; argv: string[] }[] = [
  { name: 'dash', argv: ['/usr/bin/dash', '-c'] },
  { name: 'bash', argv: ['/usr/bin/bash', '-c'] },
  { name: 'busybox sh', argv: ['/usr/bin/busybox', 'sh', '-c'] },
  { name: 'zsh', argv: ['/usr/bin/zsh', '-c'] },
  { name: 'zsh -o rcquotes', argv: ['/usr/bin/zsh', '-o', 'rcquotes', '-c'] },
  { name: 'fish', argv: ['/usr/bin/fish', '-c'] },
  { name: 'tcsh', argv: ['/usr/bin/tcsh', '-c'] },
].filter((s) => existsSync(s.argv[0]!));

const scratch = mkdtempSync(join(tmpdir(), 'bm-remote-command-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A server whose only tools are busybox's: `base64 -d` must be there too. */
const busyboxBin = join(scratch, 'busybox-bin');
if (existsSync('/usr/bin/busybox')) {
  execFileSync('mkdir', [busyboxBin]);
  for (const t of ['sh', 'base64', 'printf', 'touch']) symlinkSync('/usr/bin/busybox', join(busyboxBin, t));
}

/** What the last program received: its argument count, then each argument on its own line. */
const PRINT_ARGS = ['sh', '-c', 'printf "%s\\n" "$#"; for a in "$@"; do printf "%s\\n" "$a"; done', 'sh'];

function received(loginShell: string[], args: string[], path = process.env.PATH): string {
  const [bin, ...rest] = loginShell;
  return execFileSync(bin!, [...rest, remoteCommand([...PRINT_ARGS, ...args])], {
    encoding: 'utf8',
    cwd: scratch,
    env: { PATH: path, HOME: scratch, X: 'expanded' },
  });
}

function roundTrips(args: string[]) {
  const expected = `${args.length}\n${args.map((a) => `${a}\n`).join('')}`;
  for (const sh of LOGIN_SHELLS) assert.equal(received(sh.argv, args), expected, `${sh.name} ran: ${remoteCommand([...PRINT_ARGS, ...args])}`);
  if (existsSync(busyboxBin)) assert.equal(received(['/usr/bin/busybox', 'sh', '-c'], args, busyboxBin), expected, 'busybox userland');
}

test('the installed login shells include fish (so the fish case is really checked here)', { skip: !existsSync('/usr/bin/fish') && 'fish is not installed' }, () => {
  assert.ok(LOGIN_SHELLS.some((s) => s.name === 'fish'));
});

test('the exec string is constant text and single-quoted words of letters, digits and _ . / - + = only', () => {
  const line = remoteCommand(['docker', '-H', "unix:///x\\' ; touch /tmp/p ; echo \\", 'system', 'dial-stdio']);
  const prefix = `sh -c '${DECODER}' sh `;
  assert.ok(line.startsWith(prefix));
  for (const word of line.slice(prefix.length).split(' ')) assert.match(word, /^'[pb][A-Za-z0-9_./+=-]*'$/);
  assert.ok(!/['\\!\n]/.test(DECODER), 'the decoder itself has no quote, backslash, "!" or newline');
  assert.equal(remoteCommand(['docker', 'system', 'dial-stdio']), `${prefix}'pdocker' 'psystem' 'pdial-stdio'`, 'plain words stay readable');
});

test('the socket path of issue 18 runs nothing under any login shell (fish read \\\' as a quote)', () => {
  const marker = join(scratch, 'pwned');
  const hostile = `/x\\' ; touch ${marker} ; echo \\`;
  roundTrips([hostile, `unix://${hostile}`, `/health\\'; touch ${marker}; echo \\`]);
  assert.ok(!existsSync(marker), 'no command ran');
});

test('spaces, tabs and quotes stay inside one argument', () => {
  roundTrips(['two words', ' leading', 'trailing ', 'tab\there', '  ', "it's", '"double"', `mixed '" quotes`, "'", "''", '"', `\\'`, '\\\\']);
});

test('command substitution, variables, backticks and redirections are not run or expanded', () => {
  const marker = join(scratch, 'substituted');
  roundTrips([`$(touch ${marker})`, `\`touch ${marker}\``, '$X', '${X}', '$((1+1))', `; touch ${marker}`, '&& echo no', '| cat', `> ${marker}`, '<(ls)', '(echo fish)', '{$X}']);
  assert.ok(!existsSync(marker));
});

test('globs, tilde, history, percent, equals and other specials are literal', () => {
  roundTrips(['*', '/etc/*', '?', '[a-z]', '~', '~/x', '!', '!!', '!$', '#comment', 'a#b', '{a,b}', '\\', '\\n', '&', ';', '(', ')', '%self', '=ls', '^x', '-n', '--', '-c']);
});

test('newlines, trailing newlines and other control characters survive', () => {
  roundTrips(['line1\nline2', '\n', 'ends with newlines\n\n', 'cr\r\nlf', 'bell\x07', 'esc\x1b[0m', '\x7f']);
});

test('unicode survives', () => {
  roundTrips(['héllo wörld', '日本語', 'emoji 🚀', 'ü']);
});

test('the empty string is an argument, not nothing', () => {
  roundTrips(['', 'x', '']);
  assert.match(remoteCommand(['printf', '']), / 'p'$/);
});

test('a NUL byte or an empty command is refused, never silently truncated', () => {
  assert.throws(() => remoteCommand(['echo', 'a\0b']), /NUL/);
  assert.throws(() => remoteCommand([]), /empty command/);
});

test('the exit status and the streams are the program\'s own', () => {
  for (const sh of LOGIN_SHELLS) {
    const [bin, ...rest] = sh.argv;
    try {
      execFileSync(bin!, [...rest, remoteCommand(['sh', '-c', 'echo out; echo err >&2; exit 7'])], { cwd: scratch, env: { PATH: process.env.PATH, HOME: scratch }, stdio: 'pipe' });
      assert.fail(`${sh.name}: expected exit 7`);
    } catch (e) {
      const err = e as { status: number; stdout: Buffer; stderr: Buffer };
      assert.equal(err.status, 7, sh.name);
      assert.equal(err.stdout.toString(), 'out\n', sh.name);
      assert.equal(err.stderr.toString(), 'err\n', sh.name);
    }
  }
});

test('a server without base64 says so instead of running something else', () => {
  // dash, as busybox sh finds its own base64 applet whatever PATH says.
  const bin = join(scratch, 'no-base64');
  execFileSync('mkdir', [bin]);
  symlinkSync('/usr/bin/dash', join(bin, 'sh'));
  assert.deepEqual(readdirSync(bin), ['sh']);
  try {
    execFileSync('/usr/bin/dash', ['-c', remoteCommand(['printf', 'a b'])], { env: { PATH: bin }, stdio: 'pipe' });
    assert.fail('expected a failure');
  } catch (e) {
    const err = e as { status: number; stderr: Buffer };
    assert.equal(err.status, 127);
    assert.match(err.stderr.toString(), /cannot decode the command: base64 -d failed on this server/);
  }
});
