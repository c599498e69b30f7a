import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitCommand } from '../../../src/core/exec/split-command';

test('a typed command becomes argv the way a shell splits words', () => {
  assert.deepEqual(splitCommand('./manage.py migrate --plan'), ['./manage.py', 'migrate', '--plan']);
  assert.deepEqual(splitCommand("  sh -c 'echo $HOME && ls'  "), ['sh', '-c', 'echo $HOME && ls']);
  assert.deepEqual(splitCommand('echo "a \\"b\\" \\\\ c" d\\ e'), ['echo', 'a "b" \\ c', 'd e']);
  assert.deepEqual(splitCommand('printf "" x'), ['printf', '', 'x']);
  assert.deepEqual(splitCommand('echo "it\'s"'), ['echo', "it's"]);
});

test('nothing is interpreted: no variables, globs, pipes or operators', () => {
  assert.deepEqual(splitCommand('echo $SECRET *.txt | wc && rm -rf /'), ['echo', '$SECRET', '*.txt', '|', 'wc', '&&', 'rm', '-rf', '/']);
});

test('an unclosed quote or an empty line is one sentence', () => {
  assert.throws(() => splitCommand("echo 'oops"), /^BmError: The command has an opening ' without its closing one: close it, or escape it with a backslash\.$/);
  assert.throws(() => splitCommand('   '), /The command is empty/);
});
