import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TimeMerger } from '../../../src/core/logs/merge';

const at = (s: number, sec: number, x: string) => ({ s, t: `2026-11-25T10:00:${String(sec).padStart(2, '0')}Z`, x });

test('two servers interleave in time order', () => {
  let now = 0;
  const m = new TimeMerger<{ s: number; t: string; x: string }>(2, 150, () => now);
  m.push(at(0, 1, 'a1'));
  m.push(at(0, 3, 'a3'));
  assert.deepEqual(m.take(), [], 'server 1 might still send something earlier');
  m.push(at(1, 2, 'b2'));
  m.push(at(1, 4, 'b4'));
  assert.deepEqual(m.take().map((l) => l.x), ['a1', 'b2', 'a3'], 'b4 waits: server 0 may still send 3.5');
  now = 200;
  assert.deepEqual(m.take().map((l) => l.x), ['b4'], 'a quiet server holds lines back only for a while');
});

test('one server: lines go at once', () => {
  const m = new TimeMerger<{ s: number; t: string; x: string }>(1);
  m.push(at(0, 5, 'x'));
  assert.deepEqual(m.take().map((l) => l.x), ['x']);
});

test('a server that has already shown a later line does not hold others back', () => {
  const m = new TimeMerger<{ s: number; t: string; x: string }>(2, 10_000, () => 0);
  m.push(at(1, 9, 'b9'));
  assert.equal(m.take().length, 0);
  m.push(at(0, 2, 'a2'));
  assert.deepEqual(m.take().map((l) => l.x), ['a2']);
  assert.equal(m.size, 1);
  assert.deepEqual(m.takeThrough(1).map((l) => l.x), ['b9'], "before server 1's note: its own lines go");
});

test("a server's note releases its own lines, with the others' earlier ones, and holds their later ones", () => {
  const m = new TimeMerger<{ s: number; t: string; x: string }>(2, 150, () => 0);
  // Server 0's history is in; server 1 says "following" before its own history comes.
  m.push(at(0, 1, 'a1'));
  m.push(at(0, 3, 'a3'));
  assert.deepEqual(m.takeThrough(1), [], "nothing of server 1's waits: server 0's lines keep waiting for its history");
  m.push(at(1, 2, 'b2'));
  m.push(at(1, 4, 'b4'));
  assert.deepEqual(m.takeThrough(1).map((l) => l.x), ['a1', 'b2', 'a3', 'b4'], "all of server 1's lines, in time order with server 0's earlier ones");
  m.push(at(0, 5, 'a5'));
  m.push(at(1, 6, 'b6'));
  assert.deepEqual(m.takeThrough(0).map((l) => l.x), ['a5'], 'b6 waits: server 0 may still send 5.5');
  assert.equal(m.size, 1);
});

test("a panel just opened waits for a slower server's history, so the histories come out merged", () => {
  let now = 0;
  const m = new TimeMerger<{ s: number; t: string; x: string }>(2, 150, () => now, 2000);
  m.push(at(0, 1, 'a1'));
  m.push(at(0, 3, 'a3'));
  now = 800; // well past the usual patience: server 1 has not sent anything yet
  assert.deepEqual(m.take(), [], "server 1's history may still be on its way");
  m.push(at(1, 2, 'b2'));
  assert.deepEqual(m.take().map((l) => l.x), ['a1', 'b2'], 'merged; a3 waits: server 1 may still send 2.5');
  now = 1000;
  assert.deepEqual(m.take().map((l) => l.x), ['a3'], 'both started: the usual patience again');
});

test('a server that never starts holds the others back only until the startup time is over', () => {
  let now = 0;
  const m = new TimeMerger<{ s: number; t: string; x: string }>(2, 150, () => now, 2000);
  m.push(at(0, 1, 'a1'));
  now = 2149;
  assert.deepEqual(m.take(), [], 'the startup time (2 s), then the usual patience');
  now = 2150;
  assert.deepEqual(m.take().map((l) => l.x), ['a1']);
});

test('a server that says no lines are coming (not running, reconnecting) holds nobody back', () => {
  let now = 0;
  const m = new TimeMerger<{ s: number; t: string; x: string }>(2, 150, () => now, 2000);
  m.push(at(0, 1, 'a1'));
  m.markStarted(1);
  now = 150;
  assert.deepEqual(m.take().map((l) => l.x), ['a1']);
});
