import * as vscode from 'vscode';
import { LABEL } from '../../core/deploy/labels';
import { appAddress } from '../app-url';
import type { ModelChange, ServerState, WorkspaceModel } from '../model';
import type { ContainerStats } from './container-stats';
import { ShownRows } from './shown-rows';
import { deployedOnNames } from '../fleet-text';
import { CommitItem, ContainerItem, DeploymentItem, GroupItem, MessageItem, ProxyItem, ServerItem, SwarmNodeItem, UncommittedItem, UrlItem, type AnyItem } from './items';

/**
 * Shared shape of the three views: read the model (never do I/O), re-render when it changes,
 * only the rows whose text changed, on the objects the workbench already has (see shown-rows.ts:
 * a whole-view refresh makes an inline button clicked meanwhile lose its row).
 */
abstract class ModelTree implements vscode.TreeDataProvider<AnyItem>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<AnyItem | AnyItem[] | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly subscription: vscode.Disposable;
  // Restricted Mode: no rows at all, so that the view's welcome says why (the model never
  // started: "Loading baremetal.json…" would wait forever). Trust starts it, and its first
  // change brings the rows.
  private readonly shown = new ShownRows<AnyItem>((item) => (vscode.workspace.isTrusted ? this.rows(item) : []));

  constructor(protected readonly model: WorkspaceModel) {
    this.subscription = model.onDidChange((what) => this.shows(what) && this.redraw());
  }

  /** Whether a change of the model touches this view (the others are not even compared). */
  protected shows(_what: ModelChange): boolean {
    return true;
  }

  protected redraw(): void {
    const redraw = this.shown.redraw();
    if (redraw.kind === 'all') this.emitter.fire(undefined);
    else if (redraw.kind === 'rows') this.emitter.fire(redraw.rows);
  }

  getTreeItem(item: AnyItem): vscode.TreeItem {
    return item;
  }

  getChildren(item?: AnyItem): AnyItem[] {
    return this.shown.rows(item);
  }

  /** The rows under `item` (undefined: the top level) as the model has them now. */
  protected abstract rows(item?: AnyItem): AnyItem[];

  /**
   * Without a usable baremetal.json, every view says why and how to fix it. With none at all,
   * the Servers view stays empty so that its welcome (Add Server, Open Configuration) shows.
   */
  protected configProblem(emptyWhenMissing = false): AnyItem[] | undefined {
    if (this.model.configError?.code === 'ConfigNotFound') {
      return emptyWhenMissing ? [] : [new MessageItem('No baremetal.json yet: add a server in the Servers view', 'info', { command: 'baremetal.addServer', title: 'Add Server…' })];
    }
    if (this.model.configError) {
      return [new MessageItem(this.model.configError.message, 'error', { command: 'baremetal.openConfiguration', title: 'Open Configuration' })];
    }
    if (!this.model.config) return [new MessageItem('Loading baremetal.json…', 'loading~spin')];
    return undefined;
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}

export class ServersTree extends ModelTree {
  private readonly statsSubscription?: vscode.Disposable;

  /** `stats`: each running container's CPU and memory, while the view is visible. */
  constructor(model: WorkspaceModel, private readonly stats?: ContainerStats) {
    super(model);
    this.statsSubscription = stats?.onDidChange(() => this.redraw());
  }

  /** Commits and uncommitted files are not shown here. */
  protected override shows(what: ModelChange): boolean {
    return what !== 'local';
  }

  override dispose(): void {
    this.statsSubscription?.dispose();
    super.dispose();
  }

  protected rows(item?: AnyItem): AnyItem[] {
    if (!item) {
      const problem = this.configProblem(true);
      if (problem) return problem;
      // Always expandable: an item first shown as a leaf (while connecting) would otherwise stay
      // collapsed once its containers arrive (the tree keeps the state it first saw for an id).
      // Groups first, each with its servers; then the servers in no group.
      const groups = Object.entries(this.model.config?.groups ?? {});
      const grouped = new Set(groups.flatMap(([, g]) => g.servers));
      const states = (names: readonly string[]) => names.map((n) => this.model.servers.get(n)).filter((s): s is ServerState => s !== undefined);
      return [
        ...groups.map(([name, g]) => new GroupItem(name, states(g.servers), g.servers.map((n) => this.model.runs(n)))),
        ...[...this.model.servers.values()].filter((s) => !grouped.has(s.config.name)).map((s) => new ServerItem(s, true)),
      ];
    }
    if (item instanceof GroupItem) return item.members.map((s) => new ServerItem(s, true, item.name));
    if (item instanceof ServerItem) {
      const children = this.serverChildren(item);
      // Under a group, the same server's rows need ids of their own (it may be in two groups).
      if (item.group) for (const c of children) if (c.id) c.id = `group:${item.group}/${c.id}`;
      return children;
    }
    return [];
  }

  private serverChildren(item: ServerItem): AnyItem[] {
    const s = item.state;
    const running = new Set(s.liveDeployIds ?? (s.status?.deployId ? [s.status.deployId] : []));
    const containers = s.containers
      .slice()
      .sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running'))
      .map((c) => new ContainerItem(s, c, running.has(c.labels[LABEL.deployId] ?? ''), this.stats?.text(c.id), this.stats?.problem(s.config.name)));
    const proxy = s.connection === 'connected' && s.status?.proxy && this.model.config ? [new ProxyItem(s, s.status.proxy, this.model.config.app)] : [];
    // On the manager of a swarm: the service's replicas and every node with its tasks.
    const swarm = s.swarm
      ? [new MessageItem(s.swarm.state === 'absent' ? 'swarm: not deployed' : `swarm: ${s.swarm.running} of ${s.swarm.replicas ?? '?'} replicas ${s.swarm.commit?.slice(0, 7) ?? '?'} ${s.swarm.state}`, 'server-environment'), ...s.swarm.nodes.map((n) => new SwarmNodeItem(s, n))]
      : [];
    return [...this.urls(s), ...proxy, ...swarm, ...containers];
  }

  /**
   * Where the app answers, under a connected server only (the address comes from its connection;
   * an unreachable server's URL would not open). A config without a reachable port shows none:
   * Open in Browser says why.
   */
  private urls(s: ServerState): UrlItem[] {
    const config = this.model.config;
    if (!config || s.connection !== 'connected') return [];
    return appAddress(config, s.config.name, s.address).urls.map((url) => new UrlItem(s, url));
  }
}

export class DeploymentsTree extends ModelTree {
  protected override shows(what: ModelChange): boolean {
    return what !== 'local';
  }

  protected rows(item?: AnyItem): AnyItem[] {
    if (!item) {
      const problem = this.configProblem();
      if (problem) return problem;
      return [...this.model.servers.values()].map((s) => new ServerItem(s, true));
    }
    if (item instanceof ServerItem) {
      const s = item.state;
      if (s.connection !== 'connected') return [new MessageItem(s.connection === 'connecting' ? 'Connecting…' : (s.error?.message ?? 'Not connected'), 'info')];
      if (!s.history.length) return [new MessageItem('No deploys yet: deploy a commit from the Commits view', 'info')];
      return s.history.slice(0, 50).map((h) => new DeploymentItem(s, h));
    }
    return [];
  }
}

export class CommitsTree extends ModelTree {
  protected rows(item?: AnyItem): AnyItem[] {
    if (item) return [];
    if (!this.model.repo) return [new MessageItem('This folder is not a git repository: deploys are tied to commits', 'warning')];
    const items: AnyItem[] = [];
    if (this.model.uncommitted.length) items.push(new UncommittedItem(this.model.uncommitted));
        // "on web" when every server of the group runs it, rather than each server's name.
    const groups = Object.fromEntries(Object.entries(this.model.config?.groups ?? {}).map(([n, g]) => [n, g.servers]));
    for (const c of this.model.commits) items.push(new CommitItem(c, deployedOnNames(this.model.deployedOn(c.sha), groups)));
    return items;
  }
}
