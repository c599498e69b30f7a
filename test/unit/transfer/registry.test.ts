import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExportedImage } from '../../../src/core/transfer/layer-cache';
import { buildManifest, MANIFEST_TYPE, parseRange, registryHandler } from '../../../src/core/transfer/registry';
import { exportParts, layerTar, makeImage, pseudoRandom, sha256 } from '../fakes/image-tar';
import { tempCache } from '../fakes/world';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const REPO = '0f1e2d3c4b5a69788796a5b4/web';

describe('registryHandler on a real HTTP server', () => {
  let image: ExportedImage;
  let server: http.Server;
  let base = '';
  let blobBytes = 0;
  const layersFetched: string[] = [];
  let big: { digest: string; size: number; bytes: Buffer };

  const request = (method: string, path: string, headers: Record<string, string> = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  const get = (path: string, headers?: Record<string, string>) => request('GET', path, headers);
  const blobPath = (digest: string) => `/v2/${REPO}/blobs/${digest}`;

  before(async () => {
    const layers = [await layerTar({ 'usr/lib/big.so': pseudoRandom('big', 50_000) }), await layerTar({ 'app/index.js': 'console.log(1)' })];
    image = await exportParts(tempCache(), makeImage(layers, { app: 'web' }));
    const l = image.layers[0];
    big = { digest: l.digest, size: l.size, bytes: await readFile(l.path) };
    server = http.createServer(registryHandler(image, { repository: REPO, tag: 'abc123', onBytes: (n) => (blobBytes += n), onLayer: (d) => layersFetched.push(d) }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('GET /v2/ answers 200 with the API version header', async () => {
    const r = await get('/v2/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.deepEqual(JSON.parse(r.body.toString()), {});
  });

  test('the manifest by tag: schema 2, naming the config and the compressed layers, with its digest', async () => {
    const r = await get(`/v2/${REPO}/manifests/abc123`, { Accept: MANIFEST_TYPE });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], MANIFEST_TYPE);
    assert.equal(r.headers['docker-content-digest'], sha256(r.body), 'Docker-Content-Digest is the sha256 of the body');
    assert.equal(Number(r.headers['content-length']), r.body.length);
    const m = JSON.parse(r.body.toString()) as { schemaVersion: number; mediaType: string; config: { mediaType: string; size: number; digest: string }; layers: { mediaType: string; size: number; digest: string }[] };
    assert.equal(m.schemaVersion, 2);
    assert.equal(m.mediaType, MANIFEST_TYPE);
    assert.deepEqual(m.config, { mediaType: 'application/vnd.docker.container.image.v1+json', size: image.config.length, digest: image.configDigest });
    assert.deepEqual(
      m.layers,
      image.layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.size, digest: l.digest })),
    );
    assert.deepEqual(r.body, buildManifest(image));
  });

  test('the manifest by its digest is the same document; another tag or digest is 404', async () => {
    const byTag = await get(`/v2/${REPO}/manifests/abc123`);
    const digest = byTag.headers['docker-content-digest'] as string;
    const byDigest = await get(`/v2/${REPO}/manifests/${digest}`);
    assert.equal(byDigest.status, 200);
    assert.deepEqual(byDigest.body, byTag.body);
    assert.equal(byDigest.headers['docker-content-digest'], digest);
    const other = await get(`/v2/${REPO}/manifests/latest`);
    assert.equal(other.status, 404);
    assert.equal((JSON.parse(other.body.toString()) as { errors: { code: string }[] }).errors[0].code, 'MANIFEST_UNKNOWN');
    assert.equal((await get(`/v2/${REPO}/manifests/sha256:${'0'.repeat(64)}`)).status, 404);
  });

  test('HEAD gives the headers of GET and no body, and counts no bytes', async () => {
    const before = blobBytes;
    const man = await request('HEAD', `/v2/${REPO}/manifests/abc123`);
    assert.equal(man.status, 200);
    assert.equal(man.headers['docker-content-digest'], sha256(buildManifest(image)));
    assert.equal(Number(man.headers['content-length']), buildManifest(image).length);
    assert.equal(man.body.length, 0);
    const fetched = layersFetched.length;
    const blob = await request('HEAD', blobPath(big.digest));
    assert.equal(blob.status, 200);
    assert.equal(Number(blob.headers['content-length']), big.size);
    assert.equal(blob.headers['docker-content-digest'], big.digest);
    assert.equal(blob.body.length, 0);
    const config = await request('HEAD', blobPath(image.configDigest));
    assert.equal(Number(config.headers['content-length']), image.config.length);
    assert.equal(config.body.length, 0);
    assert.equal(blobBytes, before, 'a HEAD sends no blob bytes');
    assert.equal(layersFetched.length, fetched, 'a HEAD is not a fetch');
  });

  test('blobs: the config and the cached compressed layer, byte for byte, named by their digest', async () => {
    const config = await get(blobPath(image.configDigest));
    assert.equal(config.status, 200);
    assert.deepEqual(config.body, image.config);
    assert.equal(config.headers['docker-content-digest'], image.configDigest);
    const layer = await get(blobPath(big.digest));
    assert.equal(layer.status, 200);
    assert.deepEqual(layer.body, big.bytes);
    assert.equal(sha256(layer.body), big.digest);
    assert.equal(layer.headers['accept-ranges'], 'bytes');
    assert.equal(layer.headers['content-type'], 'application/octet-stream');
    assert.equal(Number(layer.headers['content-length']), big.size);
  });

  test('Range: a-b, a- and -n give 206 with Content-Range and exactly those bytes', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=1000-', 1000, big.size - 1],
      ['bytes=-300', big.size - 300, big.size - 1],
      ['bytes=10-99999999', 10, big.size - 1],
      [`bytes=-${big.size * 2}`, 0, big.size - 1],
    ];
    for (const [range, start, end] of cases) {
      const r = await get(blobPath(big.digest), { Range: range });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${big.size}`, range);
      assert.equal(Number(r.headers['content-length']), end - start + 1, range);
      assert.deepEqual(r.body, big.bytes.subarray(start, end + 1), range);
    }
  });

  test('an unsatisfiable or malformed Range is 416 with the size in Content-Range', async () => {
    for (const range of [`bytes=${big.size}-`, 'bytes=50-10', 'bytes=-0', 'bytes=-', 'bytes=x-5']) {
      const r = await get(blobPath(big.digest), { Range: range });
      assert.equal(r.status, 416, range);
      assert.equal(r.headers['content-range'], `bytes */${big.size}`, range);
    }
  });

  test('another repository, another token, an unknown digest: 404', async () => {
    for (const path of [
      `/v2/ffffffffffffffffffffffff/web/manifests/abc123`,
      `/v2/${REPO}x/manifests/abc123`,
      `/v2/${REPO.replace('/web', '/api')}/blobs/${big.digest}`,
      `/v2/web/manifests/abc123`,
      `/v2/_catalog`,
    ]) {
      assert.equal((await get(path)).status, 404, path);
    }
    const unknown = await get(blobPath(`sha256:${'e'.repeat(64)}`));
    assert.equal(unknown.status, 404);
    assert.equal((JSON.parse(unknown.body.toString()) as { errors: { code: string }[] }).errors[0].code, 'BLOB_UNKNOWN');
  });

  test('it is read-only: POST, PUT, PATCH and DELETE are 405', async () => {
    assert.equal((await request('POST', `/v2/${REPO}/blobs/uploads/`)).status, 405);
    assert.equal((await request('PUT', `/v2/${REPO}/manifests/abc123`)).status, 405);
    assert.equal((await request('PATCH', `/v2/${REPO}/blobs/uploads/1`)).status, 405);
    assert.equal((await request('DELETE', blobPath(big.digest))).status, 405);
  });
});

test('onBytes counts exactly the body bytes of the blobs sent, and onLayer each layer fetched', async () => {
  const layers = [await layerTar({ a: pseudoRandom('a', 30_000) }), await layerTar({ b: 'b' })];
  const image = await exportParts(tempCache(), makeImage(layers));
  let bytes = 0;
  const fetched: string[] = [];
  const server = http.createServer(registryHandler(image, { repository: REPO, tag: 't', onBytes: (n) => (bytes += n), onLayer: (d) => fetched.push(d) }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fetchBody = async (path: string, headers: Record<string, string> = {}) => Buffer.from(await (await fetch(`${base}${path}`, { headers })).arrayBuffer());
  try {
    await fetchBody('/v2/');
    await fetchBody(`/v2/${REPO}/manifests/t`);
    assert.equal(bytes, 0, 'the ping and the manifest are not blobs');
    const config = await fetchBody(`/v2/${REPO}/blobs/${image.configDigest}`);
    const l0 = await fetchBody(`/v2/${REPO}/blobs/${image.layers[0].digest}`);
    const part = await fetchBody(`/v2/${REPO}/blobs/${image.layers[1].digest}`, { Range: 'bytes=5-' });
    assert.equal(bytes, config.length + l0.length + part.length);
    assert.equal(bytes, image.config.length + image.layers[0].size + image.layers[1].size - 5);
    assert.deepEqual(fetched, [image.layers[0].digest, image.layers[1].digest]);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('parseRange', () => {
  assert.equal(parseRange(undefined, 10), undefined);
  assert.deepEqual(parseRange('bytes=2-4', 10), { start: 2, end: 4 });
  assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 9 });
  assert.deepEqual(parseRange('bytes=9-', 10), { start: 9, end: 9 });
  assert.deepEqual(parseRange(' bytes=0-0 ', 10), { start: 0, end: 0 });
  assert.equal(parseRange('bytes=10-', 10), 'invalid');
  assert.equal(parseRange('bytes=0-', 0), 'invalid', 'nothing can be served from an empty blob');
});
