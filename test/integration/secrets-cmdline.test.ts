/**
 * Secrets never in a process's arguments, on either machine, while they are used: every command
 * line on this machine is sampled over and over (the workstation's CLI, buildx, BuildKit's build
 * steps, and the test server's sshd, dockerd, shims and the app's container all share its PID
 * namespace) during a deploy with a build secret and a run secret, while the app runs, during
 * a rollback, and during a build on the server's own engine (build.on "server"). README promises: secrets are never in labels, the history, the CLI's output or
 * process arguments; build secrets reach the build only as RUN --mount=type=secret; the app's
 * secrets reach its container as env (how Docker hands env over, so `docker inspect` shows them
 * there and nowhere else).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { watchCmdlines, type CmdlineReport } from '../helpers/cmdline-watch';
import { cleanupApp, cli, fetchPage, onServer, PROJECT, server, servedCommit, testEnv, workspaceTracker } from '../helpers/world';

const run = promisify(execFile);
const bm1 = server('bm1');
const tracker = workspaceTracker();
let configHome: string;
before(async () => (configHome = await mkdtemp(join(tmpdir(), 'bm-cmdline-home-'))));
after(async () => {
  await tracker.cleanup();
  await rm(configHome, { recursive: true, force: true });
});

// Values no process would have by chance, new on every run.
const BUILD_SECRET = `npm-${randomBytes(12).toString('hex')}`;
const RUN_SECRET = `db-${randomBytes(12).toString('hex')}`;
// The sampler's own check: a process the test starts with this in its arguments must be found.
const CONTROL = `control-${randomBytes(8).toString('hex')}`;

const DOCKERFILE = (unique: string) => `FROM local/busybox:1
# The secret stays mounted for 3 s (the sampler reads every process's arguments many times
# meanwhile); the last command is a builtin, so the shell stays (ash execs a last external command).
RUN --mount=type=secret,id=NPM_TOKEN wc -c < /run/secrets/NPM_TOKEN > /secret-length && echo ${unique} > /build-id && sleep 3 && echo built
COPY www /www
RUN cp /secret-length /www/
COPY start.sh /start.sh
EXPOSE 8080
CMD ["/bin/sh", "/start.sh"]
`;

function noHits(report: CmdlineReport, what: string): void {
  const leaks = report.hits.filter((h) => h.needle !== CONTROL);
  assert.deepEqual(leaks.map((h) => h.cmdline.replaceAll(BUILD_SECRET, '<build secret>').replaceAll(RUN_SECRET, '<run secret>')), [], `${what}: a secret in a process's arguments`);
}

function saw(report: CmdlineReport, re: RegExp): boolean {
  return [...report.commands].some((c) => re.test(c));
}

/** Runs `fn` while the command lines are sampled; a control process proves the sampler finds what is there. */
async function sampled<T>(fn: () => Promise<T>): Promise<{ result: T; report: CmdlineReport }> {
  const watch = watchCmdlines([BUILD_SECRET, RUN_SECRET, CONTROL]);
  const control = spawn('sh', ['-c', 'sleep 1', CONTROL], { stdio: 'ignore' });
  const result = await fn();
  await new Promise((r) => (control.exitCode === null ? control.on('exit', r) : r(undefined)));
  const report = await watch.stop();
  assert.ok(report.hits.some((h) => h.needle === CONTROL), 'the sampler found the control process (it would find a secret too)');
  return { result, report };
}

test('build and run secrets are in no process arguments on the workstation or the server (deploy, running, rollback), nor in labels, Cmd or history', async () => {
  const env = { XDG_CONFIG_HOME: configHome };
  const ws = await tracker.make({ prefix: 'argv', extra: { build: { secrets: ['NPM_TOKEN'] } }, run: { secrets: ['DB_PASSWORD'] } });
  await writeFile(join(ws.dir, '.gitignore'), '.baremetal.secrets\n');
  await writeFile(join(ws.dir, '.baremetal.secrets'), `NPM_TOKEN=${BUILD_SECRET}\nDB_PASSWORD=${RUN_SECRET}\n`);
  const first = await ws.commit('a build that reads a secret', { Dockerfile: DOCKERFILE(`${Date.now()}-1`) });

  const { result: d1, report: r1 } = await sampled(() => cli(['deploy', '--verbose'], { cwd: ws.dir, env }));
  assert.equal(d1.code, 0, d1.stderr);
  noHits(r1, 'the first deploy');
  // What was sampled: buildx with its --secret flag (the value in its environment), the build
  // step that had the secret mounted, the server's engine and the app's own process.
  assert.ok(saw(r1, /buildx build .*--secret id=NPM_TOKEN,env=/), 'buildx was seen running');
  assert.ok(saw(r1, /wc -c < \/run\/secrets\/NPM_TOKEN/), 'the build step holding the secret was seen running');
  assert.ok(saw(r1, /dockerd .*--data-root \/srv\/baremetal-test\/bm1\//), "the server's dockerd was seen");
  assert.ok(saw(r1, /busybox httpd -f -v -p 8080/), "the app's container was seen running");
  assert.equal(await servedCommit(bm1.host, ws.port), first);
  assert.equal((await fetchPage(bm1.host, ws.port, '/secret-length')).body.trim(), String(BUILD_SECRET.length), 'the build secret reached the build');
  assert.ok(!d1.stdout.includes(BUILD_SECRET) && !d1.stderr.includes(BUILD_SECRET) && !d1.stdout.includes(RUN_SECRET) && !d1.stderr.includes(RUN_SECRET), 'not in what the CLI prints');

  // While it runs: the server's processes, sampled for a while.
  const { report: idle } = await sampled(() => new Promise((r) => setTimeout(r, 2000)));
  noHits(idle, 'the app running');

  // Where Docker shows the container: the run secret in its env, and in nothing else it shows.
  const id = (await onServer('bm1', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${ws.app}`])).trim();
  const inspect = JSON.parse(await onServer('bm1', ['docker', 'inspect', id])) as [{ Config: { Env: string[] } }];
  assert.ok(inspect[0].Config.Env.includes(`DB_PASSWORD=${RUN_SECRET}`), 'the run secret is in the container env');
  inspect[0].Config.Env = inspect[0].Config.Env.filter((e) => !e.startsWith('DB_PASSWORD='));
  const shown = JSON.stringify(inspect);
  assert.ok(!shown.includes(RUN_SECRET) && !shown.includes(BUILD_SECRET), 'no secret in the container labels, Cmd, Args, name or mounts');
  const image = `${ws.app}:${first}`;
  for (const [where, text] of [
    ['the server image', await onServer('bm1', ['docker', 'image', 'inspect', image])],
    ['the server image history', await onServer('bm1', ['docker', 'history', '--no-trunc', image])],
    ['the workstation image', (await run('docker', ['-H', testEnv().dockerHost, 'image', 'inspect', image])).stdout],
    ['the workstation image history', (await run('docker', ['-H', testEnv().dockerHost, 'history', '--no-trunc', image])).stdout],
    ['the deploy history on the server', await onServer('bm1', ['sh', '-c', `cat /root/.baremetal/${ws.app}/* 2>/dev/null || true`])],
  ]) {
    assert.ok(!text.includes(BUILD_SECRET) && !text.includes(RUN_SECRET), `no secret in ${where}`);
  }

  // A second version, then a rollback: the rollback recreates the container with the secret.
  const second = await ws.commit('second', { Dockerfile: DOCKERFILE(`${Date.now()}-2`) });
  const { result: d2, report: r2 } = await sampled(() => cli(['deploy'], { cwd: ws.dir, env }));
  assert.equal(d2.code, 0, d2.stderr);
  noHits(r2, 'the second deploy');
  assert.equal(await servedCommit(bm1.host, ws.port), second);
  const { result: rb, report: r3 } = await sampled(() => cli(['rollback'], { cwd: ws.dir, env }));
  assert.equal(rb.code, 0, rb.stderr);
  noHits(r3, 'the rollback');
  assert.equal(await servedCommit(bm1.host, ws.port), first);
});

test('built on the server (build.on "server"): the build secret is in no process arguments there either, nor in the image', async () => {
  const on = 'bm26c';
  // The server needs the base image, as a real one would pull it from its registry.
  if (!(await onServer(on, ['docker', 'images', '-q', 'local/busybox:1'])).trim()) {
    const dev = testEnv().workstations?.find((w) => w.name === 'dev')?.dockerHost;
    await run('sh', ['-c', `docker -H ${dev} save local/busybox:1 | bash ${join(PROJECT, 'scripts', 'test-servers.sh')} exec ${on} -- docker load -q`]);
  }
  const env = { XDG_CONFIG_HOME: configHome };
  const ws = await tracker.make({ prefix: 'argv', servers: { [on]: { host: on } }, extra: { build: { on: 'server', secrets: ['NPM_TOKEN'] } }, run: { secrets: ['DB_PASSWORD'] } });
  await writeFile(join(ws.dir, '.gitignore'), '.baremetal.secrets\n');
  await writeFile(join(ws.dir, '.baremetal.secrets'), `NPM_TOKEN=${BUILD_SECRET}\nDB_PASSWORD=${RUN_SECRET}\n`);
  const sha = await ws.commit('built on the server', { Dockerfile: DOCKERFILE(`${Date.now()}-server`) });
  try {
    const { result: d, report } = await sampled(() => cli(['deploy'], { cwd: ws.dir, env }));
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stderr, new RegExp(`building with docker buildx on the server ${on}`));
    noHits(report, 'the deploy built on the server');
    assert.ok(saw(report, /wc -c < \/run\/secrets\/NPM_TOKEN/), "the build step holding the secret was seen running on the server's engine");
    assert.ok(saw(report, new RegExp(`runc .*/srv/baremetal-test/${on}/`)), `${on}'s runc was seen`);
    assert.equal(await servedCommit(server(on).host, ws.port), sha);
    assert.equal((await fetchPage(server(on).host, ws.port, '/secret-length')).body.trim(), String(BUILD_SECRET.length), 'the build secret reached the build');
    const image = `${ws.app}:${sha}`;
    const shown = (await onServer(on, ['docker', 'image', 'inspect', image])) + (await onServer(on, ['docker', 'history', '--no-trunc', image]));
    assert.ok(!shown.includes(BUILD_SECRET) && !shown.includes(RUN_SECRET), 'no secret in the image or its history');
  } finally {
    await cleanupApp(on, ws.app).catch(() => undefined);
    await onServer(on, ['rm', '-rf', `/root/.baremetal/${ws.app}`]);
  }
});
