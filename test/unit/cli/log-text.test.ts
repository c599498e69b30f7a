import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logLineFor } from '../../../src/cli/log-text';

const hostile = '\x1b[2J\x1b[H\x1b]0;owned\x07\x1b[32mready\x1b[0m';

test('baremetal logs on a terminal: the colours of a line, never its clears, cursor moves or title', () => {
  assert.equal(logLineFor({ isTTY: true }, hostile), '\x1b[32mready\x1b[0m\x1b[0m');
});

test('baremetal logs into a pipe or a file: the line as the app wrote it, like docker logs', () => {
  assert.equal(logLineFor({ isTTY: false }, hostile), hostile);
  assert.equal(logLineFor({}, hostile), hostile);
});
