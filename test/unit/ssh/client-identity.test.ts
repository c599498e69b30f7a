import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatClientPart, goneFromHere, parseClientPart, processAlive, thisMachine } from '../../../src/drivers/ssh/client-identity';

const machine = '0123456789abcdef0123456789abcdef';
const here = (o: Partial<Parameters<typeof goneFromHere>[1]> = {}) => ({ machine, pid: 100, openHere: () => true, processAlive: () => true, ...o });

test('a holder from this machine whose process exited is gone; one still running cannot be told from here', () => {
  const holder = parseClientPart(formatClientPart({ machine, pid: 4242, connection: 'aabbccddeeff' }));
  assert.deepEqual(holder, { machine, pid: 4242, connection: 'aabbccddeeff' });
  assert.equal(goneFromHere(holder, here({ processAlive: () => false })), false);
  assert.equal(goneFromHere(holder, here()), undefined);
});

test('a holder in this very process is gone once its connection closed (the editor deploying again)', () => {
  const holder = parseClientPart(`${machine}:100:aabbccddeeff`);
  assert.equal(goneFromHere(holder, here({ openHere: () => false })), false);
  assert.equal(goneFromHere(holder, here({ openHere: () => true })), undefined);
});

test('another machine, an unknown machine, or an older lock: only the server can tell', () => {
  assert.equal(goneFromHere(parseClientPart(`${'f'.repeat(32)}:4242:aabbccddeeff`), here({ processAlive: () => false })), undefined);
  assert.equal(goneFromHere(parseClientPart(`${machine}:4242:aabbccddeeff`), here({ machine: undefined, processAlive: () => false })), undefined);
  assert.equal(parseClientPart(undefined), undefined);
  assert.equal(parseClientPart('1234:5678'), undefined);
});

test('this machine is its boot id; the current process is alive and a finished one is not', () => {
  assert.equal(thisMachine(() => '01234567-89ab-cdef-0123-456789abcdef\n'), machine);
  assert.equal(thisMachine(() => { throw new Error('ENOENT'); }), undefined);
  assert.equal(processAlive(process.pid), true);
  assert.equal(processAlive(2 ** 22 + 12345), false);
});
