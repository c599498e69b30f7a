/**
 * The Markdown of the Servers and Deployments views' tooltips, every outside value escaped
 * (see markdown-text.ts). Pure, no vscode: items.ts wraps them in MarkdownStrings.
 */
import type { HistoryEntry } from '../../core/deploy/status';
import { describeProxy, type ProxyStatus } from '../../core/proxy/proxy-status';
import type { Runs } from '../fleet-text';
import { mdCode, mdText } from '../markdown-text';

const paragraphs = (parts: (string | undefined)[]) => parts.filter(Boolean).join('\n\n');

export function serverTooltip(name: string, host: string, error?: string, fingerprint?: string): string {
  return paragraphs([`**${mdText(name)}** (${mdText(host)})`, error ? mdText(error) : undefined, fingerprint ? `Fingerprint: ${mdCode(fingerprint)}` : undefined]);
}

export function groupTooltip(name: string, runs: readonly Runs[]): string {
  return paragraphs([`**${mdText(name)}**: a group of baremetal.json`, ...runs.map((r) => `- ${mdText(r.name)}: ${r.known ? (r.commit ? mdText(r.commit) : 'not deployed') : 'not connected'}`)]);
}

export function deploymentTooltip(entry: HistoryEntry, when: string): string {
  return paragraphs([
    `**${mdText(entry.subject)}**`,
    mdCode(entry.commit),
    `${mdText(entry.kind)} by ${mdText(entry.who)}, ${mdText(when)}: **${mdText(entry.result)}**`,
    entry.reason ? mdText(entry.reason) : undefined,
  ]);
}

export function proxyTooltip(proxy: ProxyStatus): string {
  return paragraphs([
    `**${mdText(describeProxy(proxy))}**`,
    ...proxy.routes.map((r) => `- ${mdCode(r.app)}: ${r.hosts.map(mdCode).join(', ')} → port ${mdText(String(r.port))}, TLS ${mdText(String(r.tls))}`),
    proxy.problem ? mdText(proxy.problem) : undefined,
  ]);
}
