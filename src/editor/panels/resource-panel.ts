import * as vscode from 'vscode';
import { panelHtml } from './panel-html';
import { appStreams, type AppStream } from '../../core/config/fleet';
import type { Config } from '../../core/config/types';
import { history as readHistory } from '../../core/deploy/status';
import { LABEL } from '../../core/deploy/labels';
import type { Logger } from '../../core/ports';
import { followAppStats } from '../../core/stats/follow';
import { ratePerSecond, type ResourceSample } from '../../core/stats/sample';
import { TimeWindow } from '../../core/stats/window';
import type { ServerPool } from '../../drivers/server-pool';
import { isFromWebview, type StatsState, type ToWebview, type WirePoint } from '../../protocol/resources';

export const RESOURCES_VIEW_TYPE = 'baremetal.resources';

/** What the charts span: the last 10 minutes. */
export const SPAN_MS = 10 * 60_000;
/** Readings go to the page at most this often (one a second per server arrives). */
const FLUSH_MS = 1000;

interface Marker {
  t: number;
  text: string;
  /** The deploy's id, so one seen both in the history and as a container change is marked once. */
  deployId?: string;
}

/** Per server: the last 10 minutes of points and deploy markers, kept here so a page reload redraws them. */
interface Track {
  points: TimeWindow<WirePoint>;
  markers: Marker[];
  unsent: WirePoint[];
  previous?: ResourceSample;
  container?: Extract<ToWebview, { type: 'container' }>;
  status?: Extract<ToWebview, { type: 'status' }>;
}

export interface ResourcePanelOptions {
  config: Config;
  /** One chart row each: the app on a server, or each role on it ("bm1 worker"). */
  streams: AppStream[];
  pool: ServerPool;
  logger: Logger;
  /** A deploy or rollback replaced a container the panel watches (from anyone: the CLI, a teammate). */
  onContainerReplaced?: () => void;
}

/**
 * Show Resource Use: live charts of the app's CPU, memory (against its limit) and network on
 * each server of the config, the last 10 minutes, a deploy marked where the container changed.
 * The stats streams run while the panel is open, over each server's one SSH connection, and are
 * aborted when it closes. Same CSP and message checks as the log panel.
 */
export class ResourcePanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly abort = new AbortController();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly tracks: Track[];
  private ready = false;
  private started = false;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly opts: ResourcePanelOptions,
  ) {
    this.tracks = opts.streams.map(() => ({ points: new TimeWindow<WirePoint>(SPAN_MS), markers: [], unsent: [] }));
    const title = `Resources: ${opts.config.app}`;
    this.panel = vscode.window.createWebviewPanel(RESOURCES_VIEW_TYPE, title, vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
    });
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'baremetal.svg');
    this.panel.webview.html = this.html();
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.disposables.push(
      this.panel.onDidDispose(() => this.dispose()),
      this.panel.webview.onDidReceiveMessage((m: unknown) => {
        if (!isFromWebview(m)) {
          opts.logger.warn('resource panel: dropped a malformed message from the webview');
          return;
        }
        this.onReady();
      }),
    );
  }

  get disposed(): boolean {
    return this.abort.signal.aborted;
  }

  get app(): string {
    return this.opts.config.app;
  }

  reveal(): void {
    this.panel.reveal();
  }

  /** The page (re)started: it gets everything kept so far, then what comes. */
  private onReady(): void {
    this.ready = true;
    const post = (m: ToWebview) => void this.panel.webview.postMessage(m);
    post({ type: 'init', app: this.opts.config.app, servers: this.opts.streams.map((s) => s.label), spanMs: SPAN_MS });
    this.tracks.forEach((track, server) => {
      track.points.trim(Date.now());
      track.unsent = [];
      const points = track.points.entries().map((e) => e.v);
      if (points.length) post({ type: 'points', server, points });
      for (const m of track.markers) post({ type: 'marker', server, t: m.t, text: m.text });
      if (track.container) post(track.container);
      if (track.status) post(track.status);
    });
    if (!this.started) {
      this.started = true;
      this.opts.streams.forEach((s, i) => void this.follow(s, i));
    }
  }

  private post(m: ToWebview): void {
    if (this.ready && !this.disposed) void this.panel.webview.postMessage(m);
  }

  private mark(server: number, marker: Marker): void {
    const track = this.tracks[server];
    if (marker.deployId && track.markers.some((m) => m.deployId === marker.deployId)) return;
    track.markers.push(marker);
    track.markers = track.markers.filter((m) => m.t >= Date.now() - SPAN_MS);
    this.post({ type: 'marker', server, t: marker.t, text: marker.text });
  }

  private setStatus(server: number, state: StatsState, message: string): void {
    const m: ToWebview = { type: 'status', server, state, message: `${this.opts.streams[server].label}: ${message}` };
    this.tracks[server].status = m;
    this.post(m);
  }

  /** Deploys of the last 10 minutes from the server's history: marked even if they came before the panel. */
  private async markHistory({ server, app, label }: AppStream, index: number): Promise<void> {
    try {
      const connected = await this.opts.pool.get(server, this.abort.signal);
      const entries = await readHistory(connected, { ...this.opts.config, app }, server.name);
      for (const h of entries) {
        const t = Date.parse(h.finishedAt);
        if (h.result === 'succeeded' && t >= Date.now() - SPAN_MS) this.mark(index, { t, text: `${h.kind} ${h.commit.slice(0, 7)}`, deployId: h.id });
      }
    } catch (e) {
      this.opts.logger.debug(`resources: no history of ${label} (${(e as Error).message})`);
    }
  }

  private async follow(stream: AppStream, index: number): Promise<void> {
    const { server, app, label } = stream;
    const track = this.tracks[index];
    await this.markHistory(stream, index);
    const events = followAppStats({ server: () => this.opts.pool.get(server, this.abort.signal), app, signal: this.abort.signal });
    try {
      for await (const e of events) {
        if (e.kind === 'sample') {
          const point = toPoint(e.sample, track.previous);
          track.previous = e.sample;
          track.points.push(point.t, point);
          track.unsent.push(point);
        } else if (e.kind === 'container') {
          track.previous = undefined;
          const c = e.container;
          track.container = { type: 'container', server: index, name: c.name, ...(e.commit ? { commit: e.commit } : {}), ...(c.cpus ? { cpus: c.cpus } : {}) };
          this.post(track.container);
          if (e.replaced) {
            this.opts.onContainerReplaced?.();
            const t = c.startedAt ? Date.parse(c.startedAt) : Date.now();
            this.mark(index, { t, text: `deploy ${e.commit?.slice(0, 7) ?? c.name}`, deployId: c.labels[LABEL.deployId] });
          }
        } else {
          this.setStatus(index, e.state, e.message);
        }
      }
    } catch (e) {
      this.opts.logger.error(`resources of ${label}: ${(e as Error).message}`);
    }
    if (!this.disposed && track.status?.state !== 'unavailable') this.setStatus(index, 'ended', 'the stats stream ended');
  }

  private flush(): void {
    this.tracks.forEach((track, server) => {
      if (!track.unsent.length) return;
      this.post({ type: 'points', server, points: track.unsent });
      track.unsent = [];
    });
  }

  private html(): string {
    // uPlot draws on canvases and sets sizes through the CSSOM, which style-src does not govern:
    // no inline style is needed.
    return panelHtml(this.panel.webview, this.extensionUri, {
      title: 'Resources',
      styles: ['uPlot.min.css', 'resources.css'],
      script: 'resources.js',
      body: '<div id="header"></div>\n<div id="charts"></div>',
    });
  }

  dispose(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    clearInterval(this.timer);
    for (const d of this.disposables) d.dispose();
    this.panel.dispose();
  }
}

/** A reading as the page draws it: network as rates since the reading before (none for the first). */
function toPoint(s: ResourceSample, previous: ResourceSample | undefined): WirePoint {
  const rate = (bytes: (x: ResourceSample) => number) => (previous ? ratePerSecond({ time: previous.time, bytes: bytes(previous) }, { time: s.time, bytes: bytes(s) }) : 0);
  return { t: Date.parse(s.time), cpu: s.cpuPercent ?? null, mem: s.memoryBytes, limit: s.memoryLimitBytes, rx: rate((x) => x.netRxBytes), tx: rate((x) => x.netTxBytes) };
}

/** One resource panel per app: asking again reveals it. */
export class ResourcePanels implements vscode.Disposable {
  private open?: ResourcePanel;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly pool: ServerPool,
    private readonly logger: Logger,
    /** Called when a panel sees a deploy replace a container, so the views catch up at once. */
    private readonly onContainerReplaced: () => void = () => undefined,
  ) {}

  show(config: Config): ResourcePanel {
    if (this.open && !this.open.disposed && this.open.app === config.app) {
      this.open.reveal();
      return this.open;
    }
    this.open?.dispose();
    this.open = new ResourcePanel(this.extensionUri, { config, streams: appStreams(config, Object.values(config.servers)), pool: this.pool, logger: this.logger, onContainerReplaced: this.onContainerReplaced });
    return this.open;
  }

  dispose(): void {
    this.open?.dispose();
  }
}
