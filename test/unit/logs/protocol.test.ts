import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFromWebview, isToWebview, packLines, savedPanelState, unpackLines, type WireLine } from '../../../src/protocol/logs';

test('messages from the webview are checked field by field', () => {
  assert.ok(isFromWebview({ type: 'ready' }));
  assert.ok(isFromWebview({ type: 'copy', text: 'abc' }));
  assert.ok(isFromWebview({ type: 'open', url: 'https://example.com/orders/42?x=1' }));
  const openBad = ['file:///etc/passwd', 'command:workbench.action.terminal.new', 'javascript:alert(1)', 'vscode://x', 'http://', 'not a url', `https://example.com/${'a'.repeat(3000)}`].map((url) => ({ type: 'open', url }));
  for (const bad of [null, 'ready', [], { type: 'run', cmd: 'rm -rf /' }, { type: 'copy' }, { type: 'save', text: 42 }, { type: 'rendered', marks: [] }, { type: 'open' }, ...openBad]) {
    assert.equal(isFromWebview(bad), false, JSON.stringify(bad));
  }
});

test('messages to the webview are checked too', () => {
  assert.ok(isToWebview({ type: 'init', app: 'a', servers: ['s'], tail: 10 }));
  assert.ok(isToWebview(packLines([{ s: 0, e: 1, t: '2026-01-01T00:00:00Z', x: 'hi' }])));
  assert.ok(isToWebview({ type: 'status', server: 0, state: 'reconnecting', message: 'm' }));
  for (const bad of [{ type: 'lines', lines: [{ s: 0, e: 1, x: 'hi' }] }, { type: 'lines', text: 'a', times: '', kinds: 7 }, { type: 'status', server: 0, state: 'exploded', message: '' }, { type: 'init', app: 'a', servers: [1], tail: 1 }]) {
    assert.equal(isToWebview(bad), false, JSON.stringify(bad));
  }
});

test('a batch of lines goes as three strings and comes back line for line', () => {
  const lines: WireLine[] = [
    { s: 0, e: 0, t: '2026-11-25T21:00:00.000000001Z', x: 'GET / 200' },
    { s: 1, e: 1, t: '2026-11-25T21:00:00.000000002Z', x: '\x1b[31merror\x1b[0m: disk full' },
    { s: 0, e: 0, x: '' },
    { s: 2, e: 1, x: 'no timestamp, on the third server' },
  ];
  const m = packLines(lines);
  assert.equal(typeof m.text, 'string');
  assert.equal(m.kinds.length, 4);
  assert.ok(isToWebview(m));
  assert.deepEqual(unpackLines(JSON.parse(JSON.stringify(m))), lines);
});

test('a line holding a newline stays one line', () => {
  const back = unpackLines(packLines([{ s: 0, e: 0, x: 'one\ntwo' }, { s: 0, e: 0, x: 'three' }]));
  assert.deepEqual(back?.map((l) => l.x), ['one\u2424two', 'three']);
});

test('a batch whose parts disagree is refused', () => {
  const m = packLines([{ s: 0, e: 0, x: 'a' }, { s: 0, e: 0, x: 'b' }]);
  assert.equal(unpackLines({ ...m, text: 'a\nb\nc' }), undefined);
  assert.equal(unpackLines({ ...m, times: '' }), undefined);
  assert.equal(unpackLines({ ...m, kinds: '0' }), undefined);
  assert.equal(unpackLines({ ...m, kinds: ' 0' }), undefined, 'a kind below the base');
  assert.equal(unpackLines({ type: 'lines', text: '', times: '', kinds: '' }), undefined);
});

test("a panel's saved state is checked before it is used to reopen the panel", () => {
  assert.deepEqual(savedPanelState({ app: 'web', servers: ['bm1', 'bm2'], extra: 1 }), { app: 'web', servers: ['bm1', 'bm2'] });
  for (const bad of [undefined, null, 'web', { app: 'web' }, { app: 'web', servers: [] }, { app: 'web', servers: [1] }, { app: 7, servers: ['bm1'] }]) {
    assert.equal(savedPanelState(bad), undefined, JSON.stringify(bad));
  }
});
