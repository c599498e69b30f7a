import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sortOut } from '../../../src/core/deploy/leftovers';
import type { ContainerInfo } from '../../../src/core/ports';

const box = (name: string, state: ContainerInfo['state'], startedAt?: string): ContainerInfo => ({ id: `id-${name}`, name, image: 'web:x', imageId: 'sha256:x', state, labels: {}, startedAt });
const names = (cs: ContainerInfo[]) => cs.map((c) => c.name).sort();

test('the container holding the live name is the app; a never-switched one and a stopped one are left over', () => {
  const s = sortOut([box('web--live', 'running', '2026-01-01T00:00:00Z'), box('web--new-abc123', 'running', '2026-01-02T00:00:00Z'), box('web--old-999999', 'exited')], 'web');
  assert.equal(s.live?.name, 'web--live');
  assert.equal(s.renameLive, false);
  assert.deepEqual(names(s.left), ['web--new-abc123', 'web--old-999999']);
  assert.deepEqual(names(s.rest), ['web--live']);
});

test('an old version still running beside the live one (a client killed while it drained) is left over', () => {
  const s = sortOut([box('web--live', 'running', '2026-01-02T00:00:00Z'), box('web--old-abc123', 'running', '2026-01-01T00:00:00Z')], 'web');
  assert.equal(s.live?.name, 'web--live');
  assert.deepEqual(names(s.left), ['web--old-abc123']);
});

test('a switch cut between its two renames: the old version takes the name back, the newer unrecorded one is left over', () => {
  const s = sortOut([box('web--new-abc123', 'running', '2026-01-02T00:00:00Z'), box('web--old-abc123', 'running', '2026-01-01T00:00:00Z')], 'web');
  assert.equal(s.live?.name, 'web--old-abc123');
  assert.equal(s.renameLive, true);
  assert.deepEqual(names(s.left), ['web--new-abc123']);
});

test('a stopped container with the live name does not count as the app', () => {
  const s = sortOut([box('web--live', 'exited'), box('web--old-1', 'running', '2026-01-01T00:00:00Z')], 'web');
  assert.equal(s.live?.name, 'web--old-1');
  assert.equal(s.renameLive, true);
  assert.deepEqual(names(s.left), ['web--live']);
});

test('a first deploy killed before its switch: nothing can take the name, its container is left over', () => {
  const s = sortOut([box('web--new-abc123', 'running', '2026-01-02T00:00:00Z')], 'web');
  assert.equal(s.live, undefined);
  assert.equal(s.renameLive, false);
  assert.deepEqual(names(s.left), ['web--new-abc123']);
});
