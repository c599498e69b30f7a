/**
 * Reading the log panel as a user does: xterm's rows on screen (`.xterm-rows`, the viewport
 * only), in a window tall enough for what a test checks.
 */
import type { FrameLocator } from 'playwright-core';
import { waitFor } from './harness';

/** The terminal's rows on screen, as a user reads them. */
export function panelRows(panel: FrameLocator): Promise<string[]> {
  return panel.locator('.xterm-rows').evaluate((el) => [...el.children].map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()).filter(Boolean));
}

/** Waits until the rows pass `test`; on a timeout, says what was on screen. */
export async function waitForPanelRows<T>(panel: FrameLocator, what: string, test: (rows: string[]) => T, timeoutMs = 15_000): Promise<NonNullable<T>> {
  let last: string[] = [];
  try {
    return await waitFor(what, async () => test((last = await panelRows(panel))), timeoutMs, 100);
  } catch (e) {
    throw new Error(`${(e as Error).message}; on screen:\n${last.join('\n')}`);
  }
}
