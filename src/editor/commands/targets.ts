import * as vscode from 'vscode';
import { resolveTargets, type Targets } from '../../core/config/fleet';
import { asksForTargets, targetPicks } from '../fleet-text';
import { ContainerItem, DeploymentItem, GroupItem, ServerItem, UrlItem, type AnyItem } from '../views/items';
import { currentConfig, type CommandDeps } from './context';

/**
 * Where a deploy or rollback goes: the tree item's group or server; with groups or several
 * servers, the user's pick of a group (showing what each of its servers runs), all, or one
 * server; else the only server.
 */
export async function chooseTargets(deps: CommandDeps, item: AnyItem | undefined, placeHolder: string): Promise<Targets | undefined> {
  const config = currentConfig(deps);
  if (item instanceof GroupItem) return resolveTargets(config, item.name);
  if (item instanceof ServerItem) return resolveTargets(config, item.state.config.name);
  if (item instanceof DeploymentItem || item instanceof ContainerItem || item instanceof UrlItem) return resolveTargets(config, item.server.config.name);
  if (!asksForTargets(config)) return resolveTargets(config);
  const items = targetPicks(config, (n) => deps.model.runs(n)).map((p) =>
    p.heading ? { label: p.label, kind: vscode.QuickPickItemKind.Separator } : { label: p.label, description: p.description, detail: p.detail, target: p.target },
  );
  const picked = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true });
  return picked && 'target' in picked && picked.target ? resolveTargets(config, picked.target) : undefined;
}
