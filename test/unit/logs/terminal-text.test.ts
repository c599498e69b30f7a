import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plainLine, terminalLine } from '../../../src/protocol/terminal-text';
import { LogDemuxer } from '../../../src/drivers/docker/convert';
import { plain, render, type Entry } from '../../../webview/src/format';

const ESC = '\x1b';
const BEL = '\x07';
const RESET = `${ESC}[0m`;

test('colours stay, and are reset at the end of the line so that they never reach the next one', () => {
  assert.equal(terminalLine(`${ESC}[1;31merror${ESC}[0m: disk full`), `${ESC}[1;31merror${ESC}[0m: disk full${RESET}`);
  assert.equal(terminalLine(`${ESC}[38;5;208morange and ${ESC}[38:2::10:20:30mtruecolour`), `${ESC}[38;5;208morange and ${ESC}[38:2::10:20:30mtruecolour${RESET}`);
  assert.equal(terminalLine('GET / 200 in 3 ms\twith a tab'), 'GET / 200 in 3 ms\twith a tab', 'a plain line is left alone');
  assert.equal(plainLine(`${ESC}[1;31merror${ESC}[0m: disk full`), 'error: disk full', 'plain text has no colour');
});

test('cursor moves, clears and other CSI are dropped, the text around them kept', () => {
  assert.equal(terminalLine(`before${ESC}[2Jafter`), 'beforeafter', 'clear screen');
  assert.equal(terminalLine(`${ESC}[H${ESC}[3J${ESC}[1A${ESC}[2K${ESC}[10;1Hfake`), 'fake', 'home, clear scrollback, up, erase line, move');
  assert.equal(terminalLine(`${ESC}[?1049h${ESC}[?25l${ESC}[5;10rtext${ESC}[6n`), 'text', 'alternate screen, hidden cursor, scroll region, report');
  assert.equal(terminalLine(`${ESC}[>4;2mkeys`), 'keys', 'not SGR (private parameters)');
  assert.equal(terminalLine(`up${ESC}M${ESC}7${ESC}8${ESC}c${ESC}(0qqq`), 'upqqq', 'reverse index, save/restore, full reset, line drawing charset');
  assert.equal(terminalLine('a\bb\x0bc\x0cd\x7fe'), 'abcde', 'backspace, vertical tab, form feed, delete');
});

test('8-bit C1 controls are dropped like their ESC forms (CSI \\x9b, OSC \\x9d, DCS \\x90)', () => {
  assert.equal(terminalLine('x\x9b2Jy'), 'xy');
  assert.equal(terminalLine('x\x9b31mred'), `x${ESC}[31mred${RESET}`, 'an 8-bit SGR is kept as its 7-bit form');
  assert.equal(terminalLine('x\x9d0;title\x9cy'), 'xy');
  assert.equal(terminalLine('x\x90q#0;2;0;0;0\x9cy'), 'xy');
  assert.equal(terminalLine('x\x85y\x8dz'), 'xyz', 'next line, reverse index');
});

test('window titles, clipboard writes and other OSC go; DCS, PM and APC strings too', () => {
  assert.equal(terminalLine(`${ESC}]0;title${BEL}after`), 'after');
  assert.equal(terminalLine(`${ESC}]2;title${ESC}\\after`), 'after', 'ended by ST');
  assert.equal(terminalLine(`${ESC}]52;c;ZXZpbA==${BEL}x`), 'x', 'clipboard');
  assert.equal(terminalLine(`${ESC}P+q544e${ESC}\\${ESC}^pm${ESC}\\${ESC}_apc${ESC}\\x`), 'x');
});

test('an OSC 8 link shows where it goes: its text, then its target', () => {
  const link = (target: string, text: string) => `${ESC}]8;;${target}${BEL}${text}${ESC}]8;;${BEL}`;
  assert.equal(terminalLine(`see ${link('https://evil.example/login', 'https://bank.example')} now`), 'see https://bank.example (https://evil.example/login) now');
  assert.equal(terminalLine(`${link('https://docs.example/x', 'https://docs.example/x')}`), 'https://docs.example/x', 'the text is the target: once');
  assert.equal(terminalLine(`${ESC}]8;id=7;file:///etc/passwd${ESC}\\${ESC}[4mreport${ESC}[24m${ESC}]8;;${ESC}\\`), `${ESC}[4mreport${ESC}[24m (file:///etc/passwd)${RESET}`);
  assert.equal(terminalLine(`${ESC}]8;;https://a.example${BEL}never closed`), 'never closed (https://a.example)', 'closed at the line end');
  assert.equal(terminalLine(`${ESC}]8;;https://a.example${BEL}${ESC}]8;;${BEL}`), 'https://a.example', 'no text: the target');
  assert.equal(plainLine(`click ${link('https://evil.example', 'here')}`), 'click here (https://evil.example)');
});

test('an escape cut off at the line end is dropped, and nothing of it reaches the next line', () => {
  assert.equal(terminalLine(`half ${ESC}[3`), 'half ');
  assert.equal(terminalLine(`half ${ESC}]0;no end, the rest is the title`), 'half ');
  assert.equal(terminalLine(`half ${ESC}`), 'half ');
  assert.equal(terminalLine(`a ${ESC}[3\x07b`), 'a b', 'a CSI broken by a control: dropped, the text after it read afresh');
});

test('an escape split across chunks of the log stream is joined before it is judged', () => {
  const d = new LogDemuxer(false);
  const lines = [...d.push(Buffer.from(`ok${ESC}[3`)), ...d.push(Buffer.from(`1mred${ESC}`)), ...d.push(Buffer.from(`[2Jstill here\n${ESC}]0;ti`)), ...d.push(Buffer.from(`tle${BEL}next\n`))].map((l) => terminalLine(l.text));
  assert.deepEqual(lines, [`ok${ESC}[31mredstill here${RESET}`, 'next']);
});

test('a line redrawn with "\\r" (a progress bar) shows what a terminal shows last', () => {
  assert.equal(terminalLine(' 10%|#   |\r 50%|##  |\r100%|####|'), '100%|####|');
  assert.equal(terminalLine('done\r'), 'done', 'a trailing CR is no redraw');
});

const view = { servers: ['bm1'], showTimes: false };
const appLine = (x: string): Entry => ({ kind: 'line', line: { s: 0, e: 0, x } });

test('what the panel writes to xterm for a hostile line holds no escape but colours', () => {
  const hostile = `${ESC}[2J${ESC}[H${ESC}]0;pwned${BEL}${ESC}[1;36m── deploy: now web-evil (deadbeef) · 12:00:00 ──${ESC}[0m${ESC}[K`;
  const out = render(view, appLine(hostile));
  assert.deepEqual([...out.matchAll(/\x1b\[([0-9;:]*)([A-Za-z])/g)].map((m) => m[2]).filter((f) => f !== 'm'), [], out);
  assert.ok(!out.includes(`${ESC}]`), 'no OSC');
  assert.ok(out.startsWith(`${ESC}[2m› ${ESC}[0m`), 'an app line that starts like a marker is prefixed');
  assert.equal(plain(view, appLine(hostile)), '› ── deploy: now web-evil (deadbeef) · 12:00:00 ──', 'Copy and Save: plain text, prefixed the same');
});

test("the panel's own markers are a band to the row's end, which an app line cannot draw", () => {
  const marker: Entry = { kind: 'note', server: 0, text: 'deploy: now web-abc (abc)', time: '2026-11-25T22:47:01Z', tone: 'marker' };
  const drawn = render(view, marker);
  assert.match(drawn, /^\x1b\[0;1;30;46m── deploy: now web-abc \(abc\) · \d\d:\d\d:01 ──\x1b\[K\x1b\[0m\n$/);
  assert.ok(!render(view, appLine(`${ESC}[1;30;46m── x ──${ESC}[K`)).includes(`${ESC}[K`), 'the erase that draws the band is never an app line’s');
  assert.equal(render(view, appLine('-- a normal line')), '-- a normal line\n', 'two ASCII hyphens are an ordinary line');
});
