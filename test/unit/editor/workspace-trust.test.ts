import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
  capabilities?: { untrustedWorkspaces?: { supported: boolean | 'limited'; description?: string } };
  contributes: { views: Record<string, { id: string }[]>; viewsWelcome: { view: string; contents: string; when?: string }[] };
};

test('Workspace Trust is declared: limited, saying what needs trust', () => {
  const trust = manifest.capabilities?.untrustedWorkspaces;
  assert.equal(trust?.supported, 'limited');
  assert.match(trust?.description ?? '', /Restricted Mode .*connects to no server/);
});

test('in Restricted Mode every view says why it is empty, and how to trust the folder', () => {
  for (const view of Object.values(manifest.contributes.views).flat()) {
    const welcome = manifest.contributes.viewsWelcome.find((w) => w.view === view.id && w.when === '!isWorkspaceTrusted');
    assert.ok(welcome, `${view.id} has no Restricted Mode welcome`);
    assert.match(welcome.contents, /Restricted Mode.*\n\[Manage Workspace Trust\]\(command:workbench\.trust\.manage\)/);
  }
  // The "no baremetal.json" welcome would be wrong there: the file was not even read.
  for (const w of manifest.contributes.viewsWelcome.filter((x) => x.when?.includes('!baremetal.hasConfig'))) assert.match(w.when ?? '', /isWorkspaceTrusted/);
});
