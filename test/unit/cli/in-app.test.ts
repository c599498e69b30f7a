/**
 * `baremetal run` and `baremetal exec` before they connect: run sends the app's env to a new
 * container, so it asks the deploy's question (the same stored agreement, --yes); both mask
 * this tool's messages with the server's own secrets and stop in one sentence when one of them
 * cannot be read. The pool here only records that a connection was asked for.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { execCommand, runCommand, type InAppContext } from '../../../src/cli/in-app';
import { CliOutput } from '../../../src/cli/output';
import { redact } from '../../../src/core/config/secrets';
import { BmError } from '../../../src/core/errors';
import type { ServerPool } from '../../../src/drivers/server-pool';

let home: string;
const before_ = process.env.XDG_CONFIG_HOME;
before(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'bm-inapp-home-'));
  process.env.XDG_CONFIG_HOME = home;
});
after(async () => {
  if (before_ === undefined) delete process.env.XDG_CONFIG_HOME;
  else process.env.XDG_CONFIG_HOME = before_;
  await rm(home, { recursive: true, force: true });
});

/** prod reads its group's STRIPE_KEY from .prod.secrets; the build has a secret run never sends. */
async function project(prodSecrets = 'DB_PASSWORD=prod-db-pass\nSTRIPE_KEY=sk_live_prod\n') {
  const dir = await mkdtemp(path.join(tmpdir(), 'bm-inapp-'));
  await writeFile(path.join(dir, '.prod.secrets'), prodSecrets);
  await writeFile(path.join(dir, 'baremetal.json'), JSON.stringify({
    app: 'shop',
    servers: { prod: { host: '203.0.113.7' } },
    groups: { live: { servers: ['prod'], secrets: ['STRIPE_KEY'], secretsFile: '.prod.secrets' } },
    run: { secrets: ['DB_PASSWORD'] },
    build: { secrets: ['NPM_TOKEN'] },
  }));
  return dir;
}

const CONNECTED = 'the fake pool was asked for a connection';

function context(cwd: string, args: InAppContext['args'] = {}) {
  const connects: string[] = [];
  const pool = { get: async (s: { name: string }) => (connects.push(s.name), Promise.reject(new BmError('Unreachable', CONNECTED))) } as unknown as ServerPool;
  const ctx: InAppContext = { args, rest: [], command: ['./manage.py', 'migrate'], out: new CliOutput(false), pool, cwd, signal: new AbortController().signal };
  return { ctx, connects };
}

/** What the command writes on stderr while it runs (the list of secrets). */
async function stderrOf(run: () => Promise<unknown>): Promise<{ said: string; error?: unknown }> {
  const write = process.stderr.write.bind(process.stderr);
  let said = '';
  process.stderr.write = ((s: string | Uint8Array) => ((said += String(s)), true)) as typeof process.stderr.write;
  try {
    await run();
    return { said };
  } catch (error) {
    return { said, error };
  } finally {
    process.stderr.write = write;
  }
}

test('run: secrets new to the host are listed and refused without --yes, nothing connects; --yes sends them and is remembered', async () => {
  const dir = await project();
  try {
    const first = context(dir);
    const refused = await stderrOf(() => runCommand(first.ctx));
    assert.equal((refused.error as BmError).code, 'SecretsNotAgreed');
    assert.equal((refused.error as BmError).message, 'Nothing was sent: these secrets would go to a host for the first time, so check the list above and run again with --yes to send them.');
    assert.match(refused.said, /203\.0\.113\.7 \(prod\) would receive:\n {4}DB_PASSWORD \(the app's env\) from \.prod\.secrets\n {4}STRIPE_KEY \(the app's env\) from \.prod\.secrets\n/);
    assert.doesNotMatch(refused.said, /NPM_TOKEN/, 'a run sends no build secret, so it does not ask about one');
    assert.doesNotMatch(refused.said, /prod-db-pass|sk_live_prod/);
    assert.deepEqual(first.connects, [], 'nothing connected');

    const agreed = context(dir, { yes: true });
    assert.equal(((await stderrOf(() => runCommand(agreed.ctx))).error as BmError).message, CONNECTED);
    assert.deepEqual(agreed.connects, ['prod']);
    assert.match(await readFile(path.join(home, 'baremetal', 'consent.json'), 'utf8'), /run STRIPE_KEY from \.prod\.secrets/);

    // Agreed once (the file the deploys use): the next run goes without --yes and without a list.
    const again = context(dir);
    const next = await stderrOf(() => runCommand(again.ctx));
    assert.equal((next.error as BmError).message, CONNECTED);
    assert.doesNotMatch(next.said, /would receive/);
    // This tool's own messages mask the server's secrets (its group's too).
    assert.equal(redact('db=prod-db-pass key=sk_live_prod', again.ctx.out.secrets), 'db=*** key=***');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("exec: a secret of the server's that cannot be read stops it in one sentence before connecting (its messages could not be masked)", async () => {
  const dir = await project('DB_PASSWORD=prod-db-pass\n');
  try {
    const { ctx, connects } = context(dir);
    const r = await stderrOf(() => execCommand(ctx));
    assert.equal((r.error as BmError).code, 'SecretMissing');
    assert.equal(
      (r.error as BmError).message,
      `Nothing was run on prod, as its secrets must be readable here to keep them out of this tool's messages (Secret "STRIPE_KEY" has no value: set it in the environment or in .prod.secrets (kept out of git)).`,
    );
    assert.deepEqual(connects, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("exec asks nothing (the running container has its secrets) and masks the server's own secrets", async () => {
  const dir = await project();
  try {
    const { ctx, connects } = context(dir);
    const r = await stderrOf(() => execCommand(ctx));
    assert.equal((r.error as BmError).message, CONNECTED);
    assert.doesNotMatch(r.said, /would receive/);
    assert.deepEqual(connects, ['prod']);
    assert.equal(redact('key=sk_live_prod', ctx.out.secrets), 'key=***');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
