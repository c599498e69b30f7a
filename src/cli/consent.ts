/**
 * The CLI's question before secrets go to a host for the first time (core/config/consent.ts):
 * the list on stderr, then y/N on a terminal; --yes agrees without asking (CI); with neither, it
 * stops before anything is sent.
 */
import { FileConsentStore } from '../app/consent-file';
import { consentNeeded, describeSends, recordConsent, type ConsentStore, type SecretSend } from '../core/config/consent';
import type { Config } from '../core/config/types';
import { BmError } from '../core/errors';
import { confirm } from './prompt';

export async function agreeToSecrets(
  config: Config,
  serverNames: readonly string[],
  opts: { yes?: boolean; env?: NodeJS.ProcessEnv; store?: ConsentStore; interactive?: boolean; ask?: (q: string) => Promise<boolean>; err?: NodeJS.WritableStream; uses?: readonly SecretSend['use'][] },
): Promise<void> {
  const store = opts.store ?? new FileConsentStore();
  const pending = await consentNeeded(config, serverNames, opts.env ?? process.env, store, opts.uses);
  if (!pending.length) return;
  const err = opts.err ?? process.stderr;
  err.write(`${['Secrets go to a host for the first time from this workspace (or more of them than agreed):', ...describeSends(pending).map((l) => `  ${l}`)].join('\n')}\n`);
  const interactive = opts.interactive ?? process.stdin.isTTY === true;
  if (!opts.yes) {
    if (!interactive) throw new BmError('SecretsNotAgreed', 'Nothing was sent: these secrets would go to a host for the first time, so check the list above and run again with --yes to send them.');
    if (!(await (opts.ask ?? confirm)('Send them? [y/N] '))) throw new BmError('SecretsNotAgreed', 'Nothing was sent, as you did not agree to send these secrets; check baremetal.json before you run again.');
  }
  await recordConsent(config, pending, store);
}
