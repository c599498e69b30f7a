import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFromWebview, isToWebview } from '../../../src/protocol/resources';

test('the resource panel accepts only its own messages from the webview', () => {
  assert.ok(isFromWebview({ type: 'ready' }));
  for (const m of [null, 'ready', { type: 'open', url: 'https://x' }, { type: 'copy', text: 'x' }, []]) assert.equal(isFromWebview(m), false, JSON.stringify(m));
});

test('the webview checks every message from the extension', () => {
  const point = { t: 1, cpu: 12.5, mem: 1, limit: 2, rx: 0, tx: 0 };
  assert.ok(isToWebview({ type: 'init', app: 'a', servers: ['bm1'], spanMs: 600_000 }));
  assert.ok(isToWebview({ type: 'points', server: 0, points: [point, { ...point, cpu: null }] }));
  assert.ok(isToWebview({ type: 'marker', server: 1, t: 5, text: 'deploy 0a1b2c3' }));
  assert.ok(isToWebview({ type: 'container', server: 0, name: 'a-1', cpus: 0.5 }));
  assert.ok(isToWebview({ type: 'status', server: 0, state: 'unavailable', message: 'no figures' }));
  assert.equal(isToWebview({ type: 'points', server: 0, points: [{ ...point, mem: '1' }] }), false);
  assert.equal(isToWebview({ type: 'points', server: 0, points: [{ ...point, cpu: Number.NaN }] }), false);
  assert.equal(isToWebview({ type: 'points', server: -1, points: [] }), false);
  assert.equal(isToWebview({ type: 'points', server: 0, points: new Array(2001).fill(point) }), false);
  assert.equal(isToWebview({ type: 'status', server: 0, state: 'fine', message: '' }), false);
  assert.equal(isToWebview({ type: 'marker', server: 0, t: 'now', text: 'x' }), false);
});
