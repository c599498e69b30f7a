/**
 * The developer's agreements about which secrets go to which host, in the user's config folder
 * ($XDG_CONFIG_HOME/baremetal/consent.json, else ~/.config/baremetal/consent.json), shared by
 * the CLI and the editor. Names and sources only (core/config/consent.ts), never a value.
 */
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import type { ConsentStore } from '../core/config/consent';

type Agreements = Record<string, Record<string, string[]>>;

export function consentFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'baremetal', 'consent.json');
}

export class FileConsentStore implements ConsentStore {
  constructor(private readonly file = consentFile()) {}

  async agreed(workspace: string): Promise<Record<string, readonly string[]>> {
    return (await this.read())[workspace] ?? {};
  }

  async agree(workspace: string, host: string, items: readonly string[]): Promise<void> {
    const all = await this.read();
    all[workspace] = { ...all[workspace], [host]: [...items] };
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    // Written whole and renamed into place: two deploys agreeing at once never leave half a file.
    const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
    await fs.writeFile(tmp, `${JSON.stringify({ version: 1, workspaces: all }, null, 2)}\n`, { mode: 0o600 });
    await fs.rename(tmp, this.file);
  }

  private async read(): Promise<Agreements> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
    // A file that is not ours (edited by hand, cut short) counts as no agreement: we ask again.
    try {
      const parsed = JSON.parse(text) as { version?: unknown; workspaces?: unknown };
      if (parsed.version !== 1 || typeof parsed.workspaces !== 'object' || parsed.workspaces === null) return {};
      const out: Agreements = {};
      for (const [ws, hosts] of Object.entries(parsed.workspaces as Record<string, unknown>)) {
        if (typeof hosts !== 'object' || hosts === null) continue;
        out[ws] = {};
        for (const [host, items] of Object.entries(hosts as Record<string, unknown>)) {
          if (Array.isArray(items)) out[ws][host] = items.filter((i): i is string => typeof i === 'string');
        }
      }
      return out;
    } catch {
      return {};
    }
  }
}
