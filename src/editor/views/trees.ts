import * as vscode from 'vscode';
import { LABEL } from '../../core/deploy/labels';
import { appAddress } from '../app-url';
import type { ServerState, WorkspaceModel } from '../model';
import type { ContainerStats } from './container-stats';
import { CommitItem, SwarmNodeItem, ContainerItem, DeploymentItem, MessageItem, ProxyItem, ServerItem, UncommittedItem, UrlItem, type AnyItem } from './items';

/** Shared shape of the three views: read the model (never do I/O), re-render when it changes. */
abstract class ModelTree implements vscode.TreeDataProvider<AnyItem>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<AnyItem | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly subscription: vscode.Disposable;

  constructor(protected readonly model: WorkspaceModel) {
    this.subscription = model.onDidChange(() => this.redraw());
  }

  protected redraw(): void {
    this.emitter.fire(undefined);
  }

  getTreeItem(item: AnyItem): vscode.TreeItem {
    return item;
  }

  abstract getChildren(item?: AnyItem): AnyItem[];

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

  override dispose(): void {
    this.statsSubscription?.dispose();
    super.dispose();
  }

  getChildren(item?: AnyItem): AnyItem[] {
    if (!item) {
      const problem = this.configProblem(true);
      if (problem) return problem;
      // Always expandable: an item first shown as a leaf (while connecting) would otherwise stay
      // collapsed once its containers arrive (the tree keeps the state it first saw for an id).
      return [...this.model.servers.values()].map((s) => new ServerItem(s, true));
    }
    if (item instanceof ServerItem) {
      const s = item.state;
      const running = s.status?.deployId;
      const containers = s.containers
        .slice()
        .sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running'))
        .map((c) => new ContainerItem(s, c, c.labels[LABEL.deployId] === running, this.stats?.text(c.id), this.stats?.problem(s.config.name)));
      const proxy = s.connection === 'connected' && s.status?.proxy && this.model.config ? [new ProxyItem(s, s.status.proxy, this.model.config.app)] : [];
      // On the manager of a swarm: the service's replicas and every node with its tasks.
      const swarm = s.swarm
        ? [new MessageItem(s.swarm.state === 'absent' ? 'swarm: not deployed' : `swarm: ${s.swarm.running} of ${s.swarm.replicas ?? '?'} replicas ${s.swarm.commit?.slice(0, 7) ?? '?'} ${s.swarm.state}`, 'server-environment'), ...s.swarm.nodes.map((n) => new SwarmNodeItem(s, n))]
        : [];
      return [...this.urls(s), ...proxy, ...swarm, ...containers];
    }
    return [];
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
  getChildren(item?: AnyItem): AnyItem[] {
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
  getChildren(item?: AnyItem): AnyItem[] {
    if (item) return [];
    if (!this.model.repo) return [new MessageItem('This folder is not a git repository: deploys are tied to commits', 'warning')];
    const items: AnyItem[] = [];
    if (this.model.uncommitted.length) items.push(new UncommittedItem(this.model.uncommitted));
    for (const c of this.model.commits) items.push(new CommitItem(c, this.model.deployedOn(c.sha)));
    return items;
  }
}
