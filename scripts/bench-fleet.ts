/**
 * npm run bench:fleet: the same small image deployed to 1, 2, 4 (and, with `test-servers.sh up 6`,
 * 8) servers (bm1, bm26c, bm2, bm26o, …: Docker 20.10 and 26) with one `deploy --server GROUP`, as
 * a user runs it: wall time of the command and bytes sent to each server. Goal: 4 servers in at
 * most 1.5x the time of one.
 *
 *   node --import tsx scripts/bench-fleet.ts      (as root, test servers up, CLI built)
 *
 * Each size gets an app of its own with 2 MB of data no server has, so every server is sent the
 * same new layer; the base layers may be there already (as on a real fleet's second deploy).
 * Env: BENCH_FLEET_MB (default 2), BENCH_FLEET_RUNS (default 3, the median is reported).
 * Writes bench/fleet-results.md.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, makeWorkspace, PROJECT, removeTestApp, testEnv, type Workspace } from '../test/helpers/world';

// Docker 20.10 and 26 alternating; with `test-servers.sh up 6` there are eight (bm1..bm6, bm26c, bm26o).
const docker = testEnv().servers.filter((s) => s.hasDocker && s.engine !== 'none' && !s.engine?.startsWith('podman')).map((s) => s.name);
const ORDER = ['bm1', 'bm26c', 'bm2', 'bm26o', 'bm3', 'bm4', 'bm5', 'bm6'].filter((s) => docker.includes(s));
const SIZES = [1, 2, 4, 8].filter((n) => n <= ORDER.length);
const MB = Number(process.env.BENCH_FLEET_MB ?? 2);
const RUNS = Number(process.env.BENCH_FLEET_RUNS ?? 3);
const log = (m: string) => console.log(`[bench:fleet] ${m}`);

interface Row { servers: number; wallMs: number[]; bytes: Record<string, number[]> }

async function once(n: number): Promise<{ wallMs: number; bytes: Record<string, number> }> {
  const names = ORDER.slice(0, n);
  const ws: Workspace = await makeWorkspace({
    prefix: 'fl-bench',
    servers: Object.fromEntries(ORDER.map((s) => [s, { host: s }])),
    extra: { groups: { fleet: names } },
  });
  try {
    // Random text, so the layer compresses like a real app's files would not: MB of new bytes per server.
    await ws.commit('bench image', { 'www/data.txt': randomBytes(Math.round((MB * 1024 * 1024 * 3) / 4)).toString('base64') });
    const t0 = Date.now();
    const r = await cli(['deploy', '--server', 'fleet', '--json'], { cwd: ws.dir });
    const wallMs = Date.now() - t0;
    if (r.code !== 0) throw new Error(`deploy to ${names.join(', ')} failed:\n${r.stderr}`);
    // A group of one takes the one-server path: its result is that deploy's own.
    const j = r.json as { servers?: { server: string; bytesSent: number }[]; server: string; bytesSent: number };
    const servers = j.servers ?? [{ server: j.server, bytesSent: j.bytesSent }];
    return { wallMs, bytes: Object.fromEntries(servers.map((s) => [s.server, s.bytesSent])) };
  } finally {
    await removeTestApp(ws, names);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const n of SIZES) {
    const row: Row = { servers: n, wallMs: [], bytes: {} };
    for (let i = 0; i < RUNS; i++) {
      const r = await once(n);
      row.wallMs.push(r.wallMs);
      for (const [s, b] of Object.entries(r.bytes)) (row.bytes[s] ??= []).push(b);
      log(`${n} server(s), run ${i + 1}: ${(r.wallMs / 1000).toFixed(2)} s, ${Object.entries(r.bytes).map(([s, b]) => `${s} ${(b / 1024).toFixed(0)} KiB`).join(', ')}`);
    }
    rows.push(row);
  }
  const one = median(rows[0].wallMs);
  const lines = [
    `# bench:fleet: one image to ${SIZES.join(', ')} servers`,
    '',
    `${MB} MB of new data per deploy, median of ${RUNS} runs, built on the default workstation engine (ws26c), servers in the order ${ORDER.join(', ')}. Wall time of \`baremetal deploy --server GROUP\` as a user runs it (connect, build once, send, health check, record).`,
    '',
    '| servers | wall time (median) | vs 1 server | KiB sent per server (median) |',
    '|---:|---:|---:|:--|',
    ...rows.map((r) => `| ${r.servers} | ${(median(r.wallMs) / 1000).toFixed(2)} s | ${(median(r.wallMs) / one).toFixed(2)}x | ${Object.entries(r.bytes).map(([s, b]) => `${s} ${(median(b) / 1024).toFixed(0)}`).join(', ')} |`),
    '',
    `Goal: 4 servers in at most 1.5x the time of one: ${median(rows[2].wallMs) / one <= 1.5 ? 'met' : 'NOT met'} (${(median(rows[2].wallMs) / one).toFixed(2)}x).`,
    '',
  ];
  writeFileSync(join(PROJECT, 'bench', 'fleet-results.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
