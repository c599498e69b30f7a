import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendJournal, journalPath, parseJournal, readJournal } from '../../../src/core/deploy/journal';
import { LABEL } from '../../../src/core/deploy/labels';
import { history } from '../../../src/core/deploy/status';
import { FakeEngine } from '../fakes/engine';
import { MemoryFiles } from '../fakes/files';
import { CollectingLogger } from '../fakes/logger';
import { rec } from '../fakes/records';
import { deployWorld, makeConfig, makeServer } from '../fakes/world';
import { deploy } from '../../../src/core/deploy/deploy';

const BASE = '.baremetal';
const FILE = '.baremetal/web/history.jsonl';

test('the journal lives in the app state folder', () => {
  assert.equal(journalPath('.baremetal', 'web'), FILE);
  assert.equal(journalPath('/srv/bm//', 'web'), '/srv/bm/web/history.jsonl');
});

test('append then read: the same records, stored oldest first, one JSON object per line', async () => {
  const files = new MemoryFiles();
  assert.deepEqual(await readJournal(files, BASE, 'web'), [], 'no file yet: empty history');
  const a = rec('one');
  const b = rec('two', { result: 'failed', reason: 'The new container exited with code 1.' });
  const c = rec('one', { kind: 'rollback', bytesSent: 0 });
  for (const r of [a, b, c]) await appendJournal(files, BASE, r);

  assert.deepEqual(await readJournal(files, BASE, 'web'), [a, b, c]);
  const lines = files.files.get(FILE)!.split('\n');
  assert.equal(lines.length, 4, 'three lines and a final newline');
  assert.equal(lines[3], '');
  assert.deepEqual(lines.slice(0, 3).map((l) => (JSON.parse(l) as { id: string }).id), [a.id, b.id, c.id]);
});

test('each app has its own journal', async () => {
  const files = new MemoryFiles();
  await appendJournal(files, BASE, rec('w'));
  await appendJournal(files, BASE, rec('a', { app: 'api' }));
  assert.equal((await readJournal(files, BASE, 'web')).length, 1);
  assert.equal((await readJournal(files, BASE, 'api'))[0].app, 'api');
  assert.ok(files.files.has('.baremetal/api/history.jsonl'));
});

test('a malformed line is skipped with a warning, not fatal; the others are read', async () => {
  const files = new MemoryFiles();
  const a = rec('one');
  const b = rec('two');
  await files.mkdirp('.baremetal/web');
  files.files.set(FILE, `${JSON.stringify(a)}\n{"id":"half-written\n\n${JSON.stringify(b)}\n`);
  const logger = new CollectingLogger();
  assert.deepEqual(await readJournal(files, BASE, 'web', logger), [a, b]);
  assert.deepEqual(logger.at('warn'), ['history: line 2 is not valid JSON; skipped']);

  // Appending still works after a bad line.
  const c = rec('three');
  await appendJournal(files, BASE, c, logger);
  assert.deepEqual(await readJournal(files, BASE, 'web'), [a, b, c]);
});

test('lines that parse but are not records are ignored', () => {
  const good = rec('ok');
  const text = ['42', 'null', '"text"', '{"commit":"abc"}', '{"id":"x"}', JSON.stringify(good)].join('\n');
  assert.deepEqual(parseJournal(text), [good]);
});

test('CRLF line endings (a journal edited by hand on Windows) still parse', () => {
  const a = rec('one');
  const b = rec('two');
  assert.deepEqual(parseJournal(`${JSON.stringify(a)}\r\n${JSON.stringify(b)}\r\n`), [a, b]);
});

test('the journal is capped at 1000 records: the oldest go first', async () => {
  const files = new MemoryFiles();
  await files.mkdirp('.baremetal/web');
  const old = Array.from({ length: 1000 }, (_, i) => rec(`c${i}`));
  files.files.set(FILE, old.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const newest = rec('newest');
  await appendJournal(files, BASE, newest);
  const after = await readJournal(files, BASE, 'web');
  assert.equal(after.length, 1000);
  assert.equal(after[0].id, old[1].id, 'the very oldest record was dropped');
  assert.equal(after[998].id, old[999].id);
  assert.deepEqual(after[999], newest);
});

test('the journal write is atomic (temp file + rename), into a folder made first', async () => {
  const files = new MemoryFiles();
  await appendJournal(files, '/srv/bm', rec('x'));
  assert.ok(files.dirs.has('/srv/bm/web'));
  assert.deepEqual(files.ops.filter((o) => !o.startsWith('read')), ['mkdirp /srv/bm/web', 'writeAtomic /srv/bm/web/history.jsonl']);
});

test('history() shows newest first (the reverse of storage) and marks what runs now', async () => {
  const engine = new FakeEngine();
  const files = new MemoryFiles();
  const server = makeServer(engine, files);
  const [a, b, c] = [rec('a'), rec('b'), rec('c', { result: 'failed' })];
  for (const r of [a, b, c]) await appendJournal(files, BASE, r);
  engine.addImage(`web:${b.tag}`);
  engine.seed({ name: 'web-b', image: `web:${b.tag}`, labels: { [LABEL.app]: 'web', [LABEL.deployId]: b.id } });

  const h = await history(server, makeConfig(), 'prod');
  assert.deepEqual(h.map((r) => [r.id, r.current]), [[c.id, false], [b.id, true], [a.id, false]]);
  assert.deepEqual((await readJournal(files, BASE, 'web')).map((r) => r.id), [a.id, b.id, c.id], 'storage is untouched');
});

test('records this version does not know (a newer kind, extra fields) survive a rewrite byte for byte', async () => {
  const files = new MemoryFiles();
  await files.mkdirp('.baremetal/web');
  const known = rec('one');
  // Written by a newer version: a kind this one has no name for, and a known record with a field it does not read.
  const newerKind = '{"v":3,"kind":"promote","id":"p1","app":"web","from":"staging","notes":{"who":"ci"}}';
  const extraField = JSON.stringify({ ...rec('two'), signedBy: 'key-7', phasesMs: { build: 5, verify: 2 } });
  const before = `${JSON.stringify(known)}\n${newerKind}\n${extraField}\n`;
  files.files.set(FILE, before);

  const added = rec('three');
  const returned = await appendJournal(files, BASE, added);

  assert.equal(files.files.get(FILE), `${before}${JSON.stringify(added)}\n`, 'the old lines are exactly as they were, the new one after them');
  assert.deepEqual(returned.map((r) => r.id), [known.id, (JSON.parse(extraField) as { id: string }).id, added.id], 'what this version shows: the records it knows');
});

test("a deploy's journal write keeps a newer version's record", async () => {
  const w = deployWorld({ Dockerfile: 'FROM node:20-alpine\nCOPY . /app\n', 'index.js': '1\n' });
  const newer = '{"kind":"note","id":"n1","app":"web","text":"maintenance window","at":"2030-01-01T00:00:00Z"}';
  await w.files.mkdirp('.baremetal/web');
  w.files.files.set(FILE, `${newer}\n`);
  await deploy(w.deps);
  const lines = w.files.files.get(FILE)!.split('\n');
  assert.equal(lines[0], newer);
  assert.equal(lines.length, 3, 'the newer record, this deploy, the final newline');
});
