import * as vscode from 'vscode';
import type { WorkspaceModel } from './model';
import { COMMANDS } from './commands/ids';
import { statusBarText, type BarRuns } from './fleet-text';

/** `app@server abc1234 ↑2`: what runs on the default target (a server or a group), and how far HEAD is ahead of it. */
export class DeployStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('baremetal.status', vscode.StatusBarAlignment.Left, 50);
  private readonly subscription: vscode.Disposable;

  constructor(private readonly model: WorkspaceModel) {
    this.item.name = 'Bare Metal Deploy';
    this.item.command = COMMANDS.quickActions;
    this.subscription = model.onDidChange(() => this.render());
    this.render();
  }

  private render(): void {
    const config = this.model.config;
    if (!config) {
      // A folder with no baremetal.json yet is not an error: the Servers view offers Add Server.
      if (this.model.configError && this.model.configError.code !== 'ConfigNotFound') {
        this.item.text = '$(error) baremetal.json';
        this.item.tooltip = this.model.configError.message;
        this.item.show();
      } else this.item.hide();
      return;
    }
    // What a deploy with no target named goes to: the default server or group, else every server.
    const names = Object.keys(config.servers);
    const target = config.defaultServer ?? (names.length === 1 ? names[0] : 'all');
    const members = target === 'all' ? names : (config.groups?.[target]?.servers ?? [target]);
    const runs = members.map((name): BarRuns => {
      const state = this.model.servers.get(name);
      if (!state) return { name, known: false };
      if (state.connection !== 'connected') return { name, known: false, problem: state.connection, why: state.error?.message };
      return { name, known: true, commit: state.status?.state === 'absent' ? undefined : state.status?.commit };
    });
    const commits = this.model.commits;
    const { text, tooltip } = statusBarText(config.app, target, runs, (sha) => (commits.length ? commits.findIndex((c) => c.sha === sha) : undefined));
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.show();
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
