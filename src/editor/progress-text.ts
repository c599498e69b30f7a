/**
 * The line a deploy's progress notification shows for one event of the core (no vscode: unit
 * tested). The core's messages say what happens; this only keeps the notification readable when
 * an event has no message, including for phases the core adds later than this file.
 */
import type { ProgressEvent } from '../core/ports';

/** Keyed by string, not by `Phase`: a phase the core adds must not break the editor's build. */
const PHASE_TEXT: Readonly<Record<string, string>> = {
  connect: 'Connecting',
  build: 'Building the image',
  ship: 'Sending the image',
  start: 'Starting the new version',
  health: 'Checking health',
  release: 'Running the release command',
  switch: 'Switching traffic to the new version',
  drain: 'Letting requests in flight on the old version finish',
  prune: 'Removing old versions',
  record: 'Recording the deploy',
};

export function progressText(e: Pick<ProgressEvent, 'message' | 'bytes'> & { phase: string }): string {
  const bytes = e.bytes ? ` (${(e.bytes / 1048576).toFixed(1)} MiB sent)` : '';
  const message = typeof e.message === 'string' ? e.message.trim() : '';
  return `${message || phaseText(e.phase)}${bytes}`;
}

/** A known phase's words, or an unknown one's name made readable ("warm-up" → "Warm up"). */
export function phaseText(phase: string): string {
  if (Object.hasOwn(PHASE_TEXT, phase)) return PHASE_TEXT[phase];
  const words = String(phase).replace(/[-_]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim().toLowerCase();
  return words ? words[0].toUpperCase() + words.slice(1) : 'Working';
}
