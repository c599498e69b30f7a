import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import * as vscode from 'vscode';
import { captureErrors, extension, workspaceDir } from './api';

export function commandsSuite(): void {
  describe('commands', () => {
    before(async () => {
      await extension();
    });

    it('registers every command package.json contributes', async () => {
      const { ext } = await extension();
      const contributed = (ext.packageJSON as { contributes: { commands: { command: string }[] } }).contributes.commands.map((c) => c.command);
      assert.ok(contributed.length >= 10, `only ${contributed.length} commands contributed`);
      const registered = new Set(await vscode.commands.getCommands(true));
      assert.deepEqual(
        contributed.filter((c) => !registered.has(c)),
        [],
        'contributed but not registered',
      );
    });

    it('"Open Configuration" opens baremetal.json', async () => {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await vscode.commands.executeCommand('baremetal.openConfiguration');
      const editor = vscode.window.activeTextEditor;
      assert.ok(editor, 'no editor is active');
      assert.equal(editor.document.uri.fsPath, join(workspaceDir(), 'baremetal.json'));
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    });

    it('"Refresh" resolves', async () => {
      await withTimeout(vscode.commands.executeCommand('baremetal.refresh'), 20_000, 'Refresh did not resolve within 20 s');
    });

    describe('with a broken baremetal.json', () => {
      let good: string;
      const file = () => join(workspaceDir(), 'baremetal.json');

      before(async () => {
        good = await readFile(file(), 'utf8');
        // Line 2 loses its comma: the parser stumbles on line 3.
        const lines = good.split('\n');
        assert.ok(lines[1].trimStart().startsWith('"app"') && lines[1].endsWith(','), lines[1]);
        lines[1] = lines[1].slice(0, -1);
        await writeFile(file(), lines.join('\n'));
        await vscode.commands.executeCommand('baremetal.refresh');
      });

      after(async () => {
        await writeFile(file(), good);
        await vscode.commands.executeCommand('baremetal.refresh');
      });

      it('"Deploy HEAD" shows an error naming the file and the line, and does not throw', async () => {
        const errors = captureErrors();
        try {
          await vscode.commands.executeCommand('baremetal.deployHead');
        } finally {
          errors.restore();
        }
        assert.equal(errors.messages.length, 1, `error messages: ${JSON.stringify(errors.messages)}`);
        assert.match(errors.messages[0], new RegExp(`${escape(file())}:3:\\d+: the JSON is malformed`));
      });

      it('the views say the same, and the fix applies without a reload', async () => {
        const { api } = await extension();
        const [message] = api.trees.servers.getChildren();
        assert.match(String(message.label), /baremetal\.json:3:\d+: the JSON is malformed/);
        await writeFile(file(), good);
        await vscode.commands.executeCommand('baremetal.refresh');
        assert.deepEqual(
          api.trees.servers.getChildren().map((i) => i.label),
          ['bm1'],
        );
      });
    });
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function withTimeout<T>(p: Thenable<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
