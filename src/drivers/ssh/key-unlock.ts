import { utils } from 'ssh2';
import { BmError } from '../../core/errors';

/** What the connection needs from its caller (the CLI or the editor) to authenticate. */
export interface SshAuthHooks {
  /** Asked per encrypted key file (again after a wrong one, up to 3 times); undefined means "skip this key". */
  askPassphrase?(keyFile: string): Promise<string | undefined>;
  /** Told whether a passphrase decrypted its key: only then may a caller remember it. */
  passphraseChecked?(keyFile: string, passphrase: string, ok: boolean): Promise<void>;
}

/** As ssh: three tries at a key's passphrase. */
const TRIES = 3;

/**
 * The passphrase that decrypts `key` (an encrypted private key file's bytes), asked up to three
 * times and each answer reported to `passphraseChecked`; undefined when none is given.
 */
export async function unlock(file: string, key: Buffer, hooks: SshAuthHooks): Promise<string | undefined> {
  let previous: string | undefined;
  for (let i = 0; i < TRIES; i++) {
    const passphrase = await hooks.askPassphrase?.(file);
    if (passphrase === undefined) return undefined;
    const ok = !(utils.parseKey(key, passphrase) instanceof Error);
    await hooks.passphraseChecked?.(file, passphrase, ok);
    if (ok) return passphrase;
    // The same answer twice (an environment variable, a caller that cannot ask again): stop asking.
    if (passphrase === previous) break;
    previous = passphrase;
  }
  throw new BmError('PassphraseNeeded', `The passphrase for ${file} is wrong; try again.`);
}
