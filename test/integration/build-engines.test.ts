/**
 * Builds from every workstation engine without the buildx plugin (a docker CLI installed with
 * --no-install-recommends, a CI image, or no docker CLI at all): Docker 26 with the containerd
 * store, whose API cannot read an uploaded context (moby/moby#47717), the classic store, and
 * 20.10. The context goes over a BuildKit session as the docker CLI sends it; what the image
 * holds proves every byte of a 20 MB context arrived and .dockerignore held.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { cleanupApp, cli, errorLine, fetchPage, makeWorkspace, server, servedCommit, testEnv, type Workspace } from '../helpers/world';

const run = promisify(execFile);
const env = testEnv();
const made: Workspace[] = [];
after(async () => {
  for (const ws of made) await cleanupApp('bm1', ws.app).catch(() => undefined);
});

/** A docker config folder with no cli-plugins: `docker buildx` is then unknown (checked below). */
let noBuildx = '';
before(async () => {
  noBuildx = await mkdtemp(join(tmpdir(), 'bm-no-buildx-'));
  await writeFile(join(noBuildx, 'config.json'), '{}');
  const probe = await run('docker', ['buildx', 'version'], { env: { ...process.env, DOCKER_CONFIG: noBuildx } }).then(
    () => 'found',
    () => 'absent',
  );
  // The docker CLI also looks in /usr/{local/,}{lib,libexec}/docker/cli-plugins: none may hold buildx here.
  assert.equal(probe, 'absent', 'buildx is installed system-wide on this machine, so "without buildx" cannot be tested');
});

const dockerHost = (name: string) => env.workstations?.find((w) => w.name === name)?.dockerHost ?? '';

/** Stage one reads the whole context; the image keeps only what it found (small to ship). */
const PLAIN_DOCKERFILE = `FROM local/busybox:1 AS check
COPY . /ctx
RUN sha256sum /ctx/big.bin | cut -c1-64 > /big.sha && if [ -e /ctx/ignored.txt ]; then echo present; else echo absent; fi > /ignored
FROM local/busybox:1
COPY www /www
COPY start.sh /start.sh
COPY --from=check /big.sha /www/big.sha
COPY --from=check /ignored /www/ignored
EXPOSE 8080
CMD ["/bin/sh", "/start.sh"]
`;

async function bigContextWorkspace(): Promise<{ ws: Workspace; sha: string }> {
  const ws = await makeWorkspace({ prefix: 'eng', extra: { build: { dockerfile: 'deploy/Dockerfile' } } });
  made.push(ws);
  const big = randomBytes(20 * 1024 * 1024);
  await writeFile(join(ws.dir, 'big.bin'), big);
  await ws.commit('a 20 MB context, its Dockerfile in a folder', { 'deploy/Dockerfile': PLAIN_DOCKERFILE, '.dockerignore': 'ignored.txt\n', 'ignored.txt': 'not for the build' });
  return { ws, sha: createHash('sha256').update(big).digest('hex') };
}

for (const w of ['ws26c', 'ws26o', 'dev']) {
  test(`${w} without buildx: a plain Dockerfile with a 20 MB context deploys, every byte there, .dockerignore held, the builder named`, async () => {
    const { ws, sha } = await bigContextWorkspace();
    const d = await cli(['deploy'], { cwd: ws.dir, env: { DOCKER_HOST: dockerHost(w), DOCKER_CONFIG: noBuildx } });
    assert.equal(d.code, 0, d.stderr);
    assert.doesNotMatch(d.stderr, /StreamError|PREMATURE_CLOSE|    at /, 'no stack trace');
    assert.match(d.stderr, /building with the Engine API's BuildKit on DOCKER_HOST \(.*\) \(the context over a BuildKit session, as the docker CLI sends it\)/);
    assert.equal(await servedCommit(server('bm1').host, ws.port), await ws.git('rev-parse', 'HEAD'));
    assert.equal((await fetchPage(server('bm1').host, ws.port, '/big.sha')).body.trim(), sha, 'the 20 MB file arrived intact');
    assert.equal((await fetchPage(server('bm1').host, ws.port, '/ignored')).body.trim(), 'absent', '.dockerignore kept ignored.txt out');
  });
}

const SECRET = 'npm_Qx9-session-only';

test('ws26c without buildx: RUN --mount=type=cache, a heredoc and a build secret build over the session; a failing step is one sentence and the old version keeps serving', async () => {
  const ws = await makeWorkspace({ prefix: 'eng', extra: { build: { secrets: ['NPM_TOKEN'] } } });
  made.push(ws);
  const first = await ws.commit('BuildKit Dockerfile', {
    Dockerfile: `FROM local/busybox:1
RUN --mount=type=cache,target=/cache echo ${Date.now()} > /cache/x && cp /cache/x /cached
RUN --mount=type=secret,id=NPM_TOKEN wc -c < /run/secrets/NPM_TOKEN > /secret-length
RUN <<EOT
echo "from a heredoc" > /heredoc.txt
EOT
COPY www /www
RUN cp /secret-length /heredoc.txt /www/
COPY start.sh /start.sh
EXPOSE 8080
CMD ["/bin/sh", "/start.sh"]
`,
  });
  const opts = { cwd: ws.dir, env: { DOCKER_HOST: dockerHost('ws26c'), DOCKER_CONFIG: noBuildx, NPM_TOKEN: SECRET } };
  const d = await cli(['deploy'], opts);
  assert.equal(d.code, 0, d.stderr);
  assert.ok(!d.stderr.includes(SECRET), 'the secret is not in the output');
  assert.equal(await servedCommit(server('bm1').host, ws.port), first);
  assert.equal((await fetchPage(server('bm1').host, ws.port, '/secret-length')).body.trim(), String(SECRET.length), 'the secret reached RUN --mount=type=secret');
  assert.equal((await fetchPage(server('bm1').host, ws.port, '/heredoc.txt')).body.trim(), 'from a heredoc');
  const history = (await run('docker', ['-H', dockerHost('ws26c'), 'history', '--no-trunc', `${ws.app}:${first}`])).stdout;
  assert.ok(!history.includes(SECRET), 'the secret is in no layer');

  await ws.commit('a step that fails', { Dockerfile: 'FROM local/busybox:1\nRUN --mount=type=cache,target=/cache exit 3\n' });
  const f = await cli(['deploy'], opts);
  assert.notEqual(f.code, 0);
  assert.doesNotMatch(f.stderr, /    at /, 'no stack trace');
  assert.match(errorLine(f.stderr), /^error: The image build failed at "RUN --mount=type=cache,target=\/cache exit 3": .*exit code: 3/);
  assert.equal(await servedCommit(server('bm1').host, ws.port), first, 'the old version still serves');
});
