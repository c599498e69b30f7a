import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFromWebview, isToWebview } from '../../../src/protocol/logs';

test('messages from the webview are checked field by field', () => {
  assert.ok(isFromWebview({ type: 'ready' }));
  assert.ok(isFromWebview({ type: 'copy', text: 'abc' }));
  for (const bad of [null, 'ready', [], { type: 'run', cmd: 'rm -rf /' }, { type: 'copy' }, { type: 'save', text: 42 }, { type: 'rendered', marks: [] }]) {
    assert.equal(isFromWebview(bad), false, JSON.stringify(bad));
  }
});

test('messages to the webview are checked too', () => {
  assert.ok(isToWebview({ type: 'init', app: 'a', servers: ['s'], tail: 10 }));
  assert.ok(isToWebview({ type: 'lines', lines: [{ s: 0, e: 1, t: '2026-01-01T00:00:00Z', x: 'hi' }] }));
  assert.ok(isToWebview({ type: 'status', server: 0, state: 'reconnecting', message: 'm' }));
  for (const bad of [{ type: 'lines', lines: [{ s: 0, e: 2, x: 'hi' }] }, { type: 'status', server: 0, state: 'exploded', message: '' }, { type: 'init', app: 'a', servers: [1], tail: 1 }]) {
    assert.equal(isToWebview(bad), false, JSON.stringify(bad));
  }
});
