import * as vscode from 'vscode';
import { CONFIG_FILE, loadConfig } from './core/config/load';
import { ServerPool } from './drivers/server-pool';
import { clientIdentity } from './editor/commands/context';
import { registerCommands } from './editor/commands/index';
import { LogPanels } from './editor/panels/log-panels';
import { LOGS_VIEW_TYPE } from './editor/panels/logs-panel';
import { ResourcePanels } from './editor/panels/resource-panel';
import { ContainerStats } from './editor/views/container-stats';
import { WorkspaceModel } from './editor/model';
import { OutputLogger } from './editor/output-logger';
import { PassphraseMemory } from './editor/passphrase-memory';
import { DeployStatusBar } from './editor/status-bar';
import { CommitsTree, DeploymentsTree, ServersTree } from './editor/views/trees';

/** What activate() returns (the extension's exports): the model and the views' data, read by the extension-host tests. */
export interface BareMetalApi {
  readonly model: WorkspaceModel;
  readonly trees: { readonly servers: ServersTree; readonly deployments: DeploymentsTree; readonly commits: CommitsTree };
  /** The Servers view's CPU and memory figures (open streams: `stats.open`). */
  readonly stats: ContainerStats;
}

/**
 * Builds every object once and hands each what it uses; everything created is owned by the
 * extension context and disposed with it. No module-level state.
 */
export function activate(context: vscode.ExtensionContext): BareMetalApi {
  const channel = vscode.window.createOutputChannel('Bare Metal Deploy', { log: true });
  const logger = new OutputLogger(channel);
  // Asked once per key file, then kept in the editor's secret storage (never in settings), but
  // only once it has decrypted the key: see PassphraseMemory.
  const passphrases = new PassphraseMemory(context.secrets, (file) =>
    vscode.window.showInputBox({ prompt: `Passphrase for the SSH key ${file}`, password: true, ignoreFocusOut: true }),
  );
  const pool = new ServerPool({
    logger,
    sshConfigFile: process.env.BAREMETAL_SSH_CONFIG || undefined,
    askPassphrase: (file) => passphrases.passphrase(file),
    passphraseChecked: (file, passphrase, ok) => passphrases.checked(file, passphrase, ok),
  });
  const model = new WorkspaceModel(pool, logger, () => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath);
  // A log panel sees a deploy the moment its container changes, whoever made it: the views
  // then need not wait for their next refresh.
  const logs = new LogPanels(context.extensionUri, pool, logger, () => model.refreshSoon());
  const stats = new ContainerStats(model, pool, logger);
  const resources = new ResourcePanels(context.extensionUri, pool, logger, () => model.refreshSoon());
  const trees = { servers: new ServersTree(model, stats), deployments: new DeploymentsTree(model), commits: new CommitsTree(model) };
  // A tree view, not only a provider: its visibility starts and stops the stats streams.
  const serversView = vscode.window.createTreeView('baremetal.servers', { treeDataProvider: trees.servers });
  stats.setVisible(serversView.visible);

  context.subscriptions.push(
    channel,
    { dispose: () => pool.closeAll() },
    model,
    logs,
    resources,
    ...Object.values(trees),
    stats,
    serversView,
    serversView.onDidChangeVisibility((e) => stats.setVisible(e.visible)),
    // Log panels open when the window was reloaded come back, following again.
    vscode.window.registerWebviewPanelSerializer(LOGS_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state: unknown) => {
        if (!vscode.workspace.isTrusted) return panel.dispose();
        const dir = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
        const config = dir ? await loadConfig(dir).catch(() => undefined) : undefined;
        await logs.restore(panel, state, config);
      },
    }),
    vscode.window.registerTreeDataProvider('baremetal.deployments', trees.deployments),
    vscode.window.registerTreeDataProvider('baremetal.commits', trees.commits),
    new DeployStatusBar(model),
    ...registerCommands({ pool, logger, channel, model, logs, resources, who: clientIdentity(), passphrases }),
  );

  // Restricted Mode: baremetal.json picks servers, keys and secrets, and git runs the repository's
  // own config, so nothing reads, runs or connects until the folder is trusted (the views say why).
  if (vscode.workspace.isTrusted) start(context, model);
  else context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => start(context, model)));
  return { model, trees, stats };
}

/** What reads the folder and reaches the servers: the config watchers and the model's refreshes. */
function start(context: vscode.ExtensionContext, model: WorkspaceModel): void {
  // Config edits apply at once (no reload); commits and checkouts show up in the Commits view.
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (folder) {
    const watch = (glob: string, then: () => Promise<void>) => {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, glob));
      context.subscriptions.push(w, w.onDidChange(then), w.onDidCreate(then), w.onDidDelete(then));
    };
    watch(CONFIG_FILE, () => model.refresh());
    watch('.git/{HEAD,index,refs/**}', () => model.refreshLocal());
  }
  // Set only when it changes: every setContext makes the workbench re-evaluate its menus and views.
  let hasConfig: boolean | undefined;
  context.subscriptions.push(
    model.onDidChange(() => {
      const now = model.config !== undefined || model.configError?.code !== 'ConfigNotFound';
      if (now !== hasConfig) void vscode.commands.executeCommand('setContext', 'baremetal.hasConfig', (hasConfig = now));
    }),
  );
  const interval = () => 1000 * (vscode.workspace.getConfiguration('baremetal').get<number>('refreshIntervalSeconds') ?? 30);
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('baremetal.refreshIntervalSeconds') && model.schedule(interval())));
  model.start(interval());
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
