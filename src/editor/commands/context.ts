import os from 'node:os';
import * as vscode from 'vscode';
import { pickServer } from '../../core/config/load';
import type { Config, ServerConfig } from '../../core/config/types';
import type { DeployResult } from '../../core/deploy/deploy';
import { asBmError } from '../../core/errors';
import type { ProgressEvent } from '../../core/ports';
import type { ServerPool } from '../../drivers/server-pool';
import type { LogPanels } from '../panels/log-panels';
import type { ResourcePanels } from '../panels/resource-panel';
import type { WorkspaceModel } from '../model';
import type { OutputLogger } from '../output-logger';
import type { PassphraseMemory } from '../passphrase-memory';
import { progressText } from '../progress-text';
import { ContainerItem, DeploymentItem, ServerItem, UrlItem, type AnyItem } from '../views/items';

/** What every command gets: built once in activate(), nothing global. */
export interface CommandDeps {
  pool: ServerPool;
  logger: OutputLogger;
  channel: vscode.LogOutputChannel;
  model: WorkspaceModel;
  logs: LogPanels;
  resources: ResourcePanels;
  who: string;
  /** The SSH key passphrases kept in the editor's secret storage. */
  passphrases: PassphraseMemory;
}

export function clientIdentity(): string {
  return `${os.userInfo().username}@${os.hostname()}`;
}

export function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('Open the folder of your app (with its baremetal.json) first.');
  return folder.uri.fsPath;
}

/** The model's config, or the reason it has none (thrown, so the user sees that one sentence). */
export function currentConfig(deps: CommandDeps): Config {
  if (deps.model.configError) throw deps.model.configError;
  if (!deps.model.config) throw new Error('baremetal.json is still loading; try again in a moment.');
  return deps.model.config;
}

/** The server a command acts on: the tree item's, the only one, or the user's pick. */
export async function chooseServer(deps: CommandDeps, item?: AnyItem): Promise<ServerConfig | undefined> {
  const config = currentConfig(deps);
  if (item instanceof ServerItem) return item.state.config;
  if (item instanceof DeploymentItem || item instanceof ContainerItem || item instanceof UrlItem) return item.server.config;
  const names = Object.keys(config.servers);
  // For commands on one server (logs, shell…); deploys and rollbacks choose targets (targets.ts).
  if (names.length === 1 || (config.defaultServer && names.includes(config.defaultServer))) return pickServer(config);
  const picked = await vscode.window.showQuickPick(
    names.map((n) => ({ label: n, description: config.servers[n].host })),
    { placeHolder: 'Which server?' },
  );
  return picked ? config.servers[picked.label] : undefined;
}

/**
 * Runs a deploy-like operation in a cancellable progress notification (Cancel aborts the
 * core's work, which leaves the previous version serving), then refreshes the views. Errors
 * are one sentence with "Show Log" and "Retry"; a cancel is a warning.
 */
export async function runOperation(
  deps: CommandDeps,
  title: string,
  op: (signal: AbortSignal, report: (e: ProgressEvent) => void) => Promise<DeployResult>,
): Promise<DeployResult | undefined> {
  const mask = (text: string) => deps.logger.mask(text);
  try {
    // The values this operation may send, so that no line, progress message or notification shows one.
    await deps.logger.learnSecrets(deps.model.config);
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return op(abort.signal, (e) => {
        if (!e.bytes) deps.logger.info(`${e.phase}: ${e.message}`);
        progress.report({ message: mask(progressText(e)) });
      });
    });
    void deps.model.refresh();
    const verb = result.kind === 'rollback' ? 'Rolled back' : 'Deployed';
    void vscode.window.showInformationMessage(mask(`${verb} ${result.commit.slice(0, 7)} (${result.subject}) to ${result.server}.`));
    return result;
  } catch (e) {
    const err = asBmError(e);
    // A lost connection: the server's row says so too, in the same sentence, until it answers again.
    const failedOn = (e as { result?: DeployResult }).result?.server;
    if (failedOn) deps.model.noteLost(failedOn, err);
    void deps.model.refresh();
    deps.logger.error(err.message);
    if (err.detail) deps.logger.error(err.detail);
    // A sick container: its last lines are what the developer needs to see, in the log panel.
    if (err.code === 'HealthCheckFailed' && err.detail && failedOn && deps.model.config?.servers[failedOn]) {
      const lines = err.detail.split('\n').slice(1);
      deps.logs.show(deps.model.config, [deps.model.config.servers[failedOn]], { server: 0, title: `the new container failed its health check: its last lines`, lines }).catch((panelError: unknown) => {
        deps.logger.error(asBmError(panelError).message);
      });
    }
    // Cancel is the user's own choice: a warning (as a fleet's), with nothing to retry.
    if (err.code === 'Cancelled') {
      if ((await vscode.window.showWarningMessage(mask(err.message), 'Show Log')) === 'Show Log') deps.channel.show(true);
      return undefined;
    }
    const choice = await vscode.window.showErrorMessage(mask(err.message), 'Show Log', 'Retry');
    if (choice === 'Show Log') deps.channel.show(true);
    if (choice === 'Retry') return runOperation(deps, title, op);
    return undefined;
  }
}
