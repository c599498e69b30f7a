import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config, PortMapping, ProxyConfig } from '../../../src/core/config/types';
import { appAddress, displayUrl } from '../../../src/editor/app-url';

/** A Config as the loader returns it, built here so these tests do not depend on the loader. */
function config(ports: Partial<PortMapping>[], proxy?: Partial<ProxyConfig>): Config {
  return {
    file: '/w/baremetal.json',
    dir: '/w',
    app: 'shop',
    servers: { prod: { name: 'prod', host: 'prod-box', dockerSocket: '/var/run/docker.sock', stateDir: '.baremetal' } },
    build: { dockerfile: 'Dockerfile', context: '.', args: {}, secrets: [], on: 'local' },
    run: {
      ports: ports.map((p) => ({ hostPort: 8080, containerPort: 8080, protocol: 'tcp', spec: `${p.hostPort ?? 8080}:8080`, ...p })),
      env: {},
      secrets: [],
      volumes: [],
      restart: 'unless-stopped',
      healthcheck: false,
    },
    keep: 5,
    ...(proxy && {
      proxy: { hosts: ['shop.example.com'], port: 8080, tls: 'auto', healthcheck: { path: '/', timeoutSeconds: 30, intervalSeconds: 1 }, drainSeconds: 30, image: 'caddy:2', ...proxy },
    }),
  };
}

test('behind the proxy: every host name, https unless tls is "off", whatever the server', () => {
  const hosts = ['shop.example.com', 'www.shop.example.com'];
  assert.deepEqual(appAddress(config([], { hosts }), 'prod', undefined), { urls: ['https://shop.example.com/', 'https://www.shop.example.com/'] });
  assert.deepEqual(appAddress(config([], { hosts, tls: 'internal' }), 'prod', '10.0.0.1').urls[0], 'https://shop.example.com/');
  assert.deepEqual(appAddress(config([], { hosts: ['shop.test'], tls: 'off' }), 'prod', '10.0.0.1'), { urls: ['http://shop.test/'] });
});

test('without a proxy: the first published TCP port at the server address', () => {
  const c = config([{ protocol: 'udp', hostPort: 5353, containerPort: 53 }, { hostPort: 18080 }, { hostPort: 9000 }]);
  assert.deepEqual(appAddress(c, 'prod', '10.213.1.2'), { urls: ['http://10.213.1.2:18080/'] });
  assert.deepEqual(appAddress(c, 'prod', '2001:db8::7'), { urls: ['http://[2001:db8::7]:18080/'] });
});

test('a port bound to one address answers there; on a wildcard, at the server address', () => {
  assert.deepEqual(appAddress(config([{ hostIp: '192.0.2.5', hostPort: 80 }]), 'prod', '10.0.0.1').urls, ['http://192.0.2.5:80/']);
  assert.deepEqual(appAddress(config([{ hostIp: '0.0.0.0', hostPort: 80 }]), 'prod', '10.0.0.1').urls, ['http://10.0.0.1:80/']);
});

test('no port published: one sentence that suggests proxy.hosts', () => {
  const { urls, problem } = appAddress(config([]), 'prod', '10.0.0.1');
  assert.deepEqual(urls, []);
  assert.match(problem ?? '', /^shop publishes no port on prod, so no browser can reach it: .*"proxy": \{ "hosts": \["shop\.example\.com"\], "port": 8080 \}/);
  assert.equal(problem?.split(/[.!?] /).length, 1, 'one sentence');
  // Only UDP is no web port either.
  assert.ok(appAddress(config([{ protocol: 'udp', hostPort: 53, containerPort: 53 }]), 'prod', '10.0.0.1').problem);
});

test("a port on the server's loopback only is out of a browser's reach, said so", () => {
  const { urls, problem } = appAddress(config([{ hostIp: '127.0.0.1', hostPort: 8080, spec: '127.0.0.1:8080:8080' }]), 'prod', '10.0.0.1');
  assert.deepEqual(urls, []);
  assert.match(problem ?? '', /only on prod's loopback \(127\.0\.0\.1:8080:8080\).*proxy\.hosts/);
});

test('the server address not known yet: no URL, and no problem to tell', () => {
  assert.deepEqual(appAddress(config([{ hostPort: 8080 }]), 'prod', undefined), { urls: [] });
});

test('the view shows the bare root without its slash, anything longer as is', () => {
  assert.equal(displayUrl('https://shop.example.com/'), 'https://shop.example.com');
  assert.equal(displayUrl('http://10.213.1.2:18080/'), 'http://10.213.1.2:18080');
  assert.equal(displayUrl('https://shop.example.com/admin/'), 'https://shop.example.com/admin/');
});
