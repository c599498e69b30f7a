/** unlock: asking for a key's passphrase as ssh does, with a real key encrypted by ssh-keygen. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unlock } from '../../../src/drivers/ssh/key-unlock';

const dir = mkdtempSync(join(tmpdir(), 'bm-unlock-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'id_rsa');
execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', 'sesame', '-f', file]);
const key = readFileSync(file);

test('a typo is asked again, and each answer is reported with whether it decrypted the key', async () => {
  const answers = ['sesam', 'sesame'];
  const reports: [string, boolean][] = [];
  const p = await unlock(file, key, { askPassphrase: async () => answers.shift(), passphraseChecked: async (_f, pass, ok) => void reports.push([pass, ok]) });
  assert.equal(p, 'sesame');
  assert.deepEqual(reports, [['sesam', false], ['sesame', true]]);
});

test('three wrong answers: one sentence saying so', async () => {
  const answers = ['a', 'b', 'c', 'sesame'];
  await assert.rejects(unlock(file, key, { askPassphrase: async () => answers.shift() }), { code: 'PassphraseNeeded', message: `The passphrase for ${file} is wrong; try again.` });
  assert.deepEqual(answers, ['sesame'], 'no fourth question');
});

test('the same wrong answer twice (BAREMETAL_SSH_PASSPHRASE, say) stops asking', async () => {
  let asked = 0;
  await assert.rejects(
    unlock(file, key, {
      askPassphrase: async () => {
        asked++;
        return 'from the environment';
      },
    }),
    /is wrong/,
  );
  assert.equal(asked, 2);
});

test('no answer skips the key', async () => {
  assert.equal(await unlock(file, key, { askPassphrase: async () => undefined }), undefined);
  assert.equal(await unlock(file, key, {}), undefined);
});
