import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abbreviateLines } from '../../../src/cli/output';

test('a long detail keeps its first and last lines in a terminal, and says how many it leaves out', () => {
  const text = Array.from({ length: 200 }, (_, i) => `line ${i + 1}`).join('\n');
  const short = abbreviateLines(text, 3, 2).split('\n');
  assert.deepEqual(short, ['line 1', 'line 2', 'line 3', '… 195 more lines …', 'line 199', 'line 200']);
});

test('a detail that fits is left as it is', () => {
  const text = Array.from({ length: 31 }, (_, i) => `line ${i + 1}`).join('\n');
  assert.equal(abbreviateLines(text), text);
  assert.equal(abbreviateLines('one line'), 'one line');
});
