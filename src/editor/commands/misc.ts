import * as vscode from 'vscode';
import { CONFIG_FILE } from '../../core/config/load';
import { asBmError } from '../../core/errors';
import { runningContainer } from '../../core/deploy/status';
import { redact } from '../../core/config/secrets';
import { GitRepo } from '../../drivers/git/repo';
import { CommitItem, DeploymentItem, type AnyItem } from '../views/items';
import { chooseServer, currentConfig, secretsFor, workspaceDir, type CommandDeps } from './context';
import { COMMANDS } from './ids';

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
 * Streams the running container's logs (last 200 lines, then follow) into an output channel per
 * server, over the server's one SSH connection. Secrets are masked.
 */
export const showLogs = (deps: CommandDeps) => async (item?: AnyItem) => {
  const config = currentConfig(deps);
  const server = await chooseServer(deps, item);
  if (!server) return;
  const { channel, signal } = deps.logs.open(`${config.app}@${server.name}`);
  channel.show(true);
  try {
    const connected = await deps.pool.get(server, signal);
    const c = await runningContainer(connected, config.app);
    if (!c) {
      channel.appendLine(`${config.app} is not running on ${server.name}.`);
      return;
    }
    const secrets = await secretsFor(config).catch(() => ({}));
    channel.appendLine(`── ${c.name} (${c.labels['dev.baremetal.commit']?.slice(0, 12) ?? '?'}) ──`);
    for await (const line of connected.engine.logs(c.id, { follow: true, tail: 200 }, signal)) {
      channel.appendLine(redact(`${line.stream === 'stderr' ? '! ' : '  '}${line.text}`, secrets));
    }
  } catch (e) {
    if (!signal.aborted) channel.appendLine(`Log stream ended: ${asBmError(e).message}`);
  }
};

/** The status bar's menu. */
export const quickActions = () => async () => {
  const actions = [
    { label: '$(rocket) Deploy HEAD', command: COMMANDS.deployHead },
    { label: '$(git-commit) Deploy Commit…', command: COMMANDS.deployCommit },
    { label: '$(history) Roll Back…', command: COMMANDS.rollback },
    { label: '$(output) Show Logs', command: COMMANDS.showLogs },
    { label: '$(refresh) Refresh', command: COMMANDS.refresh },
    { label: '$(gear) Open Configuration', command: COMMANDS.openConfiguration },
  ];
  const picked = await vscode.window.showQuickPick(actions, { placeHolder: 'Bare Metal Deploy' });
  if (picked) await vscode.commands.executeCommand(picked.command);
};
