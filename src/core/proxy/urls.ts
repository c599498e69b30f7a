import type { Config } from '../config/types';

/** The addresses an app answers at through the proxy: https unless tls is "off". */
export function appUrls(config: Config): string[] {
  const proxy = config.proxy;
  if (!proxy) return [];
  const scheme = proxy.tls === 'off' ? 'http' : 'https';
  return proxy.hosts.map((h) => `${scheme}://${h}/`);
}
