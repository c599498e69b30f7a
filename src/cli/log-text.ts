import { terminalLine } from '../protocol/terminal-text';

/**
 * A container's log line as `baremetal logs` writes it to `to`: on a terminal with its colours
 * only (a line cannot clear the screen, move the cursor or set the title; see terminal-text.ts),
 * to a pipe or a file as the app wrote it, as `docker logs` does.
 */
export function logLineFor(to: { isTTY?: boolean }, text: string): string {
  return to.isTTY ? terminalLine(text) : text;
}
