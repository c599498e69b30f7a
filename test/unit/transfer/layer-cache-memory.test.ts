import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

// In a child process: its peak memory is its own, not the whole test run's.
test('a tiny gzip blob of 512 MiB of zeros is checked without unpacking it in memory', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, 'zero-layer-export.ts')], { env: { ...process.env, BM_ZERO_MIB: '512' }, encoding: 'utf8' });
  const r = JSON.parse(out) as { grewMiB: number; blobBytes: number; diffId: string; rawSize: number; expected: string };
  assert.ok(r.blobBytes < 4 * 1024 * 1024, 'small enough to be read into memory whole (the case at stake)');
  assert.equal(r.diffId, r.expected, 'the layer is known by the hash of its content');
  assert.equal(r.rawSize, 512 * 1024 * 1024);
  assert.ok(r.grewMiB < 128, `peak memory grew by ${Math.round(r.grewMiB)} MiB for a 512 MiB layer`);
});
