import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isBmError, type BmError } from '../../../src/core/errors';
import { dockerCliEnv, endpointLabel, resolveLocalEngine, type ResolveOptions } from '../../../src/drivers/docker/local-engine';
import { connectLocalEngine } from '../../../src/drivers/docker/local-connect';
import { LocalBuilder } from '../../../src/drivers/docker/builder';

const homes: string[] = [];
after(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));

/** A made-up home folder; short, because a unix socket's path is limited to about 100 bytes. */
function home(): string {
  const h = mkdtempSync(path.join(tmpdir(), 'bm-le-'));
  homes.push(h);
  return h;
}

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** A context as `docker context create` files it: under the sha256 of its name. */
function context(configDir: string, name: string, host: string, opts: { skipTls?: boolean; tls?: boolean } = {}): void {
  const id = createHash('sha256').update(name).digest('hex');
  write(path.join(configDir, 'contexts/meta', id, 'meta.json'), JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: !!opts.skipTls } } }));
  if (opts.tls) for (const f of ['ca', 'cert', 'key']) write(path.join(configDir, 'contexts/tls', id, 'docker', `${f}.pem`), `${f}\n`);
}

/** Linux, uid 1000, no socket anywhere unless `sockets` lists it. */
function opts(h: string, env: NodeJS.ProcessEnv = {}, sockets: string[] = [], more: Partial<ResolveOptions> = {}): ResolveOptions {
  return { env, home: h, platform: 'linux', uid: 1000, exists: (p) => sockets.includes(p), ...more };
}

const hosts = (o: ResolveOptions) => resolveLocalEngine(o).candidates.map((c) => `${c.source} = ${c.host}`);

function thrown(f: () => unknown): BmError {
  try {
    f();
  } catch (e) {
    assert.ok(isBmError(e, 'LocalDockerUnavailable'), `expected LocalDockerUnavailable, got ${String(e)}`);
    return e;
  }
  assert.fail('no error');
}

async function rejected(p: Promise<unknown>): Promise<BmError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isBmError(e, 'LocalDockerUnavailable'), `expected LocalDockerUnavailable, got ${String(e)}`);
    return e;
  }
  assert.fail('connected');
}

describe('resolveLocalEngine: the docker CLI order', () => {
  test('with nothing set and no socket about, only the default socket, not explicit', () => {
    assert.deepEqual(resolveLocalEngine(opts(home())), { explicit: false, candidates: [{ host: 'unix:///var/run/docker.sock', source: 'the default socket', via: 'socket' }] });
  });

  test('the current context of ~/.docker/config.json comes first, then the default socket', () => {
    const h = home();
    write(path.join(h, '.docker/config.json'), JSON.stringify({ auths: {}, currentContext: 'colima' }));
    context(path.join(h, '.docker'), 'colima', `unix://${h}/.colima/default/docker.sock`);
    const r = resolveLocalEngine(opts(h));
    assert.equal(r.explicit, false);
    assert.deepEqual(hosts(opts(h)), [`current context "colima" of ~/.docker/config.json = unix://${h}/.colima/default/docker.sock`, 'the default socket = unix:///var/run/docker.sock']);
    assert.deepEqual(dockerCliEnv(r.candidates[0], { DOCKER_HOST: '', PATH: '/bin' }), { PATH: '/bin', DOCKER_CONTEXT: 'colima' });
  });

  test('DOCKER_CONTEXT overrides the current context, and is all that is tried', () => {
    const h = home();
    write(path.join(h, '.docker/config.json'), JSON.stringify({ currentContext: 'colima' }));
    context(path.join(h, '.docker'), 'colima', 'unix:///colima.sock');
    context(path.join(h, '.docker'), 'orbstack', 'unix:///orb.sock');
    const o = opts(h, { DOCKER_CONTEXT: 'orbstack' }, [path.join(h, '.colima/default/docker.sock')]);
    assert.equal(resolveLocalEngine(o).explicit, true);
    assert.deepEqual(hosts(o), ['context "orbstack" (DOCKER_CONTEXT) = unix:///orb.sock']);
  });

  test('DOCKER_HOST overrides DOCKER_CONTEXT and the current context; a spawned docker keeps it', () => {
    const h = home();
    write(path.join(h, '.docker/config.json'), JSON.stringify({ currentContext: 'colima' }));
    context(path.join(h, '.docker'), 'colima', 'unix:///colima.sock');
    const env = { DOCKER_HOST: 'tcp://10.0.0.5:2375', DOCKER_CONTEXT: 'colima' };
    const r = resolveLocalEngine(opts(h, env));
    assert.deepEqual(r, { explicit: true, candidates: [{ host: 'tcp://10.0.0.5:2375', source: 'DOCKER_HOST', via: 'DOCKER_HOST' }] });
    assert.deepEqual(dockerCliEnv(r.candidates[0], env), env);
  });

  test('DOCKER_HOST with DOCKER_TLS_VERIFY takes its PEM files from DOCKER_CERT_PATH', () => {
    const h = home();
    for (const f of ['ca', 'cert', 'key']) write(path.join(h, 'certs', `${f}.pem`), f);
    const [c] = resolveLocalEngine(opts(h, { DOCKER_HOST: 'tcp://box:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: path.join(h, 'certs') })).candidates;
    assert.deepEqual(c.tls, { ca: path.join(h, 'certs/ca.pem'), cert: path.join(h, 'certs/cert.pem'), key: path.join(h, 'certs/key.pem'), verify: true });
  });

  test('DOCKER_CONTEXT=default means the default socket, even with a current context', () => {
    const h = home();
    write(path.join(h, '.docker/config.json'), JSON.stringify({ currentContext: 'colima' }));
    context(path.join(h, '.docker'), 'colima', 'unix:///colima.sock');
    assert.deepEqual(resolveLocalEngine(opts(h, { DOCKER_CONTEXT: 'default' })), {
      explicit: true,
      candidates: [{ host: 'unix:///var/run/docker.sock', source: 'the default socket (DOCKER_CONTEXT=default)', via: 'socket' }],
    });
  });

  test('a current context "default" is no context at all', () => {
    const h = home();
    write(path.join(h, '.docker/config.json'), JSON.stringify({ currentContext: 'default' }));
    assert.deepEqual(hosts(opts(h)), ['the default socket = unix:///var/run/docker.sock']);
  });

  test('an unknown DOCKER_CONTEXT is a sentence naming it and the way to list the real ones', () => {
    const h = home();
    context(path.join(h, '.docker'), 'colima', 'unix:///colima.sock');
    assert.equal(
      thrown(() => resolveLocalEngine(opts(h, { DOCKER_CONTEXT: 'colina' }))).message,
      'DOCKER_CONTEXT names the context "colina", which ~/.docker/contexts does not have: run `docker context ls` to see the contexts there, or unset DOCKER_CONTEXT.',
    );
  });

  test('DOCKER_CONFIG moves config.json and the contexts; a context keeps its TLS files', () => {
    const h = home();
    const dir = path.join(h, 'elsewhere');
    write(path.join(dir, 'config.json'), JSON.stringify({ currentContext: 'prod' }));
    context(dir, 'prod', 'tcp://10.1.1.1:2376', { tls: true, skipTls: true });
    const [c] = resolveLocalEngine(opts(h, { DOCKER_CONFIG: dir })).candidates;
    const tlsDir = path.join(dir, 'contexts/tls', createHash('sha256').update('prod').digest('hex'), 'docker');
    assert.equal(c.source, `current context "prod" of ${dir.replace(h, '~')}/config.json`);
    assert.deepEqual(c.tls, { ca: path.join(tlsDir, 'ca.pem'), cert: path.join(tlsDir, 'cert.pem'), key: path.join(tlsDir, 'key.pem'), verify: false });
  });

  test('the usual sockets that exist follow the default one, in a fixed order (real sockets)', async () => {
    const h = home();
    const made = ['.orbstack/run/docker.sock', '.colima/default/docker.sock', '.docker/run/docker.sock'].map((p) => path.join(h, p));
    const servers = await Promise.all(made.map((p) => listen(p)));
    try {
      const o = { env: {}, home: h, platform: 'linux' as const, uid: 1000 }; // the real existsSync
      assert.deepEqual(hosts(o).slice(0, 4), [
        'the default socket = unix:///var/run/docker.sock',
        `Docker Desktop = unix://${h}/.docker/run/docker.sock`,
        `Colima = unix://${h}/.colima/default/docker.sock`,
        `OrbStack = unix://${h}/.orbstack/run/docker.sock`,
      ]);
      assert.equal(dockerCliEnv(resolveLocalEngine(o).candidates[2], { DOCKER_CONTEXT: 'x' }).DOCKER_HOST, `unix://${h}/.colima/default/docker.sock`);
    } finally {
      servers.forEach((s) => s.close());
    }
  });

  test('Podman and rootless Docker under XDG_RUNTIME_DIR; Podman machine only on macOS', () => {
    const h = home();
    const machine = path.join(h, '.local/share/containers/podman/machine/podman.sock');
    const sockets = ['/xdg/podman/podman.sock', '/run/user/1000/docker.sock', machine, path.join(h, '.rd/docker.sock')];
    assert.deepEqual(hosts(opts(h, { XDG_RUNTIME_DIR: '/xdg' }, sockets)).slice(1), ['Rancher Desktop = unix://' + h + '/.rd/docker.sock', 'Podman = unix:///xdg/podman/podman.sock', 'rootless Docker = unix:///run/user/1000/docker.sock']);
    assert.ok(hosts(opts(h, {}, sockets, { platform: 'darwin' })).includes(`Podman = unix://${machine}`));
  });

  test('a current context on the same socket as Docker Desktop is named once, as the context', () => {
    const h = home();
    const sock = path.join(h, '.docker/run/docker.sock');
    write(path.join(h, '.docker/config.json'), JSON.stringify({ currentContext: 'desktop-linux' }));
    context(path.join(h, '.docker'), 'desktop-linux', `unix://${sock}`);
    assert.deepEqual(hosts(opts(h, {}, [sock])), [`current context "desktop-linux" of ~/.docker/config.json = unix://${sock}`, 'the default socket = unix:///var/run/docker.sock']);
  });

  test('on Windows the default is the docker_engine pipe', () => {
    const r = resolveLocalEngine(opts(home(), {}, ['\\\\.\\pipe\\dockerDesktopLinuxEngine'], { platform: 'win32' }));
    assert.deepEqual(r.candidates.map((c) => c.host), ['npipe:////./pipe/docker_engine', 'npipe:////./pipe/dockerDesktopLinuxEngine']);
  });
});

describe('connectLocalEngine', () => {
  test('skips a stale socket and builds on the first engine that answers GET /_ping', async () => {
    const h = home();
    await stale(path.join(h, '.docker/run/docker.sock'));
    const server = await engine(path.join(h, '.colima/default/docker.sock'));
    const saved = process.env.DOCKER_HOST; // dockerode reads it behind our back: it must not win
    process.env.DOCKER_HOST = 'tcp://192.0.2.1:2375';
    try {
      const { docker, endpoint } = await connectLocalEngine({ env: {}, home: h, platform: 'linux', uid: 1000, ping: notTheDefault });
      assert.equal(endpointLabel(endpoint), `Colima (unix://${h}/.colima/default/docker.sock)`);
      assert.equal(String(await docker.ping()), 'OK');
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
      server.close();
    }
  });

  test('when none answers, one sentence says where it looked and the way out', async () => {
    const h = home();
    await stale(path.join(h, '.colima/default/docker.sock'));
    const e = await rejected(connectLocalEngine({ env: {}, home: h, platform: 'linux', uid: 1000, ping: notTheDefault }));
    assert.equal(
      e.message,
      'No Docker Engine answers on this machine (looked at the default socket /var/run/docker.sock (no such socket), Colima ~/.colima/default/docker.sock (connection refused)): set "build": { "on": "server" } in baremetal.json to build on the server instead, or start Docker here.',
    );
  });

  test('many places are shortened to three in full and the rest by name', async () => {
    const h = home();
    const sockets = ['.docker/run/docker.sock', '.colima/default/docker.sock', '.orbstack/run/docker.sock', '.rd/docker.sock'].map((p) => path.join(h, p));
    const e = await rejected(connectLocalEngine({ ...opts(h, {}, [...sockets, '/run/podman/podman.sock']), ping: notTheDefault }));
    assert.match(e.message, /^No Docker Engine answers on this machine \(looked at the default socket \/var\/run\/docker.sock \(no such socket\), Docker Desktop ~\/.docker\/run\/docker.sock \(no such socket\), Colima ~\/.colima\/default\/docker.sock \(no such socket\), and the sockets of OrbStack, Rancher Desktop, Podman\): set "build"/);
  });

  test('an explicit DOCKER_HOST that refuses is named alone; one that hangs times out', async () => {
    const h = home();
    const dead = path.join(h, 'dead.sock');
    await stale(dead);
    const e = await rejected(connectLocalEngine(opts(h, { DOCKER_HOST: `unix://${dead}` }, [path.join(h, '.colima/default/docker.sock')])));
    assert.equal(e.message, 'No Docker Engine answers at DOCKER_HOST ~/dead.sock (connection refused): set "build": { "on": "server" } in baremetal.json to build on the server instead, or start Docker here.');
    const mute = path.join(h, 'mute.sock');
    const server = await listen(mute); // accepts, never answers
    try {
      const slow = await rejected(connectLocalEngine({ ...opts(h, { DOCKER_HOST: `unix://${mute}` }), timeoutMs: 200 }));
      assert.match(slow.message, /^No Docker Engine answers at DOCKER_HOST ~\/mute.sock \(no answer within 0.2 s\)/);
    } finally {
      server.close();
    }
  });

  test('an engine answering 500 to /_ping is not taken', async () => {
    const h = home();
    const sock = path.join(h, 'sick.sock');
    const server = await engine(sock, 500);
    try {
      const e = await rejected(connectLocalEngine(opts(h, { DOCKER_HOST: `unix://${sock}` })));
      assert.match(e.message, /^No Docker Engine answers at DOCKER_HOST ~\/sick.sock \(HTTP 500 to GET \/_ping\)/);
    } finally {
      server.close();
    }
  });

  test('permission denied on a socket says how to join the docker group, not "not found"', async () => {
    // As root a mode-000 socket still opens, so the engine's EACCES is made up here.
    const ping = async (_d: unknown, ep: { source: string }) => {
      throw Object.assign(new Error('connect EACCES'), { code: ep.source === 'the default socket' ? 'EACCES' : 'ENOENT' });
    };
    const e = await rejected(connectLocalEngine({ ...opts(home()), ping }));
    assert.equal(
      e.message,
      'Cannot use the Docker Engine of the default socket, permission denied on /var/run/docker.sock: add your user to the docker group (sudo usermod -aG docker $USER) and log in again, or set "build": { "on": "server" } in baremetal.json to build on the server instead.',
    );
  });

  test('an ssh:// DOCKER_HOST is reported as not supported yet, without trying it', async () => {
    let pinged = false;
    const e = await rejected(connectLocalEngine({ ...opts(home(), { DOCKER_HOST: 'ssh://me@box' }), ping: async () => void (pinged = true) }));
    assert.equal(pinged, false);
    assert.match(e.message, /^DOCKER_HOST points at ssh:\/\/me@box, and the local builder cannot use ssh:\/\/ engines yet/);
  });
});

describe('LocalBuilder.connect', () => {
  test('looks for the engine on first use, looks again after a failure, and names it once found', async () => {
    const h = home();
    const sock = path.join(h, 'e.sock');
    const builder = LocalBuilder.connect({ DOCKER_HOST: `unix://${sock}` }, h); // nothing there yet: no error until used
    const before = await rejected(builder.image('hello:abc'));
    assert.equal(before.message, 'No Docker Engine answers at DOCKER_HOST ~/e.sock (no such socket): set "build": { "on": "server" } in baremetal.json to build on the server instead, or start Docker here.');
    const server = await engine(sock);
    try {
      assert.equal(await builder.image('hello:abc'), undefined); // the fake engine's 404
      assert.equal(endpointLabel(builder.endpoint!), `DOCKER_HOST (unix://${sock})`);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const after = await rejected(builder.image('hello:abc'));
    assert.match(after.message, /^The Docker Engine of DOCKER_HOST \(unix:\/\/\S+\/e.sock\) stopped answering \((connection broken|no such socket)\): set "build"/);
  });
});

/** The default socket of the machine running the tests is not ours to depend on: it is absent. */
async function notTheDefault(docker: { ping(): Promise<unknown> }, ep: { source: string }): Promise<void> {
  if (ep.source === 'the default socket') throw Object.assign(new Error('connect ENOENT'), { code: 'ENOENT' });
  await docker.ping();
}

function listen(file: string): Promise<net.Server> {
  mkdirSync(path.dirname(file), { recursive: true });
  const server = net.createServer();
  return new Promise((resolve) => server.listen(file, () => resolve(server)));
}

/** A socket file nobody listens on, as a stopped engine leaves it: connecting is refused. */
async function stale(file: string): Promise<void> {
  const server = await listen(`${file}.tmp`);
  renameSync(`${file}.tmp`, file); // node unlinks the path it listened on when closing, not this one
  await new Promise((r) => server.close(r));
}

/** A tiny Engine API: GET /_ping answers `status`, everything else 404. */
function engine(file: string, status = 200): Promise<http.Server> {
  mkdirSync(path.dirname(file), { recursive: true });
  const server = http.createServer((req, res) => {
    if (req.url?.endsWith('/_ping')) return void res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'OK' : 'sick');
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'No such image' }));
  });
  return new Promise((resolve) => server.listen(file, () => resolve(server)));
}
