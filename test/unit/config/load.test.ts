import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import schema from '../../../schemas/baremetal.schema.json';
import { isBmError, type BmError } from '../../../src/core/errors';
import { loadConfig, parseConfig, parsePortSpec, parseVolumeSpec, pickServer } from '../../../src/core/config/load';

const F = 'baremetal.json';
const MINIMAL = '{ "app": "hello", "servers": { "prod": { "host": "prod-box" } } }';

/** The BmError parseConfig throws for `text`; fails the test if it does not throw one. */
function invalid(text: string): BmError {
  try {
    parseConfig(text, F);
  } catch (e) {
    assert.ok(isBmError(e, 'ConfigInvalid'), `expected ConfigInvalid, got ${String(e)}`);
    return e;
  }
  assert.fail('parseConfig accepted the text');
}
const message = (text: string) => invalid(text).message;

/** MINIMAL with `extra` (a JSON fragment) added to the top-level object. */
const withTop = (extra: string) => MINIMAL.replace(/ }$/, `, ${extra} }`);

test('a minimal config gets every default', () => {
  const c = parseConfig(MINIMAL, F);
  assert.deepEqual(c, {
    file: F, dir: process.cwd(), app: 'hello',
    servers: { prod: { name: 'prod', host: 'prod-box', dockerSocket: '/var/run/docker.sock', stateDir: '.baremetal' } },
    build: { dockerfile: 'Dockerfile', context: '.', args: {}, secrets: [], on: 'local' },
    // No port published and no healthcheck written: nothing to GET, so the check is "keeps running".
    run: { ports: [], env: {}, secrets: [], volumes: [], restart: 'unless-stopped', healthcheck: false },
    keep: 5,
  });
});

test('a full config with comments and trailing commas', () => {
  const text = `{
    "$schema": "./node_modules/bare-metal-deploy/schemas/baremetal.schema.json",
    "app": "hello",                                  // names the image and the container
    /* two servers */
    "servers": {
      "prod": { "host": "prod-box", "user": "deploy", "port": 2222, "identityFile": "~/.ssh/id_ed25519",
                "dockerSocket": "/run/docker.sock", "stateDir": "/srv/bm", },
      "staging": { "host": "10.0.0.5" },
    },
    "defaultServer": "prod",
    "build": { "dockerfile": "docker/Dockerfile", "context": "app", "args": { "NODE_VERSION": "20" }, "target": "prod", "secrets": ["NPM_TOKEN"], "on": "server", },
    "run": {
      "ports": ["8080:8080", "127.0.0.1:9000:9000/udp"], "env": { "GREETING": "hi" }, "secrets": ["DB_PASSWORD"],
      "volumes": ["data:/var/lib/data", "/srv/uploads:/uploads:ro"], "restart": "always", "command": ["node", "server.js"],
      "healthcheck": { "port": 8080, "path": "/health", "timeoutSeconds": 60, "intervalSeconds": 0.5 },
    },
    "keep": 3,
  }`;
  const c = parseConfig(text, '/proj/baremetal.json');
  assert.equal(c.dir, '/proj');
  assert.deepEqual(c.servers.prod, { name: 'prod', host: 'prod-box', user: 'deploy', port: 2222, identityFile: '~/.ssh/id_ed25519', dockerSocket: '/run/docker.sock', stateDir: '/srv/bm' });
  assert.deepEqual(c.servers.staging, { name: 'staging', host: '10.0.0.5', dockerSocket: '/var/run/docker.sock', stateDir: '.baremetal' });
  assert.equal(c.defaultServer, 'prod');
  assert.deepEqual(c.build, { dockerfile: 'docker/Dockerfile', context: 'app', args: { NODE_VERSION: '20' }, target: 'prod', secrets: ['NPM_TOKEN'], on: 'server' });
  assert.deepEqual(c.run, {
    ports: [
      { hostPort: 8080, containerPort: 8080, protocol: 'tcp', spec: '8080:8080' },
      { hostIp: '127.0.0.1', hostPort: 9000, containerPort: 9000, protocol: 'udp', spec: '127.0.0.1:9000:9000/udp' },
    ],
    env: { GREETING: 'hi' }, secrets: ['DB_PASSWORD'],
    volumes: [
      { source: 'data', target: '/var/lib/data', readOnly: false, kind: 'volume', spec: 'data:/var/lib/data' },
      { source: '/srv/uploads', target: '/uploads', readOnly: true, kind: 'bind', spec: '/srv/uploads:/uploads:ro' },
    ],
    restart: 'always', command: ['node', 'server.js'],
    healthcheck: { port: 8080, path: '/health', timeoutSeconds: 60, intervalSeconds: 0.5 },
  });
  assert.equal(c.keep, 3);
});

test('healthcheck false turns the check off; partial healthcheck gets defaults', () => {
  assert.equal(parseConfig(withTop('"run": { "healthcheck": false }'), F).run.healthcheck, false);
  assert.deepEqual(parseConfig(withTop('"run": { "healthcheck": { "path": "/up" } }'), F).run.healthcheck, { path: '/up', timeoutSeconds: 30, intervalSeconds: 1 });
});

test('healthcheck.port need not be a published port', () => {
  const c = parseConfig(withTop('"run": { "ports": ["80:8080"], "healthcheck": { "port": 9090 } }'), F);
  assert.equal(c.run.healthcheck && c.run.healthcheck.port, 9090);
});

test('malformed JSON: a missing comma', () => {
  const text = '{\n  "app": "hello"\n  "servers": {}\n}';
  assert.equal(message(text), 'baremetal.json:3:3: the JSON is malformed: expected a comma or closing brace.');
  assert.equal(message('{ "ports": ["1:1" "2:2"] }'), 'baremetal.json:1:19: the JSON is malformed: expected a comma or closing bracket.');
});

test('malformed JSON: unclosed object, single quotes, empty file', () => {
  assert.equal(message('{\n  "app": "hello",\n'), 'baremetal.json:3:1: the JSON is malformed: the file ends before the closing brace "}".');
  assert.equal(message("{ 'app': 1 }"), `baremetal.json:1:3: the JSON is malformed: unexpected "'" (strings and property names need double quotes).`);
  assert.equal(message('// nothing yet\n'), 'baremetal.json:2:1: the JSON is malformed: the file is empty.');
});

test('unknown top-level property points at its key', () => {
  const text = '{\n  "app": "hello",\n  "sever": {}\n}';
  const e = invalid(text);
  assert.equal(e.message, 'baremetal.json:3:3: unknown property "sever" in the top level; expected one of app, servers, groups, build, run, keep, defaultServer, proxy, rollout, roles, swarm.');
  // The missing "servers" comes second: the typo is the useful news.
  assert.equal(e.detail, `${e.message}\nbaremetal.json:1:1: missing required property "servers" in the top level (where to deploy, e.g. "servers": { "prod": { "host": "my-server" } }).`);
});

test('unknown nested property', () => {
  const text = '{ "app": "a",\n  "servers": { "prod": { "host": "h", "prot": 22 } } }';
  assert.equal(message(text), 'baremetal.json:2:39: unknown property "prot" in servers.prod; expected one of host, user, port, identityFile, dockerSocket, stateDir, env, secrets, secretsFile, proxy.');
});

test('a missing required property points at the parent object', () => {
  assert.equal(message('{\n  "servers": { "p": { "host": "h" } }\n}'),
    'baremetal.json:1:1: missing required property "app" in the top level (the app\'s name, e.g. "app": "hello").');
  assert.equal(message('{ "app": "a",\n  "servers": {\n    "p": { "user": "u" } } }'),
    'baremetal.json:3:10: missing required property "host" in servers.p (a Host from ~/.ssh/config or an address, e.g. "host": "prod-box").');
  assert.equal(message('{ "app": "a", "servers": {} }'), 'baremetal.json:1:26: servers must name at least one server, e.g. "prod": { "host": "my-server" }.');
});

test('wrong types and out-of-range values', () => {
  const server = (s: string) => `{ "app": "a",\n"servers": { "p": ${s} } }`;
  assert.equal(message(server('{ "host": "h", "port": "22" }')), 'baremetal.json:2:42: servers.p.port must be a whole number, not the string "22".');
  assert.equal(message(server('{ "host": "h", "port": 70000 }')), 'baremetal.json:2:42: servers.p.port is 70000; it must be from 1 to 65535.');
  assert.equal(message(server('"h"')), 'baremetal.json:2:19: servers.p must be an object {...}, not the string "h".');
  assert.equal(message(server('{ "host": "-oProxyCommand=x" }')), 'baremetal.json:2:29: servers.p.host "-oProxyCommand=x" must be a host from ~/.ssh/config or an address, without spaces and not starting with "-".');
  assert.equal(message(server('{ "host": "h", "dockerSocket": "docker.sock" }')), 'baremetal.json:2:50: servers.p.dockerSocket "docker.sock" must be an absolute path like "/var/run/docker.sock", without backslashes or control characters.');
  assert.equal(message('{ "app": "a", "servers": { "bad name": { "host": "h" } } }'), 'baremetal.json:1:28: the name "bad name" in servers must be a short name like "prod" or "staging-2" (letters, digits, _ . -).');
  assert.equal(message('{ "app": "Hello", "servers": { "p": { "host": "h" } } }'), 'baremetal.json:1:10: app "Hello" must be a lowercase name like "hello" or "my-app" (letters and digits, with single . _ or - between them).');
  assert.equal(message(`{ "app": "${'a'.repeat(64)}", "servers": { "p": { "host": "h" } } }`), 'baremetal.json:1:10: app must be at most 63 characters long.');
  assert.equal(message(withTop('"keep": 0')), 'baremetal.json:1:74: keep is 0; it must be from 1 to 100.');
  assert.equal(message(withTop('"keep": 2.5')), 'baremetal.json:1:74: keep must be a whole number, not the number 2.5.');
  assert.equal(message(withTop('"run": { "env": { "PORT": 8080 } }')), 'baremetal.json:1:92: run.env.PORT must be a string, not the number 8080 (put the value in double quotes).');
  assert.equal(message(withTop('"run": { "restart": "never" }')), 'baremetal.json:1:86: run.restart "never" must be one of "no", "always", "unless-stopped", "on-failure".');
  assert.equal(message(withTop('"run": { "healthcheck": true }')), 'baremetal.json:1:90: run.healthcheck must be false (no health check) or an object like { "port": 8080, "path": "/" }.');
  assert.equal(message(withTop('"run": { "healthcheck": { "path": "health" } }')), 'baremetal.json:1:100: run.healthcheck.path "health" must be a URL path starting with "/", like "/health", without spaces, backslashes or control characters (write them %-encoded).');
  assert.equal(message(withTop('"run": { "ports": "8080:8080" }')), 'baremetal.json:1:84: run.ports must be a list [...], not the string "8080:8080".');
});

test('paths sent to the server refuse backslashes and control characters (a login shell may read a backslash as an escape)', () => {
  const server = (s: string) => `{ "app": "a",\n"servers": { "p": ${s} } }`;
  // The value of issue 18: under fish it ended the quoting and ran "touch" on the server.
  assert.equal(
    message(server(String.raw`{ "host": "h", "dockerSocket": "/x\\' ; touch /tmp/p ; echo \\" }`)),
    String.raw`baremetal.json:2:50: servers.p.dockerSocket "/x\\' ; touch /tmp/p ; echo \\" must be an absolute path like "/var/run/docker.sock", without backslashes or control characters.`,
  );
  assert.equal(
    message(server('{ "host": "h", "dockerSocket": "/run/docker.sock\\n" }')),
    'baremetal.json:2:50: servers.p.dockerSocket "/run/docker.sock\\n" must be an absolute path like "/var/run/docker.sock", without backslashes or control characters.',
  );
  assert.equal(
    message(server('{ "host": "h", "identityFile": "~/.ssh/id\\nProxyCommand=x" }')),
    'baremetal.json:2:50: servers.p.identityFile "~/.ssh/id\\nProxyCommand=x" must be a file path without control characters (line breaks, tabs).',
  );
  assert.match(message(withTop(String.raw`"run": { "healthcheck": { "path": "/health\\'; touch /tmp/p; echo \\" } }`)), /^baremetal\.json:1:100: run\.healthcheck\.path .* must be a URL path starting with "\/", like "\/health", without spaces, backslashes or control characters \(write them %-encoded\)\.$/);
  assert.match(message(withTop('"run": { "healthcheck": { "path": "/a b" } }')), /run\.healthcheck\.path "\/a b" must be a URL path/);
  assert.match(message(withTop('"proxy": { "healthcheck": { "path": "/up\\t" } }')), /proxy\.healthcheck\.path "\/up\\t" must be a URL path starting with "\/", like "\/up", without spaces/);
  // What servers need keeps working: Windows key paths, sockets and health paths with query strings.
  const ok = parseConfig(server('{ "host": "h", "identityFile": "C:\\\\Users\\\\me\\\\.ssh\\\\id_ed25519", "dockerSocket": "/run/user/1000/docker.sock" }'), F);
  assert.equal(ok.servers.p.identityFile, 'C:\\Users\\me\\.ssh\\id_ed25519');
  const hc = parseConfig(withTop('"run": { "healthcheck": { "path": "/health?full=1&x=%20" } }'), F).run.healthcheck;
  assert.equal(hc && hc.path, '/health?full=1&x=%20');
});

test('bad port specs', () => {
  const text = '{\n  "app": "hello",\n  "servers": {\n    "prod": { "host": "prod-box" }\n  },\n  "run": {\n    "ports": ["80"]\n  }\n}';
  assert.equal(message(text), 'baremetal.json:7:15: run.ports[0] "80" must look like "8080:8080" (hostPort:containerPort).');
  const ports = (p: string) => message(withTop(`"run": { "ports": [${p}] }`));
  assert.equal(ports('"8080:8080", "0:80"'), 'baremetal.json:1:98: run.ports[1] "0:80" has host port 0; ports go from 1 to 65535.');
  assert.equal(ports('"80:70000"'), 'baremetal.json:1:85: run.ports[0] "80:70000" has container port 70000; ports go from 1 to 65535.');
  assert.equal(ports('"300.0.0.1:80:80"'), 'baremetal.json:1:85: run.ports[0] "300.0.0.1:80:80" has an invalid IPv4 address "300.0.0.1".');
  assert.equal(ports('"8080:80", "127.0.0.1:8080:81"'), 'baremetal.json:1:96: run.ports[1] "127.0.0.1:8080:81" uses host port 8080 again (already in run.ports[0]); each host port can be published once.');
  // Same port on different protocols or on two specific addresses is fine.
  assert.equal(parseConfig(withTop('"run": { "ports": ["53:53", "53:53/udp", "127.0.0.1:80:80", "10.0.0.1:80:80"] }'), F).run.ports.length, 4);
});

test('volumes', () => {
  const vols = (v: string) => message(withTop(`"run": { "volumes": [${v}] }`));
  assert.equal(vols('"./data:/data"'), 'baremetal.json:1:87: run.volumes[0] "./data:/data" must look like "data:/var/lib/data" or "/srv/data:/data:ro" (a volume name or an absolute server path, then an absolute container path).');
  assert.equal(vols('"data:/d", "/srv:/d/"'), 'baremetal.json:1:98: run.volumes[1] "/srv:/d/" mounts /d again (already in run.volumes[0]); each container path can be mounted once.');
});

test('defaultServer must name a server', () => {
  const text = '{ "app": "a", "servers": { "a": { "host": "h" }, "b": { "host": "h" } },\n  "defaultServer": "c" }';
  assert.equal(message(text), 'baremetal.json:2:20: defaultServer "c" is not one of the servers; known servers: a, b.');
});

test('a secret must not also be in run.env', () => {
  assert.equal(message(withTop('"run": { "env": { "DB_PASSWORD": "x" }, "secrets": ["DB_PASSWORD"] }')),
    'baremetal.json:1:118: run.secrets[0] "DB_PASSWORD" is also set in run.env; a secret\'s value must stay out of baremetal.json, so remove it from run.env.');
  assert.equal(message(withTop('"run": { "secrets": ["A_B", "A_B"] }')), 'baremetal.json:1:94: run.secrets[1] "A_B" is listed twice.');
});

test('every error goes into detail, the first into the message', () => {
  const e = invalid('{ "app": "A", "servers": { "p": { "host": "h", "port": 0 } }, "keep": 101 }');
  assert.equal(e.detail?.split('\n').length, 3);
  assert.ok(e.detail?.startsWith(e.message));
});

test('parsePortSpec and parseVolumeSpec', () => {
  assert.deepEqual(parsePortSpec('5353:53/udp'), { hostPort: 5353, containerPort: 53, protocol: 'udp', spec: '5353:53/udp' });
  assert.throws(() => parsePortSpec('http'), { code: 'ConfigInvalid', message: 'Port mapping "http" must look like "8080:8080" (hostPort:containerPort).' });
  assert.deepEqual(parseVolumeSpec('/a:/b:rw'), { source: '/a', target: '/b', readOnly: false, kind: 'bind', spec: '/a:/b:rw' });
  assert.throws(() => parseVolumeSpec('db:/'), { code: 'ConfigInvalid' });
});

test('pickServer', () => {
  const two = parseConfig('{ "app": "a", "servers": { "a": { "host": "h1" }, "b": { "host": "h2" } } }', F);
  assert.equal(pickServer(two, 'b').host, 'h2');
  assert.throws(() => pickServer(two), { code: 'UnknownServer', message: 'baremetal.json has several servers (a, b): choose one with --server NAME or set "defaultServer".' });
  assert.throws(() => pickServer(two, 'x'), { code: 'UnknownServer', message: 'No server named "x" in baremetal.json; known servers: a, b.' });
  assert.throws(() => pickServer(two, 'toString'), { code: 'UnknownServer' });
  assert.equal(pickServer({ ...two, defaultServer: 'b' }).name, 'b');
  assert.equal(pickServer(parseConfig(MINIMAL, F)).name, 'prod');
});

test('loadConfig reads dir/baremetal.json, or says where it looked', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bm-config-'));
  try {
    await assert.rejects(loadConfig(dir), { code: 'ConfigNotFound', message: `No baremetal.json in ${dir}: create one (see the README) or run from your project's folder.` });
    await writeFile(path.join(dir, 'baremetal.json'), MINIMAL);
    const c = await loadConfig(dir);
    assert.equal(c.file, path.join(dir, 'baremetal.json'));
    assert.equal(c.dir, dir);
    await writeFile(path.join(dir, 'baremetal.json'), '{ "app": 1 }');
    await assert.rejects(loadConfig(dir), (e: BmError) => e.code === 'ConfigInvalid' && e.message.startsWith(`${path.join(dir, 'baremetal.json')}:1:10: `));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every property in the schema has a description', () => {
  const missing: string[] = [];
  const walk = (s: unknown, where: string): void => {
    if (typeof s !== 'object' || s === null) return;
    const o = s as Record<string, unknown>;
    for (const [k, v] of Object.entries((o.properties ?? {}) as Record<string, Record<string, unknown>>)) {
      if (typeof v.description !== 'string' || v.description === '') missing.push(`${where}.${k}`);
      walk(v, `${where}.${k}`);
    }
    if (typeof o.additionalProperties === 'object') walk(o.additionalProperties, `${where}.*`);
    if (typeof o.items === 'object') walk(o.items, `${where}[]`);
    for (const branch of (o.anyOf ?? []) as unknown[]) walk(branch, where);
    for (const [k, d] of Object.entries((o.definitions ?? {}) as Record<string, unknown>)) walk(d, `#${k}`);
  };
  walk(schema, '');
  assert.deepEqual(missing, []);
});

test('a published TCP port without a healthcheck gets the default HTTP check', () => {
  const c = parseConfig('{ "app": "a", "servers": { "s": { "host": "h" } }, "run": { "ports": ["80:8080"] } }', 'baremetal.json');
  assert.deepEqual(c.run.healthcheck, { path: '/', timeoutSeconds: 30, intervalSeconds: 1 });
});

test('build.on takes "local" or "server" only, with line and column', () => {
  const text = '{\n  "app": "web",\n  "servers": { "prod": { "host": "p" } },\n  "build": { "on": "laptop" }\n}\n';
  assert.throws(() => parseConfig(text, 'baremetal.json'), (e: Error) => /^baremetal\.json:4:20: build\.on "laptop" must be one of "local", "server"\.$/.test(e.message) && /local|server/.test(e.message));
});

test('run.memory ("512m", "1.5g", "512MiB", bytes) and run.cpus reach the config as bytes and CPUs', () => {
  const run = (r: string) => parseConfig(withTop(`"run": { ${r} }`), F).run;
  assert.deepEqual([run('"memory": "512m", "cpus": 0.5').memoryBytes, run('"memory": "512m", "cpus": 0.5').cpus], [512 * 1024 * 1024, 0.5]);
  assert.equal(run('"memory": "1.5g"').memoryBytes, 1.5 * 1024 ** 3);
  assert.equal(run('"memory": "512MiB"').memoryBytes, 512 * 1024 * 1024);
  assert.equal(run('"memory": "64 MB"').memoryBytes, 64 * 1024 * 1024, "binary whatever the spelling, as Docker's");
  assert.equal(run('"memory": 10485760').memoryBytes, 10485760);
  assert.equal(run('"memory": "10485760"').memoryBytes, 10485760);
  const none = run('"restart": "always"');
  assert.ok(!('memoryBytes' in none) && !('cpus' in none), 'unset: no limit');
});

test('run.memory and run.cpus: each mistake is one sentence at its line and column', () => {
  const text = (r: string) => `{
  "app": "a",
  "servers": { "s": { "host": "h" } },
  "run": { ${r} }
}`;
  assert.equal(message(text('"memory": "lots"')), 'baremetal.json:4:22: run.memory "lots" must be a size like "512m", "512MiB" or "1g" (units are binary, as Docker\'s: k = KiB, m = MiB, g = GiB), or a number of bytes.');
  assert.equal(message(text('"memory": "2m"')), 'baremetal.json:4:22: run.memory "2m" is less than Docker\'s smallest limit, 6 MiB ("6m"); give the app more.');
  assert.equal(message(text('"memory": 1000')), 'baremetal.json:4:22: run.memory is 1000 bytes, less than Docker\'s smallest limit, 6 MiB (6291456 or "6m"); give the app more.');
  assert.equal(message(text('"memory": true')), 'baremetal.json:4:22: run.memory must be a string or a whole number, not true.');
  assert.equal(message(text('"memory": 1.5')), 'baremetal.json:4:22: run.memory must be a string or a whole number, not the number 1.5.');
  assert.equal(message(text('"cpus": 0')), 'baremetal.json:4:20: run.cpus is 0; it must be more than 0 and at most 1024.');
  assert.equal(message(text('"cpus": "1"')), 'baremetal.json:4:20: run.cpus must be a number, not the string "1".');
});

test('the schema describes run.memory and run.cpus for completion', () => {
  const run = schema.properties.run.properties as Record<string, { markdownDescription?: string; examples?: unknown[] }>;
  assert.match(run.memory.markdownDescription ?? '', /512m/);
  assert.deepEqual(run.cpus.examples, [0.5, 2]);
});

test('run.shell: the shell Open Shell starts, as a list of arguments, with file:line:column errors', () => {
  const ok = parseConfig(withTop('"run": { "shell": ["/bin/bash", "-l"] }'), F);
  assert.deepEqual(ok.run.shell, ['/bin/bash', '-l']);
  assert.equal(parseConfig(MINIMAL, F).run.shell, undefined);
  const at = (fragment: string) => `{\n  "app": "hello", "servers": { "prod": { "host": "prod-box" } },\n  "run": { "shell": ${fragment} }\n}`;
  assert.equal(message(at('"bash"')), 'baremetal.json:3:21: run.shell must be a list [...], not the string "bash".');
  assert.equal(message(at('[]')), 'baremetal.json:3:21: run.shell must not be empty.');
  assert.equal(message(at('["bash", ""]')), 'baremetal.json:3:30: run.shell[1] must not be empty.');
});
