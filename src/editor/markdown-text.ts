/**
 * Values from outside (commit subjects, error messages, Caddy route names, host names) put into
 * a Markdown tooltip: shown as the text they are, never read as Markdown (a subject like
 * "[docs](https://…)" would otherwise become a link, "**" bold, "<br>" HTML). Pure, no vscode.
 */

/**
 * Every ASCII punctuation character backslash-escaped (CommonMark allows it for all of them),
 * so no emphasis, link, heading, list, HTML or entity can start; a line break stays one.
 */
export function mdText(text: string): string {
  return text.replace(/[!-/:-@[-`{-~]/g, '\\$&').replace(/\r?\n/g, '\\\n');
}

/**
 * `text` as inline code: fenced by one more backtick than its longest run of them (no escape
 * works inside code), padded when it starts or ends with one, line breaks as spaces.
 */
export function mdCode(text: string): string {
  const flat = text.replace(/\r?\n/g, ' ');
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}
