import * as vscode from 'vscode';
import type { CommandDeps } from './context';

/** Forgets every SSH key passphrase the editor kept: the next connection asks again. */
export const forgetPassphrases = (deps: CommandDeps) => async () => {
  const n = await deps.passphrases.forgetAll();
  deps.logger.info(`forgot ${n} saved SSH key passphrase(s)`);
  void vscode.window.showInformationMessage(
    n === 0 ? 'No SSH key passphrase is saved.' : `Forgot ${n === 1 ? 'the saved SSH key passphrase' : `${n} saved SSH key passphrases`}: the next connection asks again.`,
  );
};
