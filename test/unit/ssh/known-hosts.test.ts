import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendKnownHost,
  checkHostKey,
  entryMatches,
  fingerprint,
  hostKeyAlgorithms,
  hostToken,
  keyTypeOfBlob,
  knownHostsLine,
  knownKeyTypes,
  parseKnownHosts,
  readKnownHosts,
  type KnownHostEntry,
} from '../../../src/drivers/ssh/known-hosts';

interface Key { type: string; b64: string; blob: Buffer; pub: string }

let dir: string;
const keys: Record<string, Key> = {};

function makeKey(name: string, args: string[]): Key {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-C', name, '-f', file, ...args]);
  const [type, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ') as [string, string];
  return { type, b64, blob: Buffer.from(b64, 'base64'), pub: `${file}.pub` };
}

/** ssh-keygen -F as an oracle: does OpenSSH find `token` in this file? */
function opensshFinds(file: string, token: string): boolean {
  try {
    return execFileSync('ssh-keygen', ['-F', token, '-f', file], { encoding: 'utf8' }).includes('found');
  } catch {
    return false; // exit status 1: not found
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'bm-kh-'));
  keys.ed = makeKey('ed', ['-t', 'ed25519']);
  keys.ed2 = makeKey('ed2', ['-t', 'ed25519']);
  keys.ecdsa = makeKey('ecdsa', ['-t', 'ecdsa', '-b', '256']);
  keys.rsa = makeKey('rsa', ['-t', 'rsa', '-b', '2048']);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('key blobs', () => {
  test('fingerprint equals ssh-keygen -lf for every key type', () => {
    for (const k of Object.values(keys)) {
      const out = execFileSync('ssh-keygen', ['-lf', k.pub], { encoding: 'utf8' });
      assert.equal(fingerprint(k.blob), out.split(' ')[1]);
    }
  });
  test('keyTypeOfBlob reads the type name; rejects garbage', () => {
    assert.equal(keyTypeOfBlob(keys.ed!.blob), 'ssh-ed25519');
    assert.equal(keyTypeOfBlob(keys.rsa!.blob), 'ssh-rsa');
    assert.equal(keyTypeOfBlob(keys.ecdsa!.blob), 'ecdsa-sha2-nistp256');
    assert.throws(() => keyTypeOfBlob(Buffer.from([0, 0])));
    assert.throws(() => keyTypeOfBlob(Buffer.from([0, 0, 0, 200, 65])));
  });
  test('knownHostsLine and hostToken', () => {
    assert.equal(hostToken('Example.COM', 22), 'example.com');
    assert.equal(hostToken('example.com', 2222), '[example.com]:2222');
    assert.equal(knownHostsLine('h', 22, keys.ed!.blob), `h ssh-ed25519 ${keys.ed!.b64}`);
    assert.equal(knownHostsLine('h', 2222, keys.ed!.blob), `[h]:2222 ssh-ed25519 ${keys.ed!.b64}`);
  });
});

describe('parseKnownHosts', () => {
  test('skips blanks, comments, unknown markers and malformed lines; keeps line numbers', () => {
    const text = [
      '# comment',
      '',
      '   ',
      `a.example,b.example ${keys.ed!.type} ${keys.ed!.b64} comment here`,
      'garbage',
      `onlyhost ${keys.ed!.type}`,
      `bad ssh-ed25519 !!!notbase64!!!`,
      `mismatch ssh-rsa ${keys.ed!.b64}`,
      `@weird host ${keys.ed!.type} ${keys.ed!.b64}`,
      `@revoked * ${keys.ed2!.type} ${keys.ed2!.b64}\r`,
      `@cert-authority *.example ${keys.ecdsa!.type} ${keys.ecdsa!.b64}`,
      `\trsa.example rsa-sha2-512 ${keys.rsa!.b64}`,
    ].join('\n');
    const entries = parseKnownHosts(text, 'kh');
    assert.deepEqual(
      entries.map((e) => [e.line, e.marker, e.patterns, e.keyType]),
      [
        [4, undefined, ['a.example', 'b.example'], 'ssh-ed25519'],
        [10, '@revoked', ['*'], 'ssh-ed25519'],
        [11, '@cert-authority', ['*.example'], 'ecdsa-sha2-nistp256'],
        [12, undefined, ['rsa.example'], 'ssh-rsa'],
      ],
    );
    assert.equal(entries[0]!.file, 'kh');
    assert.equal(entries[0]!.keyBase64, keys.ed!.b64);
  });
  test('readKnownHosts treats missing files as empty', async () => {
    const f = join(dir, 'kh-read');
    writeFileSync(f, `h ${keys.ed!.type} ${keys.ed!.b64}\n`);
    const entries = await readKnownHosts([join(dir, 'nope'), f, join(dir, 'nope', 'deeper')]);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.file, f);
  });
});

describe('entryMatches', () => {
  const entry = (patterns: string): KnownHostEntry => parseKnownHosts(`${patterns} ${keys.ed!.type} ${keys.ed!.b64}`, 'x')[0]!;
  const cases: Array<[string, string, number, boolean]> = [
    ['example.com', 'example.com', 22, true],
    ['example.com', 'EXAMPLE.com', 22, true],
    ['Example.Com', 'example.com', 22, true],
    ['example.com', 'example.com', 2222, false],
    ['[example.com]:2222', 'example.com', 2222, true],
    ['[example.com]:2222', 'example.com', 22, false],
    ['[example.com]:2222', 'example.com', 2223, false],
    ['*.example.com', 'web.example.com', 22, true],
    ['*.example.com', 'example.com', 22, false],
    ['web?.example.com', 'web1.example.com', 22, true],
    ['web?.example.com', 'web12.example.com', 22, false],
    ['[*.example.com]:2222', 'a.example.com', 2222, true],
    ['*', 'anything', 22, true],
    ['*', 'anything', 2222, true],
    ['*.example.com,!bad.example.com', 'good.example.com', 22, true],
    ['*.example.com,!bad.example.com', 'bad.example.com', 22, false],
    ['!bad.example.com', 'good.example.com', 22, false],
    ['10.0.0.*', '10.0.0.7', 22, true],
    ['other,10.0.0.1', '10.0.0.1', 22, true],
  ];
  for (const [patterns, host, port, expected] of cases) {
    test(`${patterns} vs ${host}:${port} -> ${expected} (agrees with ssh-keygen -F)`, () => {
      assert.equal(entryMatches(entry(patterns), host, port), expected);
      const f = join(dir, `kh-oracle-${Math.random().toString(36).slice(2)}`);
      writeFileSync(f, `${patterns} ${keys.ed!.type} ${keys.ed!.b64}\n`);
      assert.equal(opensshFinds(f, port === 22 ? host : `[${host}]:${port}`), expected);
    });
  }

  test('hashed entries written by ssh-keygen -H match', () => {
    const f = join(dir, 'kh-hashed');
    writeFileSync(f, `example.com ${keys.ed!.type} ${keys.ed!.b64}\n[example.com]:2222 ${keys.ecdsa!.type} ${keys.ecdsa!.b64}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
    const entries = parseKnownHosts(readFileSync(f, 'utf8'), f);
    assert.equal(entries.length, 2);
    for (const e of entries) assert.match(e.patterns[0]!, /^\|1\|[^|]+\|[^|]+$/);
    assert.equal(entryMatches(entries[0]!, 'example.com', 22), true);
    assert.equal(entryMatches(entries[0]!, 'Example.com', 22), true);
    assert.equal(entryMatches(entries[0]!, 'example.org', 22), false);
    assert.equal(entryMatches(entries[0]!, 'example.com', 2222), false);
    assert.equal(entryMatches(entries[1]!, 'example.com', 2222), true);
    assert.equal(entryMatches(entries[1]!, 'example.com', 22), false);
    assert.equal(checkHostKey(entries, 'example.com', 2222, keys.ecdsa!.blob).kind, 'trusted');
  });
});

describe('checkHostKey', () => {
  // Built per test: the keys exist only once before() has run.
  const build = (): KnownHostEntry[] =>
    parseKnownHosts(
      [
        `host1 ${keys.ed!.type} ${keys.ed!.b64}`,
        `host1,host2 ${keys.rsa!.type} ${keys.rsa!.b64}`,
        `[host1]:2222 ${keys.ed2!.type} ${keys.ed2!.b64}`,
        `@cert-authority * ${keys.ecdsa!.type} ${keys.ecdsa!.b64}`,
      ].join('\n'),
      'kh',
    );

  test('trusted when an entry has the same type and key', () => {
    const v = checkHostKey(build(), 'host1', 22, keys.ed!.blob);
    assert.equal(v.kind, 'trusted');
    assert.equal(v.kind === 'trusted' && v.entry.line, 1);
    assert.equal(checkHostKey(build(), 'host2', 22, keys.rsa!.blob).kind, 'trusted');
    assert.equal(checkHostKey(build(), 'host1', 2222, keys.ed2!.blob).kind, 'trusted');
  });
  test('changed when the same type has another key', () => {
    const v = checkHostKey(build(), 'host1', 22, keys.ed2!.blob);
    assert.equal(v.kind, 'changed');
    assert.equal(v.kind === 'changed' && v.entry.line, 1);
    assert.equal(checkHostKey(build(), 'host1', 2222, keys.ed!.blob).kind, 'changed');
  });
  test('changed, not unknown, when a known host offers a key of a type none of its lines has (a man in the middle without the key)', () => {
    const v = checkHostKey(build(), 'host2', 22, keys.ed!.blob);
    assert.equal(v.kind, 'changed', 'host2 is known by its RSA key only');
    assert.deepEqual(v.kind === 'changed' && [v.entry.file, v.entry.line, v.entry.keyType], ['kh', 2, 'ssh-rsa']);
    const w = checkHostKey(build(), 'host1', 22, keys.ecdsa!.blob);
    assert.deepEqual(w.kind === 'changed' && [w.entry.line, w.entry.keyType], [1, 'ssh-ed25519'], 'the first line holding another key');
    // A key that one line of the host holds is trusted, whichever type the others are.
    assert.equal(checkHostKey(build(), 'host1', 22, keys.rsa!.blob).kind, 'trusted');
  });
  test('unknown for an unlisted host or another port; a @cert-authority line never trusts a plain key but is named', () => {
    const v = checkHostKey(build(), 'host3', 22, keys.ed!.blob);
    assert.equal(v.kind, 'unknown');
    assert.equal(v.kind === 'unknown' && v.certAuthority?.line, 4, 'the CA line for * is reported');
    assert.equal(checkHostKey(build(), 'host3', 22, keys.ecdsa!.blob).kind, 'unknown', 'not even the CA key itself');
    assert.equal(checkHostKey(build(), 'host2', 2200, keys.rsa!.blob).kind, 'unknown');
    const noCa = parseKnownHosts(`host1 ${keys.ed!.type} ${keys.ed!.b64}`, 'kh');
    const u = checkHostKey(noCa, 'other', 22, keys.ed!.blob);
    assert.deepEqual(u, { kind: 'unknown' });
  });
  test('revoked wins over trusted', () => {
    const list = [...build(), ...parseKnownHosts(`@revoked * ${keys.ed!.type} ${keys.ed!.b64}`, 'revoked')];
    const v = checkHostKey(list, 'host1', 22, keys.ed!.blob);
    assert.equal(v.kind, 'revoked');
    assert.equal(v.kind === 'revoked' && v.entry.file, 'revoked');
    assert.equal(checkHostKey(list, 'host2', 22, keys.rsa!.blob).kind, 'trusted');
  });
  test('the system-wide file counts: its keys trust, its @revoked lines refuse whatever the user file says', async () => {
    const user = join(dir, 'user_known_hosts');
    const global = join(dir, 'ssh_known_hosts');
    writeFileSync(user, `host1 ${keys.ed!.type} ${keys.ed!.b64}\n`);
    writeFileSync(global, `host9 ${keys.rsa!.type} ${keys.rsa!.b64}\n@revoked host1 ${keys.ed!.type} ${keys.ed!.b64}\n`);
    const both = await readKnownHosts([user, global, join(dir, 'ssh_known_hosts2-missing')]);
    assert.equal(checkHostKey(both, 'host9', 22, keys.rsa!.blob).kind, 'trusted');
    const v = checkHostKey(both, 'host1', 22, keys.ed!.blob);
    assert.deepEqual(v.kind === 'revoked' && [v.entry.file, v.entry.line], [global, 2]);
    // A revoked key with no other line for the host is refused too, never "unknown".
    assert.equal(checkHostKey(parseKnownHosts(`@revoked * ${keys.ed2!.type} ${keys.ed2!.b64}`, 'g'), 'anyhost', 22, keys.ed2!.blob).kind, 'revoked');
  });
  test('knownKeyTypes lists plain entries only; hostKeyAlgorithms expands RSA', () => {
    assert.deepEqual(knownKeyTypes(build(), 'host1', 22), ['ssh-ed25519', 'ssh-rsa']);
    assert.deepEqual(knownKeyTypes(build(), 'host1', 2222), ['ssh-ed25519']);
    assert.deepEqual(knownKeyTypes(build(), 'nohost', 22), []);
    assert.deepEqual(hostKeyAlgorithms(['ssh-ed25519', 'ssh-rsa']), ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });
  test('an rsa-sha2-512 line is an ssh-rsa key', () => {
    const list = parseKnownHosts(`h rsa-sha2-512 ${keys.rsa!.b64}`, 'kh');
    assert.equal(checkHostKey(list, 'h', 22, keys.rsa!.blob).kind, 'trusted');
  });
});

describe('appendKnownHost', () => {
  test('adds a newline before the line when the file lacks one', async () => {
    const f = join(dir, 'append-no-nl');
    writeFileSync(f, `old ${keys.ed!.type} ${keys.ed!.b64}`);
    await appendKnownHost(f, knownHostsLine('new', 2222, keys.ed2!.blob));
    await appendKnownHost(f, knownHostsLine('third', 22, keys.rsa!.blob) + '\n');
    const text = readFileSync(f, 'utf8');
    assert.equal(text.split('\n').length, 4);
    assert.ok(text.endsWith('\n'));
    const entries = parseKnownHosts(text, f);
    assert.deepEqual(entries.map((e) => e.patterns[0]), ['old', '[new]:2222', 'third']);
    assert.equal(checkHostKey(entries, 'new', 2222, keys.ed2!.blob).kind, 'trusted');
  });
  test('creates the directory 0700 and the file 0600', async () => {
    const sshDir = join(dir, 'home', '.ssh');
    const f = join(sshDir, 'known_hosts');
    await appendKnownHost(f, knownHostsLine('h', 22, keys.ed!.blob));
    assert.equal(readFileSync(f, 'utf8'), `h ssh-ed25519 ${keys.ed!.b64}\n`);
    if (process.platform !== 'win32') {
      assert.equal(statSync(sshDir).mode & 0o777, 0o700);
      assert.equal(statSync(f).mode & 0o777, 0o600);
    }
    // And OpenSSH reads what we wrote.
    assert.equal(opensshFinds(f, 'h'), true);
  });
  test('refuses a line with an embedded line break', async () => {
    await assert.rejects(appendKnownHost(join(dir, 'x'), 'a\nb'));
  });
});
