import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load';
import { OutputLogger } from '../../../src/editor/output-logger';

/** The editor's Output channel as a list of what the user would read in it. */
function fakeChannel() {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`[${level}] ${m}`);
  return { lines, channel: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** An app with a run secret, a build secret, and a group of its own with its own secret and secrets file. */
async function project() {
  const dir = await mkdtemp(path.join(tmpdir(), 'bm-outlog-'));
  await writeFile(path.join(dir, '.baremetal.secrets'), 'DB_PASSWORD=hunter2-db\nNPM_TOKEN=npm-t0ken\n');
  await writeFile(path.join(dir, '.prod.secrets'), 'DB_PASSWORD=prod-db-pass\nSTRIPE_KEY=sk_live_prod\n');
  const text = JSON.stringify({
    app: 'shop',
    servers: { staging: { host: 'h1' }, prod: { host: 'h2' } },
    groups: { live: { servers: ['prod'], secrets: ['STRIPE_KEY'], secretsFile: '.prod.secrets' } },
    build: { secrets: ['NPM_TOKEN'] },
    run: { secrets: ['DB_PASSWORD'] },
  });
  return { config: parseConfig(text, path.join(dir, 'baremetal.json')), done: () => rm(dir, { recursive: true, force: true }) };
}

test('release output, build output and errors in the Output channel show *** where a secret was', async () => {
  const p = await project();
  try {
    const { lines, channel } = fakeChannel();
    const logger = new OutputLogger(channel);
    await logger.learnSecrets(p.config, {});
    logger.info('release: db=hunter2-db');
    logger.debug('build: //registry.npmjs.org/:_authToken=npm-t0ken');
    logger.info('prod: release: db=prod-db-pass stripe=sk_live_prod');
    logger.error('The new container failed its health check; its last lines:\nconnecting with prod-db-pass');
    assert.deepEqual(lines, [
      '[info] release: db=***',
      '[debug] build: //registry.npmjs.org/:_authToken=***',
      '[info] prod: release: db=*** stripe=***',
      '[error] The new container failed its health check; its last lines:\nconnecting with ***',
    ]);
  } finally {
    await p.done();
  }
});

test('a value from the environment is masked too, and notifications share the same mask', async () => {
  const p = await project();
  try {
    const { lines, channel } = fakeChannel();
    const logger = new OutputLogger(channel);
    await logger.learnSecrets(p.config, { DB_PASSWORD: 'from-the-env' });
    logger.warn('db=from-the-env');
    assert.deepEqual(lines, ['[warn] db=***']);
    assert.equal(logger.mask('Deploy failed: from-the-env refused'), 'Deploy failed: *** refused');
  } finally {
    await p.done();
  }
});

test('a secret with no value anywhere does not stop the others from being masked', async () => {
  const p = await project();
  try {
    const { lines, channel } = fakeChannel();
    const logger = new OutputLogger(channel);
    const config = { ...p.config, run: { ...p.config.run, secrets: ['NOWHERE', 'DB_PASSWORD'] } };
    await logger.learnSecrets(config, {});
    logger.info('db=hunter2-db');
    assert.deepEqual(lines, ['[info] db=***']);
  } finally {
    await p.done();
  }
});
