/**
 * The README's screenshot, taken from the real demo: runs `scripts/demo.sh` once (test servers,
 * code-server with the packaged extension, a git repository of examples/hello deployed to bm1),
 * commits a change, deploys it with the rocket in the Commits view, and saves the window with
 * the Bare Metal sidebar to media/screenshots/sidebar.png.
 *
 *   node --import tsx scripts/e2e/screenshot.ts [output.png]
 *
 * It uses an app of its own ("website", port 8090) in a fresh folder, and removes that app from
 * bm1 afterwards, so it never touches what `npm start` deployed.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { cleanupApp, onServer, PROJECT, servedCommit, server } from '../../test/helpers/world';
import { freePort, launchBrowser, sleep, waitFor } from '../../test/e2e/harness';
import { Workbench } from '../../test/e2e/workbench';

const run = promisify(execFile);
const APP = 'website';
const APP_PORT = 8090;
const OUT = resolve(process.argv[2] ?? join(PROJECT, 'media', 'screenshots', 'sidebar.png'));

async function removeApp(): Promise<void> {
  await cleanupApp('bm1', APP);
  await onServer('bm1', ['rm', '-rf', `/root/.baremetal/${APP}`]);
}

async function main(): Promise<void> {
  const parent = mkdtempSync('/tmp/bm-screenshot-');
  const demo = join(parent, 'hello');
  const port = await freePort();
  await removeApp().catch(() => undefined);

  console.error(`› scripts/demo.sh on ${demo} (VS Code on port ${port})`);
  const child = spawn('bash', [join(PROJECT, 'scripts', 'demo.sh')], {
    cwd: PROJECT,
    env: { ...process.env, BM_DEMO_DIR: demo, BM_DEMO_STATE: join(parent, 'vscode'), BM_DEMO_PORT: String(port), BM_DEMO_APP: APP, BM_DEMO_APP_PORT: String(APP_PORT) },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true, // its own process group: SIGINT reaches the script as Ctrl-C would
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  const browser = await launchBrowser();
  try {
    const url = await waitFor('the demo to print its URL', () => {
      if (child.exitCode !== null) throw new Error(`scripts/demo.sh exited with ${child.exitCode}`);
      return /^(http:\/\/127\.0\.0\.1:\d+\/\?folder=\S+)$/m.exec(stdout)?.[1];
    }, 600_000, 500);

    // A change to deploy from the editor.
    const git = (...args: string[]) => run('git', ['-C', demo, '-c', 'user.name=Demo', '-c', 'user.email=demo@example.test', ...args]);
    const page = join(demo, 'www', 'index.html');
    writeFileSync(page, readFileSync(page, 'utf8').replace('<h1>Hello from bare metal</h1>', '<h1>Hello from bare metal</h1>\n<p>Now with a greeting in French: bonjour !</p>'));
    await git('commit', '-qam', 'Greet in French too');
    const sha = (await git('rev-parse', 'HEAD')).stdout.trim();

    const wb = await Workbench.open(browser, url);
    await wb.page.setViewportSize({ width: 1280, height: 760 });
    await wb.openBareMetal();
    // A wider side bar, so that descriptions are not cut.
    const box = await wb.page.locator('.part.sidebar').boundingBox();
    if (box) {
      await wb.page.mouse.move(box.x + box.width + 1, box.y + box.height / 2);
      await wb.page.mouse.down();
      await wb.page.mouse.move(box.x + 470, box.y + box.height / 2, { steps: 8 });
      await wb.page.mouse.up();
    }

    await wb.row('Servers', 'bm1', /^connected · /).waitFor({ timeout: 60_000 });
    const row = wb.row('Commits', `${sha.slice(0, 7)} Greet in French too`);
    await row.hover();
    await row.locator('.action-label[aria-label="Deploy"]').click();
    const { outcome } = await wb.watchToasts(`Deployed ${sha.slice(0, 7)}`, 120_000);
    if (outcome.error) throw new Error(`the deploy failed: ${outcome.message}`);
    await wb.row('Deployments', `${sha.slice(0, 7)} Greet in French too`, /^current · /).waitFor({ timeout: 30_000 });
    const served = await servedCommit(server('bm1').host, APP_PORT);
    if (served !== sha) throw new Error(`bm1 serves ${served}, not ${sha}`);

    // The configuration beside the views; no toasts over them; the running container showing.
    await wb.runCommand('Bare Metal: Open Configuration');
    await wb.page.locator('.tab[aria-label^="baremetal.json"]').waitFor();
    await wb.runCommand('Notifications: Clear All Notifications');
    const serverRow = wb.row('Servers', 'bm1');
    if ((await serverRow.getAttribute('aria-expanded')) === 'false') await serverRow.locator('.monaco-tl-twistie').click();
    await wb.pane('Servers').locator('.monaco-list-row', { hasText: `${APP}-` }).first().waitFor({ timeout: 20_000 });
    await wb.page.mouse.move(900, 700);
    await sleep(1500);

    mkdirSync(join(OUT, '..'), { recursive: true });
    await wb.page.screenshot({ path: OUT });
    console.error(`› saved ${OUT}`);
    await wb.close();
  } finally {
    await browser.close().catch(() => undefined);
    if (child.pid && child.exitCode === null) {
      process.kill(-child.pid, 'SIGINT');
      await Promise.race([exited, sleep(15_000)]);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await removeApp().catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
    rmSync(parent, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
