import * as vscode from 'vscode';
import { CONFIG_FILE } from '../../core/config/load';
import { asBmError } from '../../core/errors';
import type { ServerConfig } from '../../core/config/types';
import { GitRepo } from '../../drivers/git/repo';
import { CommitItem, DeploymentItem, type AnyItem } from '../views/items';
import { chooseServer, currentConfig, workspaceDir, type CommandDeps } from './context';
import { COMMANDS } from './ids';
import { QUICK_ACTIONS } from './quick-actions';

export const openConfiguration = () => async () => {
  const uri = vscode.Uri.joinPath(vscode.Uri.file(workspaceDir()), CONFIG_FILE);
  try {
    await vscode.workspace.fs.stat(uri);
  } catch {
    const choice = await vscode.window.showInformationMessage(`There is no ${CONFIG_FILE} in this folder yet.`, 'Add Server…');
    if (choice) await vscode.commands.executeCommand(COMMANDS.addServer);
    return;
  }
  await vscode.window.showTextDocument(uri);
};

export const refresh = (deps: CommandDeps) => async () => deps.model.refresh();

function shaOf(item?: AnyItem): string | undefined {
  if (item instanceof CommitItem) return item.commit.sha;
  if (item instanceof DeploymentItem) return item.entry.commit;
  return undefined;
}

export const copyCommitSha = () => async (item?: AnyItem) => {
  const sha = shaOf(item);
  if (!sha) return;
  await vscode.env.clipboard.writeText(sha);
  void vscode.window.setStatusBarMessage(`Copied ${sha.slice(0, 12)}`, 3000);
};

/** The commit's message and diff, as `git show` prints it, in a read-only diff document. */
export const showCommit = () => async (item?: AnyItem) => {
  const sha = shaOf(item);
  if (!sha) return;
  try {
    const repo = await GitRepo.open(workspaceDir());
    const doc = await vscode.workspace.openTextDocument({ content: await repo.show(sha), language: 'diff' });
    await vscode.window.showTextDocument(doc, { preview: true });
  } catch (e) {
    void vscode.window.showErrorMessage(`Cannot show ${sha.slice(0, 12)}: ${asBmError(e).message}`);
  }
};

/**
 * Opens the live log panel: for the item's server, or (from the palette) a pick of one server
 * or all of them merged in one view.
 */
export const showLogs = (deps: CommandDeps) => async (item?: AnyItem) => {
  const config = currentConfig(deps);
  const all = Object.values(config.servers);
  let servers: ServerConfig[] | undefined;
  if (item || all.length === 1) {
    const one = await chooseServer(deps, item);
    servers = one ? [one] : undefined;
  } else {
    const picked = await vscode.window.showQuickPick(
      [{ label: '$(layers) All servers, merged', servers: all }, ...all.map((s) => ({ label: s.name, description: s.host, servers: [s] }))],
      { placeHolder: `Logs of ${config.app} on…` },
    );
    servers = picked?.servers;
  }
  if (servers) await deps.logs.show(config, servers);
};

/** Opens the live charts of the app's CPU, memory and network on every server of the config. */
export const showResources = (deps: CommandDeps) => async () => {
  deps.resources.show(currentConfig(deps));
};

/** The status bar's menu. */
export const quickActions = () => async () => {
  const picked = await vscode.window.showQuickPick(QUICK_ACTIONS.map((a) => ({ ...a })), { placeHolder: 'Bare Metal Deploy' });
  if (picked) await vscode.commands.executeCommand(picked.command);
};
