/**
 * Which SSH key passphrases the editor keeps in its secret storage, and when. No vscode here, so
 * the rules are unit-tested: a typed passphrase is kept only once it has decrypted its key (a typo
 * kept would be "wrong passphrase" on every connect, for good), a kept one that stops working is
 * deleted (the key's passphrase was changed), and the user can forget them all.
 */

/** The part of vscode.SecretStorage used here. */
export interface SecretStore {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
}

/** SecretStorage cannot list its keys: the key files with a kept passphrase are listed here. */
const INDEX = 'passphrase-files';

const secretKey = (file: string) => `passphrase:${file}`;

export class PassphraseMemory {
  /** Typed but not yet tried, per key file. */
  private readonly typed = new Map<string, string>();
  /** One prompt per key file at a time, however many servers connect at once. */
  private readonly asking = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly secrets: SecretStore,
    private readonly ask: (keyFile: string) => PromiseLike<string | undefined>,
  ) {}

  /** The kept passphrase of `keyFile`, else what the user types (undefined: they cancelled). */
  async passphrase(keyFile: string): Promise<string | undefined> {
    const kept = await this.secrets.get(secretKey(keyFile));
    if (kept !== undefined) {
      // Kept by a version without the list: listed now, so that "forget" reaches it too.
      const files = await this.index();
      if (!files.includes(keyFile)) await this.setIndex([...files, keyFile]);
      return kept;
    }
    let pending = this.asking.get(keyFile);
    if (!pending) {
      pending = Promise.resolve(this.ask(keyFile)).finally(() => this.asking.delete(keyFile));
      this.asking.set(keyFile, pending);
    }
    const typed = await pending;
    if (typed !== undefined) this.typed.set(keyFile, typed);
    return typed;
  }

  /** What decrypting the key with `passphrase` gave: kept when it worked, dropped when it did not. */
  async checked(keyFile: string, passphrase: string, ok: boolean): Promise<void> {
    const typed = this.typed.get(keyFile);
    if (typed === passphrase) this.typed.delete(keyFile);
    if (ok) {
      if (typed === passphrase) {
        await this.secrets.store(secretKey(keyFile), passphrase);
        await this.setIndex([...(await this.index()).filter((f) => f !== keyFile), keyFile]);
      }
      return;
    }
    if ((await this.secrets.get(secretKey(keyFile))) === passphrase) await this.drop(keyFile);
  }

  /** Key files whose passphrase is kept. */
  async remembered(): Promise<string[]> {
    return this.index();
  }

  /** Forgets every kept passphrase (the "Forget Saved SSH Key Passphrases" command); returns how many. */
  async forgetAll(): Promise<number> {
    const files = await this.index();
    for (const f of files) await this.secrets.delete(secretKey(f));
    await this.secrets.delete(INDEX);
    this.typed.clear();
    return files.length;
  }

  private async drop(keyFile: string): Promise<void> {
    await this.secrets.delete(secretKey(keyFile));
    await this.setIndex((await this.index()).filter((f) => f !== keyFile));
  }

  private async index(): Promise<string[]> {
    try {
      const list: unknown = JSON.parse((await this.secrets.get(INDEX)) ?? '[]');
      return Array.isArray(list) ? list.filter((f): f is string => typeof f === 'string') : [];
    } catch {
      return [];
    }
  }

  private async setIndex(files: string[]): Promise<void> {
    await this.secrets.store(INDEX, JSON.stringify(files));
  }
}
