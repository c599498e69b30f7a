import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LABEL } from '../../../src/core/deploy/labels';
import { BmError } from '../../../src/core/errors';
import type { ContainerInfo, Server } from '../../../src/core/ports';
import { followAppStats, type StatsEvent } from '../../../src/core/stats/follow';
import type { ResourceSample } from '../../../src/core/stats/sample';

const container = (id: string, commit: string): ContainerInfo => ({ id, name: `app-${id}`, image: 'app', imageId: 'x', state: 'running', labels: { [LABEL.app]: 'app', [LABEL.commit]: commit }, startedAt: '2026-11-25T10:00:00Z' });
const sample = (mb: number): ResourceSample => ({ time: `2026-11-25T10:00:0${mb}Z`, onlineCpus: 2, memoryBytes: mb * 2 ** 20, memoryLimitBytes: 2 ** 30, netRxBytes: 0, netTxBytes: 0 });

/** A server whose stats streams the test scripts: each call takes the next script. */
function scriptedServer(scripts: ((id: string) => ResourceSample[] | Error)[], containers: () => ContainerInfo[], withStats = true) {
  const streamed: string[] = [];
  const engine: Record<string, unknown> = { containers: async () => containers() };
  if (withStats)
    engine.stats = async function* (id: string) {
      streamed.push(id);
      const script = scripts.shift();
      if (!script) return void (await new Promise((r) => setTimeout(r, 20)));
      const out = script(id);
      if (out instanceof Error) throw out;
      yield* out;
    };
  return { server: { name: 's', address: 'root@s', engine } as unknown as Server, streamed };
}

async function take(events: AsyncGenerator<StatsEvent>, until: (e: StatsEvent[]) => boolean): Promise<StatsEvent[]> {
  const out: StatsEvent[] = [];
  for await (const e of events) {
    out.push(e);
    if (until(out)) break;
  }
  return out;
}
const shape = (es: StatsEvent[]) => es.map((e) => (e.kind === 'sample' ? `sample ${e.sample.memoryBytes / 2 ** 20}` : e.kind === 'container' ? `container ${e.container.id}${e.replaced ? ' replaced' : ''}` : `${e.state}`));

test('samples of the running container; a deploy that replaces it is marked, and the new one is read', async () => {
  const abort = new AbortController();
  let current = container('c1', 'aaa');
  const { server, streamed } = scriptedServer([() => ((current = container('c2', 'bbb')), [sample(1), sample(2)]), () => [sample(3)]], () => [current]);
  const events = await take(followAppStats({ server: async () => server, app: 'app', signal: abort.signal, pollMs: 5 }), (es) => es.filter((e) => e.kind === 'sample').length === 3);
  abort.abort();
  assert.deepEqual(shape(events), ['container c1', 'connected', 'sample 1', 'sample 2', 'container c2 replaced', 'sample 3']);
  assert.deepEqual(streamed, ['c1', 'c2']);
  const marker = events.find((e) => e.kind === 'container' && e.replaced);
  assert.equal(marker?.kind === 'container' && marker.commit, 'bbb');
});

test('a broken stream is said once and read again; "live" comes back with the next sample', async () => {
  const abort = new AbortController();
  const { server } = scriptedServer([() => [sample(1)], () => new Error('channel closed'), () => [sample(2)]], () => [container('c1', 'aaa')]);
  const events = await take(followAppStats({ server: async () => server, app: 'app', signal: abort.signal, pollMs: 5 }), (es) => es.filter((e) => e.kind === 'sample').length === 2);
  abort.abort();
  assert.deepEqual(shape(events), ['container c1', 'connected', 'sample 1', 'reconnecting', 'connected', 'sample 2']);
  const broke = events.find((e) => e.kind === 'status' && e.state === 'reconnecting');
  assert.match(broke?.kind === 'status' ? broke.message : '', /^stats stream broke \(channel closed\); reconnecting$/);
});

test('an engine that keeps no figures is said once, never as live, and the follow ends', async () => {
  const abort = new AbortController();
  const { server } = scriptedServer([() => new BmError('StatsUnavailable', 'rootless Podman on cgroup v1 keeps no figures')], () => [container('c1', 'aaa')]);
  const events = await take(followAppStats({ server: async () => server, app: 'app', signal: abort.signal, pollMs: 5 }), () => false);
  assert.deepEqual(shape(events), ['container c1', 'unavailable']);
  const { server: none } = scriptedServer([], () => [container('c1', 'aaa')], false);
  const noStats = await take(followAppStats({ server: async () => none, app: 'app', signal: abort.signal, pollMs: 5 }), () => false);
  assert.deepEqual(shape(noStats), ['container c1', 'unavailable']);
});

test('no container running: waiting is said once, then the one that starts is read', async () => {
  const abort = new AbortController();
  let polls = 0;
  const { server } = scriptedServer([() => [sample(4)]], () => (++polls < 4 ? [] : [container('c9', 'ccc')]));
  const events = await take(followAppStats({ server: async () => server, app: 'app', signal: abort.signal, pollMs: 5 }), (es) => es.some((e) => e.kind === 'sample'));
  abort.abort();
  assert.deepEqual(shape(events), ['waiting', 'container c9', 'connected', 'sample 4']);
});
