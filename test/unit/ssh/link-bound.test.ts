import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { boundToLink } from '../../../src/drivers/ssh/link-bound';

/** A connection as the wrapper sees it: closed on demand, with the reason the watchdog gives. */
class FakeLink extends EventEmitter {
  isClosed = false;
  lostReason?: string;
  drop(reason: string): void {
    this.lostReason = reason;
    this.isClosed = true;
    this.emit('close');
  }
}

/** What ssh2's SFTP does with a request on a dead channel: nothing, ever. */
const files = {
  read: (_path: string) => new Promise<string>(() => undefined),
  quick: async (x: number) => x * 2,
  hangUp: async () => {
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  },
  name: 'files',
};

test('a request pending when the link dies fails with one sentence naming the server and why', async () => {
  const link = new FakeLink();
  const bound = boundToLink(files, link, 'bm2');
  const pending = bound.read('/srv/state/lock');
  link.drop('no answer for 20 s: the network link went silent');
  await assert.rejects(pending, (e: Error & { code: string }) => {
    assert.equal(e.code, 'ConnectionLost');
    assert.match(e.message, /^The SSH connection to bm2 was lost \(no answer for 20 s: the network link went silent\): run the command again/);
    return true;
  });
});

test('after the link died a call fails at once; before, calls and properties pass through', async () => {
  const link = new FakeLink();
  const bound = boundToLink(files, link, 'bm2');
  assert.equal(await bound.quick(21), 42);
  assert.equal(bound.name, 'files');
  link.drop('Keepalive timeout');
  await assert.rejects(bound.quick(1), /The SSH connection to bm2 was lost \(Keepalive timeout\)/);
});

test('a dropped channel with the link alive is the engine closing it; with the link gone, the lost link', async () => {
  const alive = new FakeLink();
  await assert.rejects(boundToLink(files, alive, 'bm26o').hangUp(), (e: Error & { code: string }) => e.code === 'EngineLost' && /Docker Engine on bm26o closed the connection/.test(e.message));
  const dying = new FakeLink();
  const call = boundToLink(files, dying, 'bm26o').hangUp();
  setTimeout(() => dying.drop('read ECONNRESET'), 50); // the socket error comes a moment before the close
  await assert.rejects(call, (e: Error & { code: string }) => e.code === 'ConnectionLost');
});

test('a call nobody awaits, failed by the lost link, does not crash the process', async () => {
  const link = new FakeLink();
  let unhandled = 0;
  const count = () => (unhandled += 1);
  process.on('unhandledRejection', count);
  try {
    void boundToLink(files, link, 'bm2').read('/x');
    link.drop('gone');
    await new Promise((ok) => setTimeout(ok, 50));
    assert.equal(unhandled, 0);
  } finally {
    process.off('unhandledRejection', count);
  }
});
