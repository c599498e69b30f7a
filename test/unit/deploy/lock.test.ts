import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireLock, lockPath, parseLock, type LockInfo, type LockOptions } from '../../../src/core/deploy/lock';
import type { BmError } from '../../../src/core/errors';
import { MemoryFiles } from '../fakes/files';

const BASE = '.baremetal';
const PATH = '.baremetal/web/lock';
const T0 = Date.parse('2030-01-01T12:00:00Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const acquire = (files: MemoryFiles, opts: Partial<LockOptions> & { owner: string }) =>
  acquireLock(files, BASE, 'web', { operation: 'deploy', ...opts });

function holder(files: MemoryFiles): LockInfo | undefined {
  return parseLock(files.files.get(PATH));
}

test('the lock is a file in the app state folder, created with the owner and a lease', async () => {
  assert.equal(lockPath('/srv/bm/', 'web'), '/srv/bm/web/lock');
  const files = new MemoryFiles();
  const lock = await acquire(files, { owner: 'alice@laptop', now: () => T0, leaseMs: 60_000 });
  const info = holder(files);
  assert.ok(info);
  assert.equal(info.owner, 'alice@laptop');
  assert.equal(info.operation, 'deploy');
  assert.equal(info.acquiredAt, '2030-01-01T12:00:00.000Z');
  assert.equal(info.expiresAt, '2030-01-01T12:01:00.000Z');
  assert.match(info.token, /^[0-9a-f]{16}$/);
  assert.ok(files.dirs.has('.baremetal/web'));
  await lock.release();
  assert.equal(files.files.has(PATH), false, 'released: the file is gone');
  await lock.release(); // twice is harmless
});

test('a second acquire is refused with LockHeld naming the owner, the operation and the age', async () => {
  const files = new MemoryFiles();
  await acquire(files, { owner: 'alice@laptop', operation: 'rollback', now: () => T0 });
  await assert.rejects(acquire(files, { owner: 'bob@desk', now: () => T0 + 42_000 }), (e: BmError) => {
    assert.equal(e.code, 'LockHeld');
    assert.equal(e.message, 'A rollback of web by alice@laptop has been running for 42s on this server: wait for it to finish, or run again with --wait.');
    return true;
  });
  assert.equal(holder(files)?.owner, 'alice@laptop', "the holder's lock is untouched");
});

test('with wait: true it waits until the holder releases, then takes the lock', async () => {
  const files = new MemoryFiles();
  const first = await acquire(files, { owner: 'alice@laptop' });
  const waitedFor: string[] = [];
  let got = false;
  const second = acquire(files, { owner: 'bob@desk', wait: true, pollMs: 20, onWaiting: (h) => waitedFor.push(h.owner) }).then((l) => ((got = true), l));
  await sleep(120);
  assert.equal(got, false, 'still waiting while alice holds the lock');
  assert.ok(waitedFor.length >= 3 && waitedFor.every((o) => o === 'alice@laptop'), `polled: ${waitedFor.length}`);
  await first.release();
  const lock = await second;
  assert.equal(holder(files)?.owner, 'bob@desk');
  await lock.release();
  assert.equal(files.files.has(PATH), false);
});

test('an expired lease (its client died) is taken over', async () => {
  const files = new MemoryFiles();
  const crashed = await acquire(files, { owner: 'alice@laptop', now: () => T0, leaseMs: 60_000 });
  const later = await acquire(files, { owner: 'bob@desk', now: () => T0 + 61_000 });
  assert.equal(holder(files)?.owner, 'bob@desk');
  // The old holder coming back must not remove bob's lock.
  await crashed.release();
  assert.equal(holder(files)?.owner, 'bob@desk', 'release removes only our own lock');
  await later.release();
  assert.equal(files.files.has(PATH), false);
});

test('a lease not yet expired is not taken over, even one second before the end', async () => {
  const files = new MemoryFiles();
  await acquire(files, { owner: 'alice@laptop', now: () => T0, leaseMs: 60_000 });
  await assert.rejects(acquire(files, { owner: 'bob@desk', now: () => T0 + 59_000 }), { code: 'LockHeld' });
});

test('cancelled while waiting: Cancelled, and the holder keeps its lock', async () => {
  const files = new MemoryFiles();
  await acquire(files, { owner: 'alice@laptop' });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 80);
  const t0 = Date.now();
  await assert.rejects(acquire(files, { owner: 'bob@desk', wait: true, pollMs: 5000, signal: ac.signal }), (e: BmError) => {
    assert.equal(e.code, 'Cancelled');
    assert.equal(e.message, 'Cancelled while waiting for the deploy lock; nothing was changed.');
    return true;
  });
  assert.ok(Date.now() - t0 < 1000, 'the abort cut the poll sleep short');
  assert.equal(holder(files)?.owner, 'alice@laptop');
});

test('the holder renews its lease while it works', async () => {
  const files = new MemoryFiles();
  let clock = T0;
  const lock = await acquire(files, { owner: 'alice@laptop', leaseMs: 1500, now: () => clock });
  assert.equal(holder(files)?.expiresAt, new Date(T0 + 1500).toISOString());
  clock = T0 + 1000;
  await sleep(1100); // the renewal runs every max(1 s, lease / 3)
  const renewed = holder(files);
  assert.equal(renewed?.expiresAt, new Date(T0 + 2500).toISOString());
  assert.equal(renewed?.acquiredAt, new Date(T0).toISOString(), 'the age still counts from the start');
  await lock.release();
});

test(
  'a lock file just created over SFTP (still empty) is not taken over by a second client',
  async () => {
    // SftpFiles.createExclusive: open(path, 'wx') makes an empty file, the content is written after.
    const files = new MemoryFiles({ exclusiveWriteGapMs: 50 });
    const first = acquire(files, { owner: 'alice@laptop' });
    await sleep(10);
    await assert.rejects(acquire(files, { owner: 'bob@desk' }), { code: 'LockHeld' });
    await first;
    assert.equal(holder(files)?.owner, 'alice@laptop');
  },
);

test(
  'a renewal in flight when the lock is released does not leave a stale lock behind',
  async () => {
    const files = new MemoryFiles({ writeDelayMs: 300 });
    const lock = await acquire(files, { owner: 'alice@laptop', leaseMs: 3000 });
    await sleep(1100); // the renewal started at 1 s and lands at 1.3 s
    await lock.release();
    await sleep(400);
    assert.equal(files.files.has(PATH), false, 'the lock file is gone after release');
    await assert.doesNotReject(acquire(files, { owner: 'alice@laptop' }), 'the next deploy is not refused by our own stale lock');
  },
);

test("a lock whose holder's SSH connection is gone is taken over at once; a living or unknown one is waited for", async () => {
  const files = new MemoryFiles();
  const live = new Set(['100:5000']);
  const probe = (me: string) => ({ mine: async () => me, alive: async (s: string) => (s === '999:1' ? undefined : live.has(s)) });
  const first = await acquire(files, { owner: 'alice@laptop', sessions: probe('100:5000') });
  assert.equal(holder(files)?.session, '100:5000', 'the holder names its connection');
  // Alice's client is alive: Bob is told the lock is held.
  await assert.rejects(acquire(files, { owner: 'bob@ci', sessions: probe('200:7000') }), (e: BmError) => e.code === 'LockHeld');
  // Alice's laptop dies: her connection's process is gone on the server.
  live.delete('100:5000');
  const taken: string[] = [];
  const bob = await acquire(files, { owner: 'bob@ci', sessions: probe('200:7000'), onTakeover: (h) => taken.push(h.owner) });
  assert.deepEqual(taken, ['alice@laptop']);
  assert.equal(holder(files)?.owner, 'bob@ci');
  await first.release(); // her late release does not free Bob's lock
  assert.equal(holder(files)?.owner, 'bob@ci');
  await bob.release();
  // A server that cannot tell (hidepid): the lease stays the bound.
  await acquire(files, { owner: 'carol@box', sessions: probe('999:1') });
  await assert.rejects(acquire(files, { owner: 'dave@box', sessions: probe('300:1') }), (e: BmError) => e.code === 'LockHeld');
});

test('two clients whose clocks differ by minutes: the lease is judged on the server clock, never stolen, never stuck', async () => {
  const files = new MemoryFiles();
  // The server's clock is T0. Alice's laptop is 5 minutes slow, Bob's CI runner 5 minutes fast.
  const skewed = (ms: number) => ({
    now: () => T0 + ms,
    sessions: { mine: async () => undefined, alive: async () => undefined, clockOffsetMs: async () => -ms },
  });
  const alice = skewed(-300_000);
  const bob = skewed(+300_000);
  await acquire(files, { owner: 'alice@laptop', leaseMs: 60_000, ...alice });
  // Judged on Bob's own clock, Alice's lease ended 4 minutes ago; on the server's it has a minute left.
  await assert.rejects(acquire(files, { owner: 'bob@ci', leaseMs: 60_000, ...bob }), { code: 'LockHeld' });
  assert.equal(holder(files)?.owner, 'alice@laptop');
  // Once the lease has run out on the server's clock (both clients' clocks moved on 61 s), Bob takes it.
  const later = { ...bob, now: () => T0 + 300_000 + 61_000 };
  await acquire(files, { owner: 'bob@ci', leaseMs: 60_000, ...later });
  assert.equal(holder(files)?.owner, 'bob@ci');
  // And Bob's lease, written on the server's clock, is not taken as long-expired by slow Alice.
  await assert.rejects(acquire(files, { owner: 'alice@laptop', leaseMs: 60_000, ...alice, now: () => T0 - 300_000 + 62_000 }), { code: 'LockHeld' });
});

test('two clients taking over the same stale lock at once: exactly one holds it, the other is told who does', async () => {
  const files = new MemoryFiles();
  await acquire(files, { owner: 'carol@gone', now: () => T0, leaseMs: 60_000 });
  // Bob's link is slow: his removal of the stale lock lands after Alice has taken it over and
  // written her own lock (the round trips of a far-away client).
  const slow = <A extends unknown[], R>(op: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    await sleep(100);
    return op.apply(files, args);
  };
  const bobFiles = Object.assign(Object.create(files) as MemoryFiles, { remove: slow(files.remove), takeOver: slow(files.takeOver) });
  const later = () => T0 + 61_000;
  const [alice, bob] = await Promise.allSettled([
    acquire(files, { owner: 'alice@laptop', now: later }),
    acquireLock(bobFiles, BASE, 'web', { operation: 'deploy', owner: 'bob@desk', now: later }),
  ]);
  assert.equal(alice.status, 'fulfilled', 'Alice took the stale lock over');
  assert.equal(holder(files)?.owner, 'alice@laptop', "Alice's lock is still there: nobody removed it");
  assert.equal(bob.status, 'rejected', 'Bob does not hold a lock too');
  assert.equal((bob.reason as BmError).message, 'A deploy of web by alice@laptop has been running for 0s on this server: wait for it to finish, or run again with --wait.');
});

test('a lock renewed while another client was taking it over is kept, and that client is told who holds it', async () => {
  const files = new MemoryFiles();
  await acquire(files, { owner: 'alice@laptop', now: () => T0, leaseMs: 60_000 });
  const slowTakeOver = async (path: string, expected: string) => {
    // Alice's client was only late: her renewal lands while Bob's takeover is on its way.
    const renewed = { ...holder(files)!, expiresAt: new Date(T0 + 121_000).toISOString() };
    await files.writeAtomic(PATH, JSON.stringify(renewed));
    return files.takeOver(path, expected);
  };
  const bobFiles = Object.assign(Object.create(files) as MemoryFiles, { remove: files.remove, takeOver: slowTakeOver });
  await assert.rejects(acquireLock(bobFiles, BASE, 'web', { operation: 'deploy', owner: 'bob@desk', now: () => T0 + 61_000 }), { code: 'LockHeld' });
  assert.equal(holder(files)?.owner, 'alice@laptop');
});

test("a gone holder's connection is ended on the server when its lock is taken over; a living holder's never", async () => {
  const files = new MemoryFiles();
  const live = new Set(['100:5000/m1']);
  const ended: string[] = [];
  const probe = (me: string) => ({ mine: async () => me, alive: async (s: string) => live.has(s), endStale: async (s: string) => void ended.push(s) });
  await acquire(files, { owner: 'alice@laptop', sessions: probe('100:5000/m1') });
  await assert.rejects(acquire(files, { owner: 'bob@ci', sessions: probe('200:7000') }), (e: BmError) => e.code === 'LockHeld');
  assert.deepEqual(ended, [], 'a living holder is left alone');
  // Alice's link went silent: her client is gone, her sshd on the server still holds the transfer's forward.
  live.delete('100:5000/m1');
  await acquire(files, { owner: 'alice@laptop', sessions: probe('300:9000/m1') });
  assert.deepEqual(ended, ['100:5000/m1']);
});
