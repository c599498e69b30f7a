import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { FileConsentStore } from '../../../src/app/consent-file';
import { agreeToSecrets } from '../../../src/cli/consent';
import { consentNeeded, describeSends, recordConsent, secretSends, type ConsentStore } from '../../../src/core/config/consent';
import { parseConfig } from '../../../src/core/config/load';
import type { BmError } from '../../../src/core/errors';

const DIR = '/home/dev/shop';

function config(extra: Record<string, unknown> = {}) {
  return parseConfig(JSON.stringify({
    app: 'shop',
    servers: { staging: { host: 'staging.example.com', user: 'deploy' }, prod: { host: '203.0.113.7', port: 2222 } },
    groups: { live: { servers: ['prod'], secrets: ['STRIPE_KEY'], secretsFile: '../other-project/.baremetal.secrets' } },
    run: { secrets: ['DB_PASSWORD'] },
    build: { secrets: ['AWS_SECRET_ACCESS_KEY'] },
    ...extra,
  }), path.join(DIR, 'baremetal.json'));
}

function memoryStore(): ConsentStore & { data: Record<string, Record<string, readonly string[]>> } {
  const data: Record<string, Record<string, readonly string[]>> = {};
  return {
    data,
    agreed: async (ws) => data[ws] ?? {},
    agree: async (ws, host, items) => void (data[ws] = { ...data[ws], [host]: items }),
  };
}

test('the list: each host, each secret, what it is for and where its value comes from', () => {
  const lines = describeSends(secretSends(config(), ['staging', 'prod'], { AWS_SECRET_ACCESS_KEY: 'x' }));
  assert.deepEqual(lines, [
    'deploy@staging.example.com (staging) would receive:',
    "  DB_PASSWORD (the app's env) from .baremetal.secrets",
    '  AWS_SECRET_ACCESS_KEY (the build) from the environment',
    '203.0.113.7:2222 (prod) would receive:',
    "  DB_PASSWORD (the app's env) from ../other-project/.baremetal.secrets, a file outside this workspace",
    "  STRIPE_KEY (the app's env) from ../other-project/.baremetal.secrets, a file outside this workspace",
    '  AWS_SECRET_ACCESS_KEY (the build) from the environment',
  ]);
});

test('no secrets: nothing to ask', async () => {
  const c = parseConfig(JSON.stringify({ app: 'a', servers: { p: { host: 'h' } } }), path.join(DIR, 'baremetal.json'));
  assert.deepEqual(await consentNeeded(c, ['p'], {}, memoryStore()), []);
});

test('asked once per workspace and host; asked again for what is new when the list grows, or a source changes', async () => {
  const store = memoryStore();
  const first = await consentNeeded(config(), ['staging'], {}, store);
  assert.equal(first.length, 1);
  await recordConsent(config(), first, store);
  assert.deepEqual(await consentNeeded(config(), ['staging'], {}, store), [], 'agreed: not asked again');
  // Another host of the same workspace is its own question.
  assert.deepEqual((await consentNeeded(config(), ['staging', 'prod'], {}, store)).map((h) => h.host), ['203.0.113.7:2222']);
  // The repository adds a secret: only the new one is asked about.
  const grown = config({ run: { secrets: ['DB_PASSWORD', 'GITHUB_TOKEN'] } });
  assert.deepEqual(describeSends(await consentNeeded(grown, ['staging'], {}, store)), ['deploy@staging.example.com (staging) would receive:', "  GITHUB_TOKEN (the app's env) from .baremetal.secrets"]);
  // The same name now read from the environment is a new source.
  assert.equal((await consentNeeded(config(), ['staging'], { DB_PASSWORD: 'x' }, store)).length, 1);
  // Never a value in what is kept.
  assert.ok(!JSON.stringify(store.data).includes('"x"'));
});

test('the CLI: without a terminal and without --yes it refuses in one sentence and remembers nothing; --yes agrees', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bm-consent-'));
  try {
    const store = new FileConsentStore(path.join(dir, 'consent.json'));
    const said: string[] = [];
    const err = { write: (s: string) => said.push(s) } as unknown as NodeJS.WritableStream;
    await assert.rejects(agreeToSecrets(config(), ['prod'], { env: {}, store, interactive: false, err }), (e: BmError) => {
      assert.equal(e.code, 'SecretsNotAgreed');
      assert.equal(e.message, 'Nothing was sent: these secrets would go to a host for the first time, so check the list above and run again with --yes to send them.');
      return true;
    });
    assert.match(said.join(''), /203\.0\.113\.7:2222 \(prod\) would receive:\n    DB_PASSWORD/);
    await assert.rejects(agreeToSecrets(config(), ['prod'], { env: {}, store, interactive: true, ask: async () => false, err }), /you did not agree/);
    assert.deepEqual(await store.agreed(DIR), {});
    await agreeToSecrets(config(), ['prod'], { env: {}, store, interactive: false, yes: true, err });
    said.length = 0;
    await agreeToSecrets(config(), ['prod'], { env: {}, store, interactive: false, err });
    assert.equal(said.join(''), '', 'agreed before: no list, no question');
    const kept = await readFile(path.join(dir, 'consent.json'), 'utf8');
    assert.match(kept, /run STRIPE_KEY from \.\.\/other-project\/\.baremetal\.secrets \(outside the workspace\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a terminal answer of yes is remembered', async () => {
  const store = memoryStore();
  let asked = 0;
  const err = { write: () => true } as unknown as NodeJS.WritableStream;
  const ask = async () => (asked++, true);
  await agreeToSecrets(config(), ['staging'], { env: {}, store, interactive: true, ask, err });
  await agreeToSecrets(config(), ['staging'], { env: {}, store, interactive: true, ask, err });
  assert.equal(asked, 1);
});

test("a one-off run asks only about the app's env: it sends no build or TLS secret, and a later deploy asks about those", async () => {
  const store = memoryStore();
  const tls = { proxy: { hosts: ['shop.example.com'], port: 8080, tls: { cert: 'TLS_CERT', key: 'TLS_KEY' } } };
  const run = await consentNeeded(config(tls), ['staging'], {}, store, ['run']);
  assert.deepEqual(describeSends(run), ['deploy@staging.example.com (staging) would receive:', "  DB_PASSWORD (the app's env) from .baremetal.secrets"]);
  await recordConsent(config(tls), run, store);
  assert.deepEqual(await consentNeeded(config(tls), ['staging'], {}, store, ['run']), [], 'agreed: the next run is not asked');
  assert.deepEqual(describeSends(await consentNeeded(config(tls), ['staging'], {}, store)), [
    'deploy@staging.example.com (staging) would receive:',
    '  AWS_SECRET_ACCESS_KEY (the build) from .baremetal.secrets',
    '  TLS_CERT (the TLS certificate) from .baremetal.secrets',
    '  TLS_KEY (the TLS certificate) from .baremetal.secrets',
  ]);
});
