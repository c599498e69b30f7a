/**
 * Bad input by the thousand: the parsers that read what others wrote (baremetal.json, known_hosts,
 * ssh_config, Docker's multiplexed log stream, the deploy history on the server, the temporary
 * registry's requests, the webview's messages) fed mutated and random input, seeded and bounded
 * in time (fuzz-kit.ts). Each property is what a user relies on: a sentence with file:line:column,
 * never a stack trace; a verdict that garbage cannot change; nothing served but what was asked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseConfig } from '../../src/core/config/load';
import { BmError } from '../../src/core/errors';
import { parseJournal } from '../../src/core/deploy/journal';
import { parseRange, registryHandler } from '../../src/core/transfer/registry';
import { LogDemuxer } from '../../src/drivers/docker/convert';
import { checkHostKey, parseKnownHosts } from '../../src/drivers/ssh/known-hosts';
import { resolveSshTarget } from '../../src/drivers/ssh/ssh-config';
import { isFromWebview, isToWebview, savedPanelState, unpackLines, type LineBatch } from '../../src/protocol/logs';
import { isFromWebview as resourceFromWebview, isToWebview as isResourceMessage } from '../../src/protocol/resources';
import { explain, fuzz, mutateText, mutateTree, oddValue, type Rng } from './fuzz-kit';

const PROJECT = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'bm-fuzz-'));
after(() => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------- baremetal.json

const RICH = `{
  // every block, as a user with a real app writes them
  "app": "shop",
  "defaultServer": "web1",
  "servers": {
    "web1": { "host": "web1.example.com", "user": "deploy", "port": 2222, "identityFile": "~/.ssh/id_ed25519" },
    "web2": { "host": "10.0.0.2", "dockerSocket": "/run/user/1000/docker.sock", "stateDir": "/srv/deploys" }
  },
  "build": { "dockerfile": "docker/Dockerfile", "context": ".", "args": { "NODE_ENV": "production" }, "target": "runtime", "secrets": ["NPM_TOKEN"], "on": "local" },
  "run": {
    "env": { "PORT": "8080" },
    "secrets": ["DATABASE_URL"],
    "volumes": ["uploads:/app/uploads", "/srv/shop/config:/app/config:ro"],
    "restart": "unless-stopped",
    "command": ["node", "server.js"],
    "release": ["node", "migrate.js"]
  },
  "proxy": {
    "hosts": ["shop.example.com", "www.shop.example.com"],
    "port": 8080,
    "tls": "auto",
    "healthcheck": { "path": "/up", "timeoutSeconds": 30 },
    "drainSeconds": 30,
    "image": "caddy:2"
  },
  "keep": 5,
}`;
const SEEDS = [readFileSync(join(PROJECT, 'examples', 'hello', 'baremetal.json'), 'utf8'), RICH];
const JSON_CHARS = '{}[]",:\\/ \n\t0123456789abcdefghijklmnopqrstuvwxyz-_.trueflsn\u00e9\u{1F600}\u0000\uFEFF';

/** What a user sees of a bad baremetal.json: one sentence that starts with file:line:column inside the file. */
function configProblem(text: string): string | undefined {
  try {
    parseConfig(text, 'baremetal.json');
    return undefined;
  } catch (e) {
    if (!(e instanceof BmError)) return `not a BmError: ${(e as Error).stack ?? String(e)}`;
    const m = /^baremetal\.json:(\d+):(\d+): (.+)$/s.exec(e.message);
    if (!m) return `no file:line:column: ${e.message}`;
    const lines = text.split('\n');
    const line = Number(m[1]);
    const col = Number(m[2]);
    if (line < 1 || line > lines.length || col < 1 || col > (lines[line - 1]?.length ?? 0) + 1) return `position ${line}:${col} is outside the file (${lines.length} lines): ${e.message}`;
    if (m[3].includes('\n')) return `more than one line: ${e.message}`;
    if (!/[.?]$/.test(m[3])) return `not a sentence: ${e.message}`;
    if (/\bat \w+ \(|node_modules|undefined|\[object Object\]/.test(m[3])) return `internals in the message: ${e.message}`;
    return undefined;
  }
}

test('baremetal.json, mutated as text (typos, truncation, bad merges): a sentence with file:line:column, never a stack trace', async () => {
  const o = await fuzz('baremetal.json (text mutations)', (rng) => {
    const input = mutateText(rng, rng.pick(SEEDS), JSON_CHARS);
    return { input, problem: configProblem(input) };
  });
  assert.equal(o.failures.length, 0, explain(o));
});

test('baremetal.json, mutated as a tree (wrong types, missing and unknown keys, odd values): a sentence with file:line:column, or a valid config', async () => {
  const docs = SEEDS.map((s) => JSON.parse(s.replace(/^\s*\/\/.*$/gm, '').replace(/,(\s*})/g, '$1')) as unknown);
  const o = await fuzz('baremetal.json (tree mutations)', (rng) => {
    const doc = mutateTree(rng, rng.pick(docs));
    const input = JSON.stringify(doc, null, rng.pick([0, 2, '\t']));
    return { input, problem: configProblem(input) };
  });
  assert.equal(o.failures.length, 0, explain(o));
});

// ---------------------------------------------------------------- known_hosts

const KEY = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]);
const OTHER = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 9)]);
const GOOD_LINE = `[shop.example.com]:2222 ssh-ed25519 ${KEY.toString('base64')}`;

function junkKnownHostsLine(rng: Rng): string {
  const host = rng.pick(['other.example.com', '*.example.org', '!shop.example.com', '[10.0.0.9]:22', '|1|abc=|def=', '|1|', '|', '', '[', '[shop.example.com]', 'shop.example.com,other', '?hop.example.net']);
  const type = rng.pick(['ssh-ed25519', 'ssh-rsa', 'rsa-sha2-512', 'ecdsa-sha2-nistp256', 'x', '']);
  const key = rng.pick([OTHER.toString('base64'), 'AAAA', '!!!notbase64', '', rng.bytes(40).toString('base64'), KEY.toString('base64').slice(0, 20)]);
  const marker = rng.pick(['', '', '@cert-authority ', '@unknown ', '@', '#']);
  const line = `${marker}${host}${rng.pick([' ', '\t', '  '])}${type} ${key}${rng.chance(0.3) ? ' comment here' : ''}`;
  return rng.chance(0.2) ? mutateText(rng, line, ' \t@|[]:,*?!#=\r\0abc') : line;
}

test('known_hosts with garbage lines around the right one: no crash, and the key stays trusted (a changed key stays refused)', async () => {
  const o = await fuzz('known_hosts lines', (rng) => {
    const lines = Array.from({ length: rng.int(12) }, () => junkKnownHostsLine(rng));
    lines.splice(rng.int(lines.length + 1), 0, GOOD_LINE);
    const input = lines.join(rng.pick(['\n', '\r\n']));
    try {
      const entries = parseKnownHosts(input, 'known_hosts');
      const verdict = checkHostKey(entries, 'shop.example.com', 2222, KEY);
      if (verdict.kind !== 'trusted') return { input, problem: `the right key was ${verdict.kind}` };
      const changed = checkHostKey(entries, 'shop.example.com', 2222, OTHER);
      // OTHER is trusted only if a junk line names this very host with it; otherwise it is refused as changed.
      const namedOther = entries.some((e) => e.keyBase64 === OTHER.toString('base64') && !e.marker && e.patterns.some((p) => p === '[shop.example.com]:2222'));
      if (changed.kind !== 'changed' && !namedOther) return { input, problem: `another key for the host was ${changed.kind}, not refused as changed` };
      return { input };
    } catch (e) {
      return { input, problem: e instanceof BmError ? undefined : String((e as Error).stack) };
    }
  });
  assert.equal(o.failures.length, 0, explain(o));
});

// ---------------------------------------------------------------- ssh_config

const SSH_KEYS = ['HostName', 'Port', 'User', 'IdentityFile', 'UserKnownHostsFile', 'ProxyJump', 'IdentitiesOnly', 'StrictHostKeyChecking', 'ServerAliveInterval', 'Compression', 'LogLevel', 'hostname', 'PORT'];
function sshConfigText(rng: Rng): string {
  const lines: string[] = [];
  for (let n = rng.int(8); n >= 0; n--) {
    if (rng.chance(0.4)) lines.push(`${rng.pick(['Host', 'host', 'Match'])} ${rng.pick(['shop', '*', 'sh*', '!shop', 'other web', 'all', 'host shop', 'user deploy', '"shop"', ''])}`);
    const key = rng.pick(SSH_KEYS);
    const value = rng.pick(['shop.example.com', '10.0.0.2', '2222', '0', '70000', '-1', 'abc', '~/.ssh/id_ed25519', '%h.internal', '%%', '"quoted value"', 'yes', '', 'deploy', 'a b c']);
    lines.push(`${rng.pick(['', '  ', '\t'])}${key}${rng.pick([' ', '=', ' = ', '\t'])}${value}`);
    if (rng.chance(0.1)) lines.push(rng.pick(['# a comment', '', '   ', 'Unknownkeyword yes']));
  }
  const text = lines.join('\n');
  return rng.chance(0.2) ? mutateText(rng, text, ' \t="#%*!\nabc') : text;
}

test('ssh_config files of every shape: a target with a host and a valid port, or one sentence', async () => {
  const file = join(work, 'ssh_config');
  let n = 0;
  const o = await fuzz('ssh_config', async (rng) => {
    const input = sshConfigText(rng);
    writeFileSync(file, input);
    // Half through OpenSSH's own `ssh -G`, half through the npm fallback used where ssh is missing.
    const useOpenSsh = n++ % 2 === 0;
    try {
      const t = await resolveSshTarget('shop', {}, { configFile: file, useOpenSsh });
      if (!t.host || !Number.isInteger(t.port) || t.port < 1 || t.port > 65535) return { input, problem: `resolved to ${JSON.stringify(t)}` };
      return { input };
    } catch (e) {
      if (!(e instanceof BmError)) return { input, problem: `${useOpenSsh ? 'ssh -G' : 'fallback'}: not a BmError: ${(e as Error).stack}` };
      if (e.message.includes('\n')) return { input, problem: `more than one line: ${e.message}` };
      return { input };
    }
  }, 40);
  assert.equal(o.failures.length, 0, explain(o));
});

// ---------------------------------------------------------------- Docker's log stream

function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

test("Docker's multiplexed log stream cut at any byte: the same lines come out, each on its own stream; garbage never throws", async () => {
  const o = await fuzz('log stream', (rng) => {
    const lines = Array.from({ length: 1 + rng.int(20) }, () => ({ stream: rng.pick(['stdout', 'stderr'] as const), text: rng.string('abc xyz\u00e9\u{1F600}\u4e2d\r\t', 30).replace(/\r/g, '') }));
    // Frames may hold several lines or part of one (Docker cuts at its buffer size, not at lines).
    const byStream = { stdout: '', stderr: '' };
    const frames: Buffer[] = [];
    for (const l of lines) {
      byStream[l.stream] += l.text + '\n';
      const bytes = Buffer.from(l.text + '\n');
      const cut = rng.int(bytes.length + 1);
      for (const part of [bytes.subarray(0, cut), bytes.subarray(cut)]) if (part.length) frames.push(frame(l.stream === 'stdout' ? 1 : 2, part));
    }
    const all = Buffer.concat(frames);
    const d = new LogDemuxer(false);
    const got = { stdout: [] as string[], stderr: [] as string[] };
    for (let at = 0; at < all.length; ) {
      const size = 1 + rng.int(20);
      for (const l of d.push(all.subarray(at, at + size))) got[l.stream].push(l.text);
      at += size;
    }
    for (const l of d.flush()) got[l.stream].push(l.text);
    const input = all.toString('base64');
    for (const s of ['stdout', 'stderr'] as const) {
      const want = byStream[s].split('\n').slice(0, -1);
      if (JSON.stringify(got[s]) !== JSON.stringify(want)) return { input, problem: `${s}: got ${JSON.stringify(got[s])}, want ${JSON.stringify(want)}` };
    }
    // Garbage, and garbage after good frames: no exception, and a result made of strings.
    const junk = Buffer.concat([all.subarray(0, rng.int(all.length)), rng.bytes(64)]);
    const g = new LogDemuxer(rng.chance(0.5));
    const out = [...g.push(junk), ...g.flush()];
    if (!out.every((l) => typeof l.text === 'string' && (l.stream === 'stdout' || l.stream === 'stderr'))) return { input: junk.toString('base64'), problem: 'a line that is not text' };
    return { input };
  });
  assert.equal(o.failures.length, 0, explain(o));
});

// ---------------------------------------------------------------- the history on the server

const RECORD = {
  id: '20261201-1200-ab12cd', kind: 'deploy', app: 'shop', server: 'web1', commit: 'a'.repeat(40), subject: 'Fix checkout', author: 'Ada <ada@example.com>',
  image: `sha256:${'b'.repeat(64)}`, tag: 'shop:aaaaaaaaaaaa', who: 'ada@laptop', startedAt: '2026-12-01T12:00:00.000Z', finishedAt: '2026-12-01T12:00:05.000Z',
  result: 'succeeded', bytesSent: 123, phasesMs: { build: 1000 },
};

test('a truncated or garbage history file: no crash, every record kept is whole, none before the damage lost', async () => {
  const o = await fuzz('history file', (rng) => {
    const records = Array.from({ length: 1 + rng.int(6) }, (_, i) => ({ ...RECORD, id: `${RECORD.id}${i}` }));
    const good = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    // Damage from some point on: truncated (a write cut short), garbage appended, or bytes changed.
    const at = rng.int(good.length);
    const damaged = rng.pick([
      () => good.slice(0, at),
      () => good + mutateText(rng, JSON.stringify(mutateTree(rng, RECORD)), '{}",:\0\n'),
      () => good.slice(0, at) + rng.bytes(30).toString('latin1') + '\n' + good.slice(at),
      () => good + JSON.stringify(oddValue(rng)) + '\n',
    ])();
    const input = damaged;
    let parsed;
    try {
      parsed = parseJournal(damaged);
    } catch (e) {
      return { input, problem: `threw: ${(e as Error).stack}` };
    }
    for (const r of parsed) {
      const broken = (['id', 'kind', 'commit', 'subject', 'author', 'who', 'startedAt', 'result'] as const).find((k) => typeof r[k] !== 'string');
      if (broken) return { input, problem: `a record kept without a text "${broken}": ${JSON.stringify(r)}` };
    }
    // Every line before the damage point is whole, and kept.
    const intact = good.slice(0, at).split('\n').slice(0, -1).length;
    const keptIds = new Set(parsed.map((r) => r.id));
    const lost = records.slice(0, intact).find((r) => !keptIds.has(r.id));
    if (lost) return { input, problem: `record ${lost.id}, before the damage, was lost` };
    return { input };
  });
  assert.equal(o.failures.length, 0, explain(o));
});

// ---------------------------------------------------------------- the temporary registry

test("the temporary registry's handler, sent odd requests over a unix socket: only what was asked, a valid range, never a crash", async () => {
  const layerBytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  const layerPath = join(work, 'layer.tar.gz');
  writeFileSync(layerPath, layerBytes);
  const digest = `sha256:${'c'.repeat(64)}`;
  const config = Buffer.from('{"architecture":"amd64"}');
  const handler = registryHandler(
    { config, configDigest: `sha256:${'d'.repeat(64)}`, layers: [{ digest, path: layerPath, size: layerBytes.length, diffId: `sha256:${'e'.repeat(64)}`, compressed: true }] as never },
    { repository: 'baremetal/shop', tag: 'abc' },
  );
  const sock = join(work, 'registry.sock');
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(sock, r));
  try {
    const paths = ['/v2/', '/v2', `/v2/baremetal/shop/blobs/${digest}`, '/v2/baremetal/shop/manifests/abc', '/v2/baremetal/shop/blobs/../../../etc/passwd', '/v2/baremetal/shop/blobs/', '/v2/other/blobs/x', '/%2e%2e/', '/v2/baremetal/shop/manifests/abc?x=1', `/v2/baremetal/shop/blobs/${digest}/extra`, '//v2/'];
    const o = await fuzz('registry requests', async (rng) => {
      const method = rng.pick(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'get', 'PATCH']);
      const path = rng.chance(0.8) ? rng.pick(paths) : `/${rng.string('abc/%.v2:', 30)}`;
      const range = rng.pick([undefined, 'bytes=0-99', 'bytes=-10', 'bytes=4990-', 'bytes=10-5', 'bytes=0-99999', 'bytes=', 'bytes=a-b', `bytes=${rng.int(6000)}-${rng.int(6000)}`, 'bytes=1-2,3-4', 'items=0-1']);
      const input = `${method} ${path} Range: ${range}`;
      const res = await new Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
        const req = http.request({ socketPath: sock, method, path, headers: range ? { Range: range } : {} }, (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks), headers: r.headers }));
        });
        req.on('error', reject);
        req.end();
      }).catch((e: Error) => ({ status: -1, body: Buffer.from(e.message), headers: {} as http.IncomingHttpHeaders }));
      if (res.status === -1) return { input, problem: `the connection failed: ${res.body.toString()}` };
      if (![200, 206, 404, 405, 416, 400].includes(res.status)) return { input, problem: `status ${res.status}` };
      if ((res.status === 200 || res.status === 206) && method === 'GET' && path.startsWith(`/v2/baremetal/shop/blobs/${digest}`) && path === `/v2/baremetal/shop/blobs/${digest}`) {
        const cr = /^bytes (\d+)-(\d+)\/5000$/.exec(String(res.headers['content-range'] ?? ''));
        const [start, end] = cr ? [Number(cr[1]), Number(cr[2])] : [0, layerBytes.length - 1];
        if (!res.body.equals(layerBytes.subarray(start, end + 1))) return { input, problem: `served ${res.body.length} bytes that are not bytes ${start}-${end} of the layer` };
      }
      if (res.status !== 404 && res.status !== 405 && res.status !== 416 && !path.startsWith('/v2')) return { input, problem: `answered ${res.status} outside /v2` };
      return { input };
    });
    assert.equal(o.failures.length, 0, explain(o));
    const r = await fuzz('Range header', (rng) => {
      const size = rng.int(10_000);
      const header = rng.pick([`bytes=${rng.int(20_000)}-${rng.int(20_000)}`, `bytes=-${rng.int(20_000)}`, `bytes=${rng.int(20_000)}-`, rng.string('bytes=-0123456789, ', 20)]);
      const got = parseRange(header, size);
      const input = `${header} of ${size}`;
      if (got === undefined || got === 'invalid') return { input };
      if (!(got.start >= 0 && got.end < size && got.start <= got.end)) return { input, problem: `range ${JSON.stringify(got)} outside the layer` };
      return { input };
    });
    assert.equal(r.failures.length, 0, explain(r));
  } finally {
    server.close();
  }
});

// ---------------------------------------------------------------- the webview's messages

test('messages between the editor and the log panel: only well-formed ones pass the checks, and the checks never throw', async () => {
  const o = await fuzz('webview messages', (rng) => {
    const shapes = [
      { type: 'ready' }, { type: 'copy', text: 'x' }, { type: 'save', text: 'y' }, { type: 'open', url: 'https://example.com/a' },
      { type: 'init', app: 'a', servers: ['s'], tail: 100 }, { type: 'lines', text: 'a', times: '', kinds: '0' }, { type: 'marker', server: 0, text: 't', time: 'now' }, { type: 'status', server: 0, state: 'connected', message: '' },
    ];
    const msg = rng.chance(0.1) ? oddValue(rng) : mutateTree(rng, rng.pick(shapes));
    if (msg && typeof msg === 'object' && !Array.isArray(msg) && rng.chance(0.2)) (msg as Record<string, unknown>).url = rng.pick(['javascript:alert(1)', 'file:///etc/passwd', 'command:workbench.action.terminal.new', 'http://', 'https://ok.example', 'vscode://x']);
    const input = JSON.stringify(msg) ?? String(msg);
    try {
      if (isFromWebview(msg)) {
        const m = msg as { type: string; url?: unknown; text?: unknown };
        if (!['ready', 'copy', 'save', 'open'].includes(m.type)) return { input, problem: `accepted type ${m.type}` };
        if (m.type === 'open' && !/^https?:\/\/[^/]/.test(String(m.url))) return { input, problem: `accepted a link to ${String(m.url)}` };
        if ((m.type === 'copy' || m.type === 'save') && typeof m.text !== 'string') return { input, problem: 'accepted a text that is not one' };
      }
      if (isToWebview(msg) && (msg as { type: string }).type === 'lines') unpackLines(msg as LineBatch);
      savedPanelState(msg);
      return { input };
    } catch (e) {
      return { input, problem: `threw: ${(e as Error).stack}` };
    }
  });
  assert.equal(o.failures.length, 0, explain(o));
});

test('messages to the resource panel: only well-formed ones pass (numbers finite, indexes in range), and the check never throws', async () => {
  const point = { t: 1, cpu: 2.5, mem: 3, limit: 4, rx: 5, tx: 6 };
  const o = await fuzz('resource panel messages', (rng) => {
    const shapes = [
      { type: 'init', app: 'a', servers: ['s'], spanMs: 600000 }, { type: 'points', server: 0, points: [point, { ...point, cpu: null }] },
      { type: 'marker', server: 1, t: 5, text: 'deploy' }, { type: 'container', server: 0, name: 'a--live', commit: 'abc', cpus: 0.5 }, { type: 'status', server: 0, state: 'waiting', message: '' },
    ];
    const msg = rng.chance(0.1) ? oddValue(rng) : mutateTree(rng, rng.pick(shapes));
    const input = JSON.stringify(msg) ?? String(msg);
    try {
      if (isResourceMessage(msg)) {
        const m = msg as Record<string, unknown>;
        if ('server' in m && !(Number.isInteger(m.server) && (m.server as number) >= 0)) return { input, problem: `accepted server ${String(m.server)}` };
        if (m.type === 'points' && !(m.points as Record<string, unknown>[]).every((p) => ['t', 'mem', 'limit', 'rx', 'tx'].every((k) => Number.isFinite(p[k])))) return { input, problem: 'accepted a point that is not finite numbers' };
      }
      resourceFromWebview(msg);
      return { input };
    } catch (e) {
      return { input, problem: `threw: ${(e as Error).stack}` };
    }
  });
  assert.equal(o.failures.length, 0, explain(o));
});
