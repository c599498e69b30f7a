import * as vscode from 'vscode';
import { asBmError } from '../../core/errors';
import type { Logger } from '../../core/ports';
import type { ResourceSample } from '../../core/stats/sample';
import type { ServerPool } from '../../drivers/server-pool';
import { usageText } from '../../protocol/units';
import type { WorkspaceModel } from '../model';

/** The Servers view redraws at most this often, however many readings arrive (one a second per container). */
const REDRAW_MS = 2000;

/**
 * Each running container's CPU and memory for the Servers view ("12% · 84 MiB / 512 MiB"), from
 * the Engine API's stats stream over the server's one connection. Streams run only while the view
 * is visible (`setVisible`), follow the model's list of containers, and are aborted when hidden.
 */
export class ContainerStats implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly streams = new Map<string, AbortController>();
  private readonly latest = new Map<string, ResourceSample>();
  /** Servers whose engine keeps no figures: not asked again until the view is shown again. */
  private readonly unavailable = new Map<string, string>();
  private visible = false;
  private shown = '';
  private timer?: ReturnType<typeof setInterval>;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly model: WorkspaceModel,
    private readonly pool: ServerPool,
    private readonly logger: Logger,
  ) {
    this.subscription = model.onDidChange(() => this.visible && this.reconcile());
  }

  /** What the container's line shows, or undefined (no reading yet, the view hidden). */
  text(containerId: string): string | undefined {
    const s = this.latest.get(containerId);
    return s ? usageText(s) : undefined;
  }

  /** Why a server shows no figures, when its engine keeps none. */
  problem(server: string): string | undefined {
    return this.unavailable.get(server);
  }

  /** How many stats streams are open now (for the tests and the benchmark). */
  get open(): number {
    return this.streams.size;
  }

  setVisible(visible: boolean): void {
    if (visible === this.visible) return;
    this.visible = visible;
    if (visible) {
      this.unavailable.clear();
      this.timer = setInterval(() => this.redraw(), REDRAW_MS);
      this.reconcile();
    } else {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      for (const a of this.streams.values()) a.abort();
      this.streams.clear();
      this.latest.clear();
      this.shown = '';
    }
  }

  /** Streams for exactly the running containers of connected servers. */
  private reconcile(): void {
    const wanted = new Map<string, string>();
    for (const s of this.model.servers.values()) {
      if (s.connection !== 'connected' || this.unavailable.has(s.config.name)) continue;
      for (const c of s.containers) if (c.state === 'running') wanted.set(c.id, s.config.name);
    }
    for (const [id, abort] of this.streams) {
      if (!wanted.has(id)) {
        abort.abort();
        this.streams.delete(id);
        this.latest.delete(id);
      }
    }
    for (const [id, server] of wanted) if (!this.streams.has(id)) this.follow(id, server);
  }

  private follow(id: string, serverName: string): void {
    const abort = new AbortController();
    this.streams.set(id, abort);
    const config = this.model.config?.servers[serverName];
    if (!config) return;
    void (async () => {
      try {
        const server = await this.pool.get(config, abort.signal);
        if (!server.engine.stats) return;
        for await (const s of server.engine.stats(id, abort.signal)) this.latest.set(id, s);
      } catch (e) {
        if (abort.signal.aborted) return;
        const err = asBmError(e);
        if (err.code === 'StatsUnavailable') {
          this.unavailable.set(serverName, err.message);
          this.changed.fire();
        }
        this.logger.debug(`stats of ${id.slice(0, 12)} on ${serverName}: ${err.message}`);
      } finally {
        // Ended by itself (the container stopped): the model's next refresh says what runs now.
        if (this.streams.get(id) === abort) this.streams.delete(id);
      }
    })();
  }

  /** Fires only when a shown figure changed: a redraw costs the workbench's thread. */
  private redraw(): void {
    const now = JSON.stringify([...this.latest.keys()].map((id) => [id, this.text(id)]));
    if (now === this.shown) return;
    this.shown = now;
    this.changed.fire();
  }

  dispose(): void {
    this.setVisible(false);
    this.subscription.dispose();
    this.changed.dispose();
  }
}
