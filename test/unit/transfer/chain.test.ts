import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chainIds } from '../../../src/core/transfer/chain';

const d = (seed: string) => `sha256:${createHash('sha256').update(seed).digest('hex')}`;
/** The OCI image spec's definition, written out independently of the code under test. */
const chainOf = (parent: string, diffId: string) => `sha256:${createHash('sha256').update(`${parent} ${diffId}`, 'utf8').digest('hex')}`;

test('the chain ID of the bottom layer is its diffID', () => {
  assert.deepEqual(chainIds([d('base')]), [d('base')]);
});

test('each chain ID is sha256 of "<parent chain> <diffID>", layer by layer', () => {
  const [a, b, c] = [d('a'), d('b'), d('c')];
  const ab = chainOf(a, b);
  const abc = chainOf(ab, c);
  assert.deepEqual(chainIds([a, b, c]), [a, ab, abc]);
  // A value worked out by hand once, so a change to the formula cannot go unnoticed.
  assert.equal(
    chainIds(['sha256:' + 'a'.repeat(64), 'sha256:' + 'b'.repeat(64)])[1],
    `sha256:${createHash('sha256').update(`sha256:${'a'.repeat(64)} sha256:${'b'.repeat(64)}`).digest('hex')}`,
  );
});

test('the same layer on another parent has another chain ID (so it is not "present" there)', () => {
  const app = d('app');
  const onBase1 = chainIds([d('base-1'), app])[1];
  const onBase2 = chainIds([d('base-2'), app])[1];
  assert.notEqual(onBase1, onBase2);
  assert.notEqual(onBase1, app);
});

test('an image that extends another shares its chain IDs as a prefix; no layers, no chains', () => {
  const base = [d('os'), d('runtime')];
  assert.deepEqual(chainIds([...base, d('app')]).slice(0, 2), chainIds(base));
  assert.deepEqual(chainIds([]), []);
});
