import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatBytes, formatPercent, usageText } from '../../../src/protocol/units';
import { isAccounted, ratePerSecond, toSample, type RawStats } from '../../../src/core/stats/sample';
import { TimeWindow } from '../../../src/core/stats/window';

/** Readings captured from the test servers' stats streams (see each file's "captured"). */
const fixture = (name: string) => (JSON.parse(readFileSync(join(__dirname, 'fixtures', `${name}.json`), 'utf8')) as { samples: RawStats[] }).samples;
const MiB = 1024 * 1024;

for (const [name, cpu] of [['docker-20.10-cgroup1', 50.23], ['docker-26-containerd-cgroup1', 50.75]] as const) {
  test(`${name}: CPU as docker stats computes it, memory against the 64 MiB limit`, () => {
    const [first, second] = fixture(name);
    // The stream's first reading has no earlier one: no CPU figure rather than a since-boot average.
    assert.equal(toSample(first)?.cpuPercent, undefined);
    const s = toSample(second);
    assert.ok(s);
    // A busy loop under --cpus 0.5 on a 2-CPU host: half of one CPU (docker stats said 51%).
    assert.ok(Math.abs((s.cpuPercent ?? 0) - cpu) < 0.01, String(s.cpuPercent));
    assert.equal(s.onlineCpus, 2);
    assert.equal(s.memoryLimitBytes, 64 * MiB);
    assert.ok(s.memoryBytes > 0 && s.memoryBytes < 2 * MiB, String(s.memoryBytes));
    assert.ok(s.netRxBytes > 1000 && s.netTxBytes > 800);
    assert.equal(s.time, (second as { read: string }).read);
    assert.ok(isAccounted(second));
    assert.match(usageText(s), /^5[01]% · \d+(\.\d)? KiB \/ 64 MiB$/);
  });
}

test('cgroup v1: memory is usage less total_inactive_file (the page cache docker stats leaves out)', () => {
  const raw = structuredClone(fixture('docker-20.10-cgroup1')[1]);
  raw.memory_stats!.usage = 100 * MiB;
  raw.memory_stats!.stats = { ...raw.memory_stats!.stats, total_inactive_file: 30 * MiB, inactive_file: 10 * MiB, cache: 50 * MiB };
  assert.equal(toSample(raw)?.memoryBytes, 70 * MiB);
});

test('cgroup v2 (no total_* keys): usage less inactive_file; no stats at all: usage', () => {
  // Shaped as Docker documents a cgroup v2 reading (no v2 host runs here to capture one).
  const v2: RawStats = {
    read: '2026-12-01T10:00:01Z',
    cpu_stats: { cpu_usage: { total_usage: 3_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 4 },
    precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 16_000_000_000, online_cpus: 4 },
    memory_stats: { usage: 200 * MiB, limit: 512 * MiB, stats: { anon: 120 * MiB, file: 80 * MiB, inactive_file: 50 * MiB } },
  };
  const s = toSample(v2);
  assert.equal(s?.memoryBytes, 150 * MiB);
  assert.equal(s?.cpuPercent, 100); // 1 s of CPU in 4 s of 4 CPUs' time: one CPU busy
  assert.equal(s?.netRxBytes, 0); // host network: no interfaces of its own
  assert.equal(toSample({ ...v2, memory_stats: { usage: 5 * MiB, limit: 8 * MiB } })?.memoryBytes, 5 * MiB);
});

test('rootless Podman on cgroup v1: readings without CPU time are not taken for an idle app', () => {
  const samples = fixture('podman-4.3-rootless-cgroup1');
  assert.ok(samples.length >= 1);
  for (const raw of samples) assert.equal(isAccounted(raw), false);
});

test('a reading without its parts is no sample', () => {
  assert.equal(toSample({}), undefined);
  assert.equal(toSample({ read: 'x', cpu_stats: {} }), undefined);
  // What Docker sends as the container stops: no reading, not a point at year 1.
  const stopped = { ...fixture('docker-20.10-cgroup1')[1], read: '0001-01-01T00:00:00Z', memory_stats: {}, cpu_stats: { cpu_usage: { total_usage: 0 } } };
  assert.equal(toSample(stopped), undefined);
});

test('network rates between readings; a counter that went back (a new container) is 0', () => {
  assert.equal(ratePerSecond({ time: '2026-12-01T00:00:00Z', bytes: 1000 }, { time: '2026-12-01T00:00:02Z', bytes: 5000 }), 2000);
  assert.equal(ratePerSecond({ time: '2026-12-01T00:00:00Z', bytes: 5000 }, { time: '2026-12-01T00:00:01Z', bytes: 10 }), 0);
  assert.equal(ratePerSecond({ time: '2026-12-01T00:00:01Z', bytes: 0 }, { time: '2026-12-01T00:00:01Z', bytes: 10 }), 0);
});

test('formatting', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(84 * MiB), '84 MiB');
  assert.equal(formatBytes(1.5 * 1024 * MiB), '1.5 GiB');
  assert.equal(formatPercent(12.4), '12%');
  assert.equal(formatPercent(0.34), '0.3%');
});

test('the time window keeps the last span only', () => {
  const w = new TimeWindow<number>(10_000);
  for (let t = 0; t <= 100_000; t += 1000) w.push(t, t);
  assert.equal(w.size, 11);
  assert.deepEqual(w.entries().map((e) => e.v), [90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100].map((n) => n * 1000));
  assert.equal(w.last()?.v, 100_000);
  w.trim(200_000);
  assert.equal(w.size, 0);
});
