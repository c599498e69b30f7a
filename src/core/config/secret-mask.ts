/**
 * What keeps secret values out of what the user reads: the editor's Output channel, its
 * notifications, the log panel and `baremetal logs`. One masking rule (`redact`) for all of them.
 */
import { BmError, asBmError } from '../errors';
import { configFor } from './fleet';
import { redact, resolveSecretNames } from './secrets';
import type { Config } from './types';

/** The secret values seen so far in this process; they are never forgotten (old output may still arrive). */
export class SecretMask {
  private readonly seen = new Set<string>();
  private values: Record<string, string> = {};

  add(secrets: Record<string, string> | readonly string[]): void {
    const before = this.seen.size;
    for (const v of Array.isArray(secrets) ? secrets : Object.values(secrets)) this.seen.add(v);
    if (this.seen.size !== before) this.values = Object.fromEntries([...this.seen].map((v, i) => [String(i), v]));
  }

  mask(text: string): string {
    return this.seen.size ? redact(text, this.values) : text;
  }
}

/**
 * Every value the app may send on any of its servers (run and build secrets, the TLS pair) that
 * can be read now. A missing one is skipped: this only widens the mask, it decides nothing.
 */
export async function knownSecretValues(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const values = new Set<string>();
  for (const name of [undefined, ...Object.keys(config.servers)]) {
    const c = name === undefined ? config : configFor(config, name);
    const tls = typeof c.proxy?.tls === 'object' ? [c.proxy.tls.cert, c.proxy.tls.key] : [];
    for (const secret of new Set([...c.run.secrets, ...c.build.secrets, ...tls])) {
      const v = await resolveSecretNames(c, [secret], env).catch(() => undefined);
      if (v) values.add(v[secret]);
    }
  }
  return [...values];
}

/**
 * The secrets to mask in the logs of the app on these servers: each server's own (its groups'
 * and its own secrets, its own secretsFile), merged. Failing closed: a secret that cannot be
 * read cannot be masked, and the container may print it, so the logs are not shown.
 */
export async function logSecrets(config: Config, serverNames: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  const merged: Record<string, string> = {};
  for (const name of new Set(serverNames)) {
    const c = configFor(config, name);
    try {
      Object.entries(await resolveSecretNames(c, c.run.secrets, env)).forEach(([k, v], i) => (merged[`${name}:${k}:${i}`] = v));
    } catch (e) {
      const why = asBmError(e).message.replace(/\.$/, '');
      throw new BmError('SecretMissing', `The logs of ${name} are not shown, as its secrets cannot be masked (${why}).`, undefined, { cause: e });
    }
  }
  return merged;
}
