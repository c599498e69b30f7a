/**
 * Deploys through the proxy on bm1 as a user makes them: the packaged .vsix in a real VS Code
 * (code-server) in headless Chromium, on a workspace whose baremetal.json routes the app by host
 * name through the server's Caddy (tls off, no published port). Deploy HEAD from the palette
 * shows the proxy's phases in its progress notification; the page answers through the server's
 * port 80 under the app's host name; the Servers view lists that address under bm1; a second
 * commit deployed with the Commits view's rocket drops none of the requests a poller sends every
 * ~50 ms; Open in Browser on bm1 asks to open the host name. The proxy image (local/caddy:2) is
 * made on the workstation engine first; the app, its images, history and route are removed after,
 * the proxy container keeps running.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { makeWorkspace, onServer, PROJECT, removeTestApp, server, testEnv, type Workspace } from '../helpers/world';
import { CodeServer, sleep, waitFor } from './harness';
import { e2eSession, Workbench } from './workbench';

const run = promisify(execFile);
const env = testEnv();
const bm1 = server('bm1');
const TEST_TIMEOUT = 180_000;

const session = e2eSession();
const short = (sha: string) => sha.slice(0, 7);
const commitOf = (body: string) => /<code id="commit">([0-9a-f]+)<\/code>/.exec(body)?.[1];

/** GET http://<bm1>:80/ with the app's host name, as its users reach it (no keep-alive: each request a new connection). */
function viaProxy(host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: bm1.host, port: 80, path: '/', headers: { Host: host }, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  });
}

/** Fetches the page every ~50 ms until stopped: answers, failures (with when), the commits served in order. */
function poll(host: string) {
  let stopped = false;
  const t0 = Date.now();
  const r = { ok: 0, failed: [] as string[], commits: [] as string[] };
  const loop = (async () => {
    while (!stopped) {
      try {
        const res = await viaProxy(host);
        const commit = commitOf(res.body);
        if (res.status === 200 && commit) {
          r.ok++;
          if (r.commits.at(-1) !== commit) r.commits.push(commit);
        } else r.failed.push(`+${Date.now() - t0} ms: HTTP ${res.status} ${res.body.slice(0, 120)}`);
      } catch (e) {
        r.failed.push(`+${Date.now() - t0} ms: ${(e as Error).message}`);
      }
      await sleep(50);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return r;
    },
  };
}

/**
 * Records every text a notification shows, as it is rendered (a MutationObserver in the page):
 * a progress message that lasts a few milliseconds is not missed between two polls.
 */
async function recordNotifications(wb: Workbench): Promise<{ take: () => Promise<string[]> }> {
  await wb.page.evaluate(() => {
    // No DOM types in this project's tsconfig: the page's globals as far as this uses them.
    interface El {
      textContent: string | null;
    }
    const g = globalThis as unknown as {
      document: { body: unknown; querySelectorAll: (s: string) => Iterable<El> };
      MutationObserver: new (cb: () => void) => { observe: (n: unknown, o: object) => void };
      __bmNotifications: string[];
    };
    g.__bmNotifications = [];
    // Anonymous on purpose: tsx names named functions with a helper the page does not have.
    new g.MutationObserver(() => {
      for (const el of g.document.querySelectorAll('.notification-list-item-message')) {
        const text = (el.textContent ?? '').replace(/\s+/g, ' ').trim();
        if (text && !g.__bmNotifications.includes(text)) g.__bmNotifications.push(text);
      }
    }).observe(g.document.body, { subtree: true, childList: true, characterData: true });
  });
  return {
    /** The texts seen since the last call, in the order they appeared. */
    take: () =>
      wb.page.evaluate(() => {
        const g = globalThis as unknown as { __bmNotifications: string[] };
        return g.__bmNotifications.splice(0);
      }),
  };
}

describe('deploys through the proxy on bm1, in the editor', () => {
  let ws: Workspace;
  let host: string;
  let wb: Workbench;
  let cs: CodeServer;
  let notes: { take: () => Promise<string[]> };
  let first: string;

  /**
   * The deploy's own steps, in the Bare Metal output channel (one line per progress event). A
   * step shorter than 100 ms may never reach the notification: VS Code's extension host merges
   * progress reports within 100 ms into the last one (ExtHostProgress throttles report()).
   */
  const logged = (line: string) => waitFor(`"${line}" in the extension's output channel`, () => cs.extensionLogs().includes(line), 10_000);

  before(async () => {
    // The proxy's image, as the other proxy tests make it: on the workstation engine, from which
    // the deploy sends it when the server has none.
    await run('bash', [join(PROJECT, 'scripts', 'make-caddy-image.sh'), env.dockerHost]);
    ws = await makeWorkspace();
    host = `${ws.app}.test`;
    // No run.ports: the loader refuses them with a proxy (both versions run at once).
    await ws.writeConfig({
      app: ws.app,
      servers: { bm1: { host: 'bm1' } },
      run: { env: { GREETING: 'hi' } },
      proxy: { hosts: [host], port: 8080, tls: 'off', image: 'local/caddy:2', drainSeconds: 2 },
      keep: 5,
    });
    first = await ws.commit('behind the proxy');
    cs = await CodeServer.start({ name: 'proxy-deploy', env: { BAREMETAL_SSH_CONFIG: env.sshConfig, DOCKER_HOST: env.dockerHost, ...(env.dockerConfig ? { DOCKER_CONFIG: env.dockerConfig } : {}) } });
    session.servers.push(cs);
    wb = await Workbench.open(session.browser(), cs.folderUrl(ws.dir));
    session.workbenches.push(wb);
    notes = await recordNotifications(wb);
    await wb.openBareMetal();
    await wb.row('Servers', 'bm1', 'connected · not deployed').waitFor({ timeout: 30_000 });
  });

  after(async () => {
    if (!ws) return;
    // The app's route out of the proxy's config (Caddy's admin API, by the route's @id); the proxy keeps running.
    await onServer('bm1', ['curl', '-sf', '-X', 'DELETE', '-H', 'Host: baremetal', '--unix-socket', '/root/.baremetal/proxy/run/admin.sock', `http://baremetal/id/baremetal-app-${ws.app}`]).catch(
      (e: Error) => console.error(`the route of ${ws.app} stays in bm1's proxy: ${e.message}`),
    );
    await removeTestApp(ws);
  });

  it('Deploy HEAD from the palette: the proxy\'s phases in the progress notification, then the page through port 80 by host name', { timeout: TEST_TIMEOUT }, async () => {
    await notes.take();
    await wb.runCommand('Bare Metal: Deploy HEAD');
    const { seen, outcome } = await wb.watchToasts(`Deployed ${short(first)} (behind the proxy) to bm1`, 150_000);
    assert.equal(outcome.error, false, `the deploy failed: ${outcome.message}`);
    const texts = [...(await notes.take()), ...seen];
    const shown = (what: string) => assert.ok(texts.some((t) => t.startsWith('Deploying HEAD to bm1: ') && t.includes(what)), `no progress "${what}" was seen: ${texts.join(' | ')}`);
    // The proxy's steps that last long enough to be shown: the new container started beside the
    // old one, its health check (each follows a step of 100 ms or more, so VS Code sends it at once).
    shown(`Starting ${ws.app}:${first} beside the running version`);
    shown('Checking health (GET / on port 8080)');
    // The route made and the switch last a few ms each: reported, in the output channel.
    await logged(`switch: Routing ${host} to ${ws.app}`);
    await logged(`switch: Switching ${ws.app} to ${first.slice(0, 12)}`);

    const page = await viaProxy(host);
    assert.equal(page.status, 200, page.body);
    assert.equal(commitOf(page.body), first, `http://${bm1.host}:80/ with Host: ${host} does not show ${first}: ${page.body.slice(0, 300)}`);
    await wb.row('Servers', 'bm1', `connected · ${short(first)} running`).waitFor({ timeout: 20_000 });
  });

  it(`lists the app's address, http://<app>.test, under bm1 in the Servers view`, { timeout: TEST_TIMEOUT }, async () => {
    const label = `http://${host}`; // the bare root, shown without its slash
    await wb.row('Servers', label).waitFor({ timeout: 20_000 });
    // Under bm1: one level down, and the nearest server above it is bm1.
    const items = await wb.pane('Servers').getByRole('treeitem').evaluateAll((els) =>
      els.map((e) => ({ level: Number(e.getAttribute('aria-level')), text: (e.querySelector('.label-name')?.textContent ?? '').trim() })),
    );
    const at = items.findIndex((i) => i.text === label);
    assert.ok(at > 0, JSON.stringify(items));
    assert.equal(items[at].level, 2, JSON.stringify(items));
    assert.equal(items.slice(0, at).reverse().find((i) => i.level === 1)?.text, 'bm1', JSON.stringify(items));
    // The server's proxy beside it: which Caddy, and that it routes this app.
    await wb.row('Servers', 'proxy', 'Caddy 2.6.2 · routes this app').waitFor({ timeout: 20_000 });
  });

  it("a second commit deployed with the Commits view's Deploy: no request fails meanwhile, then the page shows it", { timeout: TEST_TIMEOUT }, async (t) => {
    const second = await ws.commit('second version', { 'www/note.txt': 'the second version\n' });
    await wb.page.keyboard.press('Escape');
    const row = wb.row('Commits', `${short(second)} second version`);
    await row.waitFor({ timeout: 20_000 });

    const poller = poll(host);
    await sleep(500);
    await notes.take();
    await row.hover();
    await row.locator('.action-label[aria-label="Deploy"]').click();
    const [{ seen, outcome }] = await Promise.all([wb.watchToasts(`Deployed ${short(second)} (second version) to bm1`, 150_000), wb.expectNotAsked('Deploy which commit?')]);
    await sleep(500);
    const r = await poller.stop();
    t.diagnostic(`through the proxy during the deploy: ${r.ok} answered, ${r.failed.length} failed; served ${r.commits.map(short).join(' → ')}`);
    assert.equal(outcome.error, false, `the deploy failed: ${outcome.message}`);
    const texts = [...(await notes.take()), ...seen];
    const shown = (what: string) => assert.ok(texts.some((t) => t.startsWith(`Deploying ${short(second)} to bm1: `) && t.includes(what)), `no progress "${what}" was seen: ${texts.join(' | ')}`);
    shown('Checking health (GET / on port 8080)');
    // The old container drains for seconds after the switch: always shown.
    shown(`Letting requests on ${ws.app}--live finish (up to 2 s)`);
    await logged(`switch: Switching ${ws.app} to ${second.slice(0, 12)}`);

    assert.deepEqual(r.failed, [], `${r.failed.length} of ${r.ok + r.failed.length} requests failed`);
    assert.ok(r.ok > 20, `only ${r.ok} requests answered`);
    assert.deepEqual(r.commits, [first, second], 'the old version, then the new one, and never back');
    assert.equal(commitOf((await viaProxy(host)).body), second);
    await wb.row('Servers', 'bm1', `connected · ${short(second)} running`).waitFor({ timeout: 20_000 });
  });

  it(`right-click bm1 → Open in Browser: VS Code asks before opening http://<app>.test/`, { timeout: TEST_TIMEOUT }, async () => {
    const url = `http://${host}/`;
    await wb.page.keyboard.press('Escape');
    await wb.row('Servers', 'bm1').click({ button: 'right' });
    await wb.clickMenuItem('Open in Browser');
    await wb.expectLinkDialog(url);
  });
});
