/**
 * PassphraseMemory: the editor keeps a key's passphrase only once it decrypted the key, drops a
 * kept one that no longer does, and forgets them all on request. Driven through the connection's
 * own passphrase loop (key-unlock.ts) with a real key encrypted by ssh-keygen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { unlock } from '../../../src/drivers/ssh/key-unlock';
import { PassphraseMemory, type SecretStore } from '../../../src/editor/passphrase-memory';

class MemorySecrets implements SecretStore {
  readonly map = new Map<string, string>();
  async get(k: string) {
    return this.map.get(k);
  }
  async store(k: string, v: string) {
    this.map.set(k, v);
  }
  async delete(k: string) {
    this.map.delete(k);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bm-passphrase-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const keyFile = join(dir, 'id_ed25519');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'right one', '-f', keyFile]);
const key = readFileSync(keyFile);

/** A connect's passphrase step: the connection's own loop (key-unlock.ts), fed by the memory. */
async function connect(memory: PassphraseMemory): Promise<'unlocked' | 'wrong' | 'skipped'> {
  try {
    const p = await unlock(keyFile, key, { askPassphrase: (f) => memory.passphrase(f), passphraseChecked: (f, p, ok) => memory.checked(f, p, ok) });
    return p === undefined ? 'skipped' : 'unlocked';
  } catch (e) {
    assert.equal((e as Error).message, `The passphrase for ${keyFile} is wrong; try again.`);
    return 'wrong';
  }
}

function scripted(answers: (string | undefined)[]): { ask: (f: string) => Promise<string | undefined>; asked: () => number } {
  let n = 0;
  return { ask: async () => answers[n++], asked: () => n };
}

test('a mistyped passphrase is never kept; the right one typed next is, and the next connect asks nothing', async () => {
  const secrets = new MemorySecrets();
  const user = scripted(['right on3', 'right one']);
  const memory = new PassphraseMemory(secrets, user.ask);
  assert.equal(await connect(memory), 'unlocked');
  assert.equal(user.asked(), 2, 'asked again after the typo');
  assert.equal(secrets.map.get(`passphrase:${keyFile}`), 'right one');
  assert.ok(![...secrets.map.values()].includes('right on3'), 'the typo is stored nowhere');
  assert.equal(await connect(memory), 'unlocked');
  assert.equal(user.asked(), 2, 'the kept one is used');
});

test('three wrong passphrases: nothing kept, and the next connect asks again', async () => {
  // (The CLI passes no passphraseChecked: nothing is kept there at all.)
  const secrets = new MemorySecrets();
  const user = scripted(['a', 'b', 'c', 'right one']);
  const memory = new PassphraseMemory(secrets, user.ask);
  assert.equal(await connect(memory), 'wrong');
  assert.equal(secrets.map.size, 0);
  assert.equal(await connect(memory), 'unlocked');
  assert.equal(user.asked(), 4);
});

test('a kept passphrase that stops working (the key was re-encrypted) is deleted and the user asked', async () => {
  const secrets = new MemorySecrets();
  secrets.map.set(`passphrase:${keyFile}`, 'old passphrase'); // kept by an earlier version, without the list
  const user = scripted(['right one']);
  const memory = new PassphraseMemory(secrets, user.ask);
  assert.equal(await connect(memory), 'unlocked');
  assert.equal(user.asked(), 1);
  assert.equal(secrets.map.get(`passphrase:${keyFile}`), 'right one');
  assert.deepEqual(await memory.remembered(), [keyFile]);
});

test('cancelling the prompt keeps nothing', async () => {
  const secrets = new MemorySecrets();
  const memory = new PassphraseMemory(secrets, scripted([undefined]).ask);
  assert.equal(await connect(memory), 'skipped');
  assert.equal(secrets.map.size, 0);
});

test('forgetAll removes every kept passphrase, also one kept before the list existed', async () => {
  const secrets = new MemorySecrets();
  secrets.map.set('passphrase:/old/key', 'x');
  const memory = new PassphraseMemory(secrets, scripted(['right one']).ask);
  assert.equal(await memory.passphrase('/old/key'), 'x');
  assert.equal(await connect(memory), 'unlocked');
  assert.deepEqual((await memory.remembered()).sort(), ['/old/key', keyFile].sort());
  assert.equal(await memory.forgetAll(), 2);
  assert.equal(secrets.map.size, 0);
  assert.deepEqual(await memory.remembered(), []);
});

test('two servers connecting at once with one key: one prompt', async () => {
  const secrets = new MemorySecrets();
  let release!: (v: string) => void;
  let prompts = 0;
  const memory = new PassphraseMemory(secrets, () => {
    prompts++;
    return new Promise<string>((r) => (release = r));
  });
  const both = Promise.all([memory.passphrase(keyFile), memory.passphrase(keyFile)]);
  await new Promise((r) => setImmediate(r));
  release('right one');
  assert.deepEqual(await both, ['right one', 'right one']);
  assert.equal(prompts, 1);
});
