import * as vscode from 'vscode';
import { rolesOn } from '../../core/config/fleet';
import { resolveSecrets } from '../../core/config/secrets';
import { LABEL } from '../../core/deploy/labels';
import type { Config, ServerConfig } from '../../core/config/types';
import { asBmError } from '../../core/errors';
import { appContainer, execInApp, inAppSecrets, runInApp } from '../../core/exec/in-app';
import { splitCommand } from '../../core/exec/split-command';
import { AppTerminal, type TerminalJob } from '../terminals/app-terminal';
import { ContainerItem, type AnyItem } from '../views/items';
import { agreeToSecrets } from './consent';
import { chooseServer, currentConfig, type CommandDeps } from './context';
import { COMMANDS } from './ids';

/** Open Shell: an editor terminal into the app's running container on the item's server (or the one picked). */
export const openShell = (deps: CommandDeps) => async (item?: AnyItem) => {
  const file = currentConfig(deps);
  const server = await chooseServer(deps, item);
  const config = server && (await chooseRole(file, server, item));
  if (!server || !config) return;
  // Masked in what the terminal itself writes; one that cannot be read opens nothing.
  let secrets: Record<string, string>;
  try {
    secrets = await inAppSecrets(file, server.name);
  } catch (e) {
    void vscode.window.showErrorMessage(asBmError(e).message);
    return;
  }
  if (!(await isRunning(deps, config, server))) return;
  openTerminal(deps, `${config.app}@${server.name}`, {
    kind: 'shell',
    serverName: server.name,
    secrets,
    start: async (size) => execInApp({ server: await deps.pool.get(server), serverName: server.name, config, tty: true, stdin: true, size }),
  });
};

/** Run Command…: a one-off command in a new container of the running image, with the app's env, secrets and volumes. */
export const runCommand = (deps: CommandDeps) => async (item?: AnyItem) => {
  const file = currentConfig(deps);
  const server = await chooseServer(deps, item);
  const config = server && (await chooseRole(file, server, item));
  if (!server || !config) return;
  const typed = await vscode.window.showInputBox({
    title: `Run a command in a new container of ${config.app} on ${server.name}`,
    prompt: "With the app's env, secrets and volumes, like run.release. Words are split like a shell's; for pipes or &&, type sh -c '…'.",
    placeHolder: './manage.py migrate',
    ignoreFocusOut: true,
  });
  if (!typed?.trim()) return;
  let command: string[];
  let secrets: Record<string, string>;
  let mask: Record<string, string>;
  try {
    command = splitCommand(typed);
    // The app's env goes to a new container: the same question as a deploy before a secret goes
    // to this host for the first time (run sends no build or TLS secret, so only those are asked).
    if (!(await agreeToSecrets(file, [server.name], process.env, ['run']))) return;
    secrets = await resolveSecrets(config);
    mask = await inAppSecrets(file, server.name);
  } catch (e) {
    void vscode.window.showErrorMessage(asBmError(e).message);
    return;
  }
  if (!(await isRunning(deps, config, server))) return;
  openTerminal(deps, `${config.app}@${server.name} (run)`, {
    kind: 'run',
    serverName: server.name,
    secrets: mask,
    start: async (size) => runInApp({ server: await deps.pool.get(server), serverName: server.name, config, command, secrets, tty: true, stdin: true, size }),
  });
};

/**
 * With roles, which one to open into: the one whose container was clicked, the only one placed
 * on the server, or the one picked. The role's config (APP-ROLE) finds its own containers.
 */
async function chooseRole(config: Config, server: ServerConfig, item?: AnyItem): Promise<Config | undefined> {
  const roles = rolesOn(config, server.name);
  if (roles.length < 2) return roles[0] ?? config;
  const clicked = item instanceof ContainerItem ? roles.find((r) => r.app === item.container.labels[LABEL.app]) : undefined;
  if (clicked) return clicked;
  const picked = await vscode.window.showQuickPick(
    roles.map((r) => ({ label: r.role ?? r.app, description: r.run.command?.join(' ') ?? "the image's command", config: r })),
    { placeHolder: `Which role of ${config.app} on ${server.name}?` },
  );
  return picked?.config;
}

/** Before a terminal opens: nothing running is a message offering to deploy, not an empty terminal. */
async function isRunning(deps: CommandDeps, config: Config, server: ServerConfig): Promise<boolean> {
  try {
    await appContainer(await deps.pool.get(server), config, server.name);
    return true;
  } catch (e) {
    const err = asBmError(e);
    deps.logger.warn(err.message);
    if (err.code === 'NotRunning') {
      const choice = await vscode.window.showWarningMessage(err.message, 'Deploy HEAD');
      if (choice) await vscode.commands.executeCommand(COMMANDS.deployHead);
    } else {
      void vscode.window.showErrorMessage(err.message);
    }
    return false;
  }
}

/** The name says where (app@server), never what was typed: a command line may hold a secret. */
function openTerminal(deps: CommandDeps, name: string, job: TerminalJob): void {
  const terminal = vscode.window.createTerminal({ name, pty: new AppTerminal(job, deps.logger), iconPath: new vscode.ThemeIcon(job.kind === 'shell' ? 'terminal' : 'run') });
  terminal.show();
}
