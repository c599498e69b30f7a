import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { shellQuote } from '../../../src/drivers/ssh/shell-quote';

/** The login shells a server is likely to have: sh (dash here), and bash when installed. */
const SHELLS = ['sh', 'bash'].filter((sh) => {
  try {
    execFileSync(sh, ['-c', 'true']);
    return true;
  } catch {
    return false;
  }
});

/**
 * The oracle: a real shell parses the quoted line. `printf "%s\n"` prints each word it received
 * on its own line; a leading count tells an empty argument from a missing one.
 */
function shellSees(args: string[], sh = 'sh'): string {
  const script = `set -- ${shellQuote(args)}; printf "%s\\n" "$#"; printf "%s\\n" "$@"`;
  return execFileSync(sh, ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: '/nonexistent', X: 'expanded!' } });
}

function roundTrips(args: string[]) {
  for (const sh of SHELLS) {
    assert.equal(shellSees(args, sh), `${args.length}\n${args.map((a) => `${a}\n`).join('')}`, `${sh} parsed: ${shellQuote(args)}`);
  }
}

test('plain words stay readable and unquoted', () => {
  assert.equal(shellQuote(['docker', 'image', 'inspect', 'web:0a1b2c']), 'docker image inspect web:0a1b2c');
  assert.equal(shellQuote(['ls', '-la', '/srv/bm/web', 'user@host', 'a,b', 'x=1', '50%', '+v']), 'ls -la /srv/bm/web user@host a,b x=1 50% +v');
  roundTrips(['ls', '-la', '/srv/bm/web', 'user@host', 'a,b', 'x=1', '50%', '+v']);
});

test('spaces and tabs stay inside one argument', () => {
  assert.equal(shellQuote(['echo', 'two words']), "echo 'two words'");
  roundTrips(['echo', 'two words', ' leading', 'trailing ', 'tab\there', '  ']);
});

test('single and double quotes', () => {
  assert.equal(shellQuote(["it's"]), `'it'\\''s'`);
  roundTrips(["it's", '"double"', `mixed '" quotes`, "'", "''", '"', `\\'`]);
});

test('command substitution, variables and backticks are not run or expanded', () => {
  const dangerous = ['$(touch /tmp/bm-pwned)', '`id`', '$X', '${X}', '$((1+1))', '; rm -rf /', '&& echo no', '| cat', '> /tmp/out', '<(ls)'];
  roundTrips(dangerous);
  assert.ok(!shellSees(['$X']).includes('expanded!'));
});

test('globs, tilde, history and other shell specials are literal', () => {
  roundTrips(['*', '/etc/*', '?', '[a-z]', '~', '~/x', '!', '!!', '#comment', 'a#b', '{a,b}', '\\', '\\n', '&', ';', '(', ')']);
});

test('newlines and other control characters survive', () => {
  roundTrips(['line1\nline2', '\n', 'cr\r\nlf', 'bell\x07', 'esc\x1b[0m']);
});

test('unicode survives', () => {
  roundTrips(['héllo wörld', '日本語', 'emoji 🚀', 'ü']);
});

test('the empty string is an argument, not nothing', () => {
  assert.equal(shellQuote(['printf', '']), "printf ''");
  roundTrips(['', 'x', '']);
  assert.equal(shellSees(['']), '1\n\n');
});

test('options-looking arguments stay separate words', () => {
  roundTrips(['--format', '{{json .}}', '-e', 'A=b c', '--', '-n']);
});

test('a NUL byte or an empty command is refused, never silently truncated', () => {
  assert.throws(() => shellQuote(['echo', 'a\0b']), /NUL/);
  assert.throws(() => shellQuote([]), /empty command/);
});

test('a whole command runs as intended through sh -c', () => {
  const out = execFileSync('sh', ['-c', shellQuote(['printf', '%s|%s\n', "it's $(whoami)", 'a b'])], { encoding: 'utf8' });
  assert.equal(out, "it's $(whoami)|a b\n");
});
