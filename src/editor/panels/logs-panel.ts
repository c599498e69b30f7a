import * as vscode from 'vscode';
import { panelHtml } from './panel-html';
import { redact } from '../../core/config/secrets';
import type { AppStream } from '../../core/config/fleet';
import { followAppLogs } from '../../core/logs/follow';
import { TimeMerger } from '../../core/logs/merge';
import { isFromWebview, packLines, type FromWebview, type ToWebview, type WireLine } from '../../protocol/logs';
import type { ServerPool } from '../../drivers/server-pool';
import type { Logger } from '../../core/ports';

/** The panel's type: VS Code restores panels of it after a reload through the serializer. */
export const LOGS_VIEW_TYPE = 'baremetal.logs';

/** Lines are sent in batches at most this often, so any log rate leaves the editor responsive. */
const FLUSH_MS = 33;
/** And at most this many in one message (the webview's write queue takes the rest in turn). */
const MAX_BATCH = 5000;

export interface LogsPanelOptions {
  app: string;
  streams: AppStream[];
  pool: ServerPool;
  logger: Logger;
  secrets: Record<string, string>;
  tail?: number;
  /** Lines to show first, before anything streams (a failed container's last lines); `server`: a stream's index. */
  preface?: { server: number; title: string; lines: string[] };
  /** A deploy or rollback replaced the container on one of the servers. */
  onContainerReplaced?: () => void;
}

/**
 * The live log panel: one webview showing the app's log on one or more servers, merged as
 * the lines arrive, each server with its own colour tag. It follows deploys and reconnects
 * through the core's followAppLogs. Strict CSP with a nonce; only the bundle folder is readable;
 * every message from the webview is validated.
 */
export class LogsPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly abort = new AbortController();
  private readonly disposables: vscode.Disposable[] = [];
  /** Lines on their way: merged across servers in time order, sent in batches. */
  private readonly merger: TimeMerger<WireLine>;
  private flushTimer?: ReturnType<typeof setTimeout>;
  private ready = false;
  private readonly beforeReady: ToWebview[] = [];
  /** Whether any secret is long enough for redact() to mask (most apps: none, and no per-line work). */
  private readonly masking: boolean;

  /** `restored`: a panel VS Code brings back after a window reload (its page starts afresh). */
  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly opts: LogsPanelOptions,
    restored?: vscode.WebviewPanel,
  ) {
    this.merger = new TimeMerger<WireLine>(opts.streams.length);
    this.masking = Object.values(opts.secrets).some((v) => v.length >= 4);
    const title = `Logs: ${opts.app}@${[...new Set(opts.streams.map((s) => s.server.name))].join('+')}`;
    const options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')] };
    if (restored) {
      this.panel = restored;
      this.panel.title = title;
      this.panel.webview.options = options;
    } else {
      this.panel = vscode.window.createWebviewPanel(LOGS_VIEW_TYPE, title, vscode.ViewColumn.Active, { ...options, retainContextWhenHidden: true });
    }
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'baremetal.svg');
    this.panel.webview.html = this.html();
    this.disposables.push(
      this.panel.onDidDispose(() => this.dispose()),
      this.panel.webview.onDidReceiveMessage((m: unknown) => {
        if (!isFromWebview(m)) {
          opts.logger.warn('logs panel: dropped a malformed message from the webview');
          return;
        }
        void this.onMessage(m);
      }),
    );
  }

  get disposed(): boolean {
    return this.abort.signal.aborted;
  }

  reveal(): void {
    this.panel.reveal();
  }

  private post(message: ToWebview): void {
    if (!this.ready) {
      this.beforeReady.push(message);
      return;
    }
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(m: FromWebview): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        void this.panel.webview.postMessage({ type: 'init', app: this.opts.app, servers: this.opts.streams.map((s) => s.label), tail: this.opts.tail ?? 200 } satisfies ToWebview);
        for (const msg of this.beforeReady.splice(0)) void this.panel.webview.postMessage(msg);
        if (this.opts.preface) this.showPreface(this.opts.preface);
        this.start();
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(m.text);
        void vscode.window.setStatusBarMessage('Log copied', 2000);
        return;
      case 'open':
        // VS Code's own link protection asks before opening a site the user has not trusted.
        await vscode.env.openExternal(vscode.Uri.parse(m.url, true));
        return;
      case 'save': {
        const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(`${this.opts.app}.log`), filters: { Logs: ['log', 'txt'] } });
        if (uri) await vscode.workspace.fs.writeFile(uri, Buffer.from(m.text, 'utf8'));
        return;
      }
    }
  }

  private mask(text: string): string {
    return this.masking ? redact(text, this.opts.secrets) : text;
  }

  private showPreface(p: NonNullable<LogsPanelOptions['preface']>): void {
    this.post({ type: 'marker', server: p.server, text: p.title, time: new Date().toISOString() });
    if (p.lines.length) this.post(packLines(p.lines.map((x): WireLine => ({ s: p.server, e: 0, x: this.mask(x) }))));
  }

  private start(): void {
    this.opts.streams.forEach((stream, index) => void this.follow(stream, index));
  }

  private async follow({ server, app, label }: AppStream, index: number): Promise<void> {
    const events = followAppLogs({ server: () => this.opts.pool.get(server, this.abort.signal), app, tail: this.opts.tail ?? 200, signal: this.abort.signal });
    try {
      for await (const e of events) {
        if (e.kind === 'line') {
          this.merger.push({ s: index, e: e.line.stream === 'stderr' ? 1 : 0, t: e.line.time, x: this.mask(e.line.text) });
          if (this.merger.size >= MAX_BATCH) this.flush();
          else this.scheduleFlush();
        } else if (e.kind === 'container') {
          this.flush(index);
          const what = e.replaced ? 'deploy: now' : 'following';
          if (e.replaced) this.opts.onContainerReplaced?.();
          this.post({ type: 'marker', server: index, text: `${what} ${e.container.name} (${e.commit?.slice(0, 12) ?? 'unknown commit'})`, time: e.container.startedAt ?? new Date().toISOString() });
        } else {
          // No lines soon from this server: the others' need not wait for its history.
          if (e.state !== 'connected') this.merger.markStarted(index);
          this.flush(index);
          this.post({ type: 'status', server: index, state: e.state, message: `${label}: ${e.message}` });
        }
      }
    } catch (e) {
      this.opts.logger.error(`logs of ${label}: ${(e as Error).message}`);
    }
    this.flush(index);
    if (!this.disposed) this.post({ type: 'status', server: index, state: 'ended', message: `${label}: the log stream ended` });
  }

  private scheduleFlush(): void {
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /**
   * Sends what may go; before a marker or a status line of server `before`, all of that server's
   * lines too (the other servers' later ones stay in the merge: releasing them would put them
   * ahead of earlier lines still on their way, e.g. the history of a panel just opened).
   */
  private flush(before?: number): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const lines = before === undefined ? this.merger.take() : this.merger.takeThrough(before);
    for (let i = 0; i < lines.length; i += MAX_BATCH) this.post(packLines(lines.slice(i, i + MAX_BATCH)));
    // Lines held back for another server's sake: look again shortly.
    if (this.merger.size) this.scheduleFlush();
  }

  private html(): string {
    // xterm injects <style> elements for its renderer, so styles allow 'unsafe-inline'.
    return panelHtml(this.panel.webview, this.extensionUri, {
      title: 'Logs',
      styles: ['xterm.css', 'logs.css'],
      script: 'logs.js',
      body: '<div id="toolbar"></div>\n<div id="terminal"></div>',
      inlineStyles: true,
    });
  }

  dispose(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const d of this.disposables) d.dispose();
    this.panel.dispose();
  }
}
