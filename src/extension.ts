import * as vscode from 'vscode';
import { registerCommands } from './editor/commands';
import { OutputLogger } from './editor/output-logger';
import { ServerPool } from './drivers/server-pool';

/**
 * Builds every object once and hands each to what uses it; everything created is owned by the
 * extension context and disposed with it.
 */
export function activate(context: vscode.ExtensionContext): void {
  const channel = vscode.window.createOutputChannel('Bare Metal Deploy', { log: true });
  const logger = new OutputLogger(channel);
  const pool = new ServerPool({
    logger,
    askPassphrase: async (file) => {
      const key = `passphrase:${file}`;
      const stored = await context.secrets.get(key);
      if (stored !== undefined) return stored;
      const typed = await vscode.window.showInputBox({ prompt: `Passphrase for the SSH key ${file}`, password: true, ignoreFocusOut: true });
      if (typed !== undefined) await context.secrets.store(key, typed);
      return typed;
    },
  });
  context.subscriptions.push(channel, { dispose: () => pool.closeAll() });
  registerCommands(context, { pool, logger, channel });
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
