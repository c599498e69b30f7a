/**
 * Mocha inside VS Code's real extension host (test/exthost/): bundled here with esbuild, loaded
 * by a code-server window opened with extensionDevelopmentPath (this project, so the extension
 * is dist/extension.js) and extensionTestsPath. The smoke-test driver hands the window's exit
 * code to codeAutomationExit; it is 0 when every mocha test passed.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, it } from 'node:test';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { makeWorkspace, PROJECT, testEnv, type Workspace } from '../helpers/world';
import { cleanupScratch, CodeServer, launchBrowser, packageVsix, scratchDir } from './harness';
import { keepArtifactsOnFailure, Workbench } from './workbench';

const BUNDLE = join(PROJECT, 'dist-test', 'exthost', 'index.js');

let browser: Browser;
let cs: CodeServer | undefined;
let wb: Workbench | undefined;
let ws: Workspace;

before(async () => {
  const env = testEnv();
  await Promise.all([
    // The extension under test is the project's own bundle, as the .vsix carries it.
    packageVsix(),
    build({
      entryPoints: [join(PROJECT, 'test', 'exthost', 'index.ts')],
      outfile: BUNDLE,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: ['vscode'],
      sourcemap: 'inline',
      logLevel: 'warning',
      // mocha's parallel mode (not used here) resolves its worker files at run time.
      logOverride: { 'require-resolve-not-external': 'silent' },
    }),
  ]);
  ws = await makeWorkspace();
  browser = await launchBrowser();
  cs = await CodeServer.start({ name: 'exthost', installExtension: false, smokeTestDriver: true, env: { BAREMETAL_SSH_CONFIG: env.sshConfig, DOCKER_HOST: env.dockerHost, ...(env.dockerConfig ? { DOCKER_CONFIG: env.dockerConfig } : {}) } });
});

after(async () => {
  await wb?.close();
  await browser?.close().catch(() => undefined);
  await cs?.stop();
  if (ws) rmSync(ws.dir, { recursive: true, force: true });
  cleanupScratch();
});

afterEach(keepArtifactsOnFailure(() => ({ workbenches: wb ? [wb] : [], servers: cs ? [cs] : [] })));

it('the extension-host tests pass (mocha in the real extension host)', { timeout: 180_000 }, async () => {
  const server = cs!;
  const report = join(scratchDir('report'), 'mocha.txt');
  const log: string[] = [];
  let exit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (exit = resolve));
  wb = await Workbench.open(
    browser,
    server.folderUrl(ws.dir, [
      ['extensionDevelopmentPath', server.remoteUri(PROJECT)],
      ['extensionTestsPath', server.remoteUri(BUNDLE)],
      ['extensionEnvironment', JSON.stringify({ BM_EXTHOST_REPORT: report })],
    ]),
    async (page) => {
      await page.exposeFunction('codeAutomationExit', (code: number) => exit(code));
      await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => log.push(`${type}: ${args.map(String).join(' ')}`));
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<number>((_, reject) => (timer = setTimeout(() => reject(new Error('the extension-host tests did not finish within 150 s')), 150_000)));
  const code = await Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
  const output = existsSync(report) ? readFileSync(report, 'utf8') : '(no mocha report was written)';
  console.log(output.replace(/^/gm, '    '));
  if (code !== 0) console.log(log.filter((l) => /error|fail/i.test(l)).slice(-30).join('\n'));
  assert.equal(code, 0, `the extension host exited with ${code}:\n${output}`);
});
