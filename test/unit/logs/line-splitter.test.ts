import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { LineSplitter, MAX_LINE } from '../../../src/core/logs/line-splitter';
import { LogDemuxer } from '../../../src/drivers/docker/convert';
import { jsonLines } from '../../../src/drivers/docker/json-lines';

const MIB = 1024 * 1024;
const CUT = ' … [line cut at 64 KiB]';

/** One frame of Docker's multiplexed stream. */
function frameHeader(stream: 1 | 2, size: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(size, 4);
  return h;
}

/** `total` bytes of a tqdm-like progress bar: "\r" redraws, never a newline. */
function progressBar(total: number): Buffer {
  const bar = Buffer.from('\r 42%|████▎     | 4.2M/10M [00:01<00:01, 3.1MB/s]');
  const out = Buffer.alloc(total);
  for (let at = 0; at < total; at += bar.length) bar.copy(out, at);
  return out;
}

function demuxTimed(chunks: Buffer[]): { lines: string[]; ms: number } {
  const d = new LogDemuxer(false);
  const started = performance.now();
  const lines: string[] = [];
  for (const c of chunks) for (const l of d.push(c)) lines.push(l.text);
  for (const l of d.flush()) lines.push(l.text);
  return { lines, ms: performance.now() - started };
}

const inChunks = (data: Buffer, size = 64 * 1024) => Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size));

test('lines split on "\\n", a "\\r" before it dropped, whatever the chunks', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('one\r\ntw'), ['one']);
  assert.deepEqual(s.push('o\n\nthr'), ['two', '']);
  assert.deepEqual(s.push('ee'), []);
  assert.equal(s.end(), 'three');
  assert.equal(s.end(), undefined, 'nothing left');
});

test('a line over the cap keeps its start, says it was cut, and the next line is whole', () => {
  const s = new LineSplitter(10);
  assert.deepEqual(s.push('0123456789abc'), []);
  assert.deepEqual(s.push('def\nnext\n'), ['0123456789 … [line cut at 10 characters]', 'next']);
  const big = new LineSplitter();
  assert.deepEqual(big.push(`${'x'.repeat(MAX_LINE)}y\n`), [`${'x'.repeat(MAX_LINE)}${CUT}`]);
  assert.deepEqual(big.push(`${'x'.repeat(MAX_LINE)}\n`), ['x'.repeat(MAX_LINE)], 'exactly the cap: not cut');
});

test('a cut never splits a character in two', () => {
  const s = new LineSplitter(3);
  assert.deepEqual(s.push('ab😀cd\n'), ['ab … [line cut at 3 characters]']);
});

test('16 MiB of a progress bar without a newline: one capped line, in well under a second', () => {
  const data = progressBar(16 * MIB);
  const framed = demuxTimed(inChunks(Buffer.concat([frameHeader(1, data.length + 1), data, Buffer.from('\n')])));
  const tty = demuxTimed(inChunks(data));
  for (const { lines, ms } of [framed, tty]) {
    assert.equal(lines.length, 1);
    assert.ok(lines[0].endsWith(CUT), 'marked as cut');
    assert.equal(lines[0].length, MAX_LINE + CUT.length);
    assert.ok(lines[0].startsWith('\r 42%|████▎'), 'its start, as it came');
    assert.ok(ms < 1000, `took ${Math.round(ms)} ms`);
  }
  process.stdout.write(`# 16 MiB, no newline: framed ${Math.round(framed.ms)} ms, tty ${Math.round(tty.ms)} ms\n`);
});

test('a frame whose header claims gigabytes is read as it comes, not held until complete', () => {
  const d = new LogDemuxer(false);
  assert.deepEqual(d.push(Buffer.concat([frameHeader(2, 0xffffffff), Buffer.from('first\nsecond\npart')])).map((l) => [l.stream, l.text]), [
    ['stderr', 'first'],
    ['stderr', 'second'],
  ]);
  assert.deepEqual(d.flush().map((l) => l.text), ['part']);
});

test('a JSON line past the cap is skipped, the next one still read', async () => {
  const huge = `{"stream":"${'x'.repeat(2 * MIB)}"}\n`;
  const messages: unknown[] = [];
  for await (const m of jsonLines(Readable.from(inChunks(Buffer.from(`{"status":"a"}\n${huge}{"status":"b"}`))))) messages.push(m);
  assert.deepEqual(messages, [{ status: 'a' }, { status: 'b' }]);
});
