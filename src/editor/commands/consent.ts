/**
 * The editor's question before secrets go to a host for the first time (core/config/consent.ts):
 * a modal listing each host, each secret and where its value comes from. The answer is kept in
 * the same file as the CLI's, so agreeing in one counts in the other.
 */
import * as vscode from 'vscode';
import { FileConsentStore } from '../../app/consent-file';
import { consentNeeded, describeSends, recordConsent, type SecretSend } from '../../core/config/consent';
import type { Config } from '../../core/config/types';

export const SEND_SECRETS = 'Send Them';

/** True when the operation may go on: nothing new to send, or the user said yes. */
export async function agreeToSecrets(config: Config, serverNames: readonly string[], env: NodeJS.ProcessEnv = process.env, uses?: readonly SecretSend['use'][]): Promise<boolean> {
  const store = new FileConsentStore();
  const pending = await consentNeeded(config, serverNames, env, store, uses);
  if (!pending.length) return true;
  const choice = await vscode.window.showWarningMessage(
    "This folder's baremetal.json would send your secrets to a host for the first time: send them?",
    { modal: true, detail: `${describeSends(pending).join('\n')}\n\nNothing is sent unless you agree; the answer is remembered for this folder and host.` },
    SEND_SECRETS,
  );
  if (choice !== SEND_SECRETS) return false;
  await recordConsent(config, pending, store);
  return true;
}
