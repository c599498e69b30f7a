/** The editor's theme, read from the `--vscode-*` variables VS Code sets on the webview's body. */
import type { ITheme } from '@xterm/xterm';

export const css = (name: string, fallback = '') => getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;

const ANSI = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'] as const;

/** xterm's colours from the editor's: background, text, selection and the terminal's ANSI palette. */
export function terminalTheme(): ITheme {
  const t: ITheme & Record<string, string | undefined> = {
    background: css('--vscode-editor-background', '#1e1e1e'),
    foreground: css('--vscode-terminal-foreground', css('--vscode-editor-foreground', '#cccccc')),
    cursor: css('--vscode-editor-background', '#1e1e1e'),
    selectionBackground: css('--vscode-terminal-selectionBackground', css('--vscode-editor-selectionBackground', '#264f78')),
  };
  // The theme's own terminal colours: xterm's defaults are for a dark background (its yellow
  // is unreadable on a light one).
  for (const name of ANSI) {
    const cap = name[0].toUpperCase() + name.slice(1);
    t[name] = css(`--vscode-terminal-ansi${cap}`) || undefined;
    t[`bright${cap}`] = css(`--vscode-terminal-ansiBright${cap}`) || undefined;
  }
  return t;
}
