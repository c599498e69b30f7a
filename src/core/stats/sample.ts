/**
 * One reading of the Engine API's stats stream (GET /containers/{id}/stats), reduced to what the
 * views show, computed the way `docker stats` computes it so the two never disagree. Pure: the
 * unit tests feed it samples captured from the test servers (test/unit/stats/fixtures).
 */

/** The fields of a stats answer that are read (Docker 20.10 and 26, cgroup v1 and v2; Podman's compat API). */
export interface RawStats {
  read?: string;
  cpu_stats?: RawCpu;
  precpu_stats?: RawCpu;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  pids_stats?: { current?: number };
}

interface RawCpu {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}

export interface ResourceSample {
  /** ISO 8601, the engine's time of the reading. */
  time: string;
  /** As `docker stats`: 100 is one CPU busy; up to onlineCpus × 100. Undefined for a stream's first reading (no earlier one to compare with). */
  cpuPercent?: number;
  onlineCpus: number;
  /** In use, less the page cache the kernel may take back (what `docker stats` shows). */
  memoryBytes: number;
  /** The container's memory limit, or the host's memory when it has none. */
  memoryLimitBytes: number;
  /** Totals since the container started, over all its interfaces. */
  netRxBytes: number;
  netTxBytes: number;
  pids?: number;
}

/**
 * The sample the engine sent, or undefined when it carries no reading: a malformed line, or the
 * all-zero one Docker sends as a container stops (read "0001-01-01T00:00:00Z").
 */
export function toSample(raw: RawStats): ResourceSample | undefined {
  if (!raw.read || !raw.cpu_stats || !raw.memory_stats || !(Date.parse(raw.read) > 0)) return undefined;
  const cpu = raw.cpu_stats;
  const onlineCpus = cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(raw.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  const sample: ResourceSample = {
    time: raw.read,
    onlineCpus,
    memoryBytes: memoryInUse(raw.memory_stats),
    memoryLimitBytes: raw.memory_stats.limit ?? 0,
    netRxBytes: rx,
    netTxBytes: tx,
  };
  const percent = cpuPercent(cpu, raw.precpu_stats, onlineCpus);
  if (percent !== undefined) sample.cpuPercent = percent;
  if (raw.pids_stats?.current !== undefined) sample.pids = raw.pids_stats.current;
  return sample;
}

/**
 * (container's CPU time used since the last reading / the host's) × CPUs × 100. The first reading
 * of a stream has no previous one (precpu is zero): that would give the average since the host
 * booted, so it gives none.
 */
function cpuPercent(cpu: RawCpu, pre: RawCpu | undefined, onlineCpus: number): number | undefined {
  const total = cpu.cpu_usage?.total_usage ?? 0;
  const preTotal = pre?.cpu_usage?.total_usage ?? 0;
  const system = cpu.system_cpu_usage ?? 0;
  const preSystem = pre?.system_cpu_usage ?? 0;
  if (!preSystem || system <= preSystem) return undefined;
  const used = Math.max(0, total - preTotal);
  return (used / (system - preSystem)) * onlineCpus * 100;
}

/**
 * Usage less inactive page cache, as the docker CLI does: cgroup v1 reports `total_inactive_file`
 * (the container's whole hierarchy), cgroup v2 `inactive_file`; older engines only `cache`.
 */
function memoryInUse(m: NonNullable<RawStats['memory_stats']>): number {
  const usage = m.usage ?? 0;
  const s = m.stats ?? {};
  const inactive = s.total_inactive_file ?? s.inactive_file ?? s.cache;
  return inactive !== undefined && inactive < usage ? usage - inactive : usage;
}

/**
 * Whether the engine accounts this container's CPU at all. Rootless Podman on cgroup v1 has no
 * cgroup of its own to read: every reading says 0 ns of CPU (and the host's memory), which would
 * chart as an idle app. A running container has always used some CPU time.
 */
export function isAccounted(raw: RawStats): boolean {
  return (raw.cpu_stats?.cpu_usage?.total_usage ?? 0) > 0 || (raw.precpu_stats?.cpu_usage?.total_usage ?? 0) > 0;
}

/** Bytes per second between two readings' totals (0 when a counter went back: a new container). */
export function ratePerSecond(before: { time: string; bytes: number }, after: { time: string; bytes: number }): number {
  const seconds = (Date.parse(after.time) - Date.parse(before.time)) / 1000;
  if (!(seconds > 0) || after.bytes < before.bytes) return 0;
  return (after.bytes - before.bytes) / seconds;
}
