import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { EXIT_UNFINISHED } from '../../../src/cli/exit-guard';

const run = promisify(execFile);
const guard = resolve(__dirname, '../../../src/cli/exit-guard.ts');

/** A real Node process whose command is `body`, run under the guard as the CLI's entry runs it. */
async function guarded(body: string): Promise<{ code: number; stderr: string }> {
  const script = `
    const { runGuarded } = require(${JSON.stringify(guard)});
    runGuarded({ run: async () => { ${body} }, lastStep: () => 'bm1: Sending the image', write: (t) => process.stderr.write(t), exit: (c) => process.exit(c) });`;
  try {
    const r = await run(process.execPath, ['--import', 'tsx', '-e', script], { timeout: 20_000 });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

test('a command whose promise nothing settles exits non-zero with one sentence naming the step, not 0', async () => {
  // What a stream that died without 'error' or 'end' leaves: an empty event loop, a pending promise.
  const r = await guarded(`await new Promise(() => {}); return 0;`);
  assert.equal(r.code, EXIT_UNFINISHED);
  assert.match(r.stderr, /^error: baremetal stopped during "bm1: Sending the image" with nothing left to wait for/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('a command that is still waiting on a timer is not cut short, and its own code is the exit code', async () => {
  const r = await guarded(`await new Promise((ok) => setTimeout(ok, 300)); return 3;`);
  assert.equal(r.code, 3);
  assert.equal(r.stderr, '');
});

test('a command that finishes exits with its code, and one that throws says why and exits 1', async () => {
  assert.deepEqual(await guarded(`return 0;`), { code: 0, stderr: '' });
  const failed = await guarded(`throw new Error('the lock is held');`);
  assert.equal(failed.code, 1);
  assert.equal(failed.stderr, 'error: the lock is held\n');
});

test('an error nobody awaited is one sentence and exit 1, not a stack trace', async () => {
  const r = await guarded(`setTimeout(() => Promise.reject(new Error('write EPIPE')), 10); await new Promise((ok) => setTimeout(ok, 5000)); return 0;`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: baremetal failed during "bm1: Sending the image": write EPIPE; check what runs/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('a thrown error of our own keeps its sentence as it is', async () => {
  const r = await guarded(`setTimeout(() => { const e = new Error('The SSH connection to bm1 was lost.'); e.name = 'BmError'; throw e; }, 10); await new Promise((ok) => setTimeout(ok, 5000)); return 0;`);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: The SSH connection to bm1 was lost.\n');
});
