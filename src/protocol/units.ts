/** Units as the Servers view and the resource panel print them (shared: no vscode, no node). */

/** "512 B", "84 MiB", "1.5 GiB": binary units, as `docker stats` prints them. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || v >= 100 ? Math.round(v) : Number(v.toFixed(1))} ${units[i]}`;
}

/** "12%": whole percent above 10, one decimal below (an idle app shows 0.3%, not 0%). */
export function formatPercent(p: number): string {
  return p >= 10 ? `${Math.round(p)}%` : `${Number(p.toFixed(1))}%`;
}

/** What a container's line in the Servers view says: "12% · 84 MiB / 512 MiB" (CPU "…" until a second reading). */
export function usageText(s: { cpuPercent?: number; memoryBytes: number; memoryLimitBytes: number }): string {
  const cpu = s.cpuPercent === undefined ? '…' : formatPercent(s.cpuPercent);
  return `${cpu} · ${formatBytes(s.memoryBytes)} / ${formatBytes(s.memoryLimitBytes)}`;
}
