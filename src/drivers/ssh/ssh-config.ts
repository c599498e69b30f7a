/**
 * Resolves a server name to connection settings the way `ssh <alias>` would, because ssh2 never
 * reads ~/.ssh/config and users expect their aliases, users, keys and jump hosts to just work.
 *
 * Preferred: `ssh -G`, which prints OpenSSH's own resolution (Include, Match, tokens, defaults).
 * Fallback when no `ssh` binary exists: the `ssh-config` npm package, which does NOT follow
 * `Include` and never runs `Match exec` (treated as not matching), so results can differ there.
 */
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SSHConfig } from 'ssh-config';
import { BmError } from '../../core/errors';

export interface SshTarget {
  alias: string;
  /** HostName */
  host: string;
  port: number;
  user: string;
  /** Only existing files, `~` and tokens expanded. */
  identityFiles: string[];
  identitiesOnly: boolean;
  /** Raw value, e.g. "user@jump:2222,other". */
  proxyJump?: string;
  /** UserKnownHostsFile list, expanded; default ~/.ssh/known_hosts ~/.ssh/known_hosts2. */
  knownHostsFiles: string[];
  /** GlobalKnownHostsFile list (read, never written); default /etc/ssh/ssh_known_hosts and ssh_known_hosts2. */
  globalKnownHostsFiles?: string[];
  hostKeyAlias?: string;
  connectTimeoutSeconds?: number;
}

export interface SshOverrides {
  user?: string;
  port?: number;
  identityFile?: string;
}

export interface ResolveOptions {
  /** Like `ssh -F`: read only this file (not ~/.ssh/config nor the system file). */
  configFile?: string;
  /** Environment for the `ssh` process (PATH decides which ssh runs). */
  env?: NodeJS.ProcessEnv;
  /** false forces the npm fallback even when `ssh` is installed. */
  useOpenSsh?: boolean;
}

/** Settings as `ssh -G` names them (lower case); identityfile may repeat. */
type Resolved = Map<string, string[]>;

/** What OpenSSH tries when the config names no IdentityFile (and what `ssh -G` then lists). */
const DEFAULT_IDENTITIES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'];

export async function resolveSshTarget(
  alias: string,
  overrides: SshOverrides = {},
  opts: ResolveOptions = {},
): Promise<SshTarget> {
  // The alias ends up as an argument to `ssh`; an option-looking or multi-word value must never
  // reach it (`-oProxyCommand=...` would run a command).
  if (alias === '' || alias.startsWith('-') || /[\s\x00-\x1f\x7f]/.test(alias)) {
    throw new BmError('ConfigInvalid', `"${alias.replace(/[\x00-\x1f\x7f]/g, '?')}" is not a valid SSH host name or alias; use a name from ~/.ssh/config or a host name.`);
  }
  if (overrides.port !== undefined && !validPort(overrides.port)) {
    throw new BmError('ConfigInvalid', `Port ${overrides.port} for server "${alias}" must be a whole number from 1 to 65535.`);
  }
  let resolved: Resolved | undefined;
  if (opts.useOpenSsh !== false) resolved = await runSshG(alias, overrides, opts);
  resolved ??= await computeWithPackage(alias, overrides, opts.configFile);
  return toTarget(alias, resolved, overrides);
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** Returns undefined when there is no `ssh` binary to ask. */
function runSshG(alias: string, overrides: SshOverrides, opts: ResolveOptions): Promise<Resolved | undefined> {
  const args = ['-G'];
  if (opts.configFile) args.push('-F', opts.configFile);
  if (overrides.port !== undefined) args.push('-p', String(overrides.port));
  if (overrides.user) args.push('-l', overrides.user);
  args.push('--', alias);
  return new Promise((resolve, reject) => {
    // Argument array, no shell. The timeout guards against a hanging `Match exec`.
    execFile('ssh', args, { env: opts.env ?? process.env, timeout: 15_000, windowsHide: true, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return resolve(undefined);
      if (err) {
        const why = String(stderr).trim().split('\n')[0] || err.message;
        return reject(new BmError('ConfigInvalid', `OpenSSH could not resolve "${alias}": ${why}. Check your SSH configuration.`, String(stderr), { cause: err }));
      }
      const map: Resolved = new Map();
      for (const line of String(stdout).split(/\r?\n/)) {
        const m = /^(\S+)\s+(.*)$/.exec(line);
        if (!m) continue;
        const key = m[1]!.toLowerCase();
        // Repeated keys (identityfile) accumulate; the value keeps its spaces as printed.
        map.set(key, [...(map.get(key) ?? []), m[2]!]);
      }
      resolve(map);
    });
  });
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function computeWithPackage(alias: string, overrides: SshOverrides, configFile?: string): Promise<Resolved> {
  const home = homeDir();
  const files = configFile
    ? [configFile]
    : [path.join(home, '.ssh', 'config'), process.platform === 'win32' ? path.join(process.env.PROGRAMDATA ?? 'C:\\ProgramData', 'ssh', 'ssh_config') : '/etc/ssh/ssh_config'];
  // Like ssh: "user@host" names the user (below -l) and the host to match.
  const at = alias.lastIndexOf('@');
  const hostPart = at >= 0 ? alias.slice(at + 1) : alias;
  const map: Resolved = new Map();
  if (overrides.user) map.set('user', [overrides.user]);
  else if (at > 0) map.set('user', [alias.slice(0, at)]);
  if (overrides.port !== undefined) map.set('port', [String(overrides.port)]);
  for (const file of files) {
    const text = await readIfExists(file);
    if (text === undefined) {
      if (file === configFile) throw new BmError('ConfigInvalid', `SSH config file ${file} does not exist.`);
      continue;
    }
    let computed: Record<string, string | string[]>;
    try {
      const parsed = SSHConfig.parse(text);
      const how = { ignoreCase: true, matchExec: false };
      // A user known up front takes part in `Match user`, as with ssh -l.
      const user = map.get('user')?.[0];
      computed = user ? parsed.compute({ Host: hostPart, User: user }, how) : parsed.compute(hostPart, how);
    } catch (e) {
      throw new BmError('ConfigInvalid', `Could not read SSH config file ${file}: ${(e as Error).message}`, undefined, { cause: e });
    }
    // Files are read in ssh's order; the first value obtained wins, identity files accumulate.
    for (const [key, value] of Object.entries(computed)) {
      const values = Array.isArray(value) ? value : [value];
      if (key === 'identityfile') map.set(key, [...(map.get(key) ?? []), ...values]);
      else if (key === 'userknownhostsfile') { if (!map.has(key)) map.set(key, [values.join(' ')]); }
      else if (!map.has(key)) map.set(key, [values[0] ?? '']);
    }
  }
  const hostName = map.get('hostname')?.[0];
  map.set('hostname', [hostName ? hostName.replace(/%(.)/g, (all, c: string) => (c === 'h' ? hostPart : c === '%' ? '%' : all)) : hostPart]);
  return map;
}

function homeDir(): string {
  // OpenSSH expands ~ from the password database, not $HOME.
  try {
    return os.userInfo().homedir || os.homedir();
  } catch {
    return os.homedir();
  }
}

function localUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'root';
  }
}

interface TokenContext { host: string; user: string; port: number; alias: string }

/** `~/` and the ssh_config TOKENS that make sense for a file name; unknown tokens stay as written. */
export function expandSshPath(value: string, ctx: TokenContext): string {
  const home = homeDir();
  let out = value.replace(/%(.)/g, (all, c: string) => {
    switch (c) {
      case '%': return '%';
      case 'd': return home;
      case 'u': return localUser();
      case 'h': return ctx.host;
      case 'r': return ctx.user;
      case 'p': return String(ctx.port);
      case 'n': return ctx.alias;
      case 'l': return os.hostname().split('.')[0]!;
      case 'L': return os.hostname();
      case 'i': return typeof process.getuid === 'function' ? String(process.getuid()) : all;
      default: return all;
    }
  });
  if (out === '~' || out.startsWith('~/') || out.startsWith('~\\')) out = home + out.slice(1);
  return path.normalize(out);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

async function toTarget(alias: string, r: Resolved, overrides: SshOverrides): Promise<SshTarget> {
  const one = (key: string): string | undefined => {
    const v = r.get(key)?.[0];
    return v === undefined || v === '' || v.toLowerCase() === 'none' ? undefined : v;
  };
  // ssh lower-cases the host name after matching Host blocks; known_hosts lookups rely on it.
  const host = (one('hostname') ?? alias).toLowerCase();
  const user = overrides.user || one('user') || localUser();
  const portText = one('port') ?? '22';
  const port = Number(portText);
  if (!validPort(port)) throw new BmError('ConfigInvalid', `Port "${portText}" for "${alias}" in your SSH configuration is not a valid port.`);
  const ctx: TokenContext = { host, user, port, alias };

  let configured = (r.get('identityfile') ?? []).filter((f) => f.toLowerCase() !== 'none');
  if (!r.has('identityfile')) configured = DEFAULT_IDENTITIES.map((n) => `~/.ssh/${n}`);
  const identityFiles: string[] = [];
  if (overrides.identityFile) {
    const own = expandSshPath(overrides.identityFile, ctx);
    // An explicitly configured key that is missing is a mistake worth telling, unlike defaults.
    if (!(await exists(own))) throw new BmError('ConfigInvalid', `The identity file ${own} configured for "${alias}" does not exist.`);
    identityFiles.push(own);
  }
  for (const f of configured) {
    const file = expandSshPath(f, ctx);
    if (!identityFiles.includes(file) && (await exists(file))) identityFiles.push(file);
  }

  // `ssh -G` prints the list space-separated (already expanded); the npm package keeps it as written.
  const fileList = (value: string | undefined, defaults: string[]) =>
    (value ? value.split(/\s+/) : defaults).filter((f) => f !== '' && f.toLowerCase() !== 'none').map((f) => expandSshPath(f, ctx));
  const knownHostsFiles = fileList(one('userknownhostsfile'), ['~/.ssh/known_hosts', '~/.ssh/known_hosts2']);
  // The administrator's keys (and @revoked / @cert-authority lines) count as OpenSSH counts them.
  const globalKnownHostsFiles = fileList(one('globalknownhostsfile'), ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);

  const target: SshTarget = {
    alias,
    host,
    port,
    user,
    identityFiles,
    identitiesOnly: one('identitiesonly')?.toLowerCase() === 'yes',
    knownHostsFiles,
    globalKnownHostsFiles,
  };
  const proxyJump = one('proxyjump');
  if (proxyJump) target.proxyJump = proxyJump;
  const hostKeyAlias = one('hostkeyalias');
  if (hostKeyAlias) target.hostKeyAlias = hostKeyAlias;
  const timeout = Number(one('connecttimeout'));
  if (Number.isFinite(timeout) && timeout > 0) target.connectTimeoutSeconds = timeout;
  return target;
}
