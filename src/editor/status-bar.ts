import * as vscode from 'vscode';
import type { WorkspaceModel } from './model';
import { COMMANDS } from './commands/ids';

/** `app@server abc1234 ↑2`: what runs on the default server, and how far HEAD is ahead of it. */
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
    const name = config.defaultServer ?? Object.keys(config.servers)[0];
    const state = this.model.servers.get(name);
    const sha = state?.status?.commit;
    let text = `$(server-environment) ${config.app}@${name}`;
    let tooltip = `${config.app} on ${name}`;
    if (state?.connection === 'connected') {
      if (sha) {
        const ahead = this.model.commits.findIndex((c) => c.sha === sha);
        const aheadText = ahead > 0 ? ` $(arrow-up)${ahead}` : ahead < 0 && this.model.commits.length ? ' $(arrow-up)30+' : '';
        text += ` ${sha.slice(0, 7)}${aheadText}`;
        tooltip += `: runs ${sha.slice(0, 12)}${ahead > 0 ? `; HEAD is ${ahead} commit(s) ahead` : ahead === 0 ? ' (HEAD)' : ''}`;
      } else {
        text += ' (not deployed)';
      }
    } else if (state) {
      text += ` $(warning) ${state.connection}`;
      tooltip += `: ${state.error?.message ?? state.connection}`;
    }
    this.item.text = text;
    this.item.tooltip = `${tooltip}\nClick for actions`;
    this.item.show();
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
