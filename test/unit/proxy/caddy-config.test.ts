import assert from 'node:assert/strict';
import { test } from 'node:test';
import { caddyConfig, featuresOf, hostTakenBy, routesOf, sameRoute, withRoute, type AppRoute } from '../../../src/core/proxy/caddy-config';

const shop: AppRoute = { app: 'shop', hosts: ['shop.example.com', 'www.shop.example.com'], port: 8080, tls: 'auto' };
const blog: AppRoute = { app: 'blog', hosts: ['blog.test'], port: 3000, tls: 'internal' };
const api: AppRoute = { app: 'api', hosts: ['api.test'], port: 9000, tls: 'off' };
const pem: AppRoute = { app: 'pem', hosts: ['pem.test'], port: 80, tls: 'files' };

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test('each app routes its hosts to the DNS name <app>--live, falling back to <app>--any, retried on refusal', () => {
  const c = caddyConfig([shop]) as Json;
  const [r] = c.apps.http.servers.https.routes;
  assert.equal(r['@id'], 'baremetal-app-shop');
  assert.deepEqual(r.match, [{ host: ['shop.example.com', 'www.shop.example.com'] }]);
  const h = r.handle[0];
  assert.equal(h.handler, 'reverse_proxy');
  assert.deepEqual(h.dynamic_upstreams, { source: 'a', name: 'shop--live', port: '8080', refresh: '250ms' });
  assert.deepEqual(h.upstreams, [{ dial: 'shop--any:8080' }]);
  assert.deepEqual(h.load_balancing, { try_duration: '5s', try_interval: '100ms' });
  assert.equal(h.stream_close_delay, undefined, 'Caddy 2.6 would refuse the field');
  assert.deepEqual(c.admin, { listen: 'unix//baremetal/run/admin.sock', origins: ['baremetal'], config: { persist: true } });
});

test('TLS: ACME for "auto", the internal CA for "internal", port 80 only for "off", files for a pair from secrets', () => {
  const c = caddyConfig([shop, blog, api, pem]) as Json;
  assert.deepEqual(c.apps.http.servers.https.routes.map((r: Json) => r['@id']), ['baremetal-app-blog', 'baremetal-app-pem', 'baremetal-app-shop']);
  assert.deepEqual(c.apps.http.servers.http.routes.map((r: Json) => r['@id']), ['baremetal-app-api']);
  assert.deepEqual(c.apps.http.servers.https.listen, [':443']);
  assert.deepEqual(c.apps.tls.automation.policies, [
    { subjects: ['blog.test'], issuers: [{ module: 'internal' }] },
    { subjects: ['shop.example.com', 'www.shop.example.com'], issuers: [{ module: 'acme' }] },
  ]);
  assert.deepEqual(c.apps.tls.certificates.load_files, [{ certificate: '/baremetal/certs/pem.crt', key: '/baremetal/certs/pem.key', tags: ['pem'] }]);
});

test('the running config is read back as the routes it was made from (and only ours)', () => {
  const c = caddyConfig([shop, blog, api, pem]) as Json;
  c.apps.http.servers.https.routes.push({ match: [{ host: ['other.test'] }], handle: [] }); // someone else's route
  assert.deepEqual(routesOf(c), [api, blog, pem, shop]);
  assert.deepEqual(routesOf(undefined), []);
  assert.deepEqual(routesOf(caddyConfig([])), []);
});

test('a host of another app is named; replacing an app keeps the others; sameness', () => {
  assert.deepEqual(hostTakenBy([shop, blog], 'news', ['blog.test', 'news.test']), { app: 'blog', host: 'blog.test' });
  assert.equal(hostTakenBy([shop], 'shop', ['shop.example.com']), undefined, 'its own hosts are not taken');
  const moved = { ...shop, port: 9090 };
  assert.deepEqual(withRoute([shop, blog], moved), [blog, moved]);
  assert.ok(sameRoute(shop, { ...shop }));
  assert.ok(!sameRoute(shop, moved));
  assert.ok(!sameRoute(undefined, shop));
});

test('Caddy 2.7+ keeps streams open across a config change; 2.6 is given nothing it would refuse', () => {
  assert.deepEqual(featuresOf('2.6.2'), {});
  assert.deepEqual(featuresOf(undefined), {});
  assert.deepEqual(featuresOf('v2.8.4'), { streamCloseDelay: '24h' });
  const h = (caddyConfig([shop], featuresOf('2.7.0')) as Json).apps.http.servers.https.routes[0].handle[0];
  assert.equal(h.stream_close_delay, '24h');
});
