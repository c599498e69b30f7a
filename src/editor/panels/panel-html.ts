import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

export interface PanelPage {
  title: string;
  /** Stylesheets and the one script, by file name in dist/webview. */
  styles: string[];
  script: string;
  /** The page's own elements (fixed markup, never data). */
  body: string;
  /** The page's library injects <style> elements (xterm does): styles then allow 'unsafe-inline'. */
  inlineStyles?: boolean;
}

/**
 * The HTML of our webviews, under one strict CSP: nothing fetched from anywhere, scripts only with
 * this page's nonce, styles from the extension's files (and inline only when the page's library
 * needs it). Every panel uses this, so none can loosen the policy by accident.
 */
export function panelHtml(webview: vscode.Webview, extensionUri: vscode.Uri, page: PanelPage): string {
  const nonce = randomBytes(16).toString('base64');
  const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', name));
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}${page.inlineStyles ? " 'unsafe-inline'" : ''}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${page.styles.map((s) => `<link rel="stylesheet" href="${asset(s)}">`).join('\n')}
<title>${page.title}</title>
</head>
<body>
${page.body}
<script nonce="${nonce}" src="${asset(page.script)}"></script>
</body>
</html>`;
}
