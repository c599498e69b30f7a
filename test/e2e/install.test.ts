/**
 * The front door: the packaged .vsix, installed as a user installs it into a clean VS Code
 * profile (code-server with fresh user-data and extensions dirs), lists, activates on a workspace
 * with a baremetal.json, and leaves no error of ours in the logs. Needs no test servers: the
 * workspace's server is an address nobody answers at.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { makeWorkspace, PROJECT, type Workspace } from '../helpers/world';
import { CodeServer, codeServerBin, EXTENSION_ID, packageVsix, scratchDir, waitFor } from './harness';
import { e2eSession, Workbench } from './workbench';

const run = promisify(execFile);
const MANIFEST = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { version: string; repository: { url: string } };
const VERSION = MANIFEST.version;
const REPOSITORY = MANIFEST.repository.url;
/** Nothing answers there: the server is shown unreachable, which is a warning, not an error. */
const UNREACHABLE = '10.213.250.2';
const TEST_TIMEOUT = 120_000;

const session = e2eSession();

/** The code-server CLI (install, list) as a user runs it, on a profile of its own in scratch dirs. */
function cliProfile(): { env: NodeJS.ProcessEnv; common: string[]; extensionsDir: string } {
  const dir = scratchDir('cli');
  const d = (name: string) => {
    const p = join(dir, name);
    mkdirSync(p, { recursive: true });
    return p;
  };
  const bin = codeServerBin();
  // code-server insists on Node 24, installed next to it: <tools>/code-server-X/node_modules/.bin/code-server.
  const tools = dirname(dirname(dirname(dirname(bin))));
  const node24 = readdirSync(tools).find((n) => /^node-24\./.test(n));
  if (!node24) throw new Error(`no Node 24 in ${tools}: run scripts/install-code-server.sh`);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(NODE_OPTIONS|NODE_TEST_CONTEXT|VSCODE_|ELECTRON_|TS_NODE|TSX)/.test(k)) env[k] = v;
  Object.assign(env, {
    PATH: `${join(tools, node24, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: d('home'),
    XDG_CONFIG_HOME: d('xdg/config'),
    XDG_DATA_HOME: d('xdg/data'),
    XDG_CACHE_HOME: d('xdg/cache'),
    XDG_STATE_HOME: d('xdg/state'),
    TMPDIR: d('tmp'),
  });
  const extensionsDir = d('extensions');
  return { env, common: ['--user-data-dir', d('user-data'), '--extensions-dir', extensionsDir], extensionsDir };
}

async function codeServerCli(profile: { env: NodeJS.ProcessEnv; common: string[] }, ...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(codeServerBin(), [...profile.common, ...args], { env: profile.env, cwd: profile.env.HOME, timeout: 120_000 });
    return stdout + stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`code-server ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const name of readdirSync(p)) {
      const full = join(p, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}

/** The logs code-server wrote under its user-data dir: path (relative to logs/) → content. */
function logFiles(userDataDir: string): Map<string, string> {
  const logs = join(userDataDir, 'logs');
  const out = new Map<string, string>();
  if (!existsSync(logs)) return out;
  for (const f of filesUnder(logs)) if (f.endsWith('.log')) out.set(f, readFileSync(join(logs, f), 'utf8'));
  return out;
}

/** One log entry: its level, and its text with any continuation lines (a stack). */
interface LogEntry {
  file: string;
  level: string;
  text: string;
}
function logEntries(userDataDir: string): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const [file, text] of logFiles(userDataDir)) {
    for (const line of text.split('\n')) {
      const start = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \[(\w+)\]/.exec(line);
      if (start) entries.push({ file, level: start[1], text: line });
      else if (entries.at(-1)?.file === file) entries.at(-1)!.text += `\n${line}`;
    }
  }
  return entries;
}

/**
 * Errors that are the extension's: an error entry in its own log channel, or in any log (the
 * extension host's above all) that names it, its folder or its channel, such as "Activating
 * extension … failed" with its stack. The gallery failing offline (open-vsx.org) is harmless.
 */
function ourErrors(userDataDir: string): string[] {
  return logEntries(userDataDir)
    .filter((e) => e.level === 'error' && (e.file.includes(`/${EXTENSION_ID}/`) || /baremetal|Bare Metal/i.test(e.text)) && !/open-vsx\.org/.test(e.text))
    .map((e) => `${e.file}: ${e.text}`);
}

describe('the packaged extension in a clean profile', () => {
  let vsix: string;
  let ws: Workspace;
  let cs: CodeServer | undefined;
  let wb: Workbench | undefined;

  before(async () => {
    vsix = await packageVsix();
    // A project as a user has it: a git repository with a baremetal.json naming one server.
    ws = await makeWorkspace({ servers: { prod: { host: UNREACHABLE } } });
  });

  after(() => {
    if (ws) rmSync(ws.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });

  it('installs from the .vsix with `code-server --install-extension` and lists at its version', { timeout: TEST_TIMEOUT }, async () => {
    const profile = cliProfile();
    const out = await codeServerCli(profile, '--install-extension', vsix);
    assert.match(out, /successfully installed/i, out);
    const listed = (await codeServerCli(profile, '--list-extensions', '--show-versions')).split('\n').map((l) => l.trim());
    assert.ok(listed.includes(`${EXTENSION_ID}@${VERSION}`), `--list-extensions --show-versions said:\n${listed.join('\n')}`);

    // What landed on disk is what should ship: bundles, schema, referenced media, documents.
    const installed = readdirSync(profile.extensionsDir).find((n) => n.startsWith(`${EXTENSION_ID}-`));
    assert.equal(installed, `${EXTENSION_ID}-${VERSION}`);
    const files = filesUnder(join(profile.extensionsDir, installed));
    for (const f of ['package.json', 'dist/extension.js', 'dist/cli.js', 'dist/webview/logs.js', 'schemas/baremetal.schema.json', 'media/icon.png', 'media/baremetal.svg']) {
      assert.ok(files.includes(f), `${f} is not in the installed extension:\n${files.join('\n')}`);
    }
    const unwanted = files.filter((f) => /^(src|test|scripts|bench|webview|examples|node_modules|test-artifacts|media\/screenshots)\/|\.map$|\.ts$/.test(f));
    assert.deepEqual(unwanted, [], 'files that should not ship');
  });

  it('activates on a workspace with a baremetal.json: the Bare Metal view shows its server, no error is logged', { timeout: TEST_TIMEOUT }, async () => {
    // CodeServer.start installs the .vsix into fresh user-data and extensions dirs of its own.
    cs = await CodeServer.start({ name: 'install' });
    session.servers.push(cs);
    wb = await Workbench.open(session.browser(), cs.folderUrl(ws.dir));
    session.workbenches.push(wb);

    // Nothing clicked yet: the workspace's baremetal.json alone activates the extension.
    await wb.page.locator('.activitybar a.action-label[aria-label^="Bare Metal"]').waitFor({ timeout: 60_000 });
    const activation = await waitFor(
      'the extension host log to say it activated the extension',
      () => [...logFiles(cs!.userDataDir).values()].flatMap((t) => t.split('\n')).find((l) => l.includes(`_doActivateExtension ${EXTENSION_ID},`)),
      30_000,
    );
    assert.match(activation, /activationEvent: 'workspaceContains:baremetal\.json'/);

    // The view container opens on the server of baremetal.json, in the state it is really in
    // (or, if activation went wrong, the log says why at once).
    await wb.openBareMetal();
    const prod = wb.row('Servers', 'prod', 'unreachable');
    await waitFor('prod shown unreachable in the Servers view (or an error of ours in the logs)', async () => ourErrors(cs!.userDataDir).length || (await prod.isVisible()), 30_000);
    assert.deepEqual(ourErrors(cs.userDataDir), [], 'errors of the extension in the logs');
    // Why went to our log channel as a warning: the channel works, and errors would be there too.
    const channel = await waitFor('the "Bare Metal Deploy" log channel to say why prod is not connected', () =>
      logEntries(cs!.userDataDir).find((e) => e.file.endsWith(`/${EXTENSION_ID}/Bare Metal Deploy.log`) && e.text.includes(`prod: Cannot connect to prod (${UNREACHABLE}:22)`)),
    );
    assert.equal(channel.level, 'warning');
    assert.deepEqual(ourErrors(cs.userDataDir), [], 'errors of the extension in the logs');
  });

  it("the extension's page shows its icon, and its README with the screenshots from the repository", { timeout: TEST_TIMEOUT }, async () => {
    assert.ok(wb, 'the previous test opened the workbench');
    await wb.runCommand('Extensions: Show Installed Extensions');
    await wb.page.locator('.extensions-viewlet .monaco-list-row').filter({ hasText: 'Bare Metal Deploy' }).first().click();
    const header = wb.page.locator('.extension-editor .header');
    await header.locator('.name', { hasText: 'Bare Metal Deploy' }).waitFor({ timeout: 30_000 });
    // The icon comes from the installed extension's own files.
    const icon = await waitFor('the icon to load', async () => {
      const i = await header.locator('img.icon').evaluate((el) => {
        const img = el as unknown as { src: string; naturalWidth: number; naturalHeight: number };
        return { src: decodeURIComponent(img.src), width: img.naturalWidth, height: img.naturalHeight };
      });
      return i.width ? i : undefined;
    });
    assert.ok(icon.src.includes(`/extensions/${EXTENSION_ID}-${VERSION}/media/icon.png`), icon.src);
    assert.deepEqual([icon.width, icon.height], [128, 128]);

    // The installed README, rendered by VS Code: each image the README shows is an https URL of
    // the repository (vsce's rewrite; that page loads nothing else: CSP img-src https: data:).
    const readme = wb.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await readme.locator('h1', { hasText: 'Bare Metal Deploy' }).waitFor({ timeout: 30_000 });
    const images = await readme.locator('img').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src')));
    const shown = [...readFileSync(join(PROJECT, 'README.md'), 'utf8').matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]);
    assert.ok(shown.length > 0, 'the README shows no image');
    assert.deepEqual(images, shown.map((link) => (/^https:/.test(link) ? link : `${REPOSITORY}/raw/HEAD/${link}`)));
  });
});
