/**
 * The faults suite's verdicts can fail: each judgement fed what a broken product would do (a cut
 * client that exits 0 with nothing done, a silent link that hangs the client, a fuzz run that
 * crashed before it fuzzed) says so, and what a working product does passes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FUZZ_TARGETS } from './fuzz-kit';
import type { Run } from './run-cli';
import { BOUNDS, errorProblem, judgeCut, judgeFuzz, judgeGap, judgeNext, judgeSilent } from './verdicts';

const run = (over: Partial<Run>): Run => ({ code: 1, stdout: '', stderr: '', ms: 5000, stoppedAt: 1000, continuedAt: 2000, timedOut: false, ...over });
const SAID = "› connecting\nerror: The connection to bm26o dropped during the health check; nothing was switched, so deploy again.\n";

test('a cut client that exits 0 while the old version still serves is broken; one that fails in a sentence is not', () => {
  assert.match(judgeCut(run({ code: 0 }), false).join(), /exited 0, but its version does not serve/);
  assert.deepEqual(judgeCut(run({ code: 0 }), true), []);
  assert.deepEqual(judgeCut(run({ stderr: SAID }), false), []);
});

test('a cut client that fails without a sentence, with a stack trace, or late is broken', () => {
  assert.match(judgeCut(run({ stderr: 'Error: read ECONNRESET\n' }), false).join(), /printed no error/);
  assert.match(judgeCut(run({ stderr: `${SAID}    at Socket.onend (node:net:123:45)\n` }), false).join(), /stack trace/);
  assert.match(judgeCut(run({ stderr: 'error: read ECONNRESET\n' }), false).join(), /not a sentence/);
  assert.match(judgeCut(run({ stderr: SAID, ms: 2000 + BOUNDS.cutEndMs + 1 }), false).join(), /took 40\.0 s to end/);
  assert.match(judgeCut(run({ timedOut: true, code: null }), false).join(), /did not end/);
});

test('a silent link: a client that hangs, exits 0, or does not name the server is broken', () => {
  assert.deepEqual(judgeSilent(run({ stderr: SAID, ms: 30_000 }), 2000, 'bm26o'), []);
  assert.match(judgeSilent(run({ timedOut: true, code: null, ms: 120_000 }), 2000, 'bm26o').join(), /said nothing and was killed 118\.0 s after the drop/);
  assert.match(judgeSilent(run({ stderr: SAID, ms: 2000 + BOUNDS.silentEndMs + 500 }), 2000, 'bm26o').join(), /ended 40\.5 s after the drop/);
  assert.match(judgeSilent(run({ code: 0 }), 2000, 'bm26o').join(), /exited 0/);
  assert.match(judgeSilent(run({ stderr: 'error: The connection dropped; deploy again.\n' }), 2000, 'bm26o').join(), /does not name the server bm26o/);
});

test('the next command: a wait for a gone holder\'s lock, or a slow one, fails the row; a takeover does not', () => {
  assert.deepEqual(judgeNext(run({ code: 0, stderr: "the lock of dev's deploy was left by a client that is gone: taking it over\n", ms: 4000 })), { lock: 'taken over at once (holder gone)', broke: [] });
  assert.match(judgeNext(run({ code: 0, stderr: "› Waiting for dev's deploy to finish\n", ms: 62_000 })).broke.join(), /waited for the lock of a client that is gone/);
  assert.match(judgeNext(run({ code: 0, ms: BOUNDS.nextMs + 1 })).broke.join(), /took 30\.0 s/);
});

test('the longest gap is judged against its bound', () => {
  assert.deepEqual(judgeGap(BOUNDS.gapMs), []);
  assert.match(judgeGap(BOUNDS.gapMs + 1).join(), /did not answer for 1\.0 s \(bound 1\.0 s\)/);
});

test('a fuzz run that crashed before fuzzing (no rows) is broken, not a pass over zero rows', () => {
  assert.match(judgeFuzz([], FUZZ_TARGETS, { code: 1, crash: "Cannot find module '../../src/core/config/load'" }).join(), /reported nothing for baremetal\.json \(text mutations\).*Cannot find module/);
  const all = FUZZ_TARGETS.map((target) => ({ target, tried: 100, failed: 0 }));
  assert.deepEqual(judgeFuzz(all, FUZZ_TARGETS, { code: 0 }), []);
  assert.match(judgeFuzz(all.slice(1), FUZZ_TARGETS, { code: 1 }).join(), /reported nothing for baremetal\.json \(text mutations\)$/);
  assert.match(judgeFuzz([{ ...all[0]!, failed: 2 }, ...all.slice(1)], FUZZ_TARGETS, { code: 1 }).join(), /inputs broke baremetal\.json \(text mutations\) \(2\)/);
  assert.match(judgeFuzz(all, FUZZ_TARGETS, { code: 1, crash: 'TypeError: x is not a function' }).join(), /exited 1: TypeError/);
});

test('errorProblem: one error line that is a sentence passes', () => {
  assert.equal(errorProblem(SAID), undefined);
  assert.match(errorProblem(`${SAID}error: and another one.\n`) ?? '', /2 errors/);
});
