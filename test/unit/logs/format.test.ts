import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clock, plain, render, type Entry } from '../../../webview/src/format';

const line = (over: Partial<Extract<Entry, { kind: 'line' }>['line']> = {}): Entry => ({ kind: 'line', line: { s: 0, e: 0, t: '2026-11-25T22:47:01.123456789Z', x: 'GET / 200', ...over } });
const ESC = '\x1b';

test("times are shown on the viewer's clock, to the millisecond", () => {
  const before = process.env.TZ;
  process.env.TZ = 'Asia/Kolkata'; // +05:30
  try {
    assert.equal(clock('2026-11-25T22:47:01.123456789Z', true), '04:17:01.123');
    assert.equal(clock('2026-11-25T22:47:01Z', false), '04:17:01');
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
  assert.equal(clock('2026-13-45T25:61:00Z', false), '25:61:00', 'an impossible timestamp is shown as it came');
});

test('one server: the line as the app wrote it, stderr behind a red bar, times only when asked', () => {
  const one = { servers: ['bm1'], showTimes: false };
  assert.equal(render(one, line()), 'GET / 200\n');
  assert.equal(render(one, line({ e: 1, x: 'boom' })), `${ESC}[31m▍${ESC}[0mboom\n`);
  assert.match(render({ ...one, showTimes: true }, line()), new RegExp(`^${ESC}\\[2m\\d\\d:\\d\\d:\\d\\d\\.123${ESC}\\[0m GET / 200\\n$`));
  assert.equal(render({ ...one, showTimes: true }, line({ t: undefined })), 'GET / 200\n', 'a line without a timestamp has none');
});

test('several servers: each line tagged with its server, in a colour of its own', () => {
  const two = { servers: ['bm1', 'bm2'], showTimes: false };
  const a = render(two, line({ s: 0 }));
  const b = render(two, line({ s: 1 }));
  assert.match(a, /bm1\x1b\[0m GET/);
  assert.match(b, /bm2\x1b\[0m GET/);
  assert.notEqual(a.slice(0, 5), b.slice(0, 5), 'different colour codes');
});

test("the panel's notes carry their time; plain text keeps Docker's full UTC timestamp", () => {
  const two = { servers: ['bm1', 'bm2'], showTimes: true };
  const note: Entry = { kind: 'note', server: 1, text: 'deploy: now web-abc (abc)', time: '2026-11-25T22:47:01Z', tone: 'marker' };
  assert.match(render(two, note), /bm2.*── deploy: now web-abc \(abc\) · \d\d:\d\d:01 ──/);
  assert.equal(plain(two, note), 'bm2 ── deploy: now web-abc (abc) ──');
  assert.equal(plain(two, line({ s: 1, e: 1, x: 'boom' })), 'bm2 2026-11-25T22:47:01.123456789Z [stderr] boom');
  assert.equal(plain({ servers: ['bm1'], showTimes: false }, line()), 'GET / 200');
});
