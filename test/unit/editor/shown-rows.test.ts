import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShownRows, type Row } from '../../../src/editor/views/shown-rows';

/** A row as the views make them: the data a command needs, and what the workbench shows. */
interface Item extends Row {
  data: string;
}

/** A model of nested rows: each key's text, and its children's keys. */
function world() {
  const text = new Map<string, string>([['web', '2 servers'], ['bm1', 'connected'], ['bm2', 'connected'], ['c1', '12%'], ['c2', '3%']]);
  const kids = new Map<string, string[]>([['', ['web', 'bm2']], ['web', ['bm1']], ['bm1', ['c1']], ['bm2', ['c2']]]);
  const make = (id: string): Item => ({
    id, label: id, description: text.get(id), data: `${id}@${text.get(id)}`, collapsibleState: kids.has(id) ? 2 : 0,
    ...(id === 'bm2' && { command: { command: 'show', title: 'Show', arguments: [] as unknown[] } }),
  });
  const built = (id: string) => {
    const row = make(id);
    if (row.command) row.command.arguments = [row];
    return row;
  };
  const shown = new ShownRows<Item>((parent) => (kids.get(parent?.id ?? '') ?? []).map(built));
  /** What the workbench fetches: every row, top down (all are expanded). */
  const fetchAll = () => {
    const all = new Map<string, Item>();
    const walk = (parent?: Item) => {
      for (const r of shown.rows(parent)) {
        all.set(r.id!, r);
        if (r.collapsibleState) walk(r);
      }
    };
    walk();
    return all;
  };
  return { text, kids, shown, fetchAll };
}

test('a model change that changes no row redraws nothing', () => {
  const w = world();
  w.fetchAll();
  assert.deepEqual(w.shown.redraw(), { kind: 'none' });
  assert.deepEqual(w.shown.redraw(), { kind: 'none' });
});

test('a changed description redraws that row only, on the object the workbench has, with the new data', () => {
  const w = world();
  const before = w.fetchAll();
  w.text.set('c1', '40%');
  const redraw = w.shown.redraw();
  assert.equal(redraw.kind, 'rows');
  assert.ok(redraw.kind === 'rows');
  assert.equal(redraw.rows.length, 1);
  assert.equal(redraw.rows[0], before.get('c1'), 'the same object');
  assert.equal(redraw.rows[0].description, '40%');
  assert.equal(redraw.rows[0].data, 'c1@40%');
  // The workbench asks again: the same objects everywhere.
  const after = w.fetchAll();
  for (const [id, row] of before) assert.equal(after.get(id), row, id);
  assert.deepEqual(w.shown.redraw(), { kind: 'none' });
});

test('a row with children that changed is redrawn alone (its children come with it), not its parent', () => {
  const w = world();
  const before = w.fetchAll();
  w.text.set('bm1', 'connected · a1b2c3d running');
  w.text.set('c1', '1%');
  const redraw = w.shown.redraw();
  assert.ok(redraw.kind === 'rows');
  assert.deepEqual(redraw.rows.map((r) => r.id), ['bm1']);
  assert.equal(redraw.rows[0], before.get('bm1'));
  // The children of a redrawn row are asked for again.
  assert.equal(w.shown.rows(before.get('bm1'))[0].description, '1%');
});

test('a child added under a row redraws that row; one added or removed at the top redraws the whole view', () => {
  const w = world();
  w.fetchAll();
  w.kids.set('bm2', ['c2', 'c3']);
  w.text.set('c3', 'new');
  const redraw = w.shown.redraw();
  assert.ok(redraw.kind === 'rows');
  assert.deepEqual(redraw.rows.map((r) => r.id), ['bm2']);
  const again = w.fetchAll();
  assert.ok(again.has('c3'));

  w.kids.set('', ['web']);
  assert.deepEqual(w.shown.redraw(), { kind: 'all' });
  // Until the workbench has fetched the rows again, nothing more: that fetch gets them as they are then.
  w.text.set('web', '1 server');
  assert.deepEqual(w.shown.redraw(), { kind: 'none' });
  const fresh = w.fetchAll();
  assert.deepEqual([...fresh.keys()].sort(), ['bm1', 'c1', 'web']);
  assert.equal(fresh.get('web')?.description, '1 server');
  assert.deepEqual(w.shown.redraw(), { kind: 'none' });
});

test("a kept row's click runs on the kept object, and a property the model dropped is gone from it", () => {
  const w = world();
  const before = w.fetchAll();
  const bm2 = before.get('bm2')!;
  assert.equal(bm2.command?.arguments?.[0], bm2);
  w.text.set('bm2', 'unreachable');
  const redraw = w.shown.redraw();
  assert.ok(redraw.kind === 'rows');
  assert.equal(redraw.rows[0], bm2);
  assert.equal(bm2.command?.arguments?.[0], bm2, 'the click hands over the row the workbench has');
  assert.equal(bm2.data, 'bm2@unreachable');

  const plain = new ShownRows<Item>(() => [{ id: 'x', label: 'x', data: 'x' }]);
  let shownCommand = true;
  const rows = new ShownRows<Item>(() => [{ id: 'x', label: 'x', data: 'x', ...(shownCommand && { command: { command: 'fix', title: 'Fix' } }) }]);
  const [x] = rows.rows();
  shownCommand = false;
  assert.deepEqual(rows.redraw(), { kind: 'rows', rows: [x] });
  assert.equal(x.command, undefined);
  assert.deepEqual(plain.redraw(), { kind: 'none' }, 'nothing handed out yet: nothing to redraw');
});

test('rows without an id (messages) are known by their place and text', () => {
  let message = 'Connecting…';
  const rows = new ShownRows<Item>((parent) => (parent ? [{ label: message, data: '' }] : [{ id: 's', label: 's', data: '', collapsibleState: 2 }]));
  const [s] = rows.rows();
  const [m] = rows.rows(s);
  assert.deepEqual(rows.redraw(), { kind: 'none' });
  assert.equal(rows.rows(s)[0], m);
  message = 'No deploys yet';
  assert.deepEqual(rows.redraw(), { kind: 'rows', rows: [s] });
  assert.equal(rows.rows(s)[0].label, 'No deploys yet');
});
