import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../../../src/editor/commands/ids';
import { QUICK_ACTIONS } from '../../../src/editor/commands/quick-actions';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string; title: string; category: string }[]; menus: Record<string, { command: string }[]> };
};

test('every command the code registers is contributed in package.json, and no other', () => {
  const contributed = manifest.contributes.commands.map((c) => c.command).sort();
  assert.deepEqual(contributed, Object.values(COMMANDS).sort());
});

test('all commands are under one category', () => {
  assert.deepEqual([...new Set(manifest.contributes.commands.map((c) => c.category))], ['Bare Metal']);
});

test('every menu entry names a contributed command', () => {
  const ids = new Set<string>(Object.values(COMMANDS));
  for (const [menu, entries] of Object.entries(manifest.contributes.menus)) {
    for (const e of entries) assert.ok(ids.has(e.command), `${menu}: ${e.command}`);
  }
});

test("the status bar's menu offers contributed commands only", () => {
  const ids = new Set<string>(Object.values(COMMANDS));
  for (const a of QUICK_ACTIONS) assert.ok(ids.has(a.command), a.command);
});

test('the context menus carry the titles users look for', () => {
  const title = (id: string) => manifest.contributes.commands.find((c) => c.command === id)?.title;
  assert.equal(title(COMMANDS.rollbackToThis), 'Roll Back to This');
  assert.equal(title(COMMANDS.deployThis), 'Deploy');
  assert.equal(title(COMMANDS.copyCommitSha), 'Copy Commit SHA');
});

test('Open in Browser: on a connected server, the current deploy and a URL item, and in the status bar menu', () => {
  const command = manifest.contributes.commands.find((c) => c.command === COMMANDS.openInBrowser) as { title: string; icon?: string } | undefined;
  assert.deepEqual([command?.title, command?.icon], ['Open in Browser', '$(link-external)']);
  const when = manifest.contributes.menus['view/item/context'].filter((e) => e.command === COMMANDS.openInBrowser).map((e) => (e as { when?: string }).when ?? '');
  for (const context of ['server.connected', 'deployment.current', 'url']) assert.ok(when.some((w) => w.includes(`viewItem == ${context}`)), `${context}: ${when.join(' | ')}`);
  assert.ok(QUICK_ACTIONS.some((a) => a.command === COMMANDS.openInBrowser && a.label === '$(link-external) Open in Browser'));
});

test('Show Resource Use: in the palette, the Servers view title and its server and container items', () => {
  const command = manifest.contributes.commands.find((c) => c.command === COMMANDS.showResources) as { title: string; icon?: string } | undefined;
  assert.equal(command?.title, 'Show Resource Use');
  const palette = manifest.contributes.menus.commandPalette.filter((e) => e.command === COMMANDS.showResources);
  assert.equal(palette.length, 0, 'not hidden from the palette');
  assert.ok(manifest.contributes.menus['view/title'].some((e) => e.command === COMMANDS.showResources && /view == baremetal\.servers/.test((e as { when?: string }).when ?? '')));
  const when = manifest.contributes.menus['view/item/context'].filter((e) => e.command === COMMANDS.showResources).map((e) => (e as { when?: string }).when ?? '');
  for (const context of ['server.connected', 'container']) assert.ok(when.some((w) => w.includes(`viewItem == ${context}`)), context);
});

test('Open Shell and Run Command…: on a connected server, a container and the current deploy, in the palette and the status bar menu', () => {
  for (const [id, title] of [[COMMANDS.openShell, 'Open Shell'], [COMMANDS.runCommand, 'Run Command…']] as const) {
    assert.equal(manifest.contributes.commands.find((c) => c.command === id)?.title, title);
    const when = manifest.contributes.menus['view/item/context'].filter((e) => e.command === id).map((e) => (e as { when?: string }).when ?? '');
    for (const context of ['server.connected', 'container', 'deployment.current']) assert.ok(when.some((w) => w.includes(`viewItem == ${context}`)), `${id} on ${context}: ${when.join(' | ')}`);
    assert.ok(!manifest.contributes.menus.commandPalette.some((e) => e.command === id), `${id} is hidden from the palette`);
    assert.ok(QUICK_ACTIONS.some((a) => a.command === id), `${id} in the status bar menu`);
  }
});

test("a group's item in the Servers view: Deploy HEAD inline and in its menu, and Roll Back…", () => {
  const entries = manifest.contributes.menus['view/item/context'] as { command: string; when?: string; group?: string }[];
  const onGroup = entries.filter((e) => /viewItem == group\b/.test(e.when ?? '') && /view == baremetal\.servers/.test(e.when ?? ''));
  assert.ok(onGroup.some((e) => e.command === COMMANDS.deployHead && e.group === 'inline'), JSON.stringify(onGroup));
  assert.ok(onGroup.some((e) => e.command === COMMANDS.deployHead && e.group?.startsWith('1_deploy')));
  assert.ok(onGroup.some((e) => e.command === COMMANDS.rollback));
});
