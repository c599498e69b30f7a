/**
 * Secret values for run.secrets: from the environment first (CI, a shell export), else from the
 * untracked `.baremetal.secrets` next to baremetal.json. Values never appear in messages.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { BmError } from '../errors';
import type { Config } from './types';

export const SECRETS_FILE = '.baremetal.secrets';

export async function resolveSecrets(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  return resolveSecretNames(config, config.run.secrets, env);
}

/** The certificate and key of proxy.tls when they are named as secrets (values from the same sources). */
export async function resolveTlsPair(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<{ cert: string; key: string } | undefined> {
  const tls = config.proxy?.tls;
  if (typeof tls !== 'object') return undefined;
  const v = await resolveSecretNames(config, [tls.cert, tls.key], env);
  return { cert: v[tls.cert], key: v[tls.key] };
}

/** The values of build.secrets, from the same sources as run secrets. */
export async function resolveBuildSecrets(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  return resolveSecretNames(config, config.build.secrets, env);
}

export async function resolveSecretNames(config: Pick<Config, 'dir' | 'secretsFile'>, names: readonly string[], env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  let fromFile: Map<string, string> | undefined; // read only if the environment falls short
  // A server or group may read its secrets from its own file (staging and production apart).
  const file = config.secretsFile ?? SECRETS_FILE;
  for (const name of names) {
    let value = env[name];
    if (value === undefined) {
      fromFile ??= await readSecretsFile(path.join(config.dir, file));
      value = fromFile.get(name);
    }
    if (value === undefined) {
      throw new BmError('SecretMissing', `Secret "${name}" has no value: set it in the environment or in ${file} (kept out of git).`);
    }
    values[name] = value;
  }
  return values;
}

async function readSecretsFile(file: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new BmError('SecretMissing', `Cannot read ${file}: ${(e as Error).message}.`, undefined, { cause: e });
  }
  return parseSecrets(text, file);
}

/**
 * dotenv-like: `KEY=VALUE` lines, `#` comment lines, an optional `export ` prefix, values
 * optionally in single quotes (taken literally) or double quotes (\n, \" and \\ escapes).
 * An unquoted value ends at ` #` so a trailing comment is not taken for part of a password.
 * Errors name the line, never its content: the line holds a secret.
 */
export function parseSecrets(text: string, file = SECRETS_FILE): Map<string, string> {
  const out = new Map<string, string>();
  text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((rawLine, i) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      throw new BmError('ConfigInvalid', `${file}:${i + 1}: expected NAME=value (a variable name, "=", then the value).`);
    }
    out.set(m[1], unquote(m[2], file, i + 1));
  });
  return out;
}

function unquote(v: string, file: string, line: number): string {
  const q = v[0];
  if (q === '"' || q === "'") {
    const end = q === "'" ? v.indexOf("'", 1) : closingDoubleQuote(v);
    const rest = end < 0 ? '' : v.slice(end + 1).trim();
    if (end < 0 || (rest !== '' && !rest.startsWith('#'))) {
      throw new BmError('ConfigInvalid', `${file}:${line}: the quoted value is not closed, or text follows its closing quote.`);
    }
    const inner = v.slice(1, end);
    return q === "'" ? inner : inner.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c));
  }
  return v.replace(/\s+#.*$/, '').trim();
}

function closingDoubleQuote(v: string): number {
  for (let i = 1; i < v.length; i++) {
    if (v[i] === '\\') i++;
    else if (v[i] === '"') return i;
  }
  return -1;
}

/** Replaces every secret value in `text` with *** (for logs). Values under 4 characters are left:
 * masking "1" or "on" would shred the log while protecting nothing. */
export function redact(text: string, secrets: Record<string, string>): string {
  // Longest first, so a value that contains another is masked whole.
  const values = [...new Set(Object.values(secrets))].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  for (const v of values) text = text.split(v).join('***');
  return text;
}
