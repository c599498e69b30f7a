/**
 * What a tree view has handed to the workbench, so that a model change redraws only the rows
 * whose text changed, on the same objects. No vscode here (unit tested with plain objects).
 *
 * Why: VS Code's extension host finds the item of an inline button's click by its handle in a
 * map it empties whenever the whole view is refreshed (`onDidChangeTreeData` fired with
 * undefined), until the workbench has fetched the rows again. A Deploy clicked in that gap
 * reached the command without its row, which then asked "Deploy which commit?". The views fired
 * that way on every model change and every CPU reading, though most changed nothing or one
 * description. Refreshing single rows keeps every handle known: the extension host swaps a row's
 * node in place. A row with children still has its children fetched again (VS Code's choice),
 * and rows added or removed at the top level still need the whole view.
 */

/** The parts of a tree item the workbench shows (vscode.TreeItem has them all). */
export interface Row {
  id?: string;
  label?: unknown;
  description?: unknown;
  tooltip?: unknown;
  iconPath?: unknown;
  contextValue?: string;
  collapsibleState?: number;
  command?: { command: string; title: string; arguments?: unknown[] };
  resourceUri?: unknown;
}

/** What to tell the workbench: nothing, the whole view, or these rows (the objects it has). */
export type Redraw<T> = { kind: 'none' } | { kind: 'all' } | { kind: 'rows'; rows: T[] };

const ROOT = '';

/** What a row looks like, as a string: the same string, the same row on screen. */
export function rowText(row: Row): string {
  const { id, label, description, tooltip, iconPath, contextValue, collapsibleState, command, resourceUri } = row;
  return JSON.stringify({
    id, label, description, tooltip, iconPath, contextValue, collapsibleState, resourceUri: resourceUri === undefined ? undefined : String(resourceUri),
    // A command's arguments are the row itself: what the click runs is told by its id and title.
    command: command && { command: command.command, title: command.title },
  });
}

export class ShownRows<T extends Row & object> {
  /** One object per row key for as long as the workbench shows that row. */
  private readonly objects = new Map<string, T>();
  private readonly keys = new WeakMap<T, string>();
  /** Each shown row's text and its children's keys as the workbench last got them (ROOT: the top level). */
  private readonly texts = new Map<string, string>();
  private readonly children = new Map<string, string[]>();

  /** `build(parent)`: the rows under `parent` (undefined: the top level) as the model has them now, new objects. */
  constructor(private readonly build: (parent?: T) => T[]) {}

  /** For getChildren: the rows now, as the objects the workbench already has where it has them. */
  rows(parent?: T): T[] {
    const parentKey = parent === undefined ? ROOT : this.keys.get(parent);
    // A row no longer known (gone since): its own rows, unshared.
    if (parentKey === undefined) return this.build(parent);
    const rows = this.adopt(parentKey, this.build(parent));
    this.children.set(parentKey, rows.map((r) => this.keys.get(r)!));
    for (const r of rows) this.texts.set(this.keys.get(r)!, rowText(r));
    return rows;
  }

  /**
   * After a model change: which rows the workbench must fetch again. Rows keep their objects,
   * updated to the model's data, so a command run from one acts on what it shows now.
   */
  redraw(): Redraw<T> {
    // Nothing handed out yet, or the whole view is being fetched again: that fetch gets the rows
    // as they are then. Another refresh meanwhile would empty the handles again for nothing (at
    // startup, the first rows shown were refreshed away under the first click).
    if (!this.children.has(ROOT)) return { kind: 'none' };
    const top = this.adopt(ROOT, this.build());
    if (!sameList(top.map((r) => this.keys.get(r)!), this.children.get(ROOT)!)) return this.all();
    const changed: T[] = [];
    const seen = new Set<string>();
    // Top down through the rows the workbench fetched: a row whose text or children changed is
    // fetched again (its children with it, so those below it need no look).
    const visit = (rows: T[]) => {
      for (const row of rows) {
        const key = this.keys.get(row)!;
        seen.add(key);
        const known = this.children.get(key);
        const kids = known ? this.adopt(key, this.build(row)) : [];
        if (this.texts.get(key) !== rowText(row) || (known && !sameList(kids.map((k) => this.keys.get(k)!), known))) {
          changed.push(row);
          this.texts.set(key, rowText(row));
          this.forget(key);
          continue;
        }
        if (known) visit(kids);
      }
    };
    visit(top);
    // Rows gone (or under a changed row, handed out again by rows()) are forgotten.
    for (const key of [...this.children.keys()]) if (key !== ROOT && !seen.has(key)) this.forget(key);
    for (const key of [...this.objects.keys()]) {
      if (seen.has(key) || this.underKnown(key)) continue;
      this.objects.delete(key);
      this.texts.delete(key);
    }
    return changed.length ? { kind: 'rows', rows: changed } : { kind: 'none' };
  }

  /** The whole view again: nothing handed out is kept. */
  private all(): Redraw<T> {
    this.objects.clear();
    this.texts.clear();
    this.children.clear();
    return { kind: 'all' };
  }

  /** Drops what is known below `key`: the workbench fetches those rows again. */
  private forget(key: string): void {
    for (const child of this.children.get(key) ?? []) {
      this.forget(child);
      this.texts.delete(child);
    }
    this.children.delete(key);
  }

  /** Whether a kept object belongs to a row whose children the workbench still has. */
  private underKnown(key: string): boolean {
    for (const kids of this.children.values()) if (kids.includes(key)) return true;
    return false;
  }

  /** The fresh rows' data on the objects already handed out for the same keys; new objects for new keys. */
  private adopt(parentKey: string, fresh: T[]): T[] {
    const counts = new Map<string, number>();
    return fresh.map((row) => {
      let key = row.id;
      if (key === undefined) {
        // A row without an id (a message) is known by its place and its text.
        const label = `${parentKey}\u0000${String(typeof row.label === 'object' ? JSON.stringify(row.label) : row.label)}`;
        const n = counts.get(label) ?? 0;
        counts.set(label, n + 1);
        key = `${label}\u0000${n}`;
      }
      const old = this.objects.get(key);
      if (!old || old === row) {
        this.objects.set(key, row);
        this.keys.set(row, key);
        return row;
      }
      for (const k of Object.keys(old)) if (!Object.hasOwn(row, k)) delete (old as Record<string, unknown>)[k];
      Object.assign(old, row);
      // The click's command hands the row itself to its handler: the kept object, not the new one.
      if (row.command?.arguments) old.command = { ...row.command, arguments: row.command.arguments.map((a) => (a === row ? old : a)) };
      return old;
    });
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
