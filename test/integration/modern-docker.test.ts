/**
 * The Docker people run today, on real engines: Docker 26 (Debian 13's build) with the
 * containerd image store and with the classic store, beside Docker 20.10, as the developer's
 * engine (workstations dev, ws26o, ws26c) and as the server's (bm1, bm26o, bm26c).
 * - every pairing: deploy, a dry run and a one-line redeploy (bytes checked), rollback, logs;
 * - BuildKit Dockerfiles (cache mounts, heredocs, COPY --link, a target, args, a build secret);
 * - a failed step named, Cancel that stops the build, the moby#47717 engine built over a session;
 * - an image for another CPU refused before anything is sent; building on the server.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { checkAgainstTool, KiB, metered, size } from '../helpers/link-meter';
import { cleanupApp, cli, errorLine, makeWorkspace, onServer, server, servedCommit, testEnv, type Workspace } from '../helpers/world';

const run = promisify(execFile);
const env = testEnv();
const workstations = env.workstations ?? [];
const made: { ws: Workspace; servers: string[] }[] = [];
after(async () => {
  for (const { ws, servers } of made) for (const s of servers) await cleanupApp(s, ws.app).catch(() => undefined);
});

interface DeployJson {
  result: string;
  commit: string;
  bytesSent: number;
  transport: string;
  image: string;
}

async function workspace(serverName: string, extra: object = {}, files: Record<string, string> = {}): Promise<Workspace> {
  const ws = await makeWorkspace({ servers: { [serverName]: { host: serverName } }, extra });
  if (Object.keys(files).length) await ws.commit('modern Dockerfile', files);
  made.push({ ws, servers: [serverName] });
  return ws;
}

const dockerHost = (name: string) => workstations.find((w) => w.name === name)?.dockerHost ?? '';

describe('every pairing of workstation and server engine', () => {
  const servers = ['bm1', 'bm26o', 'bm26c'];
  for (const w of ['dev', 'ws26o', 'ws26c']) {
    for (const s of servers) {
      test(`${w} → ${s}: deploy, dry run, one-line redeploy, rollback, logs`, async () => {
        const ws = await workspace(s);
        const opts = { cwd: ws.dir, env: { DOCKER_HOST: dockerHost(w), BAREMETAL_CACHE_DIR: `${ws.dir}/../${ws.app}-cache` } };
        const first = await ws.git('rev-parse', 'HEAD');
        const d1 = await cli(['deploy', '--json'], opts);
        assert.equal(d1.code, 0, d1.stderr);
        assert.equal(await servedCommit(server(s).host, ws.port), first);
        const second = await ws.commit('one line', { 'www/index.html': `${await readFile(`${ws.dir}/www/index.html`, 'utf8')}<p>one more line</p>\n` });
        // The dry run says beforehand what will cross: one small layer of several.
        const plan = await cli(['deploy', '--dry-run', '--json'], opts);
        assert.equal(plan.code, 0, plan.stderr);
        const p = plan.json as { missingBytes: number; layers: { present: boolean }[] };
        assert.ok(p.missingBytes > 0 && p.missingBytes < 20_000, `dry run: ${p.missingBytes} bytes to send`);
        assert.ok(p.layers.filter((l) => l.present).length >= 1, 'the base layer is there already');
        const { result: d2, link: l2 } = await metered(s, () => cli(['deploy', '--json'], opts));
        assert.equal(d2.code, 0, d2.stderr);
        const r2 = d2.json as DeployJson;
        assert.equal(await servedCommit(server(s).host, ws.port), second);
        // The changed layer is a few hundred bytes compressed; the 1 MB base is never resent
        // (by the tool's count, and by the server's link).
        assert.ok(r2.bytesSent < 20_000, `one-line redeploy sent ${r2.bytesSent} bytes by ${r2.transport}`);
        assert.equal(checkAgainstTool(l2, r2.bytesSent, `the one-line redeploy by ${r2.transport}`), undefined);
        // The history names the image by the server's own ID (a config digest, or a manifest digest on containerd).
        const serverId = (await onServer(s, ['docker', 'image', 'inspect', '--format', '{{.Id}}', `${ws.app}:${second}`])).trim();
        assert.equal(r2.image, serverId);
        const { result: rb, link: lrb } = await metered(s, () => cli(['rollback', '--json'], opts));
        assert.equal(rb.code, 0, rb.stderr);
        assert.equal((rb.json as DeployJson).bytesSent, 0, 'a rollback sends nothing');
        assert.ok(lrb.toServer < 200 * KiB, `the rollback carried ${size(lrb.toServer)} to ${s}: no image`);
        assert.equal(await servedCommit(server(s).host, ws.port), first);
        const logs = await cli(['logs', '--tail', '20'], opts);
        assert.equal(logs.code, 0, logs.stderr);
        assert.match(logs.stdout, /hello: serving \/www on :8080/, 'the log stream of the running container');
      });
    }
  }
});

// The first RUN line is unique per workspace: BuildKit's cache would otherwise keep a step that
// read an earlier secret (it does not key the cache on secret values).
const BUILDKIT_DOCKERFILE = `FROM local/busybox:1 AS base
RUN echo UNIQUE > /unique
RUN --mount=type=cache,target=/cache echo cached > /cache/x && cp /cache/x /cached
RUN --mount=type=secret,id=NPM_TOKEN wc -c < /run/secrets/NPM_TOKEN > /secret-length
RUN <<EOT
echo "from a heredoc" > /heredoc.txt
EOT
FROM base AS app
ARG GREETING=none
RUN echo "$GREETING" > /greeting
COPY --link www /www
COPY start.sh /start.sh
EXPOSE 8080
CMD ["/bin/sh", "/start.sh"]
FROM app AS debug
RUN echo debug > /debug
`;
const SECRET = 'npm_Zq7-only-in-the-build';

test('a BuildKit Dockerfile on the containerd workstation: cache mount, heredoc, COPY --link, target, args and a secret that is nowhere after', async () => {
  const ws = await workspace('bm26c', { build: { target: 'app', args: { GREETING: 'hello-arg' }, secrets: ['NPM_TOKEN'] } }, { Dockerfile: BUILDKIT_DOCKERFILE.replace('UNIQUE', `${Date.now()}-${Math.random()}`) });
  const d = await cli(['deploy', '--json'], { cwd: ws.dir, env: { NPM_TOKEN: SECRET } });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /building with docker buildx on /);
  assert.match(d.stderr, /\[base 3\/5\] RUN --mount=type=cache/, 'each step shows as it starts');
  const id = (await onServer('bm26c', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${ws.app}`])).trim();
  const inside = await onServer('bm26c', ['docker', 'exec', id, 'cat', '/secret-length', '/greeting', '/heredoc.txt', '/cached']);
  assert.deepEqual(inside.trim().split('\n').map((l) => l.trim()), [String(SECRET.length), 'hello-arg', 'from a heredoc', 'cached']);
  const absent = await onServer('bm26c', ['sh', '-c', `test ! -e /debug || echo debug-stage; docker exec ${id} test -e /debug && echo debug-stage || true`]);
  assert.equal(absent.trim(), '', 'build.target stopped at the app stage');
  const tag = `${ws.app}:${(d.json as DeployJson).commit}`;
  const seen = [
    d.stdout,
    d.stderr,
    await onServer('bm26c', ['docker', 'history', '--no-trunc', tag]),
    await onServer('bm26c', ['docker', 'image', 'inspect', tag]),
    await onServer('bm26c', ['cat', `/root/.baremetal/${ws.app}/history.jsonl`]),
    (await run('docker', ['-H', env.dockerHost, 'image', 'inspect', tag])).stdout,
    (await run('docker', ['-H', env.dockerHost, 'save', tag], { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 })).stdout,
  ];
  for (const [i, text] of seen.entries()) assert.ok(!text.includes(SECRET), `the secret value is in place ${i}`);
});

test("a failing step is named with BuildKit's reason; nothing is sent", async () => {
  const ws = await workspace('bm26c', {}, { Dockerfile: 'FROM local/busybox:1\nRUN echo about to fail && exit 3\nCOPY www /www\n' });
  const d = await cli(['deploy'], { cwd: ws.dir });
  assert.notEqual(d.code, 0);
  assert.match(errorLine(d.stderr), /^error: The image build failed at "RUN echo about to fail && exit 3": .*exit code: 3/);
  assert.equal((await onServer('bm26c', ['docker', 'images', '-q', ws.app])).trim(), '');
});

test('Cancel stops the build itself (the buildx process and the solve on the engine); nothing is sent', async () => {
  const ws = await workspace('bm26c', {}, { Dockerfile: 'FROM local/busybox:1\nRUN echo long-step-begins && sleep 47\nCOPY www /www\n' });
  let started = 0;
  const d = await cli(['deploy'], {
    cwd: ws.dir,
    onStderr: (s) => {
      if (!started && s.includes('long-step-begins')) started = Date.now();
    },
    signalAfterMs: 6000,
  });
  assert.ok(started > 0, `the long step had started:\n${d.stderr}`);
  assert.notEqual(d.code, 0);
  assert.match(errorLine(d.stderr), /cancel/i);
  // The step's process ran inside the workstation engine's namespaces: it must be gone soon.
  let left = '';
  for (let i = 0; i < 40; i++) {
    left = (await run('sh', ['-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done | grep -c "^sleep 47" || true'])).stdout.trim();
    if (left === '0') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(left, '0', 'no "sleep 47" of the cancelled build is left running');
  const buildx = (await run('sh', ['-c', 'pgrep -f "[d]ocker-buildx buildx build" || true'])).stdout.trim();
  assert.equal(buildx, '', 'no buildx process is left');
  assert.equal((await onServer('bm26c', ['docker', 'images', '-q', ws.app])).trim(), '', 'nothing was sent');
});

test("Docker 26 with the containerd store through the Engine API's BuildKit (no buildx): the context goes over a BuildKit session, so moby#47717 does not stop it", async () => {
  const ws = await workspace('bm1');
  const d = await cli(['deploy'], { cwd: ws.dir, env: { BAREMETAL_BUILDER: 'api' } });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /building with the Engine API's BuildKit on .*\(the context over a BuildKit session, as the docker CLI sends it\)/);
  assert.equal(await servedCommit(server('bm1').host, ws.port), await ws.git('rev-parse', 'HEAD'));
});

test("the Engine API's BuildKit (no docker CLI) builds BuildKit Dockerfiles on the classic store, build secrets too (over the session)", async () => {
  const ws = await workspace('bm26o', { build: { target: 'app' } }, { Dockerfile: BUILDKIT_DOCKERFILE.replace('UNIQUE', String(Date.now())).replace(/RUN --mount=type=secret.*\n/, '') });
  const apiEnv = { BAREMETAL_BUILDER: 'api', DOCKER_HOST: dockerHost('ws26o') };
  const d = await cli(['deploy'], { cwd: ws.dir, env: apiEnv });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /building with the Engine API's BuildKit on /);
  assert.equal(await servedCommit(server('bm26o').host, ws.port), await ws.git('rev-parse', 'HEAD'));
  await ws.writeConfig(JSON.parse((await readFile(`${ws.dir}/baremetal.json`, 'utf8')).replace('"target": "app"', '"target": "app", "secrets": ["NPM_TOKEN"]')));
  // The secret mount reads the file: without the secret delivered, that step fails.
  await ws.commit('with a secret', { Dockerfile: BUILDKIT_DOCKERFILE.replace('UNIQUE', `${Date.now()}-secret`) });
  const s = await cli(['deploy'], { cwd: ws.dir, env: { ...apiEnv, NPM_TOKEN: SECRET } });
  assert.equal(s.code, 0, s.stderr);
  assert.ok(!s.stderr.includes(SECRET), 'the secret is not in the output');
  const id = (await onServer('bm26o', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${ws.app}`])).trim();
  assert.equal((await onServer('bm26o', ['docker', 'exec', id, 'cat', '/secret-length'])).trim(), String(SECRET.length));
});

test("built here for linux/arm64 under QEMU emulation, then deployed to an amd64 server: rebuilt for the server's CPU, the arm64 image never shipped", async (t) => {
  const hasArmBase = await run('docker', ['-H', env.dockerHost, 'image', 'inspect', 'local/busybox:1-arm64']).then(() => true, () => false);
  if (!hasArmBase) return t.skip('no local/busybox:1-arm64 (needs qemu-user-static and binfmt_misc: scripts/test-servers.sh)');
  const ws = await workspace('bm1', {}, { Dockerfile: 'ARG BASE=local/busybox:1\nFROM ${BASE}\nRUN uname -m > /built-on\nCOPY www /www\nCOPY start.sh /start.sh\nEXPOSE 8080\nCMD ["/bin/sh", "/start.sh"]\n' });
  const sha = await ws.git('rev-parse', 'HEAD');
  // What a developer's engine holds after building this commit for an arm64 server (a RUN step
  // really executed for aarch64, through qemu-user-static): the same tag, linux/arm64.
  const tar = await run('git', ['-C', ws.dir, 'archive', '--format=tar', 'HEAD'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    const p = spawn('docker', ['buildx', 'build', '--load', '--platform', 'linux/arm64', '--build-arg', 'BASE=local/busybox:1-arm64', '-t', `${ws.app}:${sha}`, '-'], { env: { ...process.env, DOCKER_HOST: env.dockerHost, DOCKER_CONFIG: env.dockerConfig } });
    p.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`arm64 build exited ${c}`))));
    p.stdin.end(tar.stdout);
  });
  assert.equal((await run('docker', ['-H', env.dockerHost, 'image', 'inspect', '--format', '{{.Architecture}}', `${ws.app}:${sha}`])).stdout.trim(), 'arm64');
  const d = await cli(['deploy', '--json'], { cwd: ws.dir });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /Building [0-9a-f]{12} \(modern Dockerfile\) for linux\/amd64/, 'rebuilt for the server');
  assert.equal((await onServer('bm1', ['docker', 'image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}', `${ws.app}:${sha}`])).trim(), 'linux/amd64');
  const id = (await onServer('bm1', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${ws.app}`])).trim();
  assert.equal((await onServer('bm1', ['docker', 'exec', id, 'cat', '/built-on'])).trim(), 'x86_64');
  assert.equal(await servedCommit(server('bm1').host, ws.port), sha);
});

test('build.on "server": the commit is built by the server\'s own engine (containerd store, through buildx), nothing is shipped after, the history says where', async () => {
  // The server needs the base image, as a real one would pull it from its registry.
  const have = (await onServer('bm26c', ['docker', 'images', '-q', 'local/busybox:1'])).trim();
  if (!have) await run('sh', ['-c', `docker -H ${dockerHost('dev')} save local/busybox:1 | bash scripts/test-servers.sh exec bm26c -- docker load -q`]);
  const ws = await workspace('bm26c', { build: { on: 'server', secrets: ['NPM_TOKEN'] } }, { Dockerfile: BUILDKIT_DOCKERFILE.replace('UNIQUE', String(Date.now())).replace('FROM app AS debug\nRUN echo debug > /debug\n', '') });
  const d = await cli(['deploy', '--json'], { cwd: ws.dir, env: { NPM_TOKEN: SECRET, DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /building with docker buildx on the server bm26c/);
  const r = d.json as DeployJson;
  assert.equal(r.bytesSent, 0, 'no image sent: it was built there');
  assert.equal(await servedCommit(server('bm26c').host, ws.port), r.commit);
  const history = (await onServer('bm26c', ['cat', `/root/.baremetal/${ws.app}/history.jsonl`])).trim().split('\n').map((l) => JSON.parse(l) as { builtOn?: string });
  assert.equal(history.at(-1)?.builtOn, 'server');
  assert.ok(!JSON.stringify(history).includes(SECRET));
});
