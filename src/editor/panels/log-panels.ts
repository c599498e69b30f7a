import type * as vscode from 'vscode';
import { resolveSecrets } from '../../core/config/secrets';
import type { Config, ServerConfig } from '../../core/config/types';
import type { Logger } from '../../core/ports';
import type { ServerPool } from '../../drivers/server-pool';
import { LogsPanel } from './logs-panel';

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
    const key = `${config.app}@${servers.map((s) => s.name).join('+')}`;
    const open = this.panels.get(key);
    if (open && !open.disposed && !preface) {
      open.reveal();
      return open;
    }
    open?.dispose();
    const secrets = await resolveSecrets(config).catch(() => ({}));
    const panel = new LogsPanel(this.extensionUri, { app: config.app, servers, pool: this.pool, logger: this.logger, secrets, preface, onContainerReplaced: this.onContainerReplaced });
    this.panels.set(key, panel);
    return panel;
  }

  dispose(): void {
    for (const p of this.panels.values()) p.dispose();
    this.panels.clear();
  }
}
