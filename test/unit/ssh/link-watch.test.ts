import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { silenceLimitMs, watchLink } from '../../../src/drivers/ssh/link-watch';

test('a link silent past the limit is reported once; bytes arriving keep it alive', async () => {
  const socket = new PassThrough();
  socket.resume();
  let clock = 0;
  const silent: number[] = [];
  watchLink(socket, { limitMs: 100, checkMs: 5, now: () => clock, onSilent: (ms) => silent.push(ms) });
  for (let i = 0; i < 10; i++) {
    clock += 40;
    socket.write('pong'); // a keep-alive answer, a window adjust
    await new Promise((ok) => setTimeout(ok, 10));
  }
  assert.deepEqual(silent, []);
  clock += 150;
  await new Promise((ok) => setTimeout(ok, 30));
  assert.deepEqual(silent, [150]);
  clock += 500;
  await new Promise((ok) => setTimeout(ok, 30));
  assert.equal(silent.length, 1, 'reported once');
});

test('the limit is 20 s unless BAREMETAL_LINK_TIMEOUT says otherwise (at least 2 s)', () => {
  assert.equal(silenceLimitMs({}), 20_000);
  assert.equal(silenceLimitMs({ BAREMETAL_LINK_TIMEOUT: '45' }), 45_000);
  assert.equal(silenceLimitMs({ BAREMETAL_LINK_TIMEOUT: '0' }), 20_000);
  assert.equal(silenceLimitMs({ BAREMETAL_LINK_TIMEOUT: 'soon' }), 20_000);
});

test('on a slow upload, our own queue draining counts as life; a queue that never drains does not', async () => {
  const socket = new PassThrough() as PassThrough & { _handle?: { writeQueueSize: number } };
  socket.resume();
  socket._handle = { writeQueueSize: 4_000_000 };
  let clock = 0;
  const silent: number[] = [];
  watchLink(socket, { limitMs: 100, checkMs: 5, now: () => clock, onSilent: (ms) => silent.push(ms) });
  for (let i = 0; i < 10; i++) {
    clock += 40;
    socket._handle.writeQueueSize -= 30_000; // the kernel took more: the server acknowledged some
    await new Promise((ok) => setTimeout(ok, 10));
  }
  assert.deepEqual(silent, [], 'nothing came back, but the queue drained: alive');
  clock += 150; // stuck: no answer, the queue stays
  await new Promise((ok) => setTimeout(ok, 30));
  assert.equal(silent.length, 1);
});
