import os from 'node:os';
import * as vscode from 'vscode';
import { CONFIG_FILE, loadConfig, pickServer } from '../core/config/load';
import { resolveSecrets } from '../core/config/secrets';
import { deploy, type DeployResult } from '../core/deploy/deploy';
import { defaultLayerCacheDir, LayerCache } from '../core/transfer/layer-cache';
import { rollback } from '../core/deploy/rollback';
import { asBmError } from '../core/errors';
import type { ProgressEvent } from '../core/ports';
import { LocalBuilder } from '../drivers/docker/builder';
import { GitRepo } from '../drivers/git/repo';
import type { ServerPool } from '../drivers/server-pool';
import type { OutputLogger } from './output-logger';

export interface CommandDeps {
  pool: ServerPool;
  logger: OutputLogger;
  channel: vscode.LogOutputChannel;
}

export const COMMANDS = {
  deployHead: 'baremetal.deployHead',
  rollback: 'baremetal.rollback',
  openConfiguration: 'baremetal.openConfiguration',
} as const;

function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('Open the folder of your app (with its baremetal.json) first.');
  return folder.uri.fsPath;
}

/** A cancellable progress notification whose token becomes the core's AbortSignal. */
async function withProgress(title: string, work: (signal: AbortSignal, report: (e: ProgressEvent) => void) => Promise<DeployResult>): Promise<DeployResult> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    return work(abort.signal, (e) => progress.report({ message: e.bytes ? `${e.message} (${(e.bytes / 1048576).toFixed(1)} MiB)` : e.message }));
  });
}

async function run(deps: CommandDeps, title: string, op: (signal: AbortSignal, report: (e: ProgressEvent) => void) => Promise<DeployResult>): Promise<void> {
  try {
    const r = await withProgress(title, op);
    void vscode.window.showInformationMessage(`${r.kind === 'rollback' ? 'Rolled back' : 'Deployed'} ${r.commit.slice(0, 7)} to ${r.server}.`);
  } catch (e) {
    const err = asBmError(e);
    deps.logger.error(err.message);
    if (err.detail) deps.logger.error(err.detail);
    const choice = await vscode.window.showErrorMessage(err.message, 'Show Log', 'Retry');
    if (choice === 'Show Log') deps.channel.show();
    if (choice === 'Retry') await run(deps, title, op);
  }
}

export function registerCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const who = `${os.userInfo().username}@${os.hostname()}`;
  const table: Record<string, () => Promise<void>> = {
    [COMMANDS.deployHead]: () =>
      run(deps, 'Bare Metal: deploying HEAD', async (signal, progress) => {
        const config = await loadConfig(workspaceDir());
        const server = pickServer(config);
        const secrets = await resolveSecrets(config);
        const repo = await GitRepo.open(config.dir);
        const connected = await deps.pool.get(server, signal);
        const cache = new LayerCache(defaultLayerCacheDir());
        return deploy({ config, server: connected, serverName: server.name, repo, builder: new LocalBuilder(), secrets, logger: deps.logger, progress, who, cache }, { signal });
      }),
    [COMMANDS.rollback]: () =>
      run(deps, 'Bare Metal: rolling back', async (signal, progress) => {
        const config = await loadConfig(workspaceDir());
        const server = pickServer(config);
        const secrets = await resolveSecrets(config);
        const connected = await deps.pool.get(server, signal);
        return rollback({ config, server: connected, serverName: server.name, secrets, logger: deps.logger, progress, who }, { signal });
      }),
    [COMMANDS.openConfiguration]: async () => {
      const uri = vscode.Uri.joinPath(vscode.Uri.file(workspaceDir()), CONFIG_FILE);
      await vscode.window.showTextDocument(uri);
    },
  };
  for (const [id, handler] of Object.entries(table)) context.subscriptions.push(vscode.commands.registerCommand(id, handler));
}
