import * as vscode from 'vscode';
import { configFor, isRollout, type Targets } from '../../core/config/fleet';
import { resolveSecrets, resolveTlsPair } from '../../core/config/secrets';
import { deploy } from '../../core/deploy/deploy';
import { rollback } from '../../core/deploy/rollback';
import { rolloutDeploy, rolloutRollback } from '../../core/deploy/rollout';
import { deployParts, fleetParts } from '../../app/deploy-parts';
import { CommitItem, DeploymentItem, type AnyItem } from '../views/items';
import { currentConfig, runOperation, workspaceDir, type CommandDeps } from './context';
import { runRollout } from './rollout-run';
import { chooseTargets } from './targets';

/** Deploys `ref` (a commit, or HEAD) to a server, a group or all, with progress and Cancel. */
async function deployRef(deps: CommandDeps, ref: string, item?: AnyItem): Promise<void> {
  const app = currentConfig(deps);
  const label = ref === 'HEAD' ? 'HEAD' : ref.slice(0, 7);
  const targets = await chooseTargets(deps, item, `Deploy ${label} to which group or server?`);
  if (!targets) return;
  if (isRollout(app, targets)) {
    await runRollout(deps, app, targets, 'deploy', `Deploying ${label} to ${targets.name}`, async (fleet, signal) =>
      rolloutDeploy({ ...fleet, ...(await fleetParts(app, process.env, workspaceDir())) }, { ref, signal }),
    );
    return;
  }
  const server = targets.servers[0];
  // The server's (and its groups') env, secrets and host names.
  const config = configFor(app, server.name);
  await runOperation(deps, `Deploying ${label} to ${server.name}`, async (signal, progress) => {
    const secrets = await resolveSecrets(config);
    progress({ phase: 'connect', message: `Connecting to ${server.name}` });
    const connected = await deps.pool.get(server, signal);
    const parts = await deployParts(config, connected, process.env, workspaceDir());
    return deploy(
      {
        config,
        server: connected,
        serverName: server.name,
        ...parts,
        secrets,
        logger: deps.logger,
        progress,
        who: deps.who,
        reconnect: () => deps.pool.get(server, signal),
      },
      { ref, signal },
    );
  });
}

/** From a server's or a group's item: there; from the palette or the view's title: where the user picks. */
export const deployHead = (deps: CommandDeps) => async (item?: AnyItem) => deployRef(deps, 'HEAD', item instanceof CommitItem ? undefined : item);

/** From a Commits item: that commit; from the palette: a quick pick of recent commits. */
export const deployCommit = (deps: CommandDeps) => async (item?: AnyItem) => {
  if (item instanceof CommitItem) return deployRef(deps, item.commit.sha);
  const picked = await vscode.window.showQuickPick(
    deps.model.commits.map((c) => ({ label: `${c.sha.slice(0, 7)} ${c.subject}`, description: c.author.replace(/\s*<.*>$/, ''), sha: c.sha })),
    { placeHolder: 'Deploy which commit?', matchOnDescription: true },
  );
  if (picked) await deployRef(deps, picked.sha);
};

/** From a Deployments item: that deploy; from the palette: a quick pick of kept deploys. */
export const rollbackTo = (deps: CommandDeps) => async (item?: AnyItem) => {
  const app = currentConfig(deps);
  const targets = await chooseTargets(deps, item, 'Roll back which group or server?');
  if (!targets) return;
  if (isRollout(app, targets) && !(item instanceof DeploymentItem)) return rollbackFleet(deps, targets);
  const server = targets.servers[0];
  const config = configFor(app, server.name);
  let commit: string | undefined;
  if (item instanceof DeploymentItem) {
    commit = item.entry.commit;
  } else {
    const history = deps.model.servers.get(server.name)?.history ?? [];
    const seen = new Set<string>();
    const choices = history.filter((h) => h.result === 'succeeded' && !seen.has(h.commit) && seen.add(h.commit));
    if (!choices.length) {
      void vscode.window.showInformationMessage(`No earlier deploy of ${config.app} on ${server.name} to roll back to.`);
      return;
    }
    const picked = await vscode.window.showQuickPick(
      choices.map((h) => ({ label: `${h.commit.slice(0, 7)} ${h.subject}`, description: h.current ? 'running now' : new Date(h.startedAt).toLocaleString(), commit: h.commit })),
      { placeHolder: `Roll ${server.name} back to which deploy?` },
    );
    commit = picked?.commit;
  }
  if (!commit) return;
  const to = commit;
  await runOperation(deps, `Rolling ${server.name} back to ${to.slice(0, 7)}`, async (signal, progress) => {
    const secrets = await resolveSecrets(config);
    const connected = await deps.pool.get(server, signal);
    const tlsPair = await resolveTlsPair(config);
    return rollback({ config, server: connected, serverName: server.name, secrets, tlsPair, logger: deps.logger, progress, who: deps.who }, { to, signal });
  });
};

/**
 * A group's (or all servers') rollback: each server back on its previous deploy, or on one
 * commit every one of them has kept.
 */
async function rollbackFleet(deps: CommandDeps, targets: Targets): Promise<void> {
  const app = currentConfig(deps);
  const names = targets.servers.map((s) => s.name);
  const kept = names.map((n) => new Set((deps.model.servers.get(n)?.history ?? []).filter((h) => h.result === 'succeeded').map((h) => h.commit)));
  const seen = new Set<string>();
  const everywhere = (deps.model.servers.get(names[0])?.history ?? []).filter((h) => h.result === 'succeeded' && kept.every((k) => k.has(h.commit)) && !seen.has(h.commit) && seen.add(h.commit));
  const picked = await vscode.window.showQuickPick(
    [
      { label: 'Previous deploy', description: 'each server back on the deploy before its current one', to: undefined as string | undefined },
      ...everywhere.map((h) => ({ label: `${h.commit.slice(0, 7)} ${h.subject}`, description: `kept on ${targets.name}`, to: h.commit })),
    ],
    { placeHolder: `Roll ${targets.name} back to what?` },
  );
  if (!picked) return;
  const what = picked.to ? picked.to.slice(0, 7) : 'the previous deploy';
  await runRollout(deps, app, targets, 'rollback', `Rolling ${targets.name} back to ${what}`, (fleet, signal) => rolloutRollback(fleet, { to: picked.to, signal }));
}
