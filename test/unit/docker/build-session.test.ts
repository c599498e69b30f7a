import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tar from 'tar-stream';
import type { Readable } from 'node:stream';
import { selectEntries } from '../../../src/drivers/docker/build-session';
import { compareWalk, spoolContext } from '../../../src/drivers/docker/context-spool';
import { decodePacket, encodePacket, goFileMode, GoMode, PacketType } from '../../../src/drivers/docker/filesync-wire';

test('file sync packets round-trip; id 0 and type STAT (0) are the absent fields', () => {
  const stat = { path: 'src/a b.js', mode: goFileMode('file', 0o755), size: 5_000_000_000, modTime: 1_796_699_849_123_456_789n, linkname: '' };
  const back = decodePacket(encodePacket({ type: PacketType.STAT, stat }));
  assert.equal(back.type, PacketType.STAT);
  assert.deepEqual(back.stat, { path: 'src/a b.js', mode: 0o755, size: 5_000_000_000, modTime: 1_796_699_849_123_456_789n });
  assert.deepEqual(decodePacket(encodePacket({ type: PacketType.REQ, id: 0 })), { type: PacketType.REQ, id: 0 });
  const data = decodePacket(encodePacket({ type: PacketType.DATA, id: 300, data: Buffer.from('xyz') }));
  assert.equal(data.id, 300);
  assert.equal(data.data?.toString(), 'xyz');
  // What BuildKit (Go) sends for REQ 7: field 1 = 1, field 3 = 7.
  assert.deepEqual(decodePacket(Buffer.from([0x08, 0x01, 0x18, 0x07])), { type: PacketType.REQ, id: 7 });
});

test("modes are Go's os.FileMode bits, as fsutil sends them", () => {
  assert.equal(goFileMode('directory', 0o755), (GoMode.dir | 0o755) >>> 0);
  assert.equal(goFileMode('symlink', 0o777), GoMode.symlink | 0o777);
  assert.equal(goFileMode('file', 0o4755), GoMode.setuid | 0o755);
});

test("fsutil's walk order: a folder's contents right after it, names compared per part", () => {
  const paths = ['a.txt', 'a/b', 'a', 'B', 'a/b/c', 'ab', '.dockerignore'];
  assert.deepEqual([...paths].sort(compareWalk), ['.dockerignore', 'B', 'a', 'a/b', 'a/b/c', 'a.txt', 'ab']);
});

function tarOf(files: Record<string, string>): Readable {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(1000) }, content);
  pack.finalize();
  return pack as unknown as Readable;
}

test('a spooled context lists every entry with the folders a file list leaves out, and reads each file back', async () => {
  const spool = await spoolContext(tarOf({ 'www/index.html': 'hello', 'a.txt': 'A', Dockerfile: 'FROM x', 'www/img/logo.svg': '<svg/>' }));
  try {
    assert.deepEqual(
      spool.entries.map((e) => e.stat.path),
      ['Dockerfile', 'a.txt', 'www', 'www/img', 'www/img/logo.svg', 'www/index.html'],
    );
    const read = async (p: string) => {
      const chunks: Buffer[] = [];
      for await (const c of spool.read(spool.entries.find((e) => e.stat.path === p)!)) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString();
    };
    assert.equal(await read('www/index.html'), 'hello');
    assert.equal(await read('www/img/logo.svg'), '<svg/>');
    assert.equal(await read('a.txt'), 'A');
  } finally {
    await spool.close();
  }
});

test('a context stream that fails is a rejected spool, not a hang', async () => {
  const pack = tar.pack();
  const entry = pack.entry({ name: 'a', size: 10 });
  entry.on('error', () => undefined); // the writer's own half, destroyed with the pack
  entry.write('abc');
  setTimeout(() => pack.destroy(new Error('git archive: exit code 128')), 10);
  await assert.rejects(spoolContext(pack as unknown as Readable), /git archive: exit code 128/);
});

test("what one file sync request of the frontend gets: followpaths and include patterns, the .dockerignore's excludes", async () => {
  const spool = await spoolContext(tarOf({ Dockerfile: 'FROM x', '.dockerignore': 'x', 'sub/b.txt': 'b', 'sub/deep/c.txt': 'c', 'a.txt': 'a', 'logs/x.log': 'l' }));
  try {
    const names = (inc: string[], exc: string[] = [], follow: string[] = []) => selectEntries(spool.entries, inc, exc, follow).map((e) => e.stat.path);
    assert.deepEqual(names([], [], ['Dockerfile', 'Dockerfile.dockerignore', 'dockerfile']), ['Dockerfile']);
    assert.deepEqual(names([], [], ['a.txt', 'sub']), ['a.txt', 'sub', 'sub/b.txt', 'sub/deep', 'sub/deep/c.txt'], 'a followed folder brings its contents');
    assert.deepEqual(names([], ['logs', '*.txt']), ['.dockerignore', 'Dockerfile', 'sub', 'sub/b.txt', 'sub/deep', 'sub/deep/c.txt']);
    assert.equal(names([]).length, spool.entries.length, 'no patterns: everything');
  } finally {
    await spool.close();
  }
});
