import * as vscode from 'vscode';
import { appStreams } from '../../core/config/fleet';
import { logSecrets } from '../../core/config/secret-mask';
import type { Config, ServerConfig } from '../../core/config/types';
import { asBmError } from '../../core/errors';
import type { Logger } from '../../core/ports';
import type { ServerPool } from '../../drivers/server-pool';
import { savedPanelState } from '../../protocol/logs';
import { LogsPanel, type LogsPanelOptions } from './logs-panel';

/** The open log panels, one per app and set of servers: asking again reveals the same one. */
export class LogPanels implements vscode.Disposable {
  private readonly panels = new Map<string, LogsPanel>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly pool: ServerPool,
    private readonly logger: Logger,
    /** Called when a panel sees a deploy or rollback replace the container (from anyone: the CLI, a teammate). */
    private readonly onContainerReplaced: () => void = () => undefined,
  ) {}

  async show(config: Config, servers: ServerConfig[], preface?: { server: number; title: string; lines: string[] }): Promise<LogsPanel> {
    const open = this.panels.get(keyOf(config.app, servers));
    if (open && !open.disposed && !preface) {
      open.reveal();
      return open;
    }
    open?.dispose();
    return this.create(config, servers, preface);
  }

  /**
   * A panel VS Code brings back after a reload, with the state its page saved (untrusted: it is
   * checked, and the servers are looked up by name in today's baremetal.json). A panel whose app
   * or servers are gone is closed.
   */
  async restore(panel: vscode.WebviewPanel, state: unknown, config: Config | undefined): Promise<void> {
    const saved = savedPanelState(state);
    // The page saved its streams' labels: a server's name, or "server role".
    const named = (label: string) => Object.values(config?.servers ?? {}).find((s) => label === s.name || label.startsWith(`${s.name} `));
    const servers = saved && config && saved.app === config.app ? [...new Set(saved.servers.map(named).filter((s): s is ServerConfig => !!s))] : [];
    if (!config || !servers.length) {
      this.logger.info('log panel not restored: its app or servers are no longer in baremetal.json');
      panel.dispose();
      return;
    }
    try {
      await this.create(config, servers, undefined, panel);
    } catch (e) {
      panel.dispose();
      const message = asBmError(e).message;
      this.logger.warn(message);
      void vscode.window.showWarningMessage(message);
    }
  }

  private async create(config: Config, servers: ServerConfig[], preface?: LogsPanelOptions['preface'], restored?: vscode.WebviewPanel): Promise<LogsPanel> {
    // Each server's own secrets, merged; one that cannot be read stops the panel (its lines could show it).
    const secrets = await logSecrets(config, servers.map((s) => s.name));
    const tail = vscode.workspace.getConfiguration('baremetal').get<number>('logs.tailLines', 200);
    // An app with roles: each role on each server is its own stream ("bm1 web", "bm1 worker").
    const panel = new LogsPanel(this.extensionUri, { app: config.app, streams: appStreams(config, servers), pool: this.pool, logger: this.logger, secrets, tail, preface, onContainerReplaced: this.onContainerReplaced }, restored);
    this.panels.set(keyOf(config.app, servers), panel);
    return panel;
  }

  dispose(): void {
    for (const p of this.panels.values()) p.dispose();
    this.panels.clear();
  }
}

function keyOf(app: string, servers: ServerConfig[]): string {
  return `${app}@${servers.map((s) => s.name).join('+')}`;
}
