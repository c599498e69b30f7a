/**
 * Deploys through the server's Caddy proxy, on real servers (Docker 20.10: bm2; Docker 26 with
 * the containerd store: bm26c), with the proxy image made from Debian 12's caddy 2.6.2 and sent
 * like an app's image (no registry). Pollers hit both apps by host name throughout; a
 * server-sent-events stream stays open on app B while app A is redeployed and rolled back.
 */
import assert from 'node:assert/strict';
import { commitOf, getVia, pollVia } from '../helpers/proxy-poll';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { cleanupApp, cli, errorLine, makeWorkspace, onServer, PROJECT, server, testEnv, type Workspace } from '../helpers/world';

const run = promisify(execFile);
const env = testEnv();
const made: { ws: Workspace; on: string }[] = [];

before(async () => {
  await run('bash', [join(PROJECT, 'scripts', 'make-caddy-image.sh'), env.dockerHost]);
});
after(async () => {
  for (const { ws, on } of made) await cleanupApp(on, ws.app).catch(() => undefined);
});

const STREAM_CGI = `#!/bin/sh
printf 'Content-Type: text/event-stream\\r\\nCache-Control: no-cache\\r\\n\\r\\n'
i=0
while [ $i -lt 600 ]; do printf 'data: %s\\n\\n' $i; i=$((i + 1)); sleep 0.1; done
`;

async function proxied(on: string, opts: { tls?: string; extra?: object; run?: object } = {}): Promise<Workspace & { host: string }> {
  const ws = await makeWorkspace({ servers: { [on]: { host: on } }, run: { ports: [], healthcheck: false, ...opts.run }, extra: opts.extra });
  const host = `${ws.app}.test`;
  const config = JSON.parse(await run('cat', [join(ws.dir, 'baremetal.json')]).then((r) => r.stdout)) as Record<string, unknown>;
  delete (config.run as Record<string, unknown>).ports;
  delete (config.run as Record<string, unknown>).healthcheck;
  config.proxy = { hosts: [host], port: 8080, tls: opts.tls ?? 'off', image: 'local/caddy:2', drainSeconds: 3, healthcheck: { path: '/', timeoutSeconds: 10, intervalSeconds: 0.25 } };
  Object.assign(config, opts.extra ?? {});
  await ws.writeConfig(config);
  mkdirSync(join(ws.dir, 'www', 'cgi-bin'), { recursive: true });
  writeFileSync(join(ws.dir, 'www', 'cgi-bin', 'stream'), STREAM_CGI);
  chmodSync(join(ws.dir, 'www', 'cgi-bin', 'stream'), 0o755);
  await ws.commit('behind the proxy');
  made.push({ ws, on });
  return Object.assign(ws, { host });
}

const get = getVia;
const poll = pollVia;

/** An event stream held open through the proxy: how many events arrived and whether it was cut. */
function holdStream(on: string, host: string) {
  const state = { events: 0, closed: false, error: '' };
  const req = http.get({ host: server(on).host, port: 80, path: '/cgi-bin/stream', headers: { Host: host }, agent: false }, (res) => {
    res.on('data', (d: Buffer) => (state.events += (d.toString().match(/^data: /gm) ?? []).length));
    res.on('end', () => (state.closed = true));
    res.on('error', (e) => ((state.closed = true), (state.error = e.message)));
  });
  req.on('error', (e) => ((state.closed = true), (state.error = e.message)));
  return { state, close: () => req.destroy() };
}

for (const on of ['bm2', 'bm26c']) {
  describe(`through the proxy on ${on} (Docker ${server(on).engine ?? '?'}, ${server(on).store ?? '?'})`, () => {
    test("redeploy and rollback of app A drop no request of A or B, and B's open stream is not cut", async () => {
      const a = await proxied(on);
      const b = await proxied(on);
      for (const ws of [b, a]) {
        const d = await cli(['deploy'], { cwd: ws.dir });
        assert.equal(d.code, 0, d.stderr);
      }
      const first = await a.git('rev-parse', 'HEAD');
      assert.equal(commitOf((await get(on, a.host)).body), first);
      const second = await a.commit('second', { 'www/extra.html': '<p>two</p>\n' });

      const pa = poll(on, a.host);
      const pb = poll(on, b.host);
      const stream = holdStream(on, b.host);
      await new Promise((r) => setTimeout(r, 500));
      const d2 = await cli(['deploy', '--json'], { cwd: a.dir });
      assert.equal(d2.code, 0, d2.stderr);
      const r2 = d2.json as { servingAfterMs?: number; durationMs: number };
      assert.ok(r2.servingAfterMs !== undefined && r2.servingAfterMs < r2.durationMs, `serving after ${r2.servingAfterMs} ms of ${r2.durationMs}`);
      assert.equal(commitOf((await get(on, a.host)).body), second);
      const rb = await cli(['rollback'], { cwd: a.dir });
      assert.equal(rb.code, 0, rb.stderr);
      assert.match(rb.stderr + rb.stdout, /serving after/);
      const [ra, rbp] = [await pa.stop(), await pb.stop()];
      const eventsSoFar = stream.state.events;
      stream.close();
      assert.deepEqual(ra.failed, [], `app A: ${ra.ok} answered`);
      assert.deepEqual(rbp.failed, [], `app B: ${rbp.ok} answered`);
      assert.deepEqual([...ra.commits].sort(), [first, second].sort(), 'A answered with the old, then the new, then the old version');
      assert.ok(ra.ok > 50 && rbp.ok > 50);
      assert.equal(stream.state.closed, false, `B's stream was cut (${stream.state.error})`);
      assert.ok(eventsSoFar > 20, `B's stream kept flowing (${eventsSoFar} events)`);
      assert.equal(commitOf((await get(on, a.host)).body), first);
      // One container per app, named by the route.
      const names = (await onServer(on, ['docker', 'ps', '--format', '{{.Names}}'])).split('\n').filter((n) => n.startsWith(a.app));
      assert.deepEqual(names, [`${a.app}--live`]);
    });

    test('a sick new version never receives a request; the old one keeps serving', async () => {
      const a = await proxied(on);
      assert.equal((await cli(['deploy'], { cwd: a.dir })).code, 0);
      const good = await a.git('rev-parse', 'HEAD');
      await a.commit('sick', { 'start.sh': '#!/bin/sh\necho "sick: serving nothing"\nmkdir -p /empty\nexec busybox httpd -f -p 8080 -h /empty\n' });
      const p = poll(on, a.host);
      const d = await cli(['deploy'], { cwd: a.dir });
      const r = await p.stop();
      assert.notEqual(d.code, 0);
      assert.match(errorLine(d.stderr), /not healthy within 10s: GET \/ answered HTTP 404.*The previous version keeps serving; the new one never received a request\.$/);
      assert.deepEqual(r.failed, []);
      assert.deepEqual([...r.commits], [good]);
    });
  });
}

test('a host already routed to another app on the server is refused, naming it; nothing changes', async () => {
  const b = await proxied('bm2');
  assert.equal((await cli(['deploy'], { cwd: b.dir })).code, 0);
  const c = await proxied('bm2');
  const config = JSON.parse(await run('cat', [join(c.dir, 'baremetal.json')]).then((r) => r.stdout));
  config.proxy.hosts = [b.host];
  await c.writeConfig(config);
  await c.commit('steal a host');
  const d = await cli(['deploy'], { cwd: c.dir });
  assert.notEqual(d.code, 0);
  assert.equal(errorLine(d.stderr), `error: ${b.host} is already routed to the app "${b.app}" on bm2: choose another host in proxy.hosts, or remove it from "${b.app}"; nothing was changed.`);
  assert.equal((await get('bm2', b.host)).status, 200);
  assert.equal((await onServer('bm2', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${c.app}`])).trim(), '');
  // status says what the proxy routes: b, not c (other tests' apps may be routed there too).
  const st = await cli(['status', '--server', 'bm2'], { cwd: c.dir });
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`^bm2: ${c.app} is not deployed\\.\\n  proxy: Caddy 2\\.6\\.2 \\(local/caddy:2\\) running, routing \\d+ apps? \\(`, 'm'));
  assert.match(st.stdout, new RegExp(`[(, ]${b.app}[,)]`));
  assert.doesNotMatch(st.stdout, new RegExp(`[(, ]${c.app}[,)]`));
});

test('run.release runs once before the switch; a failing one fails the deploy with its output, the old version serving', async () => {
  const a = await proxied('bm2', { run: { release: ['sh', '-c', 'echo migrating with GREETING=$GREETING; touch /data/migrated'] } });
  const config = JSON.parse(await run('cat', [join(a.dir, 'baremetal.json')]).then((r) => r.stdout));
  config.run.volumes = [`${a.app}-data:/data`];
  await a.writeConfig(config);
  await a.commit('with a volume');
  const d = await cli(['deploy'], { cwd: a.dir });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /release: migrating with GREETING=hi/);
  const id = (await onServer('bm2', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${a.app}`])).trim();
  assert.equal((await onServer('bm2', ['docker', 'exec', id, 'ls', '/data'])).trim(), 'migrated', 'the release saw the app\'s volume');
  const good = await a.git('rev-parse', 'HEAD');
  config.run.release = ['sh', '-c', 'echo "ERROR: relation users does not exist"; exit 4'];
  await a.writeConfig(config);
  await a.commit('broken migration');
  const bad = await cli(['deploy'], { cwd: a.dir });
  assert.notEqual(bad.code, 0);
  assert.match(errorLine(bad.stderr), /The release command \(sh -c .*\) exited with 4\. The previous version keeps serving/);
  assert.match(bad.stderr, /relation users does not exist/);
  assert.equal(commitOf((await get('bm2', a.host)).body), good);
  await onServer('bm2', ['docker', 'volume', 'rm', '-f', `${a.app}-data`]).catch(() => undefined);
});

test('tls "internal": the page answers over HTTPS with Caddy\'s own CA, and HTTP redirects to HTTPS', async () => {
  const a = await proxied('bm2', { tls: 'internal' });
  const d = await cli(['deploy'], { cwd: a.dir });
  assert.equal(d.code, 0, d.stderr);
  let page = await get('bm2', a.host, '/', 'https').catch((e: Error) => ({ status: 0, body: e.message }));
  for (let i = 0; i < 20 && page.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 250)); // the certificate is issued right after the config change
    page = await get('bm2', a.host, '/', 'https').catch((e: Error) => ({ status: 0, body: e.message }));
  }
  assert.equal(page.status, 200, page.body);
  assert.equal(commitOf(page.body), await a.git('rev-parse', 'HEAD'));
  const plain = await get('bm2', a.host);
  assert.equal(plain.status, 308);
  assert.equal(plain.location, `https://${a.host}/`);
});

test('tls "auto" asks the proxy for ACME certificates (no ACME server is reachable here)', async () => {
  const a = await proxied('bm2', { tls: 'auto' });
  assert.equal((await cli(['deploy'], { cwd: a.dir })).code, 0);
  const cfg = JSON.parse(await onServer('bm2', ['curl', '-s', '-H', 'Host: baremetal', '--unix-socket', '/root/.baremetal/proxy/run/admin.sock', 'http://baremetal/config/apps/tls']));
  const policy = (cfg.automation.policies as { subjects: string[]; issuers: { module: string }[] }[]).find((p) => p.subjects.includes(a.host));
  assert.deepEqual(policy?.issuers, [{ module: 'acme' }]);
});

test('a client killed during the health check leaves the old version serving; the next deploy removes what it left and says so', async () => {
  const a = await proxied('bm26c');
  assert.equal((await cli(['deploy'], { cwd: a.dir })).code, 0);
  const good = await a.git('rev-parse', 'HEAD');
  await a.commit('slow to start', { 'start.sh': '#!/bin/sh\nsleep 8\nexec busybox httpd -f -p 8080 -h /www\n' });
  const p = poll('bm26c', a.host);
  const child = spawn(process.execPath, [join(PROJECT, 'dist', 'cli.js'), 'deploy'], { cwd: a.dir, env: { ...process.env, DOCKER_HOST: env.dockerHost, DOCKER_CONFIG: env.dockerConfig, BAREMETAL_SSH_CONFIG: env.sshConfig, SSH_AUTH_SOCK: '' } });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 200 && !out.includes('Checking health'); i++) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 3000));
  const r = await p.stop();
  assert.ok(out.includes('Checking health'), out);
  assert.deepEqual(r.failed, []);
  assert.deepEqual([...r.commits], [good], 'the old version served throughout');
  // The dead client's SSH connection is gone on the server: its lock is taken over at once,
  // without waiting out the lease (60 s).
  const t0 = Date.now();
  const next = await cli(['deploy'], { cwd: a.dir });
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, /the lock of .* was left by a client that is gone: taking it over/);
  assert.ok(Date.now() - t0 < 20_000, `the next deploy took ${Date.now() - t0} ms`);
  assert.match(next.stderr, /removed .*--new-.*, left by an earlier deploy that did not finish/);
});

test('tls from a certificate and key named as secrets: the proxy serves that certificate; the key is the login\'s only, never in output', async () => {
  const a = await proxied('bm2');
  const dir = await run('mktemp', ['-d']).then((r) => r.stdout.trim());
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${a.host}`, '-addext', `subjectAltName=DNS:${a.host}`, '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`]);
  const cert = await run('cat', [`${dir}/cert.pem`]).then((r) => r.stdout);
  const key = await run('cat', [`${dir}/key.pem`]).then((r) => r.stdout);
  const config = JSON.parse(await run('cat', [join(a.dir, 'baremetal.json')]).then((r) => r.stdout));
  config.proxy.tls = { cert: 'SHOP_TLS_CERT', key: 'SHOP_TLS_KEY' };
  await a.writeConfig(config);
  await a.commit('own certificate');
  const d = await cli(['deploy'], { cwd: a.dir, env: { SHOP_TLS_CERT: cert, SHOP_TLS_KEY: key } });
  assert.equal(d.code, 0, d.stderr);
  assert.ok(!d.stderr.includes('PRIVATE KEY') && !d.stdout.includes('PRIVATE KEY'));
  const subject = await new Promise<string>((resolve, reject) => {
    const req = https.get({ host: server('bm2').host, port: 443, path: '/', headers: { Host: a.host }, servername: a.host, rejectUnauthorized: false, agent: false }, (res) => {
      resolve(String((res.socket as import("node:tls").TLSSocket).getPeerCertificate().subject.CN));
      res.resume();
    });
    req.on('error', reject);
  });
  assert.equal(subject, a.host, 'the certificate from the secrets');
  const mode = (await onServer('bm2', ['stat', '-c', '%a', `/root/.baremetal/proxy/certs/${a.app}.key`])).trim();
  assert.equal(mode, '600');
});

test('ports 80 and 443 taken by something that is not our proxy: one sentence, nothing else changed', async () => {
  // Its own name: removing it never removes another run's squatter.
  const squatter = `squatter-${randomBytes(4).toString('hex')}`;
  try {
    // Inside the try: a squatter created but not started (port 80 already taken) is removed too.
    await onServer('bm26o', ['docker', 'run', '-d', '--name', squatter, '-p', '80:8080', 'local/busybox:1', 'sleep', '600']).catch(async () => {
      await onServer('bm26o', ['docker', 'rm', '-f', squatter]).catch(() => undefined);
      await run('sh', ['-c', `docker -H ${env.workstations?.find((w) => w.name === 'dev')?.dockerHost} save local/busybox:1 | bash ${join(PROJECT, 'scripts', 'test-servers.sh')} exec bm26o -- docker load -q`]);
      await onServer('bm26o', ['docker', 'run', '-d', '--name', squatter, '-p', '80:8080', 'local/busybox:1', 'sleep', '600']);
    });
    const a = await proxied('bm26o');
    const d = await cli(['deploy'], { cwd: a.dir });
    assert.notEqual(d.code, 0);
    assert.equal(errorLine(d.stderr), 'error: Ports 80 and 443 on bm26o are taken by something that is not Bare Metal\'s proxy: stop it (or move it behind the proxy as an app), then deploy again; nothing else was changed.');
    assert.equal((await onServer('bm26o', ['docker', 'ps', '-aq', '--filter', 'name=baremetal-proxy'])).trim(), '', 'no half-made proxy left');
    assert.equal((await onServer('bm26o', ['docker', 'ps', '-aq', '--filter', `label=dev.baremetal.app=${a.app}`])).trim(), '');
  } finally {
    await onServer('bm26o', ['docker', 'rm', '-f', squatter]).catch(() => undefined);
  }
});

test('a proxy image that is nowhere to be found: one sentence naming it and the ways out', async () => {
  // A server where no test runs a proxy (bmpod, Podman): the proxy is not removed from under
  // another test's apps to get there.
  const on = 'bmpod';
  const podmanSocket = (env.servers.find((s) => s.name === on) as { dockerSocketOnHost?: string }).dockerSocketOnHost;
  const proxies = () => run('docker', ['-H', `unix://${podmanSocket}`, 'ps', '-aq', '--filter', 'name=^baremetal-proxy$']).then((r) => r.stdout.trim());
  assert.equal(await proxies(), '', `${on} runs no proxy`);
  const a = await proxied(on);
  const podman = (...args: string[]) => run('docker', ['-H', `unix://${podmanSocket}`, ...args]).then((r) => r.stdout.trim());
  try {
    const config = JSON.parse(await run('cat', [join(a.dir, 'baremetal.json')]).then((r) => r.stdout));
    config.proxy.image = 'local/caddy:does-not-exist';
    await a.writeConfig(config);
    await a.commit('no such proxy image');
    const d = await cli(['deploy'], { cwd: a.dir });
    assert.notEqual(d.code, 0);
    assert.match(errorLine(d.stderr), /^error: The proxy image local\/caddy:does-not-exist is nowhere to be found: bmpod cannot pull it and this machine's Docker Engine does not have it; pull it here \(docker pull local\/caddy:does-not-exist\) or set "proxy.image" to one you have; nothing was changed\.$/);
    assert.equal(await proxies(), '', 'no proxy was made');
    assert.equal(await podman('ps', '-aq', '--filter', `label=dev.baremetal.app=${a.app}`), '', 'no container of the app was made');
  } finally {
    // What the deploy sent (the app's image) goes: bmpod's engine is Podman, not the docker that after() cleans.
    const images = (await podman('images', '-q', '--filter', `label=dev.baremetal.app=${a.app}`).catch(() => '')).split('\n').filter(Boolean);
    if (images.length) await podman('rmi', '-f', ...new Set(images)).catch(() => undefined);
  }
});

test('a switch cut between its two renames (old renamed away, new not yet in): status shows the recorded version, removes the unrecorded one, and the old takes its name back', async () => {
  const a = await proxied('bm26c');
  assert.equal((await cli(['deploy'], { cwd: a.dir })).code, 0);
  const first = await a.git('rev-parse', 'HEAD');
  const firstImage = (await onServer('bm26c', ['docker', 'inspect', '-f', '{{.Config.Image}}', `${a.app}--live`])).trim();
  const second = await a.commit('second', { 'www/second.html': 'second\n' });
  assert.equal((await cli(['deploy'], { cwd: a.dir })).code, 0);
  // The moment a killed client can leave: the recorded version renamed to --old-, a newer
  // container (never recorded as deployed) still --new-; both carry the fallback name.
  const p = poll('bm26c', a.host);
  await onServer('bm26c', ['docker', 'rename', `${a.app}--live`, `${a.app}--old-cut001`]);
  await onServer('bm26c', ['docker', 'run', '-d', '--name', `${a.app}--new-cut001`, '--label', `dev.baremetal.app=${a.app}`, '--label', `dev.baremetal.commit=${first}`, '--network', 'baremetal', '--network-alias', `${a.app}--any`, firstImage]);
  const st = await cli(['status'], { cwd: a.dir });
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`^bm26c: ${a.app} ${second.slice(0, 12)} \\(second\\) running`, 'm'));
  assert.match(st.stdout, new RegExp(`removed: ${a.app}--new-cut001, left by a deploy that did not finish`));
  const names = (await onServer('bm26c', ['docker', 'ps', '-a', '--format', '{{.Names}}'])).split('\n').filter((n) => n.startsWith(a.app));
  assert.deepEqual(names, [`${a.app}--live`], 'the old version holds the live name again');
  await new Promise((r) => setTimeout(r, 1000));
  const r = await p.stop();
  assert.deepEqual(r.failed, []);
  assert.equal(commitOf((await get('bm26c', a.host)).body), second);
  const third = await a.commit('third', { 'www/third.html': 'third\n' });
  const d = await cli(['deploy'], { cwd: a.dir });
  assert.equal(d.code, 0, d.stderr);
  assert.equal(commitOf((await get('bm26c', a.host)).body), third);
});

for (const phase of ['Starting shop', 'Switching', 'Letting requests']) {
  test(`a client killed at "${phase}": the app answers throughout with the old or the new version; the next deploy finishes the job`, async () => {
    const a = await proxied('bm26c', { extra: {} });
    const config = JSON.parse(await run('cat', [join(a.dir, 'baremetal.json')]).then((r) => r.stdout));
    config.proxy.drainSeconds = 10;
    await a.writeConfig(config);
    await a.commit('drain longer');
    assert.equal((await cli(['deploy'], { cwd: a.dir })).code, 0);
    const before = await a.git('rev-parse', 'HEAD');
    const after = await a.commit('next', { 'www/next.html': 'next\n' });
    const p = poll('bm26c', a.host);
    const child = spawn(process.execPath, [join(PROJECT, 'dist', 'cli.js'), 'deploy'], { cwd: a.dir, env: { ...process.env, DOCKER_HOST: env.dockerHost, DOCKER_CONFIG: env.dockerConfig, BAREMETAL_SSH_CONFIG: env.sshConfig, SSH_AUTH_SOCK: '' } });
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const marker = phase === 'Starting shop' ? 'beside the running version' : phase;
    for (let i = 0; i < 300 && !out.includes(marker); i++) await new Promise((r) => setTimeout(r, 20));
    // "Starting" is said just before the container is created: kill once it exists on the server.
    const newOnes = async () => (await onServer('bm26c', ['docker', 'ps', '-a', '--format', '{{.Names}}'])).split('\n').filter((n) => n.startsWith(`${a.app}--new-`));
    if (phase === 'Starting shop') for (let i = 0; i < 100 && !(await newOnes()).length; i++) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 2500));
    const r = await p.stop();
    assert.ok(out.includes(marker), out);
    assert.deepEqual(r.failed, [], `killed at ${phase}`);
    assert.ok([...r.commits].every((c) => c === before || c === after), [...r.commits].join());
    const left = await newOnes();
    if (phase === 'Starting shop' || left.length) {
      // `status` finds what the dead client left, and removes it (the app's lock is free: its holder is gone).
      assert.ok(left.length, 'the killed deploy had created its container');
      const st = await cli(['status'], { cwd: a.dir });
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, new RegExp(`removed: ${left.join(', ')}, left by a deploy that did not finish`));
      assert.deepEqual(await newOnes(), []);
    }
    const next = await cli(['deploy'], { cwd: a.dir });
    assert.equal(next.code, 0, next.stderr);
    assert.equal(commitOf((await get('bm26c', a.host)).body), after);
    const names = (await onServer('bm26c', ['docker', 'ps', '-a', '--format', '{{.Names}}'])).split('\n').filter((n) => n.startsWith(a.app));
    assert.deepEqual(names, [`${a.app}--live`], 'no leftovers');
  });
}
