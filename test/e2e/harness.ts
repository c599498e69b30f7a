/**
 * The editor tests' world: the packaged extension (.vsix) installed into a real VS Code —
 * code-server, which bundles the VS Code workbench and extension host — driven through Debian's
 * headless Chromium with playwright-core, all offline (recipe: shared/notes/vscode-e2e.md).
 *
 * Each code-server runs with its own scratch HOME, XDG dirs and TMPDIR under one temp folder, in
 * its own process group (setsid), and is killed by group when the test file ends. Tests act as a
 * user does (click, right-click, type into the palette) and assert on what a user sees.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, closeSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { PROJECT } from '../helpers/world';

const run = promisify(execFile);

export const ARTIFACTS = join(PROJECT, 'test-artifacts');
export const EXTENSION_ID = 'baremetal.bare-metal-deploy';
const CHROMIUM = process.env.BM_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** User settings that keep the workbench calm: nothing opens, updates, phones home or asks. */
const SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.colorTheme': 'Default Dark Modern',
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'git.enabled': true,
  'git.autofetch': false,
  'git.openRepositoryInParentFolders': 'never',
  'window.restoreWindows': 'none',
  'editor.minimap.enabled': false,
  'files.autoSave': 'off',
};

/** One folder per test process for every scratch dir; removed by cleanupScratch(). */
let scratchRoot: string | undefined;
function scratch(): string {
  scratchRoot ??= mkdtempSync(join(tmpdir(), 'bm-e2e-'));
  return scratchRoot;
}
export function cleanupScratch(): void {
  if (scratchRoot) rmSync(scratchRoot, { recursive: true, force: true });
  scratchRoot = undefined;
}
export function scratchDir(name: string): string {
  const d = mkdtempSync(join(scratch(), `${name}-`));
  return d;
}

let vsix: Promise<string> | undefined;
/** The .vsix a user installs: BM_E2E_VSIX when the test command built it already, else built here once. */
export function packageVsix(): Promise<string> {
  vsix ??= (async () => {
    const given = process.env.BM_E2E_VSIX;
    if (given && existsSync(given)) return given;
    try {
      const { stdout } = await run('bash', [join(PROJECT, 'scripts', 'e2e', 'package-vsix.sh')], { cwd: PROJECT, maxBuffer: 16 * 1024 * 1024 });
      return stdout.trim().split('\n').pop()!;
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`packaging the extension failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
    }
  })();
  return vsix;
}

let codeServerPath: string | undefined;
/** code-server's launcher (installed by scripts/install-code-server.sh, which is idempotent). */
export function codeServerBin(): string {
  codeServerPath ??= process.env.BM_CODE_SERVER || execFileSync('bash', [join(PROJECT, 'scripts', 'install-code-server.sh')], { encoding: 'utf8' }).trim().split('\n').pop()!;
  return codeServerPath;
}

/** code-server insists on Node 24, installed next to it in the tools folder. */
function node24Dir(bin: string): string {
  const tools = dirname(dirname(dirname(dirname(bin)))); // <tools>/code-server-X/node_modules/.bin/code-server
  const node = readdirSync(tools).find((n) => /^node-24\./.test(n));
  if (!node) throw new Error(`no Node 24 in ${tools}: run scripts/install-code-server.sh`);
  return join(tools, node);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

export interface CodeServerOptions {
  /** Added to code-server's environment, which its extension host inherits. */
  env?: Record<string, string>;
  /** Install the packaged extension (default), or start without it (extension-host tests load it as a development extension). */
  installExtension?: boolean;
  /** `--vscode-option enable-smoke-test-driver`: needed for extension-host tests (window.codeAutomationExit). */
  smokeTestDriver?: boolean;
  port?: number;
  /** Scratch folder name prefix (for logs). */
  name?: string;
  /** User settings on top of the calm defaults. */
  settings?: Record<string, unknown>;
  /** Workspace Trust on, as a user has it (the tests turn it off otherwise): a new folder opens asking whether to trust it. */
  trust?: boolean;
}

/** A running code-server: its own scratch dirs, its own process group. */
export class CodeServer {
  private exited = false;
  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly userDataDir: string,
    readonly extensionsDir: string,
    readonly logFile: string,
    private readonly proc: ChildProcess,
  ) {
    proc.on('exit', () => (this.exited = true));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The workbench URL with `folder` open; `payload` entries go to the workbench (e.g. extensionTestsPath). */
  folderUrl(folder: string, payload?: [string, string][]): string {
    let url = `${this.url}/?folder=${encodeURIComponent(folder)}`;
    if (payload) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    return url;
  }

  /** A path on this machine as the workbench's remote file system names it. */
  remoteUri(path: string): string {
    return `vscode-remote://127.0.0.1:${this.port}${path}`;
  }

  static async start(opts: CodeServerOptions = {}): Promise<CodeServer> {
    const bin = codeServerBin();
    const dir = scratchDir(opts.name ?? 'code-server');
    const d = (name: string) => {
      const p = join(dir, name);
      mkdirSync(p, { recursive: true });
      return p;
    };
    const [home, tmp, userDataDir, extensionsDir] = [d('home'), d('tmp'), d('user-data'), d('extensions')];
    mkdirSync(join(userDataDir, 'User'), { recursive: true });
    writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...SETTINGS, ...(opts.trust && { 'security.workspace.trust.enabled': true }), ...opts.settings }, null, 2));

    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      // Nothing of the test runner's Node or of an enclosing VS Code leaks in (VSCODE_IPC_HOOK_CLI
      // would send --install-extension to another instance).
      if (/^(NODE_OPTIONS|NODE_TEST_CONTEXT|VSCODE_|ELECTRON_|TS_NODE|TSX)/.test(k)) continue;
      env[k] = v;
    }
    Object.assign(env, {
      PATH: `${join(node24Dir(bin), 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: home,
      XDG_CONFIG_HOME: d('xdg/config'),
      XDG_DATA_HOME: d('xdg/data'),
      XDG_CACHE_HOME: d('xdg/cache'),
      XDG_STATE_HOME: d('xdg/state'),
      TMPDIR: tmp,
      SSH_AUTH_SOCK: '',
      ...opts.env,
    });
    const common = ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];

    if (opts.installExtension !== false) {
      const file = await packageVsix();
      try {
        await run(bin, [...common, '--install-extension', file, '--force'], { env, cwd: home, timeout: 120_000 });
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string; message: string };
        throw new Error(`installing ${file} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
      }
    }

    const port = opts.port ?? (await freePort());
    const args = [
      ...common,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      ...(opts.trust ? [] : ['--disable-workspace-trust']),
      '--disable-getting-started-override',
      '--ignore-last-opened',
    ];
    if (opts.smokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
    const logFile = join(dir, 'code-server.log');
    const log = openSync(logFile, 'a');
    // setsid: code-server, its extension hosts and their children form one process group.
    const proc = spawn('setsid', [bin, ...args], { env, cwd: home, stdio: ['ignore', log, log] });
    closeSync(log);
    const cs = new CodeServer(port, dir, userDataDir, extensionsDir, logFile, proc);
    const deadline = Date.now() + 60_000;
    while ((await get(`${cs.url}/healthz`)) !== 200) {
      if (cs.exited || Date.now() > deadline) {
        await cs.stop();
        throw new Error(`code-server did not start (${cs.exited ? 'it exited' : 'no /healthz in 60 s'}):\n${cs.logTail()}`);
      }
      await sleep(200);
    }
    return cs;
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** The extension's log output channel(s), as the workbench wrote them to the logs folder. */
  extensionLogs(): string {
    const out: string[] = [];
    const walk = (p: string) => {
      for (const name of readdirSync(p)) {
        const full = join(p, name);
        if (statSync(full).isDirectory()) walk(full);
        else if (/Bare Metal|baremetal/i.test(full) && full.endsWith('.log')) out.push(`── ${full}\n${readFileSync(full, 'utf8')}`);
      }
    };
    try {
      walk(join(this.userDataDir, 'logs'));
    } catch {
      /* no logs yet */
    }
    return out.join('\n');
  }

  /** Kills the whole process group (code-server, extension hosts, their children). */
  async stop(): Promise<void> {
    const pid = this.proc.pid;
    if (!pid) return;
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-pid, sig);
      } catch {
        /* gone */
      }
    };
    kill('SIGTERM');
    const deadline = Date.now() + 5000;
    while (!this.exited && Date.now() < deadline) await sleep(100);
    kill('SIGKILL'); // stragglers of the group (extension hosts) even when the leader is gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns something truthy; fails with the last value/ error after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 20_000, intervalMs = 250): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(intervalMs);
  }
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
