/**
 * The resource panel's webview: three uPlot charts (CPU, memory against its limit, network) of
 * the app on each server, the last 10 minutes, with a deploy marker where the container changed.
 * uPlot draws on canvases and injects no styles (its stylesheet is a file beside this bundle);
 * markers are elements over the plot, so they can be read (and tested) like any text.
 */
import uPlot from 'uplot';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import { isToWebview, type FromWebview, type StatsState, type ToWebview, type WirePoint } from '../../src/protocol/resources';
import { formatBytes, formatPercent, usageText } from '../../src/protocol/units';

declare function acquireVsCodeApi(): { postMessage(m: FromWebview): void };
const vscode = acquireVsCodeApi();

const css = (name: string, fallback: string) => getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
const PALETTE = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
const colour = (i: number) => css(PALETTE[i % PALETTE.length], ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'][i % 6]);

interface ServerView {
  name: string;
  points: WirePoint[];
  markers: { t: number; text: string }[];
  container?: Extract<ToWebview, { type: 'container' }>;
  state?: StatsState;
  message?: string;
  chip: HTMLElement;
}

let spanMs = 600_000;
let servers: ServerView[] = [];
let charts: { key: 'cpu' | 'mem' | 'net'; plot: uPlot; box: HTMLElement }[] = [];
let drawQueued = false;

const header = document.getElementById('header') as HTMLElement;
const chartsBox = document.getElementById('charts') as HTMLElement;

function init(m: Extract<ToWebview, { type: 'init' }>): void {
  spanMs = m.spanMs;
  for (const c of charts) c.plot.destroy();
  header.replaceChildren();
  chartsBox.replaceChildren();
  const title = document.createElement('h2');
  title.textContent = `${m.app}: CPU, memory and network, the last ${Math.round(spanMs / 60_000)} minutes`;
  header.append(title);
  servers = m.servers.map((name, i) => {
    const chip = document.createElement('div');
    chip.className = 'server';
    chip.dataset.server = name;
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.backgroundColor = colour(i);
    chip.append(swatch, document.createElement('b'), document.createElement('vscode-badge'), document.createElement('span'));
    (chip.children[1] as HTMLElement).textContent = name;
    header.append(chip);
    return { name, points: [], markers: [], chip };
  });
  charts = (['cpu', 'mem', 'net'] as const).map((key) => makeChart(key));
  for (const s of servers) showServer(s);
}

function makeChart(key: 'cpu' | 'mem' | 'net'): { key: 'cpu' | 'mem' | 'net'; plot: uPlot; box: HTMLElement } {
  const box = document.createElement('section');
  box.className = 'chart';
  box.dataset.chart = key;
  const h = document.createElement('h3');
  h.textContent = { cpu: 'CPU (100% = one CPU)', mem: 'Memory (dashed: its limit)', net: 'Network (solid: received, dashed: sent)' }[key];
  box.append(h);
  chartsBox.append(box);
  const series: uPlot.Series[] = [{}];
  servers.forEach((s, i) => {
    const stroke = colour(i);
    if (key === 'cpu') series.push({ label: s.name, stroke, width: 1.5, value: (_u, v) => (v == null ? '–' : formatPercent(v)) }, { label: `${s.name} limit`, stroke, dash: [6, 4], width: 1, value: (_u, v) => (v == null ? 'none' : formatPercent(v)) });
    if (key === 'mem') series.push({ label: s.name, stroke, width: 1.5, value: (_u, v) => (v == null ? '–' : formatBytes(v)) }, { label: `${s.name} limit`, stroke, dash: [6, 4], width: 1, value: (_u, v) => (v == null ? '–' : formatBytes(v)) });
    if (key === 'net') series.push({ label: `${s.name} in`, stroke, width: 1.5, value: (_u, v) => (v == null ? '–' : `${formatBytes(v)}/s`) }, { label: `${s.name} out`, stroke, dash: [6, 4], width: 1.5, value: (_u, v) => (v == null ? '–' : `${formatBytes(v)}/s`) });
  });
  const fg = css('--vscode-foreground', '#ccc');
  const grid = css('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
  const axisValues = key === 'cpu' ? (_u: uPlot, vs: number[]) => vs.map((v) => formatPercent(v)) : key === 'mem' ? (_u: uPlot, vs: number[]) => vs.map((v) => formatBytes(v)) : (_u: uPlot, vs: number[]) => vs.map((v) => `${formatBytes(v)}/s`);
  const plot = new uPlot(
    {
      width: Math.max(300, chartsBox.clientWidth - 16),
      height: 180,
      series,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(max, key === 'cpu' ? 5 : 1024) * 1.1] } },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values: axisValues, size: 70 },
      ],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      hooks: { draw: [(u) => placeMarkers(u, box)] },
    },
    [[]],
    box,
  );
  return { key, plot, box };
}

/** Deploy markers over a chart's plot: a dashed line at the time the container changed, with its label. */
function placeMarkers(u: uPlot, box: HTMLElement): void {
  for (const old of Array.from(u.over.querySelectorAll('.marker'))) old.remove();
  const min = u.scales.x.min ?? 0;
  const max = u.scales.x.max ?? 0;
  let n = 0;
  // Labels of deploys close in time (a fleet's servers, one after the other) go on rows of their
  // own, so none hides another: each row keeps the spans its labels take.
  const rows: [number, number][][] = [];
  servers.forEach((s, i) => {
    for (const m of s.markers) {
      const x = m.t / 1000;
      if (x < min || x > max) continue;
      const el = document.createElement('div');
      el.className = 'marker';
      el.dataset.server = s.name;
      const left = u.valToPos(x, 'x');
      el.style.left = `${left}px`;
      // Near the right edge the label goes on the line's left, so it is not cut off.
      if (left > u.over.clientWidth - 160) el.classList.add('flip');
      el.style.borderColor = colour(i);
      const label = document.createElement('span');
      label.textContent = `${m.text}${servers.length > 1 ? ` (${s.name})` : ''}`;
      el.title = `${label.textContent}, ${new Date(m.t).toLocaleTimeString()}`;
      el.append(label);
      u.over.append(el);
      const { width, height } = label.getBoundingClientRect();
      const span: [number, number] = el.classList.contains('flip') ? [left - 3 - width, left - 3] : [left + 3, left + 3 + width];
      let row = rows.findIndex((r) => r.every(([a, b]) => span[1] < a - 4 || span[0] > b + 4));
      if (row < 0) row = rows.push([]) - 1;
      rows[row].push(span);
      label.style.top = `${row * Math.ceil(height)}px`;
      n++;
    }
  });
  box.dataset.markers = String(n);
}

function dataFor(key: 'cpu' | 'mem' | 'net'): uPlot.AlignedData {
  // One table per server (their readings come at their own instants), joined on one time axis.
  const tables: uPlot.AlignedData[] = servers.map((s) => {
    const xs = s.points.map((p) => Math.round(p.t / 1000));
    const cpuLimit = s.container?.cpus ? s.container.cpus * 100 : null;
    if (key === 'cpu') return [xs, s.points.map((p) => p.cpu), s.points.map(() => cpuLimit)];
    if (key === 'mem') return [xs, s.points.map((p) => p.mem), s.points.map((p) => p.limit)];
    return [xs, s.points.map((p) => p.rx), s.points.map((p) => p.tx)];
  });
  if (!tables.length) return [[]];
  return tables.length === 1 ? tables[0] : uPlot.join(tables);
}

function draw(): void {
  drawQueued = false;
  const now = Date.now();
  for (const s of servers) {
    const from = now - spanMs;
    const first = s.points.findIndex((p) => p.t >= from);
    if (first > 0) s.points.splice(0, first);
    s.markers = s.markers.filter((m) => m.t >= from);
  }
  for (const c of charts) {
    const data = dataFor(c.key);
    c.plot.batch(() => {
      c.plot.setData(data, false);
      c.plot.setScale('x', { min: (now - spanMs) / 1000, max: now / 1000 });
    });
    // How many readings the chart holds (its first series per server), for tests and benchmarks.
    c.box.dataset.points = String(servers.reduce((n, s) => n + s.points.filter((p) => (c.key === 'cpu' ? p.cpu !== null : true)).length, 0));
  }
}

function queueDraw(): void {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(draw);
}

function showServer(s: ServerView): void {
  const [, , badge, detail] = Array.from(s.chip.children) as HTMLElement[];
  badge.textContent = s.state ?? 'connecting';
  s.chip.dataset.state = s.state ?? 'connecting';
  const last = s.points[s.points.length - 1];
  const parts = [s.container ? `${s.container.name}${s.container.commit ? ` (${s.container.commit.slice(0, 7)})` : ''}` : '', last ? usageText({ cpuPercent: last.cpu ?? undefined, memoryBytes: last.mem, memoryLimitBytes: last.limit }) : ''];
  if (s.state && s.state !== 'connected' && s.message) parts.push(s.message);
  detail.textContent = parts.filter(Boolean).join(' · ');
  s.chip.title = s.message ?? '';
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const m = event.data;
  if (!isToWebview(m)) return;
  if (m.type === 'init') return init(m);
  const s = servers[m.server];
  if (!s) return;
  switch (m.type) {
    case 'points':
      s.points.push(...m.points);
      showServer(s);
      queueDraw();
      return;
    case 'marker':
      s.markers.push({ t: m.t, text: m.text });
      queueDraw();
      return;
    case 'container':
      s.container = m;
      showServer(s);
      return;
    case 'status':
      s.state = m.state;
      s.message = m.message;
      showServer(s);
      return;
  }
});

// The time axis moves on even when no reading comes (a server waiting, a stream ended).
setInterval(queueDraw, 5000);
new ResizeObserver(() => {
  for (const c of charts) c.plot.setSize({ width: Math.max(300, chartsBox.clientWidth - 16), height: 180 });
}).observe(chartsBox);

vscode.postMessage({ type: 'ready' });
