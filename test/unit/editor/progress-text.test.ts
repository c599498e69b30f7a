import assert from 'node:assert/strict';
import { test } from 'node:test';
import { phaseText, progressText } from '../../../src/editor/progress-text';

test("the core's message is what the notification shows, with the bytes sent", () => {
  assert.equal(progressText({ phase: 'build', message: 'Building abc123 (first version)' }), 'Building abc123 (first version)');
  assert.equal(progressText({ phase: 'ship', message: 'Sending hello:abc', bytes: 3 * 1048576 }), 'Sending hello:abc (3.0 MiB sent)');
});

test('the proxy phases read as words when an event has no message', () => {
  assert.equal(progressText({ phase: 'release', message: '' }), 'Running the release command');
  assert.equal(progressText({ phase: 'switch', message: ' ' }), 'Switching traffic to the new version');
  assert.equal(progressText({ phase: 'drain', message: '' }), 'Letting requests in flight on the old version finish');
  assert.equal(progressText({ phase: 'switch', message: 'Routing shop.example.com to shop-abc' }), 'Routing shop.example.com to shop-abc');
});

test('a phase this editor does not know yet does not break the notification', () => {
  assert.equal(phaseText('warm-up'), 'Warm up');
  assert.equal(phaseText('certIssue'), 'Cert issue');
  assert.equal(phaseText(''), 'Working');
  // An object key of every object is no phase's text.
  assert.equal(phaseText('constructor'), 'Constructor');
  // A message missing at run time (an event from a newer core) falls back to the phase.
  assert.equal(progressText({ phase: 'drain', message: undefined as unknown as string }), 'Letting requests in flight on the old version finish');
});
