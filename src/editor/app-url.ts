/**
 * Where a browser reaches the app on a server, worked out from the config alone (no vscode, no
 * I/O: the views call it while drawing, the unit tests call it directly).
 */
import type { Config } from '../core/config/types';
import { appUrls } from '../core/proxy/urls';

/** The app's addresses, or the one sentence saying why a browser cannot reach it. */
export interface AppAddress {
  urls: string[];
  problem?: string;
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);
const LOOPBACK = /^(127\.|localhost$|::1$|\[::1\]$)/;

/**
 * Behind the proxy: its host names (the same on every server, so `host` is not needed). Without
 * one: the first published TCP port at `host`, the server's address as SSH resolved it (the
 * HostName, which is what the user's machine reaches). With `host` unknown (not connected yet)
 * there is no URL and no problem either: the caller resolves it or shows nothing.
 */
export function appAddress(config: Config, serverName: string, host: string | undefined): AppAddress {
  if (config.proxy) {
    const urls = appUrls(config);
    return urls.length ? { urls } : { urls, problem: `"proxy.hosts" of ${config.app} names no host: add the host names its users type, e.g. "hosts": ["shop.example.com"].` };
  }
  const port = config.run.ports.find((p) => p.protocol === 'tcp');
  if (!port) {
    return {
      urls: [],
      problem: `${config.app} publishes no port on ${serverName}, so no browser can reach it: serve it under a host name over HTTPS with "proxy": { "hosts": ["shop.example.com"], "port": 8080 } in baremetal.json (port: the app's port inside its container), or publish a port in "run.ports".`,
    };
  }
  if (port.hostIp && LOOPBACK.test(port.hostIp)) {
    return {
      urls: [],
      problem: `${config.app} publishes port ${port.hostPort} only on ${serverName}'s loopback (${port.spec}), out of a browser's reach: serve it under a host name with "proxy.hosts", or publish the port on all addresses.`,
    };
  }
  // A port bound to one address of the server answers only there.
  const where = port.hostIp && !WILDCARD.has(port.hostIp) ? port.hostIp : host;
  if (!where) return { urls: [] };
  return { urls: [`http://${bracketed(where)}:${port.hostPort}/`] };
}

/** An IPv6 address goes in brackets inside a URL. */
function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** What the Servers view shows of a URL: no trailing slash on the bare root ("https://shop.example.com"). */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^/]+)\/$/, '$1');
}
