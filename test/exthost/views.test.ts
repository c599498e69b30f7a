import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import * as vscode from 'vscode';
import { eventually, extension } from './api';

const VIEWS = ['baremetal.servers', 'baremetal.deployments', 'baremetal.commits'];

export function viewsSuite(): void {
  describe('views', () => {
    it('contributes the three views in the Bare Metal container, and they open', async () => {
      const { ext } = await extension();
      const views = (ext.packageJSON as { contributes: { views: Record<string, { id: string }[]> } }).contributes.views;
      assert.deepEqual(
        views.baremetal.map((v) => v.id),
        VIEWS,
      );
      // The workbench registers a focus command per registered view.
      const commands = new Set(await vscode.commands.getCommands(true));
      for (const id of VIEWS) assert.ok(commands.has(`${id}.focus`), `${id} is not registered`);
      await vscode.commands.executeCommand('workbench.view.extension.baremetal');
      for (const id of VIEWS) await vscode.commands.executeCommand(`${id}.focus`);
    });

    it('the Servers view lists the configured server', async () => {
      const { api } = await extension();
      await vscode.commands.executeCommand('baremetal.refresh');
      const items = await eventually('a server in the Servers view', () => {
        const children = api.trees.servers.getChildren();
        return children.length && children[0].label !== 'Loading baremetal.json…' ? children : undefined;
      });
      assert.deepEqual(
        items.map((i) => i.label),
        ['bm1'],
      );
      // The Deployments view groups by the same server; the Commits view lists the workspace's commit.
      assert.deepEqual(
        api.trees.deployments.getChildren().map((i) => i.label),
        ['bm1'],
      );
      assert.match(String(api.trees.commits.getChildren()[0]?.label), /^[0-9a-f]{7} first version$/);
    });
  });
}
