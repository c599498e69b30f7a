import * as vscode from 'vscode';
import { configFor } from '../../core/config/fleet';
import { resolveSecrets, resolveTlsPair } from '../../core/config/secrets';
import { deploy } from '../../core/deploy/deploy';
import { rollback } from '../../core/deploy/rollback';
import { deployParts } from '../../app/deploy-parts';
import { CommitItem, DeploymentItem, type AnyItem } from '../views/items';
import { chooseServer, currentConfig, runOperation, workspaceDir, type CommandDeps } from './context';

/** Deploys `ref` (a commit, or HEAD) to a server, with progress and Cancel. */
async function deployRef(deps: CommandDeps, ref: string, item?: AnyItem): Promise<void> {
  const app = currentConfig(deps);
  const server = await chooseServer(deps, item);
  if (!server) return;
  // The server's (and its groups') env, secrets and host names.
  const config = configFor(app, server.name);
  const label = ref === 'HEAD' ? 'HEAD' : ref.slice(0, 7);
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

export const deployHead = (deps: CommandDeps) => async () => deployRef(deps, 'HEAD');

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
  const server = await chooseServer(deps, item);
  if (!server) return;
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
