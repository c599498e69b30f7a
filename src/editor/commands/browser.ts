import * as vscode from 'vscode';
import { appAddress } from '../app-url';
import { UrlItem, type AnyItem } from '../views/items';
import { chooseServer, currentConfig, type CommandDeps } from './context';
import { COMMANDS } from './ids';

/**
 * Opens where the app answers: a URL item's address; else, for the item's server (or the one
 * picked), the proxy's host names or the first published port at the server's address. Through
 * `env.openExternal`, so VS Code's link protection asks before an untrusted site opens.
 */
export const openInBrowser = (deps: CommandDeps) => async (item?: AnyItem) => {
  if (item instanceof UrlItem) return open(item.url);
  const config = currentConfig(deps);
  let serverName = '';
  let host: string | undefined;
  // Behind the proxy every server answers under the same host names: no server to pick.
  if (!config.proxy) {
    const server = await chooseServer(deps, item);
    if (!server) return;
    serverName = server.name;
    // Known from its connection; resolved as ssh would when it has none yet.
    host = deps.model.servers.get(server.name)?.address ?? (await deps.pool.target(server)).host;
  }
  const { urls, problem } = appAddress(config, serverName, host);
  if (problem) {
    const choice = await vscode.window.showWarningMessage(problem, 'Open Configuration');
    if (choice) await vscode.commands.executeCommand(COMMANDS.openConfiguration);
    return;
  }
  const url =
    urls.length > 1
      ? (await vscode.window.showQuickPick(urls.map((u) => ({ label: u })), { placeHolder: `Open ${config.app} at…` }))?.label
      : urls[0];
  if (url) await open(url);
};

async function open(url: string): Promise<void> {
  await vscode.env.openExternal(vscode.Uri.parse(url));
}
