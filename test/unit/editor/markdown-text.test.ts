import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import type { HistoryEntry } from '../../../src/core/deploy/status';
import { mdCode, mdText } from '../../../src/editor/markdown-text';
import { deploymentTooltip, proxyTooltip, serverTooltip } from '../../../src/editor/views/tooltip-text';
import { rec } from '../fakes/records';

// A Markdown renderer as strict as a tooltip could be (HTML and bare links on): what a user sees.
// markdown-it comes with @vscode/vsce, which packages the extension.
const MarkdownIt = createRequire(__filename)('markdown-it') as new (o: object) => { render(md: string): string; renderInline(md: string): string };
const md = new MarkdownIt({ html: true, linkify: true });
const decode = (html: string) => html.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
/** The tags in rendered HTML, and its text. */
const tags = (html: string) => [...html.matchAll(/<\/?([a-z0-9]+)/g)].map((m) => m[1]);
const textOf = (html: string) => decode(html.replace(/<br \/>\n?/g, '\n').replace(/<[^>]+>/g, ''));

const HOSTILE = [
  '[Fix login](https://evil.example/steal) **now**',
  '<img src=x onerror=alert(1)> &amp; <b>bold</b>',
  '# not a heading',
  '- not a list\n1. nor this',
  '`code` *em* _em_ ~~strike~~ \\ backslash',
  'see https://evil.example and www.evil.example',
  '![image](https://evil.example/p.png)',
  '<https://evil.example>',
  'a | table | row',
];

test('mdText: any text shows as itself, nothing in it becomes a link, emphasis, heading, list or HTML', () => {
  for (const s of HOSTILE) {
    const html = md.render(mdText(s));
    assert.deepEqual([...new Set(tags(html))].filter((t) => t !== 'p' && t !== 'br'), [], `${JSON.stringify(s)} rendered as ${html}`);
    assert.equal(textOf(html).trim(), s, `the same text: ${JSON.stringify(s)}`);
  }
});

test('mdCode: inline code holding backticks stays one code span with the text as it is', () => {
  for (const s of ['plain', 'a`b', '``x``', '`start', 'end`', 'web`](https://evil.example)']) {
    const html = md.renderInline(mdCode(s));
    assert.deepEqual(tags(html), ['code', 'code'], html);
    assert.equal(textOf(html), s);
  }
});

test("a deployment's tooltip: the commit subject and the failure reason are shown as written", () => {
  const entry: HistoryEntry = { ...rec('one', { result: 'failed', subject: '[urgent](https://evil.example) **fix** <script>x</script>', reason: 'exit 1: <b>oops</b> see [log](command:workbench.action.terminal.new)', who: 'mallory_<i>@host' }), current: false };
  const html = md.render(deploymentTooltip(entry, '1/1/2030, 00:01'));
  assert.deepEqual([...new Set(tags(html))].sort(), ['code', 'p', 'strong'], html);
  const text = textOf(html);
  assert.ok(text.includes(entry.subject), text);
  assert.ok(text.includes(entry.reason!), text);
  assert.ok(text.includes(`deploy by mallory_<i>@host, 1/1/2030, 00:01: failed`), text);
});

test("the proxy's tooltip: route names and host names from Caddy cannot add links or break out of their code spans", () => {
  const html = md.render(
    proxyTooltip({ state: 'running', image: 'caddy:2', version: 'v2.8.4', routes: [{ app: 'web`](https://evil.example)', hosts: ['a.example', '*evil*.example'], port: 3000, tls: 'auto' as never }], problem: undefined }),
  );
  assert.ok(!tags(html).includes('a'), html);
  assert.ok(!tags(html).includes('em'), html);
  const text = textOf(html);
  assert.ok(text.includes('web`](https://evil.example): a.example, *evil*.example → port 3000, TLS auto'), text);
});

test("a server's tooltip: the error message is text", () => {
  const html = md.render(serverTooltip('prod', 'deploy@10.0.0.1', 'Permission denied: see [docs](https://evil.example)', 'SHA256:abc'));
  assert.ok(!tags(html).includes('a'), html);
  assert.ok(textOf(html).includes('Permission denied: see [docs](https://evil.example)'));
  assert.ok(textOf(html).includes('Fingerprint: SHA256:abc'));
});
