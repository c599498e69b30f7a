import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LABEL } from '../../../src/core/deploy/labels';
import { followAppLogs, toDockerSince, type LogEvent } from '../../../src/core/logs/follow';
import type { ContainerInfo, LogLine, LogOptions, Server } from '../../../src/core/ports';

/** A server whose log streams the test scripts: each `logs` call takes the next script. */
function scriptedServer(scripts: ((opts: LogOptions) => LogLine[] | Error)[], containers: () => ContainerInfo[]) {
  const calls: LogOptions[] = [];
  let connected = true;
  const server = {
    name: 's',
    address: 'root@s',
    isConnected: () => connected,
    engine: {
      containers: async () => containers(),
      async *logs(_id: string, opts: LogOptions) {
        calls.push(opts);
        const script = scripts.shift();
        if (!script) {
          await new Promise((r) => setTimeout(r, 20));
          return;
        }
        const out = script(opts);
        if (out instanceof Error) {
          connected = false;
          throw out;
        }
        yield* out;
      },
    },
  } as unknown as Server;
  return { server, calls, reconnect: () => (connected = true) };
}

const container = (id: string, commit: string): ContainerInfo => ({ id, name: `app-${id}`, image: 'app', imageId: 'x', state: 'running', labels: { [LABEL.app]: 'app', [LABEL.commit]: commit, [LABEL.deployId]: id }, startedAt: '2026-11-25T10:00:00Z' });
const line = (t: string, text: string): LogLine => ({ stream: 'stdout', time: t, text });

async function take(events: AsyncGenerator<LogEvent>, n: number): Promise<LogEvent[]> {
  const out: LogEvent[] = [];
  for await (const e of events) {
    out.push(e);
    if (out.length >= n) break;
  }
  return out;
}

test('a dropped connection resumes after the last line: nothing lost, nothing doubled', async () => {
  const abort = new AbortController();
  const { server, calls, reconnect } = scriptedServer(
    [
      () => [line('2026-11-25T10:00:01.000000001Z', 'one'), line('2026-11-25T10:00:02.000000002Z', 'two')],
      () => new Error('connection reset'),
      // Docker's since is inclusive: "two" comes again and must be skipped.
      (o) => (reconnect(), assert.equal(o.since, '1795600802.000000002'), [line('2026-11-25T10:00:02.000000002Z', 'two'), line('2026-11-25T10:00:03Z', 'three')]),
    ],
    () => [container('c1', 'aaa')],
  );
  const events = await take(followAppLogs({ server: async () => server, app: 'app', tail: 50, signal: abort.signal, pollMs: 5 }), 7);
  abort.abort();
  const texts = events.filter((e) => e.kind === 'line').map((e) => (e as { line: LogLine }).line.text);
  assert.deepEqual(texts, ['one', 'two', 'three']);
  assert.ok(events.some((e) => e.kind === 'status' && e.state === 'reconnecting'), 'the drop is told');
  assert.equal(calls[0].tail, 50, 'the first stream starts with the tail');
  assert.equal(calls[1].since, '1795600802.000000002', 'a stream that ended is resumed after its last line');
});

test('a deploy that replaces the container is marked, and the new one is followed from its start', async () => {
  const abort = new AbortController();
  let current = container('c1', 'aaa');
  const { server, calls } = scriptedServer(
    [
      () => {
        current = container('c2', 'bbb'); // the stream ends: the deploy stopped c1
        return [line('2026-11-25T10:00:01Z', 'old')];
      },
      () => [line('2026-11-25T10:00:05Z', 'new')],
    ],
    () => [current],
  );
  const events = await take(followAppLogs({ server: async () => server, app: 'app', tail: 10, signal: abort.signal, pollMs: 5 }), 5);
  abort.abort();
  const marker = events.filter((e) => e.kind === 'container') as Extract<LogEvent, { kind: 'container' }>[];
  assert.deepEqual(marker.map((m) => [m.container.id, m.commit, m.replaced]), [['c1', 'aaa', false], ['c2', 'bbb', true]]);
  assert.deepEqual(events.filter((e) => e.kind === 'line').map((e) => (e as { line: LogLine }).line.text), ['old', 'new']);
  assert.equal(calls[1].tail, undefined, "the new container's whole log");
  assert.equal(calls[1].since, undefined);
});

test('no running container: it says it waits, then follows when one starts', async () => {
  const abort = new AbortController();
  let list: ContainerInfo[] = [];
  setTimeout(() => (list = [container('c1', 'aaa')]), 30);
  const { server } = scriptedServer([() => [line('2026-11-25T10:00:01Z', 'up')]], () => list);
  const events = await take(followAppLogs({ server: async () => server, app: 'app', tail: 10, signal: abort.signal, pollMs: 5 }), 4);
  abort.abort();
  assert.equal(events[0].kind, 'status');
  assert.equal((events[0] as { state: string }).state, 'waiting');
  assert.ok(events.some((e) => e.kind === 'line'));
});

test("Docker's since keeps nanoseconds", () => {
  assert.equal(toDockerSince('2026-11-25T10:00:02.000000002Z'), '1795600802.000000002');
  assert.equal(toDockerSince('2026-11-25T10:00:02.5Z'), '1795600802.500000000');
  assert.equal(toDockerSince('2026-11-25T10:00:02Z'), '1795600802');
});

test("lines Docker's follower repeats (older than the last seen on their stream) are dropped", async () => {
  const abort = new AbortController();
  const err = (t: string, text: string): LogLine => ({ stream: 'stderr', time: t, text });
  const { server } = scriptedServer(
    [() => [line('2026-11-25T10:00:01Z', 'a'), line('2026-11-25T10:00:02Z', 'b'), err('2026-11-25T10:00:01.5Z', 'e1'), line('2026-11-25T10:00:01Z', 'a'), line('2026-11-25T10:00:02Z', 'b'), line('2026-11-25T10:00:03Z', 'c')]],
    () => [container('c1', 'aaa')],
  );
  const events = await take(followAppLogs({ server: async () => server, app: 'app', tail: 10, signal: abort.signal, pollMs: 5 }), 6);
  abort.abort();
  assert.deepEqual(events.filter((e) => e.kind === 'line').map((e) => (e as { line: LogLine }).line.text), ['a', 'b', 'e1', 'c'], 'stderr, older than stdout, is kept: streams are ordered separately');
});
