/**
 * The log panel's webview: xterm renders the lines (ANSI colours kept), @vscode-elements gives
 * the toolbar. Lines arrive in batches from the extension; they are kept in a bounded buffer
 * (for filter, timestamps, copy and save) and written to xterm through a queue that waits for
 * xterm's write callback, so any log rate leaves the page responsive.
 */
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import { isToWebview, unpackLines, type FromWebview, type SavedPanelState, type ServerState, type ToWebview } from '../../src/protocol/logs';
import { plain as plainText, render as renderEntry, type Entry, type View } from './format';
import { css, terminalTheme } from './theme';

declare function acquireVsCodeApi(): { postMessage(m: FromWebview): void; setState(state: SavedPanelState): void };
const vscode = acquireVsCodeApi();
const post = (m: FromWebview) => vscode.postMessage(m);

const MAX_ENTRIES = 100_000;
/**
 * Text per xterm write: xterm parses one write in one go on the page's thread, which is also the
 * workbench's, so a big one freezes the editor (512 KB of short lines: ~1 s).
 */
const MAX_CHUNK = 64 * 1024;
/** Typing in the filter redraws once the typing pauses, not on every key. */
const FILTER_DELAY_MS = 150;
/** Lines carrying this word are timed from Docker's timestamp to the screen (benchmarks, tests). */
const PROBE = 'bm-probe';

let app = '';
/** The servers shown (tags when more than one) and whether times are on. */
const view: View = { servers: [], showTimes: false };
let entries: Entry[] = [];
/**
 * Text waiting for xterm, with the Docker timestamps of the probe lines in it. A redraw's items
 * (`redraw`) are written even while paused; `reset` clears the terminal first, once the write
 * in flight is done (xterm parses queued writes after a reset).
 */
interface Chunk {
  text: string;
  probes: string[];
  lines: number;
  redraw?: boolean;
  reset?: boolean;
}
let queue: Chunk[] = [];
/** Paused so long that the held lines were dropped from the queue: Resume redraws from `entries`. */
let heldTooMany = false;
let writing = false;
let paused = false;
let newWhilePaused = 0;
let filter: RegExp | undefined;
/** Counters a benchmark or test reads from the page (never sent anywhere). */
const stats = { linesReceived: 0, linesRendered: 0, probes: [] as { t: string; at: number }[] };
(window as unknown as { __bmStats: typeof stats }).__bmStats = stats;
/** Each server's latest state and message, for the status line (all servers of a merged view). */
const lastState = new Map<number, { state: ServerState; message: string }>();
/** The status line's colour follows the worst state among the servers. */
const SEVERITY: Record<ServerState, number> = { connected: 0, waiting: 1, reconnecting: 2, ended: 3 };

const el = <T extends HTMLElement>(html: string): T => {
  const t = document.createElement('template');
  t.innerHTML = html.trim();
  return t.content.firstElementChild as T;
};

// ---- toolbar -------------------------------------------------------------------------------
const toolbar = document.getElementById('toolbar') as HTMLElement;
const follow = el<HTMLElement & { textContent: string }>('<vscode-button id="follow" secondary title="Pause the scrolling (new lines are counted)">Pause</vscode-button>');
const newLines = el<HTMLElement>('<vscode-badge id="newlines" hidden>0 new lines</vscode-badge>');
const searchBox = el<HTMLElement & { value: string }>('<vscode-textfield id="search" placeholder="Search" title="Enter: next, Shift+Enter: previous"></vscode-textfield>');
const regexBox = el<HTMLElement & { checked: boolean }>('<vscode-checkbox id="regex" label=".*" title="Use regular expression (search and filter)"></vscode-checkbox>');
const caseBox = el<HTMLElement & { checked: boolean }>('<vscode-checkbox id="case" label="Aa" title="Match case (search and filter)"></vscode-checkbox>');
const count = el<HTMLElement>('<span id="count" class="count"></span>');
const filterBox = el<HTMLElement & { value: string }>('<vscode-textfield id="filter" placeholder="Filter lines"></vscode-textfield>');
const timesBox = el<HTMLElement & { checked: boolean }>('<vscode-checkbox id="timestamps" label="Timestamps"></vscode-checkbox>');
const clear = el<HTMLElement>('<vscode-button id="clear" secondary>Clear</vscode-button>');
const copy = el<HTMLElement>('<vscode-button id="copy" secondary title="Copy the selection, or everything shown">Copy</vscode-button>');
const save = el<HTMLElement>('<vscode-button id="save" secondary>Save…</vscode-button>');
const group = (cls: string, ...children: HTMLElement[]) => {
  const g = el<HTMLElement>(`<div class="group ${cls}"></div>`);
  g.append(...children);
  return g;
};
// The text fields give up width first, so a narrow panel keeps one row as long as it can.
toolbar.append(group('', follow, newLines), group('grow search', searchBox, regexBox, caseBox, count), group('grow filter', filterBox), group('', timesBox), el('<span class="spacer"></span>'), group('', clear, copy, save));
const statusBar = el<HTMLElement>('<div id="status"></div>');
toolbar.after(statusBar);

// ---- terminal ------------------------------------------------------------------------------
const terminal = new Terminal({
  convertEol: true,
  disableStdin: true,
  cursorStyle: 'bar',
  cursorInactiveStyle: 'none',
  scrollback: 50_000,
  allowProposedApi: true, // search decorations
  fontFamily: css('--vscode-editor-font-family', 'monospace'),
  fontSize: Number.parseInt(css('--vscode-editor-font-size', '13'), 10) || 13,
  theme: terminalTheme(),
});
const fit = new FitAddon();
const search = new SearchAddon();
terminal.loadAddon(fit);
terminal.loadAddon(search);
// Web links open on Ctrl/Cmd+click, as in the editor's terminal (a plain click selects text);
// the extension opens them, the page itself never navigates.
terminal.loadAddon(new WebLinksAddon((event, url) => (event.ctrlKey || event.metaKey) && post({ type: 'open', url })));
terminal.open(document.getElementById('terminal') as HTMLElement);
fit.fit();
new ResizeObserver(() => fit.fit()).observe(document.getElementById('terminal') as HTMLElement);
// The editor switches themes by changing the body's class and theme id (two dark themes share
// the class), then the colour variables, in one task: follow it.
new MutationObserver(() => (terminal.options.theme = terminalTheme())).observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-id'] });

// ---- rendering -----------------------------------------------------------------------------
const render = (e: Entry) => renderEntry(view, e);
const plain = (e: Entry) => plainText(view, e);

function visible(e: Entry): boolean {
  return !filter || e.kind === 'note' || filter.test(e.line.x);
}

/** Writes the queue in chunks, each after xterm has taken the previous one. */
function pump(): void {
  const writable = (item: Chunk | undefined) => item !== undefined && (!paused || item.redraw === true);
  if (writing || !writable(queue[0])) return;
  if (queue[0].reset) {
    queue.shift();
    terminal.reset();
  }
  let chunk = '';
  let lines = 0;
  const marks: string[] = [];
  while (writable(queue[0]) && !queue[0].reset && chunk.length < MAX_CHUNK) {
    const item = queue.shift() as Chunk;
    chunk += item.text;
    lines += item.lines;
    marks.push(...item.probes);
  }
  if (!chunk) {
    pump(); // an empty redraw, or another reset next
    return;
  }
  writing = true;
  terminal.write(chunk, () => {
    writing = false;
    stats.linesRendered += lines;
    if (marks.length) {
      const at = Date.now();
      for (const t of marks) {
        stats.probes.push({ t, at });
      }
    }
    pump();
  });
}

/** Keeps new entries and queues the visible ones for xterm, a batch at a time (in chunks of at most MAX_CHUNK). */
function add(batch: Entry[]): void {
  let text = '';
  let lines = 0;
  let probes: string[] = [];
  let shown = 0;
  const cut = () => {
    if (text) queue.push({ text, probes, lines });
    text = '';
    lines = 0;
    probes = [];
  };
  for (const e of batch) {
    entries.push(e);
    if (!visible(e)) continue;
    shown += 1;
    if (heldTooMany) continue; // Resume redraws everything kept
    text += render(e);
    lines += 1;
    if (e.kind === 'line' && e.line.t && e.line.x.includes(PROBE)) probes.push(e.line.t);
    if (text.length >= MAX_CHUNK) cut();
  }
  cut();
  if (entries.length > MAX_ENTRIES) entries = entries.slice(entries.length - Math.floor(MAX_ENTRIES * 0.9));
  if (paused && shown) {
    newWhilePaused += shown;
    newLines.textContent = `${newWhilePaused} new line${newWhilePaused === 1 ? '' : 's'}`;
    newLines.hidden = false;
  }
  if (paused && !heldTooMany && queue.reduce((n, c) => n + c.lines, 0) > MAX_ENTRIES) {
    queue = queue.filter((c) => c.redraw);
    heldTooMany = true;
  }
  pump();
}

/**
 * Filter or timestamps changed: draw what is kept again, in chunks like any other text (one
 * write of everything would freeze the editor), paused or not (what was held is included).
 */
function redraw(): void {
  queue = [{ text: '', probes: [], lines: 0, redraw: true, reset: true }];
  let text = '';
  let lines = 0;
  for (const e of entries) {
    if (!visible(e)) continue;
    text += render(e);
    lines += 1;
    if (text.length >= MAX_CHUNK) {
      queue.push({ text, probes: [], lines, redraw: true });
      text = '';
      lines = 0;
    }
  }
  if (text) queue.push({ text, probes: [], lines, redraw: true });
  heldTooMany = false;
  newWhilePaused = 0;
  newLines.hidden = true;
  pump();
}


// ---- controls ------------------------------------------------------------------------------
follow.addEventListener('click', () => {
  paused = !paused;
  follow.textContent = paused ? 'Resume' : 'Pause';
  if (!paused) {
    newWhilePaused = 0;
    newLines.hidden = true;
    if (heldTooMany) redraw();
    else pump();
    terminal.scrollToBottom();
  }
});

function searchOptions() {
  return {
    regex: regexBox.checked,
    caseSensitive: caseBox.checked,
    decorations: {
      matchBackground: css('--vscode-editor-findMatchHighlightBackground', '#ea5c0055'),
      activeMatchBackground: css('--vscode-editor-findMatchBackground', '#515c6a'),
      matchOverviewRuler: '#d18616',
      activeMatchColorOverviewRuler: '#a0a0a0',
    },
  };
}
search.onDidChangeResults(({ resultIndex, resultCount }) => {
  count.textContent = !searchBox.value ? '' : resultCount === 0 ? 'No results' : `${resultIndex + 1} of ${resultCount}`;
});
searchBox.addEventListener('input', () => {
  if (!searchBox.value) {
    search.clearDecorations();
    count.textContent = '';
    return;
  }
  search.findNext(searchBox.value, { ...searchOptions(), incremental: true });
});
// Ctrl/Cmd+F searches the log, as in an editor; Escape in the search box gives the log back.
// (Capture phase: xterm stops the keys it takes as input from going any further.)
window.addEventListener(
  'keydown',
  (ev: KeyboardEvent) => {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && !ev.shiftKey && ev.key.toLowerCase() === 'f') {
      ev.preventDefault();
      ev.stopPropagation();
      searchBox.focus();
    }
  },
  true,
);
searchBox.addEventListener('keydown', (ev: KeyboardEvent) => {
  if (ev.key === 'Escape') {
    terminal.focus();
    return;
  }
  if (ev.key !== 'Enter' || !searchBox.value) return;
  if (ev.shiftKey) search.findPrevious(searchBox.value, searchOptions());
  else search.findNext(searchBox.value, searchOptions());
});
/** The filter as typed, with the Regex and Match case options; false when it does not compile. */
function applyFilter(): boolean {
  const text = filterBox.value;
  try {
    filter = !text ? undefined : regexBox.checked ? new RegExp(text, caseBox.checked ? '' : 'i') : new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), caseBox.checked ? '' : 'i');
    filterBox.removeAttribute('invalid');
    return true;
  } catch {
    filterBox.setAttribute('invalid', '');
    return false;
  }
}
let filterTimer: ReturnType<typeof setTimeout> | undefined;
filterBox.addEventListener('input', () => {
  if (filterTimer) clearTimeout(filterTimer);
  filterTimer = setTimeout(() => applyFilter() && redraw(), FILTER_DELAY_MS);
});
// The options apply to the filter too.
for (const box of [regexBox, caseBox]) {
  box.addEventListener('change', () => {
    if (searchBox.value) search.findNext(searchBox.value, searchOptions());
    if (filterBox.value && applyFilter()) redraw();
  });
}
timesBox.addEventListener('change', () => {
  view.showTimes = timesBox.checked;
  redraw();
});
clear.addEventListener('click', () => {
  entries = [];
  redraw();
});
const allText = () => entries.filter(visible).map(plain).join('\n') + '\n';
copy.addEventListener('click', () => post({ type: 'copy', text: terminal.hasSelection() ? terminal.getSelection() : allText() }));
save.addEventListener('click', () => post({ type: 'save', text: allText() }));

// ---- messages ------------------------------------------------------------------------------
const handlers: { [K in ToWebview['type']]: (m: Extract<ToWebview, { type: K }>) => void } = {
  init: (m) => {
    view.servers = m.servers;
    app = m.app;
    document.title = `Logs: ${app}`;
    // Kept by VS Code with the panel: after a window reload the extension reopens it from this.
    vscode.setState({ app, servers: m.servers });
  },
  lines: (m) => {
    const lines = unpackLines(m);
    if (!lines) return; // its parts disagree: not something the extension sends
    stats.linesReceived += lines.length;
    add(lines.map((line): Entry => ({ kind: 'line', line })));
  },
  marker: (m) => add([{ kind: 'note', server: m.server, text: m.text, time: m.time, tone: 'marker' }]),
  status: (m) => {
    const before = lastState.get(m.server)?.state;
    lastState.set(m.server, { state: m.state, message: m.message });
    const all = [...lastState.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
    statusBar.textContent = all.map((v) => v.message).join(' · ');
    statusBar.className = all.reduce((worst, v) => (SEVERITY[v.state] > SEVERITY[worst] ? v.state : worst), 'connected' as ServerState);
    if (m.state !== 'connected') add([{ kind: 'note', server: m.server, text: m.message, time: new Date().toISOString(), tone: 'status' }]);
    else if (before && before !== 'connected') add([{ kind: 'note', server: m.server, text: `${view.servers[m.server] ?? ''} reconnected`, time: new Date().toISOString(), tone: 'status' }]);
  },
};

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const m = event.data;
  if (!isToWebview(m)) return; // only what the extension is known to send
  (handlers[m.type] as (msg: ToWebview) => void)(m);
});
post({ type: 'ready' });
