import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LogDemuxer, toCreateOptions } from '../../../src/drivers/docker/convert';
import type { ContainerSpec, LogLine } from '../../../src/core/ports';
import { port } from '../fakes/world';

/** One frame of Docker's multiplexed stream: [stream, 0, 0, 0, size (uint32 BE)] + payload. */
function frame(stream: 1 | 2, text: string | Buffer): Buffer {
  const payload = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Feeds `chunks` one by one, then flushes; returns every line in order. */
function demux(chunks: Buffer[], timestamps = false): LogLine[] {
  const d = new LogDemuxer(timestamps);
  return [...chunks.flatMap((c) => d.push(c)), ...d.flush()];
}

/** Every way of cutting `buf` into two chunks. */
function everySplit(buf: Buffer): Buffer[][] {
  return Array.from({ length: buf.length - 1 }, (_, i) => [buf.subarray(0, i + 1), buf.subarray(i + 1)]);
}

describe('LogDemuxer', () => {
  test('stdout and stderr frames become lines of their stream, in order', () => {
    const lines = demux([Buffer.concat([frame(1, 'listening on :80\n'), frame(2, 'warning: no cache\n'), frame(1, 'GET / 200\n')])]);
    assert.deepEqual(lines, [
      { stream: 'stdout', text: 'listening on :80' },
      { stream: 'stderr', text: 'warning: no cache' },
      { stream: 'stdout', text: 'GET / 200' },
    ]);
  });

  test('frames split across chunks at any byte (header or payload) give the same lines', () => {
    const whole = Buffer.concat([frame(1, 'first line\nsecond'), frame(2, 'oops\n'), frame(1, ' line\n')]);
    const expected = demux([whole]);
    assert.deepEqual(expected, [
      { stream: 'stdout', text: 'first line' },
      { stream: 'stderr', text: 'oops' },
      { stream: 'stdout', text: 'second line' },
    ]);
    for (const chunks of everySplit(whole)) assert.deepEqual(demux(chunks), expected, `split at ${chunks[0].length}`);
    // And byte by byte.
    assert.deepEqual(demux([...whole].map((b) => Buffer.from([b]))), expected);
  });

  test('a line is only emitted once complete; partial stdout and stderr lines do not mix', () => {
    const d = new LogDemuxer(false);
    assert.deepEqual(d.push(frame(1, 'part')), []);
    assert.deepEqual(d.push(frame(2, 'err ')), []);
    assert.deepEqual(d.push(frame(1, 'ial\n')), [{ stream: 'stdout', text: 'partial' }]);
    assert.deepEqual(d.push(frame(2, 'line\n')), [{ stream: 'stderr', text: 'err line' }]);
  });

  test('the last line without a newline is flushed at the end, once', () => {
    const d = new LogDemuxer(false);
    assert.deepEqual(d.push(Buffer.concat([frame(1, 'done\nexiting'), frame(2, 'fatal: bye')])), [{ stream: 'stdout', text: 'done' }]);
    assert.deepEqual(d.flush(), [
      { stream: 'stdout', text: 'exiting' },
      { stream: 'stderr', text: 'fatal: bye' },
    ]);
    assert.deepEqual(d.flush(), []);
  });

  test('CRLF line ends and empty lines', () => {
    assert.deepEqual(demux([frame(1, 'a\r\n\r\nb\n')]), [
      { stream: 'stdout', text: 'a' },
      { stream: 'stdout', text: '' },
      { stream: 'stdout', text: 'b' },
    ]);
  });

  test('timestamps are split off into `time`, even when the stamp is cut across frames and chunks', () => {
    const ts = '2030-01-02T03:04:05.123456789Z';
    const whole = Buffer.concat([frame(1, `${ts.slice(0, 13)}`), frame(1, `${ts.slice(13)} hello world\n`), frame(2, `${ts} boom\n`)]);
    const expected = [
      { stream: 'stdout', time: ts, text: 'hello world' },
      { stream: 'stderr', time: ts, text: 'boom' },
    ];
    assert.deepEqual(demux([whole], true), expected);
    for (const chunks of everySplit(whole)) assert.deepEqual(demux(chunks, true), expected, `split at ${chunks[0].length}`);
  });

  test('a flushed last line keeps its timestamp too', () => {
    assert.deepEqual(demux([frame(1, '2030-01-01T00:00:00Z no newline')], true), [{ stream: 'stdout', time: '2030-01-01T00:00:00Z', text: 'no newline' }]);
  });

  test('a TTY container sends a raw stream: all of it is stdout', () => {
    assert.deepEqual(demux([Buffer.from('Server started\r\nready\r\n'), Buffer.from('tail without newline')]), [
      { stream: 'stdout', text: 'Server started' },
      { stream: 'stdout', text: 'ready' },
      { stream: 'stdout', text: 'tail without newline' },
    ]);
  });

  test('multi-byte characters in frames survive', () => {
    assert.deepEqual(demux([frame(1, 'héllo 🚀 日本\n')]), [{ stream: 'stdout', text: 'héllo 🚀 日本' }]);
  });

  test(
    'a TTY raw stream cut inside a multi-byte character does not garble it',
    () => {
      const text = Buffer.from('déjà vu 🚀\n');
      for (const chunks of everySplit(text)) assert.deepEqual(demux(chunks), [{ stream: 'stdout', text: 'déjà vu 🚀' }], `split at ${chunks[0].length}`);
    },
  );
});

describe('toCreateOptions', () => {
  const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({
    name: 'web-0a1b2c3d4e5f-c0ffee',
    image: 'web:0a1b2c3d4e5f',
    env: { NODE_ENV: 'production', URL: 'postgres://u:p@db/x?a=b' },
    labels: { 'dev.baremetal.app': 'web' },
    ports: [],
    volumes: [],
    restart: 'unless-stopped',
    ...over,
  });

  test('name, image, env as KEY=value (values with = kept whole), labels, command', () => {
    const o = toCreateOptions(spec({ command: ['node', 'server.js', '--port', '80'] }));
    assert.equal(o.name, 'web-0a1b2c3d4e5f-c0ffee');
    assert.equal(o.Image, 'web:0a1b2c3d4e5f');
    assert.deepEqual(o.Env, ['NODE_ENV=production', 'URL=postgres://u:p@db/x?a=b']);
    assert.deepEqual(o.Labels, { 'dev.baremetal.app': 'web' });
    assert.deepEqual(o.Cmd, ['node', 'server.js', '--port', '80']);
    assert.equal(toCreateOptions(spec()).Cmd, undefined, "no command: the image's CMD");
  });

  test('ports become ExposedPorts and PortBindings (host IP kept, several host ports per container port)', () => {
    const o = toCreateOptions(spec({ ports: [port(8080, 80), port(8443, 443, '127.0.0.1'), port(9080, 80), port(5353, 53, undefined, 'udp')] }));
    assert.deepEqual(o.ExposedPorts, { '80/tcp': {}, '443/tcp': {}, '53/udp': {} });
    assert.deepEqual(o.HostConfig?.PortBindings, {
      '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '', HostPort: '9080' }],
      '443/tcp': [{ HostIp: '127.0.0.1', HostPort: '8443' }],
      '53/udp': [{ HostIp: '', HostPort: '5353' }],
    });
  });

  test('volumes become Mounts: named volumes and bind mounts, read-only kept', () => {
    const o = toCreateOptions(spec({
      volumes: [
        { source: 'web-data', target: '/data', readOnly: false, kind: 'volume', spec: 'web-data:/data' },
        { source: '/etc/web/config.yml', target: '/app/config.yml', readOnly: true, kind: 'bind', spec: '/etc/web/config.yml:/app/config.yml:ro' },
      ],
    }));
    assert.deepEqual(o.HostConfig?.Mounts, [
      { Type: 'volume', Source: 'web-data', Target: '/data', ReadOnly: false },
      { Type: 'bind', Source: '/etc/web/config.yml', Target: '/app/config.yml', ReadOnly: true },
    ]);
  });

  test("restart policy: 'no' is Docker's empty name, the others pass through", () => {
    assert.deepEqual(toCreateOptions(spec({ restart: 'no' })).HostConfig?.RestartPolicy, { Name: '' });
    for (const r of ['always', 'unless-stopped', 'on-failure'] as const) assert.deepEqual(toCreateOptions(spec({ restart: r })).HostConfig?.RestartPolicy, { Name: r });
  });

  test('no ports, no volumes: empty maps, and logs are size-capped', () => {
    const o = toCreateOptions(spec());
    assert.deepEqual(o.ExposedPorts, {});
    assert.deepEqual(o.HostConfig?.PortBindings, {});
    assert.deepEqual(o.HostConfig?.Mounts, []);
    assert.deepEqual(o.HostConfig?.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
    assert.equal(o.HostConfig?.Memory, undefined, 'no limit unless run.memory says one');
    assert.equal(o.HostConfig?.NanoCpus, undefined);
  });

  test('run.memory and run.cpus: Memory with swap held to it, NanoCpus', () => {
    const o = toCreateOptions(spec({ memoryBytes: 64 * 1024 * 1024, cpus: 0.5 }));
    assert.equal(o.HostConfig?.Memory, 67108864);
    assert.equal(o.HostConfig?.MemorySwap, 67108864);
    assert.equal(o.HostConfig?.NanoCpus, 500_000_000);
  });
});
