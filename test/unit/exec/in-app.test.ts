import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load';
import { BmError, isBmError } from '../../../src/core/errors';
import { execInApp, runInApp } from '../../../src/core/exec/in-app';
import type { ContainerInfo, ContainerSpec, Engine, ProcessRequest, ProcessSession, Server } from '../../../src/core/ports';

/** An engine that knows one running container and which programs its image has. */
function world(opts: { running?: boolean; programs?: string[] } = {}) {
  const tried: string[][] = [];
  const oneOffs: ContainerSpec[] = [];
  const container: ContainerInfo = {
    id: 'c1', name: 'shop--live', image: 'shop:abc123', imageId: 'sha256:1', state: 'running',
    labels: { 'dev.baremetal.app': 'shop', 'dev.baremetal.commit': 'abc123' }, startedAt: '2024-01-01T00:00:00Z',
  };
  const session = { exit: Promise.resolve(0) } as unknown as ProcessSession;
  const engine = {
    containers: async () => (opts.running === false ? [] : [container]),
    exec: async (_id: string, req: ProcessRequest) => {
      tried.push(req.command);
      if (!(opts.programs ?? ['bash', 'sh']).includes(req.command[0])) throw new BmError('CommandNotFound', `${req.command[0]} is not in the image.`);
      return session;
    },
    runOneOff: async (spec: ContainerSpec) => {
      oneOffs.push(spec);
      return session;
    },
  } as unknown as Engine;
  const server = { name: 'bm1', engine } as unknown as Server;
  return { server, tried, oneOffs };
}

const config = (run = '{}', extra = '') => parseConfig(`{ "app": "shop", "servers": { "bm1": { "host": "bm1" } }, "run": ${run}${extra} }`, 'baremetal.json');
const req = (server: Server, c = config()) => ({ server, serverName: 'bm1', config: c, tty: true, stdin: true });

test('a shell: bash when the image has it', async () => {
  const w = world();
  const p = await execInApp(req(w.server));
  assert.deepEqual(p.command, ['bash']);
  assert.equal(p.container.name, 'shop--live');
});

test('a shell: sh when the image has no bash', async () => {
  const w = world({ programs: ['sh'] });
  const p = await execInApp(req(w.server));
  assert.deepEqual(w.tried, [['bash'], ['sh']]);
  assert.deepEqual(p.command, ['sh']);
});

test('a shell: neither bash nor sh is one sentence that points at run.shell', async () => {
  const w = world({ programs: [] });
  await assert.rejects(execInApp(req(w.server)), (e: unknown) => isBmError(e, 'CommandNotFound') && e.message === 'Neither bash nor sh is in the image of shop on bm1: set "run.shell" in baremetal.json to a shell it has.');
});

test('a shell set in run.shell is the only one tried, and named when missing', async () => {
  const w = world({ programs: ['bash', 'sh'] });
  await assert.rejects(execInApp(req(w.server, config('{ "shell": ["/bin/zsh", "-l"] }'))), /^BmError: The shell \/bin\/zsh set in run.shell is not in the image of shop: install it in the Dockerfile, or change run.shell in baremetal.json\.$/);
  assert.deepEqual(w.tried, [['/bin/zsh', '-l']]);
  const ok = world({ programs: ['/bin/zsh'] });
  assert.deepEqual((await execInApp(req(ok.server, config('{ "shell": ["/bin/zsh", "-l"] }')))).command, ['/bin/zsh', '-l']);
});

test('a command is run as given, not through a shell; a missing one is not replaced by a shell', async () => {
  const w = world({ programs: ['./manage.py', 'bash', 'sh'] });
  await execInApp({ ...req(w.server), command: ['./manage.py', 'migrate', '--plan'] });
  assert.deepEqual(w.tried, [['./manage.py', 'migrate', '--plan']]);
  await assert.rejects(execInApp({ ...req(w.server), command: ['rails', 'console'] }), /rails is not in the image/);
  assert.deepEqual(w.tried.slice(1), [['rails', 'console']]);
});

test('nothing running: NotRunning says to deploy', async () => {
  const w = world({ running: false });
  for (const p of [execInApp(req(w.server)), runInApp({ ...req(w.server), command: ['true'], secrets: {} })]) {
    await assert.rejects(p, (e: unknown) => isBmError(e, 'NotRunning') && e.message === 'shop is not running on bm1: deploy it first (Deploy HEAD in the editor, or baremetal deploy).');
  }
  assert.deepEqual(w.tried, []);
});

test('a one-off container: the running image, env and secrets as env only, the volumes, not the app label', async () => {
  const w = world();
  const c = config('{ "env": { "GREETING": "hi" }, "secrets": ["DB_PASSWORD"], "volumes": ["data:/data"] }');
  await runInApp({ ...req(w.server, c), command: ['./migrate'], secrets: { DB_PASSWORD: 'pa55-w0rd' } });
  const [spec] = w.oneOffs;
  assert.equal(spec.image, 'shop:abc123');
  assert.deepEqual(spec.command, ['./migrate']);
  assert.deepEqual(spec.env, { GREETING: 'hi', DB_PASSWORD: 'pa55-w0rd' });
  assert.deepEqual(spec.volumes.map((v) => v.spec), ['data:/data']);
  assert.equal(spec.labels['dev.baremetal.app'], 'shop--run');
  assert.equal(spec.restart, 'no');
  assert.deepEqual(spec.ports, []);
  assert.match(spec.name, /^shop--run-[0-9a-f]{6}$/);
  assert.ok(!JSON.stringify({ ...spec, env: undefined }).includes('pa55-w0rd'), 'the secret is nowhere but env');
  assert.equal(spec.network, undefined);
});

test("a one-off container joins the proxy's network when the app is behind it", async () => {
  const w = world();
  await runInApp({ ...req(w.server, config('{}', ', "proxy": { "hosts": ["shop.test"], "port": 8080 }')), command: ['true'], secrets: {} });
  assert.deepEqual(w.oneOffs[0].network, { name: 'baremetal', aliases: [] });
});
