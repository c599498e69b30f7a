import * as vscode from 'vscode';
import { openInBrowser } from './browser';
import type { CommandDeps } from './context';
import { deployCommit, deployHead, rollbackTo } from './deploy';
import { COMMANDS, type CommandId } from './ids';
import { copyCommitSha, openConfiguration, quickActions, refresh, showCommit, showLogs, showResources } from './misc';
import { addServer, showServerProblem, trustServer } from './server';
import { openShell, runCommand } from './shell';
import { forgetPassphrases } from './passphrases';

/** Commands that read nothing of the folder's and reach no server: they work in Restricted Mode. */
const TRUST_FREE: ReadonlySet<string> = new Set([COMMANDS.openConfiguration, COMMANDS.forgetPassphrases]);

/** One flat table: every command id maps to its handler; a missing one fails to compile. */
export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const table = {
    [COMMANDS.deployHead]: deployHead(deps),
    [COMMANDS.deployCommit]: deployCommit(deps),
    [COMMANDS.deployThis]: deployCommit(deps),
    [COMMANDS.rollback]: rollbackTo(deps),
    [COMMANDS.rollbackToThis]: rollbackTo(deps),
    [COMMANDS.showLogs]: showLogs(deps),
    [COMMANDS.addServer]: addServer(deps),
    [COMMANDS.trustServer]: trustServer(deps),
    [COMMANDS.openConfiguration]: openConfiguration(),
    [COMMANDS.refresh]: refresh(deps),
    [COMMANDS.showCommit]: showCommit(),
    [COMMANDS.copyCommitSha]: copyCommitSha(),
    [COMMANDS.quickActions]: quickActions(),
    [COMMANDS.showServerProblem]: showServerProblem(deps),
    [COMMANDS.openInBrowser]: openInBrowser(deps),
    [COMMANDS.showResources]: showResources(deps),
    [COMMANDS.openShell]: openShell(deps),
    [COMMANDS.runCommand]: runCommand(deps),
    [COMMANDS.forgetPassphrases]: forgetPassphrases(deps),
  } satisfies Record<CommandId, (...args: never[]) => Promise<unknown>>;
  return Object.entries(table).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      // Restricted Mode: the folder's baremetal.json must not pick where we connect or what we send.
      if (!vscode.workspace.isTrusted && !TRUST_FREE.has(id)) {
        void vscode.window.showWarningMessage('This folder is in Restricted Mode, so Bare Metal Deploy does not connect or deploy: trust the folder first (Manage Workspace Trust).');
        return undefined;
      }
      try {
        return await (handler as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (e) {
        // Anything a command did not handle itself still reaches the user as one sentence.
        deps.logger.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
        void vscode.window.showErrorMessage(deps.logger.mask(e instanceof Error ? e.message : String(e)));
      }
    }),
  );
}
