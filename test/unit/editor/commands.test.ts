import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../../../src/editor/commands/ids';

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

test('the context menus carry the titles users look for', () => {
  const title = (id: string) => manifest.contributes.commands.find((c) => c.command === id)?.title;
  assert.equal(title(COMMANDS.rollbackToThis), 'Roll Back to This');
  assert.equal(title(COMMANDS.deployThis), 'Deploy');
  assert.equal(title(COMMANDS.copyCommitSha), 'Copy Commit SHA');
});
