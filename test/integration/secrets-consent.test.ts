/**
 * Where the developer's secrets go: a deploy that would send them to a host for the first time
 * stops without a terminal or --yes (nothing deployed), goes with --yes and is remembered, and
 * asks again when baremetal.json names one more. `logs` masks the server's own secrets (its own
 * secrets file), and shows nothing when one of them cannot be read.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, errorLine, onServer, servedCommit, server, workspaceTracker } from '../helpers/world';

const bm1 = server('bm1');
const tracker = workspaceTracker();
let configHome: string;
before(async () => (configHome = await mkdtemp(join(tmpdir(), 'bm-consent-home-'))));
after(async () => {
  await tracker.cleanup();
  await rm(configHome, { recursive: true, force: true });
});

const START = '#!/bin/sh\necho "db=$DB_PASSWORD token=$API_TOKEN"\nexec busybox httpd -f -v -p 8080 -h /www\n';
const running = async (app: string) => (await onServer('bm1', ['docker', 'ps', '-q', '--filter', `label=dev.baremetal.app=${app}`])).trim();

test('secrets going to a host for the first time: refused without --yes (nothing deployed), sent with it, asked again when the list grows', async () => {
  // The agreements live in this test's own config folder, not the machine's.
  const env = { XDG_CONFIG_HOME: configHome };
  const ws = await tracker.make({ prefix: 'consent', run: { secrets: ['DB_PASSWORD'] } });
  await writeFile(join(ws.dir, '.gitignore'), '.baremetal.secrets\n');
  await writeFile(join(ws.dir, '.baremetal.secrets'), 'DB_PASSWORD=consent-db-pass\n');
  const sha = await ws.commit('a start that prints the secret', { 'start.sh': START });

  const refused = await cli(['deploy'], { cwd: ws.dir, env, agreeToSecrets: false });
  assert.equal(refused.code, 1);
  assert.equal(errorLine(refused.stderr), 'error: Nothing was sent: these secrets would go to a host for the first time, so check the list above and run again with --yes to send them.');
  assert.match(refused.stderr, /bm1 \(bm1\) would receive:\n {4}DB_PASSWORD \(the app's env\) from \.baremetal\.secrets\n/);
  assert.doesNotMatch(refused.stderr, /consent-db-pass/);
  assert.equal(await running(ws.app), '', 'nothing deployed');

  const sent = await cli(['deploy', '--yes'], { cwd: ws.dir, env, agreeToSecrets: false });
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(await servedCommit(bm1.host, ws.port), sha);

  // Agreed once: the next deploy goes without a question.
  const again = await cli(['deploy'], { cwd: ws.dir, env, agreeToSecrets: false });
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /would receive/);

  // The repository names one more secret: only that one is asked about.
  const config = JSON.parse(await readFile(join(ws.dir, 'baremetal.json'), 'utf8')) as { run: { secrets: string[] } };
  config.run.secrets.push('API_TOKEN');
  await ws.writeConfig(config);
  await writeFile(join(ws.dir, '.baremetal.secrets'), 'DB_PASSWORD=consent-db-pass\nAPI_TOKEN=consent-api-token\n');
  await ws.commit('one more secret');
  const grown = await cli(['deploy'], { cwd: ws.dir, env, agreeToSecrets: false });
  assert.equal(grown.code, 1);
  assert.match(grown.stderr, /would receive:\n {4}API_TOKEN \(the app's env\) from \.baremetal\.secrets\n(?! {4}DB_PASSWORD)/);
  assert.equal(await servedCommit(bm1.host, ws.port), sha, 'still the earlier deploy');
});

test("logs are masked with the server's own secrets (its own secrets file); one that cannot be read shows no logs", async () => {
  const ws = await tracker.make({ prefix: 'consent', servers: { bm1: { host: 'bm1', secrets: ['API_TOKEN'], secretsFile: '.bm1.secrets' } }, run: { secrets: ['DB_PASSWORD'] } });
  await writeFile(join(ws.dir, '.gitignore'), '.baremetal.secrets\n.bm1.secrets\n');
  // The app's file has another value; bm1 reads its own file.
  await writeFile(join(ws.dir, '.baremetal.secrets'), 'DB_PASSWORD=not-the-bm1-value\n');
  await writeFile(join(ws.dir, '.bm1.secrets'), 'DB_PASSWORD=bm1-db-pass\nAPI_TOKEN=bm1-api-token\n');
  await ws.commit('a start that prints the secrets', { 'start.sh': START });
  const r = await cli(['deploy'], { cwd: ws.dir, env: { XDG_CONFIG_HOME: configHome } });
  assert.equal(r.code, 0, r.stderr);

  const logs = await cli(['logs'], { cwd: ws.dir });
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /db=\*\*\* token=\*\*\*/);
  assert.doesNotMatch(logs.stdout + logs.stderr, /bm1-db-pass|bm1-api-token/);

  await writeFile(join(ws.dir, '.bm1.secrets'), 'DB_PASSWORD=bm1-db-pass\n');
  const unreadable = await cli(['logs'], { cwd: ws.dir });
  assert.equal(unreadable.code, 1);
  assert.equal(errorLine(unreadable.stderr), 'error: The logs of bm1 are not shown, as its secrets cannot be masked (Secret "API_TOKEN" has no value: set it in the environment or in .bm1.secrets (kept out of git)).');
  assert.equal(unreadable.stdout, '');
});
