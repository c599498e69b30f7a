import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../../src/core/config/load';
import { parseSecrets, redact, resolveSecrets } from '../../../src/core/config/secrets';
import type { BmError } from '../../../src/core/errors';

/** A project folder with baremetal.json declaring `secrets`, and optionally a .baremetal.secrets. */
async function project(secrets: string[], secretsFile?: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'bm-secrets-'));
  if (secretsFile !== undefined) await writeFile(path.join(dir, '.baremetal.secrets'), secretsFile);
  const text = JSON.stringify({ app: 'a', servers: { p: { host: 'h' } }, run: { secrets } });
  return { config: parseConfig(text, path.join(dir, 'baremetal.json')), done: () => rm(dir, { recursive: true, force: true }) };
}

test('values come from the environment first, then from .baremetal.secrets', async () => {
  const p = await project(['DB_PASSWORD', 'API_KEY'], 'DB_PASSWORD=from-file\nAPI_KEY=key-from-file\n');
  try {
    assert.deepEqual(await resolveSecrets(p.config, { DB_PASSWORD: 'from-env' }), { DB_PASSWORD: 'from-env', API_KEY: 'key-from-file' });
  } finally { await p.done(); }
});

test('the environment alone is enough when there is no secrets file', async () => {
  const p = await project(['TOKEN']);
  try {
    assert.deepEqual(await resolveSecrets(p.config, { TOKEN: 't0k3n' }), { TOKEN: 't0k3n' });
    assert.deepEqual(await resolveSecrets({ ...p.config, run: { ...p.config.run, secrets: [] } }, {}), {});
  } finally { await p.done(); }
});

test('a secret found nowhere is SecretMissing, and no value leaks into the message', async () => {
  const p = await project(['DB_PASSWORD', 'OTHER'], 'OTHER=hunter22\n');
  try {
    await assert.rejects(resolveSecrets(p.config, { UNRELATED: 'x' }), (e: BmError) => {
      assert.equal(e.code, 'SecretMissing');
      assert.equal(e.message, 'Secret "DB_PASSWORD" has no value: set it in the environment or in .baremetal.secrets (kept out of git).');
      assert.ok(!`${e.message}${e.detail ?? ''}`.includes('hunter22'));
      return true;
    });
  } finally { await p.done(); }
});

test('the secrets file: comments, export, quotes, escapes, inline comments', () => {
  const text = [
    '# database',
    '',
    'export DB_PASSWORD=p@ss=word#1',
    '  SPACED = padded value  ',
    'SINGLE=\'lit\\eral # not a comment\'',
    'DOUBLE="line1\\nline2 \\"q\\""',
    'TRAILING=abc # a comment',
    'EMPTY=',
    'CRLF=yes\r',
  ].join('\n');
  assert.deepEqual(Object.fromEntries(parseSecrets(text)), {
    DB_PASSWORD: 'p@ss=word#1',
    SPACED: 'padded value',
    SINGLE: 'lit\\eral # not a comment',
    DOUBLE: 'line1\nline2 "q"',
    TRAILING: 'abc',
    EMPTY: '',
    CRLF: 'yes',
  });
});

test('a malformed secrets line names the line, not its content', () => {
  assert.throws(() => parseSecrets('OK=1\nsupersecretvalue\n'), (e: BmError) => {
    assert.equal(e.code, 'ConfigInvalid');
    assert.equal(e.message, '.baremetal.secrets:2: expected NAME=value (a variable name, "=", then the value).');
    return true;
  });
  assert.throws(() => parseSecrets('A="unclosed'), { message: '.baremetal.secrets:1: the quoted value is not closed, or text follows its closing quote.' });
});

test('redact masks every secret value of 4 characters or more', () => {
  const secrets = { A: 'hunter22', B: 'hunter2233', C: 'no', D: 'hunter22' };
  assert.equal(redact('pw=hunter2233 and hunter22, not no', secrets), 'pw=*** and ***, not no');
  assert.equal(redact('nothing here', {}), 'nothing here');
  assert.equal(redact('a+b (x) a+b', { R: 'a+b (x)' }), '*** a+b');
});
