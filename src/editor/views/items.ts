import * as vscode from 'vscode';
import type { HistoryEntry } from '../../core/deploy/status';
import type { NodeStatus } from '../../core/deploy/swarm-status';
import type { ProxyStatus } from '../../core/proxy/proxy-status';
import type { CommitInfo, ContainerInfo } from '../../core/ports';
import { displayUrl } from '../app-url';
import { COMMANDS } from '../commands/ids';
import { groupDescription, type Runs } from '../fleet-text';
import type { ServerState } from '../model';
import { deploymentTooltip, groupTooltip, proxyTooltip, serverTooltip } from './tooltip-text';

/**
 * Tree items carry what a command run from them needs (`kind` tells which); commands accept
 * them as their argument, and ask with a quick pick when run from the palette instead.
 */
export class ServerItem extends vscode.TreeItem {
  readonly kind = 'server';
  /** `group`: the group it is shown under (a server in two groups shows under each, with its own ids). */
  constructor(readonly state: ServerState, expandable: boolean, readonly group?: string) {
    super(state.config.name, expandable ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    const s = state;
    this.id = `${group ? `group:${group}/` : ''}server:${s.config.name}`;
    this.contextValue = `server.${s.connection}`;
    const describe: Record<ServerState['connection'], [string, string, string?]> = {
      connecting: ['connecting…', 'loading~spin'],
      connected: [`connected · ${runsHere(s)}`, 'vm-active', 'testing.iconPassed'],
      hostKeyUnknown: ['host key unknown: click to trust', 'shield', 'problemsWarningIcon.foreground'],
      hostKeyChanged: ['host key CHANGED: refused', 'error', 'errorForeground'],
      unreachable: ['unreachable', 'debug-disconnect', 'errorForeground'],
      authFailed: ['key refused', 'key', 'errorForeground'],
      noDocker: ['no Docker Engine', 'warning', 'problemsWarningIcon.foreground'],
      // The tooltip and the click give the sentence with the usermod command.
      dockerDenied: ['not allowed on the Docker socket', 'lock', 'problemsWarningIcon.foreground'],
      error: ['error', 'error', 'errorForeground'],
    };
    const [text, icon, color] = describe[s.connection];
    // A connection an operation lost (a link that went silent, a cut) says so: "unreachable"
    // would read as a server that never answered. The tooltip and the click give its sentence.
    this.description = s.connection === 'unreachable' && s.error?.code === 'ConnectionLost' ? 'connection lost' : text;
    this.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    this.tooltip = new vscode.MarkdownString(serverTooltip(s.config.name, s.config.host, s.error?.message, s.hostKey?.fingerprint));
    // The action that fixes each state, on a click.
    if (s.connection === 'hostKeyUnknown') this.command = { command: 'baremetal.trustServer', title: 'Trust Server Host Key', arguments: [this] };
    else if (s.connection !== 'connected' && s.connection !== 'connecting') this.command = { command: 'baremetal.showServerProblem', title: 'Show Problem', arguments: [this] };
  }
}

/** "a1b2c3d running"; a swarm node without a task of the app says so, rather than "not deployed". */
function runsHere(s: ServerState): string {
  if (s.status && s.status.state !== 'absent') return `${s.status.commit?.slice(0, 7) ?? '?'} ${s.status.state}`;
  return s.swarmPart ? `swarm ${s.swarmPart}, no task here` : 'not deployed';
}

/**
 * A group of baremetal.json in the Servers view: its servers below it, and on its line which
 * commit they run ("2 servers · a1b2c3d on all", or "mixed: …"). Deploy on it deploys HEAD there.
 */
export class GroupItem extends vscode.TreeItem {
  readonly kind = 'group';
  constructor(readonly name: string, readonly members: readonly ServerState[], runs: readonly Runs[]) {
    super(name, vscode.TreeItemCollapsibleState.Expanded);
    this.id = `group:${name}`;
    this.description = groupDescription(runs);
    const mixed = new Set(runs.map((r) => r.commit)).size > 1;
    this.iconPath = new vscode.ThemeIcon('server-environment', mixed ? new vscode.ThemeColor('problemsWarningIcon.foreground') : undefined);
    this.tooltip = new vscode.MarkdownString(groupTooltip(name, runs));
    this.contextValue = 'group';
  }
}

export class ContainerItem extends vscode.TreeItem {
  readonly kind = 'container';
  /** `usage`: "12% · 84 MiB / 512 MiB" from the stats stream; `statsProblem`: why there is none. */
  constructor(readonly server: ServerState, readonly container: ContainerInfo, current: boolean, usage?: string, statsProblem?: string) {
    super(container.name, vscode.TreeItemCollapsibleState.None);
    this.id = `container:${server.config.name}:${container.id}`;
    const commit = container.labels['dev.baremetal.commit']?.slice(0, 7) ?? '?';
    const health = container.health ?? (container.state === 'running' ? 'running' : container.state);
    const uptime = container.startedAt && container.state === 'running' ? ` · up ${since(container.startedAt)}` : '';
    const figures = container.state === 'running' && usage ? ` · ${usage}` : '';
    this.description = `${commit} · ${health}${figures}${uptime}${current ? '' : ' · leftover'}`;
    this.iconPath = new vscode.ThemeIcon(container.state === 'running' ? 'pass-filled' : 'circle-slash', new vscode.ThemeColor(container.state === 'running' ? 'testing.iconPassed' : 'disabledForeground'));
    this.contextValue = 'container';
    this.tooltip = [`${container.name}`, container.image, `${container.state}${container.health ? ` (${container.health})` : ''}`, usage ? `CPU · memory / limit: ${usage}` : statsProblem].filter(Boolean).join('\n');
  }
}

export class DeploymentItem extends vscode.TreeItem {
  readonly kind = 'deployment';
  constructor(readonly server: ServerState, readonly entry: HistoryEntry) {
    super(`${entry.commit.slice(0, 7)} ${entry.subject}`, vscode.TreeItemCollapsibleState.None);
    this.id = `deployment:${server.config.name}:${entry.id}`;
    const icon = entry.current ? 'star-full' : entry.result === 'succeeded' ? 'pass' : entry.result === 'cancelled' ? 'circle-slash' : 'error';
    const color = entry.current ? 'charts.green' : entry.result === 'succeeded' ? undefined : entry.result === 'failed' ? 'errorForeground' : 'disabledForeground';
    this.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    const author = entry.author.replace(/\s*<.*>$/, '');
    // An attempt that did not end in a running version says so in words, not only by its icon.
    const outcome = entry.result === 'succeeded' ? '' : `${entry.result} · `;
    this.description = `${entry.current ? 'current · ' : ''}${outcome}${entry.kind === 'rollback' ? 'rollback · ' : ''}${author} · ${since(entry.startedAt)} ago`;
    this.tooltip = new vscode.MarkdownString(deploymentTooltip(entry, new Date(entry.startedAt).toLocaleString()));
    this.contextValue = entry.result === 'succeeded' ? (entry.current ? 'deployment.current' : 'deployment.kept') : 'deployment.failed';
  }
}

export class CommitItem extends vscode.TreeItem {
  readonly kind = 'commit';
  constructor(readonly commit: CommitInfo, deployedOn: string[]) {
    super(`${commit.sha.slice(0, 7)} ${commit.subject}`, vscode.TreeItemCollapsibleState.None);
    this.id = `commit:${commit.sha}`;
    const author = commit.author.replace(/\s*<.*>$/, '');
    this.description = `${deployedOn.length ? `on ${deployedOn.join(', ')} · ` : ''}${author} · ${since(commit.date)} ago`;
    this.iconPath = new vscode.ThemeIcon(deployedOn.length ? 'rocket' : 'git-commit', deployedOn.length ? new vscode.ThemeColor('charts.green') : undefined);
    this.tooltip = `${commit.subject}\n${commit.sha}\n${commit.author}`;
    this.contextValue = 'commit';
  }
}

export class UncommittedItem extends vscode.TreeItem {
  readonly kind = 'uncommitted';
  constructor(paths: string[]) {
    super('Uncommitted changes', vscode.TreeItemCollapsibleState.None);
    this.id = 'uncommitted';
    this.description = `${paths.length} file${paths.length === 1 ? '' : 's'} · not part of a deploy until committed`;
    this.iconPath = new vscode.ThemeIcon('diff-modified', new vscode.ThemeColor('gitDecoration.modifiedResourceForeground'));
    this.tooltip = paths.slice(0, 30).join('\n');
    this.contextValue = 'uncommitted';
  }
}

/** Where the app answers on a server (its proxy host names, or its published port): a click opens it. */
export class UrlItem extends vscode.TreeItem {
  readonly kind = 'url';
  constructor(readonly server: ServerState, readonly url: string) {
    super(displayUrl(url), vscode.TreeItemCollapsibleState.None);
    this.id = `url:${server.config.name}:${url}`;
    this.iconPath = new vscode.ThemeIcon('link-external');
    // The address is known before anything is deployed; say so rather than send users to an error page.
    if (!server.status || server.status.state === 'absent') this.description = 'nothing deployed yet';
    this.tooltip = `Open ${url} in the browser`;
    this.contextValue = 'url';
    this.command = { command: COMMANDS.openInBrowser, title: 'Open in Browser', arguments: [this] };
  }
}

/** The server's shared proxy (Caddy): whether it runs, and which apps it routes for whom. */
export class ProxyItem extends vscode.TreeItem {
  readonly kind = 'proxy';
  constructor(readonly server: ServerState, proxy: ProxyStatus, app: string) {
    super('proxy', vscode.TreeItemCollapsibleState.None);
    this.id = `proxy:${server.config.name}`;
    const mine = proxy.routes.find((r) => r.app === app);
    const others = proxy.routes.filter((r) => r.app !== app).length;
    const version = proxy.version ? `Caddy ${proxy.version.replace(/^v/, '')}` : 'Caddy';
    const describe: Record<ProxyStatus['state'], [string, string, string?]> = {
      absent: ['not started yet: the first deploy starts it', 'circle-outline', 'disabledForeground'],
      running: [`${version} · ${mine ? 'routes this app' : 'not routing this app'}${others ? ` · ${others} other app${others === 1 ? '' : 's'}` : ''}`, 'server-process', 'testing.iconPassed'],
      stopped: [`${version} · stopped: the next deploy starts it`, 'debug-stop', 'problemsWarningIcon.foreground'],
      'not answering': [`${version} · admin API not answering`, 'warning', 'errorForeground'],
    };
    const [text, icon, color] = describe[proxy.state];
    this.description = text;
    this.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    this.tooltip = new vscode.MarkdownString(proxyTooltip(proxy));
    this.contextValue = `proxy.${proxy.state.replace(' ', '-')}`;
  }
}

/** A node of the swarm under its manager: which server it is, its state, the app's tasks on it. */
export class SwarmNodeItem extends vscode.TreeItem {
  readonly kind = 'swarmNode';
  constructor(readonly server: ServerState, readonly node: NodeStatus) {
    super(`node ${node.server ?? node.addr}`, vscode.TreeItemCollapsibleState.None);
    this.id = `swarmNode:${server.config.name}:${node.nodeId}`;
    const tasks = node.tasks.map((t) => `${t.commit?.slice(0, 7) ?? '?'} ${t.state}`).join(', ') || 'no task';
    const off = node.state !== 'ready' || node.availability !== 'active';
    this.description = `${node.role} · ${node.state}${node.availability !== 'active' ? ` · ${node.availability}` : ''} · ${tasks}`;
    const up = node.tasks.some((t) => t.state === 'running');
    this.iconPath = new vscode.ThemeIcon(off ? 'debug-disconnect' : up ? 'pass-filled' : 'circle-outline', new vscode.ThemeColor(off ? 'problemsWarningIcon.foreground' : up ? 'testing.iconPassed' : 'disabledForeground'));
    this.tooltip = [`${node.server ?? '(not in swarm.nodes)'} · ${node.addr} · ${node.nodeId.slice(0, 12)}`, ...node.tasks.map((t) => `task ${t.slot ?? '?'}: ${t.state} ${t.commit?.slice(0, 12) ?? '?'}${t.error ? ` (${t.error})` : ''}`)].join('\n');
    this.contextValue = 'swarmNode';
  }
}

export class MessageItem extends vscode.TreeItem {
  readonly kind = 'message';
  constructor(label: string, icon = 'info', command?: vscode.Command) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.iconPath = new vscode.ThemeIcon(icon);
    this.command = command;
  }
}

export type AnyItem = GroupItem | ServerItem | SwarmNodeItem | ContainerItem | UrlItem | ProxyItem | DeploymentItem | CommitItem | UncommittedItem | MessageItem;

/** "3 min", "2 h", "5 d". */
export function since(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
