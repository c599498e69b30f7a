/**
 * scripts/debian-mirror.sh and the Docker 26 installer's use of it: the Debian mirror comes
 * from the machine's own apt sources only (one-line and deb822 formats), and a machine without
 * one is told so in one sentence. Each case gives the scripts a folder standing for / (BM_APT_ROOT)
 * and, for the installer, an empty tools folder (BM_TOOLS_DIR), so the machine's cache is untouched.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const SCRIPTS = resolve(__dirname, '..', '..', '..', 'scripts');
const root = mkdtempSync(join(tmpdir(), 'bm-mirror-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A folder standing for /, holding these files (paths relative to it). */
function machine(files: Record<string, string>): string {
  const dir = join(root, `m${++n}`);
  for (const [path, text] of Object.entries({ 'etc/os-release': 'ID=debian\nVERSION_CODENAME=bookworm\n', ...files })) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  mkdirSync(join(dir, 'etc/apt/sources.list.d'), { recursive: true });
  return dir;
}

function mirror(dir: string, ...args: string[]) {
  const r = spawnSync('bash', [join(SCRIPTS, 'debian-mirror.sh'), ...args], { env: { PATH: '/usr/bin:/bin', BM_APT_ROOT: dir }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

test("deb822: the mirror of the machine's own release, not its security mirror nor a vendor's", () => {
  const dir = machine({
    'etc/apt/sources.list.d/a-vendor.sources': 'Types: deb\nURIs: https://deb.vendor.example/node_20.x\nSuites: nodistro\nComponents: main\n',
    'etc/apt/sources.list.d/debian.sources':
      '# a comment\nTypes: deb\nURIs: http://security.mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n' +
      'Types: deb-src\nURIs: http://src.mirror.example/debian\nSuites: bookworm\nComponents: main\n\n' +
      'Types: deb\nURIs: http://off.mirror.example/debian\nSuites: bookworm\nEnabled: no\n\n' +
      'Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n',
  });
  assert.deepEqual(mirror(dir), { code: 0, out: 'http://mirror.example/debian', err: '' });
});

test('one-line sources: options in brackets and comments are skipped, sources.list comes first', () => {
  const dir = machine({
    'etc/apt/sources.list': '# deb http://commented.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] https://vendor.example/apt cloud-sdk-bookworm main\ndeb [ trusted=yes ] http://list.mirror.example/debian bookworm-updates main\n',
    'etc/apt/sources.list.d/z.sources': 'Types: deb\nURIs: http://later.example/debian\nSuites: bookworm\n',
  });
  assert.deepEqual(mirror(dir), { code: 0, out: 'http://list.mirror.example/debian', err: '' });
  // A suite named by the caller counts too (the installer names trixie).
  const trixieOnly = machine({ 'etc/os-release': 'ID=debian\n', 'etc/apt/sources.list.d/t.list': 'deb http://t.mirror.example/debian trixie main\n' });
  assert.equal(mirror(trixieOnly).code, 1);
  assert.equal(mirror(trixieOnly, 'trixie', 'trixie-updates').out, 'http://t.mirror.example/debian');
});

const NONE = /^No Debian mirror in this machine's apt sources \(.*\): add the one this machine installs from, then run again\.$/;

test('no Debian mirror in the sources (only security and a vendor, or nothing): one sentence, exit 1', () => {
  const dir = machine({
    'etc/apt/sources.list.d/debian.sources': 'Types: deb\nURIs: http://security.mirror.example/debian-security\nSuites: bookworm-security\n',
    'etc/apt/sources.list.d/vendor.list': 'deb https://vendor.example/apt nodistro main\n',
  });
  const r = mirror(dir);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(r.err, NONE);
  assert.match(mirror(machine({})).err, NONE);
});

test('the Docker 26 installer on a machine with no Debian mirror: that sentence, exit 1, nothing fetched or cached', () => {
  const tools = join(root, 'tools');
  mkdirSync(tools);
  // apt-get stands in for any download: the installer must stop before it.
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'apt-get'), '#!/bin/sh\necho "apt-get was run" >&2\nexit 1\n');
  chmodSync(join(bin, 'apt-get'), 0o755);
  const r = spawnSync('bash', [join(SCRIPTS, 'install-docker26.sh')], {
    env: { PATH: `${bin}:/usr/bin:/bin`, BM_TOOLS_DIR: tools, BM_APT_ROOT: machine({}) },
    encoding: 'utf8',
  });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr.trim(), NONE);
  assert.deepEqual(readdirSync(tools), [], 'nothing written into the tools folder');
});
