import { cli, makeWorkspace, testEnv, cleanupApp } from '../../test/helpers/world';
import { CodeServer, launchBrowser, Workbench, sleep, cleanupScratch } from '../../test/e2e/harness';

async function main() {
  const env = testEnv();
  const ws = await makeWorkspace();
  const r = await cli(['deploy'], { cwd: ws.dir });
  console.log('cli deploy', r.code, r.stderr.slice(-300));
  await ws.commit('second version', { 'www/extra.txt': 'x' });
  let t = Date.now();
  const cs = await CodeServer.start({ env: { BAREMETAL_SSH_CONFIG: env.sshConfig, DOCKER_HOST: env.dockerHost }, settings: JSON.parse(process.env.X_SETTINGS ?? '{}') });
  console.log('cs started in', Date.now() - t); t = Date.now();
  const browser = await launchBrowser();
  const wb = await Workbench.open(browser, cs.folderUrl(ws.dir));
  console.log('workbench in', Date.now() - t);
  await wb.openBareMetal();
  await sleep(5000);
  await wb.screenshot('/tmp/explore1.png');
  console.log(await wb.treeItems('Servers'), await wb.treeTexts('Servers'));
  console.log(await wb.treeItems('Deployments'), await wb.treeTexts('Deployments'));
  console.log(await wb.treeItems('Commits'), await wb.treeTexts('Commits'));
  console.log(await wb.statusBarTexts());
  const html = await wb.page.locator('.part.sidebar').innerHTML();
  require('fs').writeFileSync('/tmp/sidebar.html', html);
  console.log(cs.extensionLogs().slice(-3000));
  await browser.close();
  await cs.stop();
  await cleanupApp('bm1', ws.app);
  cleanupScratch();
}
main().catch((e) => { console.error(e); process.exit(1); });
