import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load';
import { logSecrets, SecretMask } from '../../../src/core/config/secret-mask';
import { redact } from '../../../src/core/config/secrets';
import type { BmError } from '../../../src/core/errors';

/** staging reads .baremetal.secrets; prod (through its group) adds STRIPE_KEY and reads .prod.secrets. */
async function project(prodSecrets = 'DB_PASSWORD=prod-db-pass\nSTRIPE_KEY=sk_live_prod\n') {
  const dir = await mkdtemp(path.join(tmpdir(), 'bm-logsecrets-'));
  await writeFile(path.join(dir, '.baremetal.secrets'), 'DB_PASSWORD=staging-db-pass\n');
  await writeFile(path.join(dir, '.prod.secrets'), prodSecrets);
  const text = JSON.stringify({
    app: 'shop',
    servers: { staging: { host: 'h1' }, prod: { host: 'h2' } },
    groups: { live: { servers: ['prod'], secrets: ['STRIPE_KEY'], secretsFile: '.prod.secrets' } },
    run: { secrets: ['DB_PASSWORD'] },
  });
  return { config: parseConfig(text, path.join(dir, 'baremetal.json')), done: () => rm(dir, { recursive: true, force: true }) };
}

test("a server's logs are masked with its own secrets: its group's, from its own secrets file", async () => {
  const p = await project();
  try {
    const secrets = await logSecrets(p.config, ['prod'], {});
    assert.equal(redact('db=prod-db-pass stripe=sk_live_prod', secrets), 'db=*** stripe=***');
  } finally {
    await p.done();
  }
});

test("merged logs of several servers are masked with every server's secrets", async () => {
  const p = await project();
  try {
    const secrets = await logSecrets(p.config, ['staging', 'prod'], {});
    assert.equal(redact('staging-db-pass | prod-db-pass | sk_live_prod', secrets), '*** | *** | ***');
  } finally {
    await p.done();
  }
});

test('a secret that cannot be read stops the logs, in one sentence saying which server and what to do', async () => {
  const p = await project('DB_PASSWORD=prod-db-pass\n');
  try {
    await assert.rejects(logSecrets(p.config, ['staging', 'prod'], {}), (e: BmError) => {
      assert.equal(e.code, 'SecretMissing');
      assert.equal(e.message, 'The logs of prod are not shown, as its secrets cannot be masked (Secret "STRIPE_KEY" has no value: set it in the environment or in .prod.secrets (kept out of git)).');
      return true;
    });
  } finally {
    await p.done();
  }
});

test('the mask keeps every value it was given, and leaves text alone when it has none', () => {
  const mask = new SecretMask();
  assert.equal(mask.mask('nothing to hide'), 'nothing to hide');
  mask.add({ A: 'first-secret' });
  mask.add(['second-secret', 'first-secret']);
  assert.equal(mask.mask('first-secret second-secret'), '*** ***');
});
