import { applyEdits, modify, parse } from 'jsonc-parser';
import { CONFIG_FILE } from './load';

export interface NewServer {
  host: string;
  user?: string;
  port?: number;
}

const FORMAT = { formattingOptions: { insertSpaces: true, tabSize: 2, eol: '\n' } };

/** A Docker-repository-safe app name from a folder name ("My App" → "my-app"). */
export function appNameFrom(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, 63);
  return name || 'app';
}

/**
 * baremetal.json with one more server, keeping the user's comments and formatting (the edit
 * goes through jsonc-parser's modify, not a re-serialisation). A new file gets a small start.
 */
export function addServerToConfig(text: string | undefined, name: string, server: NewServer, folderName: string): string {
  const value = Object.fromEntries(Object.entries(server).filter(([, v]) => v !== undefined && v !== ''));
  if (text === undefined || !text.trim()) {
    return `${JSON.stringify(
      {
        app: appNameFrom(folderName),
        servers: { [name]: value },
        build: { dockerfile: 'Dockerfile', context: '.' },
        run: { ports: [] },
        keep: 5,
      },
      null,
      2,
    )}\n`;
  }
  const existing = parse(text) as { servers?: Record<string, unknown> } | undefined;
  if (existing?.servers && name in existing.servers) throw new Error(`${CONFIG_FILE} already has a server named "${name}".`);
  return applyEdits(text, modify(text, ['servers', name], value, FORMAT));
}

/** Host aliases of an ssh_config text (patterns with wildcards or negation are not hosts). */
export function sshConfigHosts(text: string): string[] {
  const hosts: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*Host\s+(.+?)\s*$/i.exec(line);
    if (!m) continue;
    for (const h of m[1].split(/\s+/)) if (!/[*?!]/.test(h) && !hosts.includes(h)) hosts.push(h);
  }
  return hosts;
}
