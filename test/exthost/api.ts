import * as vscode from 'vscode';
import type { BareMetalApi } from '../../src/extension';

export const EXTENSION_ID = 'baremetal.bare-metal-deploy';

/** The extension under test, activated; its API is what activate() returned. */
export async function extension(): Promise<{ ext: vscode.Extension<BareMetalApi>; api: BareMetalApi }> {
  const ext = vscode.extensions.getExtension<BareMetalApi>(EXTENSION_ID);
  if (!ext) throw new Error(`${EXTENSION_ID} is not loaded`);
  const api = await ext.activate();
  return { ext, api };
}

export function workspaceDir(): string {
  const dir = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!dir) throw new Error('no workspace folder open');
  return dir;
}

/** Replaces window.showErrorMessage (the extension's API object is this one) and records what it was asked to show. */
export function captureErrors(): { messages: string[]; restore(): void } {
  const original = vscode.window.showErrorMessage;
  const messages: string[] = [];
  (vscode.window as { showErrorMessage: unknown }).showErrorMessage = (message: string) => {
    messages.push(message);
    return Promise.resolve(undefined);
  };
  return { messages, restore: () => ((vscode.window as { showErrorMessage: unknown }).showErrorMessage = original) };
}

export async function eventually<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
