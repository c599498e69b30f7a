/**
 * What the editor tests click in: a browser tab on one workspace of a code-server, and the
 * artifacts kept when a test fails. (The code-server and browser processes: harness.ts.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { after, afterEach, before } from 'node:test';
import { testEnv } from '../helpers/world';
import { ARTIFACTS, cleanupScratch, CodeServer, launchBrowser, waitFor } from './harness';
/** A browser tab on one workspace of a code-server: what the tests click in. */
export class Workbench {
  private constructor(
    readonly page: Page,
    readonly context: BrowserContext,
  ) {}

  /** `timezoneId`: the user's time zone as the page sees it (default: this machine's). */
  static async open(browser: Browser, url: string, setup?: (page: Page) => Promise<void>, timezoneId?: string): Promise<Workbench> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, timezoneId });
    const page = await context.newPage();
    if (setup) await setup(page);
    await page.goto(url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    return new Workbench(page, context);
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
  }

  /** Opens the Bare Metal container from the activity bar (unless it is showing already). */
  async openBareMetal(): Promise<void> {
    const icon = this.page.locator('.activitybar a.action-label[aria-label^="Bare Metal"]');
    await icon.waitFor({ timeout: 60_000 });
    if (!(await this.pane('Servers').isVisible().catch(() => false))) await icon.click();
    await this.pane('Servers').waitFor();
  }

  /** One view's pane in the side bar, expanded. */
  pane(title: string): Locator {
    return this.page.locator('.part.sidebar .pane').filter({ has: this.page.locator(`.pane-header[aria-label^="${title}"]`) });
  }

  async expand(title: string): Promise<Locator> {
    const pane = this.pane(title);
    const header = pane.locator('.pane-header');
    if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
    return pane;
  }

  /** A tree item of a view, found by its accessible name (label and description, or its tooltip). */
  treeItem(view: string, name: string | RegExp): Locator {
    return this.pane(view).getByRole('treeitem', { name });
  }

  /** A tree item of a view, found by what a user reads: its label and (optionally) its description. */
  row(view: string, label: string | RegExp, description?: string | RegExp): Locator {
    let rows = this.pane(view).locator('.monaco-list-row').filter({ has: this.page.locator('.label-name', { hasText: label }) });
    if (description !== undefined) rows = rows.filter({ has: this.page.locator('.label-description', { hasText: description }) });
    return rows;
  }

  /** The accessible names of a view's visible tree items. */
  async treeItems(view: string): Promise<string[]> {
    return this.pane(view)
      .getByRole('treeitem')
      .evaluateAll((els) => els.map((e) => `${e.getAttribute('aria-label') ?? ''}`.trim() || (e.textContent ?? '').trim()));
  }

  /** The visible text of a view's rows (label + description), as a user reads them. */
  async treeTexts(view: string): Promise<string[]> {
    return this.pane(view)
      .locator('.monaco-list-row')
      .evaluateAll((els) => els.map((e) => (e.querySelector('.monaco-icon-label')?.textContent ?? e.textContent ?? '').replace(/\s+/g, ' ').trim()));
  }

  /** F1, type the command's title, pick it. */
  async runCommand(title: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget input');
    // F1 pressed while the previous palette is still closing can land on the closing one (seen
    // once in CI, on a loaded machine: the input went inert, then hidden): open it again.
    for (let attempt = 1; ; attempt++) {
      await this.page.keyboard.press('Escape');
      await this.page.keyboard.press('F1');
      try {
        await input.waitFor({ state: 'visible', timeout: 10_000 });
        await input.fill(`>${title}`, { timeout: 5_000 });
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
    const row = this.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: title }).first();
    await row.waitFor();
    await input.press('Enter');
  }

  /** The notification toasts showing now: their message and whether they are errors (or warnings). */
  async toasts(): Promise<{ message: string; error: boolean; warning: boolean }[]> {
    return this.page.locator('.notification-toast .notification-list-item').evaluateAll((els) =>
      els.map((e) => ({
        message: (e.querySelector('.notification-list-item-message')?.textContent ?? '').replace(/\s+/g, ' ').trim(),
        error: !!e.querySelector('.notification-list-item-icon.codicon-error'),
        warning: !!e.querySelector('.notification-list-item-icon.codicon-warning'),
      })),
    );
  }

  /**
   * Fails as soon as VS Code shows the quick pick `question` within `ms`: a command that asks it
   * was reached without the row whose button was clicked (run it beside what the test waits for).
   */
  async expectNotAsked(question: string, ms = 5_000): Promise<void> {
    const widget = this.page.locator('.quick-input-widget');
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if ((await widget.isVisible()) && ((await widget.locator('input').getAttribute('placeholder')) ?? '').startsWith(question)) {
        throw new Error(`VS Code asked "${question}": the click reached the command without its row`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Watches the toasts until one says the operation ended: a message starting with `success`, or
   * an error. Returns every message seen meanwhile (progress included) and the one that ended it.
   */
  async watchToasts(success: string, timeoutMs: number): Promise<{ seen: string[]; outcome: { message: string; error: boolean } }> {
    const seen = new Set<string>();
    const outcome = await waitFor(
      `a notification "${success}…" or an error`,
      async () => {
        const now = await this.toasts();
        for (const t of now) seen.add(t.message);
        return now.find((t) => t.message.startsWith(success) || t.error);
      },
      timeoutMs,
      100,
    );
    return { seen: [...seen], outcome };
  }

  /** Every notification of the session, from the notification center (which keeps those that left the screen). */
  async allNotifications(): Promise<string[]> {
    await this.runCommand('Notifications: Show Notifications');
    const items = this.page.locator('.notifications-center .notification-list-item-message');
    await items.first().waitFor({ timeout: 3000 }).catch(() => undefined);
    const texts = await items.evaluateAll((els) => els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()));
    await this.runCommand('Notifications: Hide Notifications');
    return texts;
  }

  /** Picks an item of the open context menu, as a user does: point at it, then click. */
  /** VS Code's link protection dialog: asserts it names `address`, then dismisses it. */
  async expectLinkDialog(address: string): Promise<void> {
    const dialog = this.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 10_000 });
    const text = ((await dialog.textContent()) ?? '').replace(/\s+/g, ' ');
    assert.match(text, /Do you want .+ to open the external website\?/, text);
    assert.ok(text.includes(address), `the dialog does not name ${address}: ${text}`);
    await this.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  }

  async clickMenuItem(name: string): Promise<void> {
    const menu = this.page.locator('.context-view .monaco-menu');
    const item = menu.getByRole('menuitem', { name, exact: true });
    await item.hover();
    // The menu acts on a click only once the pointer has focused the item.
    await menu.locator('.action-item.focused').filter({ has: this.page.getByRole('menuitem', { name, exact: true }) }).waitFor();
    await item.click();
  }

  async statusBarTexts(): Promise<string[]> {
    return this.page.locator('.part.statusbar .statusbar-item').evaluateAll((els) => els.map((e) => `${(e.textContent ?? '').trim()}|${e.getAttribute('aria-label') ?? ''}`));
  }

  async screenshot(file: string): Promise<void> {
    mkdirSync(dirname(file), { recursive: true });
    await this.page.screenshot({ path: file });
  }
}

/**
 * For node:test's afterEach: when the test failed, keep what a person needs to see why — a
 * screenshot of every open workbench, the extension's output channel and code-server's log —
 * in test-artifacts/.
 */
export function keepArtifactsOnFailure(state: () => { workbenches: Workbench[]; servers: CodeServer[] }) {
  return async (t: { name: string }) => {
    if ((t as { passed?: boolean }).passed !== false) return;
    const slug = t.name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
    mkdirSync(ARTIFACTS, { recursive: true });
    const { workbenches, servers } = state();
    for (const [i, wb] of workbenches.entries()) {
      await wb.screenshot(join(ARTIFACTS, `${slug}${i ? `-${i}` : ''}.png`)).catch(() => undefined);
    }
    for (const [i, cs] of servers.entries()) {
      writeFileSync(join(ARTIFACTS, `${slug}${i ? `-${i}` : ''}.extension.log`), cs.extensionLogs());
      writeFileSync(join(ARTIFACTS, `${slug}${i ? `-${i}` : ''}.code-server.log`), cs.logTail(400));
    }
    console.error(`artifacts of "${t.name}" kept in ${ARTIFACTS}/${slug}*`);
  };
}

/**
 * One test file's browser, code-servers and workbenches: the browser is launched before the
 * tests, everything is closed after them, and a failed test keeps its artifacts.
 */
/** What the editor is opened with: the test servers' ssh config, and the workstation engine that builds. */
export function editorEnv(): Record<string, string> {
  const env = testEnv();
  return { BAREMETAL_SSH_CONFIG: env.sshConfig, DOCKER_HOST: env.dockerHost, ...(env.dockerConfig ? { DOCKER_CONFIG: env.dockerConfig } : {}) };
}

export interface E2eSession {
  browser: () => Browser;
  servers: CodeServer[];
  workbenches: Workbench[];
  /** A code-server with the packaged extension on `dir`, in this session's browser, the Bare Metal views open. */
  openEditor: (name: string, dir: string, opts?: { settings?: Record<string, unknown>; viewport?: { width: number; height: number } }) => Promise<Workbench>;
}

export function e2eSession(): E2eSession {
  let browser: Browser | undefined;
  const servers: CodeServer[] = [];
  const workbenches: Workbench[] = [];
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    for (const wb of workbenches) await wb.close();
    await browser?.close().catch(() => undefined);
    for (const cs of servers) await cs.stop();
    cleanupScratch();
  });
  afterEach(keepArtifactsOnFailure(() => ({ workbenches, servers })));
  const session: E2eSession = {
    browser: () => {
      if (!browser) throw new Error('the browser is launched in before()');
      return browser;
    },
    servers,
    workbenches,
    openEditor: async (name, dir, opts = {}) => {
      const cs = await CodeServer.start({ name, env: editorEnv(), ...(opts.settings && { settings: opts.settings }) });
      servers.push(cs);
      const wb = await Workbench.open(session.browser(), cs.folderUrl(dir));
      workbenches.push(wb);
      if (opts.viewport) await wb.page.setViewportSize(opts.viewport);
      await wb.openBareMetal();
      return wb;
    },
  };
  return session;
}
