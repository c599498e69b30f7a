import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { contextFromArchive, contextPathFor, makeIgnore, OUTSIDE_DOCKERFILE, type ContextFilter } from '../../../src/core/build/context';
import { makeTar, readTar } from '../fakes/repo';

const at = (f: ContextFilter) => (p: string) => contextPathFor(p, f, makeIgnore(f.dockerignore));
const filesOf = (m: Map<string, string>) => [...m.keys()].filter((k) => !k.endsWith('/')).sort();

describe('contextPathFor', () => {
  test('context at the repository root: paths are kept, ./ and trailing slashes cleaned', () => {
    const p = at({ contextPrefix: '', dockerfilePath: 'Dockerfile' });
    assert.equal(p('src/a.js'), 'src/a.js');
    assert.equal(p('./src/a.js'), 'src/a.js');
    assert.equal(p('src/'), 'src');
    assert.equal(p(''), undefined);
    assert.equal(p('./'), undefined);
  });

  test('a context subfolder: its prefix is stripped, everything outside dropped', () => {
    const p = at({ contextPrefix: 'services/api', dockerfilePath: 'services/api/Dockerfile' });
    assert.equal(p('services/api/src/main.go'), 'src/main.go');
    assert.equal(p('services/api/Dockerfile'), 'Dockerfile');
    assert.equal(p('services/api/'), undefined, 'the context folder itself is not an entry');
    assert.equal(p('services/web/index.js'), undefined);
    assert.equal(p('services/api-old/main.go'), undefined, 'a sibling with the same prefix is outside');
    assert.equal(p('README.md'), undefined);
  });

  test('.dockerignore patterns: names, folders, globs, ** and comments', () => {
    const p = at({ contextPrefix: '', dockerfilePath: 'Dockerfile', dockerignore: '# build output\nnode_modules\ndist/\n*.log\n**/*.test.js\nsecrets/**\n' });
    for (const gone of ['node_modules', 'node_modules/a/index.js', 'dist/app.js', 'debug.log', 'x.test.js', 'src/deep/y.test.js', 'secrets/prod.key']) {
      assert.equal(p(gone), undefined, `${gone} is ignored`);
    }
    for (const kept of ['src/index.js', 'logs/app.txt', 'src/x.log', 'src/test.js', '# build output']) assert.equal(p(kept), kept, `${kept} is kept`);
  });

  test('! re-includes what an earlier pattern excluded; a later pattern wins', () => {
    const p = at({ contextPrefix: '', dockerfilePath: 'Dockerfile', dockerignore: '*.md\n!README.md\ndocs\n!docs/public\ndocs/public/draft.md\n' });
    assert.equal(p('CHANGELOG.md'), undefined);
    assert.equal(p('README.md'), 'README.md');
    assert.equal(p('docs/internal.txt'), undefined);
    assert.equal(p('docs/public/index.html'), 'docs/public/index.html');
    assert.equal(p('docs/public/draft.md'), undefined);
  });

  test('CRLF .dockerignore (written on Windows) works the same', () => {
    const p = at({ contextPrefix: '', dockerfilePath: 'Dockerfile', dockerignore: 'node_modules\r\n*.log\r\n' });
    assert.equal(p('node_modules/x.js'), undefined);
    assert.equal(p('a.log'), undefined);
  });

  test('the Dockerfile and .dockerignore always reach the builder, even if ignored', () => {
    const p = at({ contextPrefix: 'app', dockerfilePath: 'app/docker/Dockerfile.prod', dockerignore: '*\n' });
    assert.equal(p('app/docker/Dockerfile.prod'), 'docker/Dockerfile.prod');
    assert.equal(p('app/.dockerignore'), '.dockerignore');
    assert.equal(p('app/docker/other'), undefined);
    assert.equal(p('app/index.js'), undefined);
  });

  test(
    'a Dockerfile outside the context does not exempt an unrelated file inside it from .dockerignore',
    () => {
      // Context "app", Dockerfile "docker/Dockerfile": 'docker/Dockerfile'.slice(4) is "er/Dockerfile".
      const p = at({ contextPrefix: 'app', dockerfilePath: 'docker/Dockerfile', dockerignore: 'er\nother\n' });
      assert.equal(p('app/other/Dockerfile'), undefined, 'the pattern works at all');
      assert.equal(p('app/er/Dockerfile'), undefined);
    },
  );
});

describe('contextFromArchive', () => {
  const archive = () =>
    makeTar({
      'README.md': 'root readme',
      'app/Dockerfile': 'FROM scratch\n',
      'app/.dockerignore': 'secret.txt\ntmp/**\n*.md\n!NOTES.md\nDockerfile\n',
      'app/src/a.js': 'console.log(1)\n',
      'app/secret.txt': 'hunter2',
      'app/tmp/cache/x.bin': 'x',
      'app/CHANGES.md': 'changes',
      'app/NOTES.md': 'notes',
      'other/b.js': 'other',
    });
  const filter: ContextFilter = { contextPrefix: 'app', dockerfilePath: 'app/Dockerfile', dockerignore: 'secret.txt\ntmp/**\n*.md\n!NOTES.md\nDockerfile\n' };

  test('repacks only the context folder, minus what .dockerignore excludes, contents intact', async () => {
    const out = await readTar(contextFromArchive(archive(), filter));
    assert.deepEqual(filesOf(out), ['.dockerignore', 'Dockerfile', 'NOTES.md', 'src/a.js']);
    assert.equal(out.get('Dockerfile'), 'FROM scratch\n');
    assert.equal(out.get('src/a.js'), 'console.log(1)\n');
    assert.ok(![...out.keys()].some((k) => k.startsWith('app/') || k.includes('other')), 'no repository paths leak');
    assert.ok(out.has('src/'), 'folders inside the context are kept');
    assert.ok(!out.has('tmp/cache/'), 'ignored folders are dropped');
  });

  test('the context at the root with no .dockerignore: everything', async () => {
    const out = await readTar(contextFromArchive(makeTar({ Dockerfile: 'FROM x', 'a/b/c.txt': 'c', '.env.example': 'A=1' }), { contextPrefix: '', dockerfilePath: 'Dockerfile' }));
    assert.deepEqual(filesOf(out), ['.env.example', 'Dockerfile', 'a/b/c.txt']);
  });

  test('extra files (a Dockerfile from outside the context) are added at the end', async () => {
    const f: ContextFilter = { contextPrefix: 'app', dockerfilePath: 'docker/Dockerfile.prod' };
    const out = await readTar(contextFromArchive(makeTar({ 'app/x.js': 'x', 'docker/Dockerfile.prod': 'FROM prod' }), f, { [OUTSIDE_DOCKERFILE]: Buffer.from('FROM prod') }));
    assert.deepEqual(filesOf(out), [OUTSIDE_DOCKERFILE, 'x.js']);
    assert.equal(out.get(OUTSIDE_DOCKERFILE), 'FROM prod');
  });

  test('a large file streams through unchanged', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'abcdefgh');
    const out = await readTar(contextFromArchive(makeTar({ Dockerfile: 'FROM x', 'blob.bin': big }), { contextPrefix: '', dockerfilePath: 'Dockerfile' }));
    assert.equal(out.get('blob.bin'), big.toString('utf8'));
  });

  test('a broken archive stream fails the context stream instead of hanging', async () => {
    const broken = new Readable({ read() {} });
    const ctx = contextFromArchive(broken, { contextPrefix: '', dockerfilePath: 'Dockerfile' });
    setTimeout(() => broken.destroy(new Error('git archive: exit code 128')), 10);
    await assert.rejects(readTar(ctx), /git archive: exit code 128/);
  });

  test('the engine closing the upload mid-file ends the context and the archive without an unheard error (the StreamError crash)', async () => {
    // What the upload does when the engine answers early: its pipe destroys the context stream.
    const big = Buffer.alloc(8 * 1024 * 1024, 'x');
    const archive = makeTar({ Dockerfile: 'FROM x', 'big.bin': big });
    const ctx = contextFromArchive(archive, { contextPrefix: '', dockerfilePath: 'Dockerfile' });
    const unheard: unknown[] = [];
    const onUncaught = (e: unknown) => unheard.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      ctx.on('error', () => undefined); // the consumer hears its own stream
      await new Promise<void>((resolve) => ctx.once('data', () => resolve()));
      ctx.destroy(new Error('Writable stream closed'));
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(unheard.map(String), [], 'no error nobody listens to');
      assert.ok(archive.destroyed, 'the archive (git archive) is stopped too');
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
