import type { DeployRecord } from '../../../src/core/deploy/journal';
import { shaOf } from './repo';

let n = 0;

/** A journal record for app "web" on "prod"; `commit` may be a seed word, made into a sha. */
export function rec(commit: string, over: Partial<DeployRecord> = {}): DeployRecord {
  const sha = /^[0-9a-f]{40}$/.test(commit) ? commit : shaOf(commit);
  const i = ++n;
  const at = new Date(Date.parse('2030-01-01T00:00:00Z') + i * 60_000).toISOString();
  return {
    id: `d${i}-${commit}`,
    kind: 'deploy',
    app: 'web',
    server: 'prod',
    commit: sha,
    subject: `commit ${commit}`,
    author: 'Ada <ada@example.com>',
    image: `sha256:img-${commit}`,
    tag: sha,
    who: 'alice@laptop',
    startedAt: at,
    finishedAt: at,
    result: 'succeeded',
    bytesSent: 1000,
    phasesMs: {},
    transport: 'load',
    ...over,
  };
}
