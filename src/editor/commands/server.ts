import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { addServerToConfig, sshConfigHosts } from '../../core/config/edit';
import { CONFIG_FILE } from '../../core/config/load';
import { asBmError } from '../../core/errors';
import { ServerItem, type AnyItem } from '../views/items';
import { chooseServer, workspaceDir, type CommandDeps } from './context';

const HOST_PATTERN = /^[^\s-][^\s]*$/;

/** Guided: a host from ~/.ssh/config or typed, user, port, a name; written into baremetal.json. */
export const addServer = (deps: CommandDeps) => async () => {
  const sshConfig = process.env.BAREMETAL_SSH_CONFIG || join(os.homedir(), '.ssh', 'config');
  const known = sshConfigHosts(await readFile(sshConfig, 'utf8').catch(() => ''));
  const from = process.env.BAREMETAL_SSH_CONFIG ? `from ${sshConfig}` : 'from ~/.ssh/config';
  const typeOne = '$(edit) Type a host name or address…';
  const picked = await vscode.window.showQuickPick([...known.map((h) => ({ label: h, description: from })), { label: typeOne, description: '' }], {
    placeHolder: 'Which server? (hosts of your ssh config, or type one)',
  });
  if (!picked) return;
  const fromConfig = picked.label !== typeOne;
  const host = fromConfig
    ? picked.label
    : await vscode.window.showInputBox({ prompt: 'Host name or address', validateInput: (v) => (HOST_PATTERN.test(v) ? undefined : 'A host name or address, without spaces') });
  if (!host) return;
  const user = await vscode.window.showInputBox({
    prompt: `SSH user on ${host}`,
    placeHolder: fromConfig ? 'leave empty to use the User of your ssh config' : os.userInfo().username,
    validateInput: (v) => (!v || HOST_PATTERN.test(v) ? undefined : 'A user name, without spaces'),
  });
  if (user === undefined) return;
  const port = await vscode.window.showInputBox({
    prompt: `SSH port of ${host}`,
    placeHolder: '22',
    validateInput: (v) => (!v || (/^\d+$/.test(v) && Number(v) > 0 && Number(v) < 65536) ? undefined : 'A port number from 1 to 65535'),
  });
  if (port === undefined) return;
  const suggested = host.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'server';
  const name = await vscode.window.showInputBox({
    prompt: 'A name for this server in baremetal.json',
    value: suggested,
    validateInput: (v) => (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v) ? undefined : 'Letters, digits, ".", "_" and "-"'),
  });
  if (!name) return;
  const dir = workspaceDir();
  const file = join(dir, CONFIG_FILE);
  try {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    await writeFile(file, addServerToConfig(text, name, { host, user: user || undefined, port: port ? Number(port) : undefined }, basename(dir)));
  } catch (e) {
    void vscode.window.showErrorMessage(asBmError(e).message);
    return;
  }
  await vscode.window.showTextDocument(vscode.Uri.file(file));
  await deps.model.refresh();
};

/** Shows the fingerprint; trusts (appends to known_hosts) only on an explicit yes. */
export const trustServer = (deps: CommandDeps) => async (item?: AnyItem) => {
  const server = await chooseServer(deps, item);
  if (!server) return;
  try {
    const key = await deps.pool.unknownHostKey(server);
    if (!key) {
      void vscode.window.showInformationMessage(`${server.name}'s host key is already trusted.`);
      await deps.model.refresh();
      return;
    }
    const answer = await vscode.window.showWarningMessage(
      `Trust the host key of ${server.name}?`,
      {
        modal: true,
        detail: `${key.host}:${key.port} presents this ${key.keyType} key:\n\n${key.fingerprint}\n\nTrust it only if it matches the server's own (ssh-keygen -lf /etc/ssh/ssh_host_${key.keyType.replace(/^ssh-/, '')}_key.pub on the server). It will be added to ${key.knownHostsFile}.`,
      },
      'Trust',
    );
    if (answer !== 'Trust') return;
    await deps.pool.trust(key);
    deps.logger.info(`trusted ${server.name}'s ${key.keyType} key ${key.fingerprint} (${key.knownHostsFile})`);
    await deps.model.refresh();
  } catch (e) {
    void vscode.window.showErrorMessage(asBmError(e).message);
  }
};

/** A click on a server that is not connected: its one sentence, and what can be done. */
export const showServerProblem = (deps: CommandDeps) => async (item?: AnyItem) => {
  if (!(item instanceof ServerItem)) return;
  const message = item.state.error?.message ?? `${item.state.config.name} is not connected.`;
  const choice = await vscode.window.showErrorMessage(message, 'Retry', 'Open Configuration', 'Show Log');
  if (choice === 'Retry') await deps.model.refresh();
  if (choice === 'Open Configuration') await vscode.commands.executeCommand('baremetal.openConfiguration');
  if (choice === 'Show Log') deps.channel.show(true);
};
