import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { ExportedImage } from './layer-cache';
import { buildManifest, MANIFEST_TYPE } from './registry';

/** Where a blob lives in an OCI image layout. */
export function blobName(digest: string): string {
  return `blobs/sha256/${digest.replace('sha256:', '')}`;
}

/**
 * A `docker load` archive of the image in which the layers listed in `omit` are left out, in
 * a form both image stores take:
 * - the classic store reads manifest.json and skips any layer whose chain it already has
 *   without opening its file (moby image/tarexport/load.go);
 * - the containerd store reads the OCI layout (oci-layout, index.json, blobs/sha256/…) and
 *   needs only the blobs its content store lacks (a docker-format archive of layer.tar files
 *   is refused there whenever one is missing).
 * Layers are the cached blobs, gzip or plain; both engines decompress them on load. Blobs are
 * named by the digests the registry path serves too, so what one path delivered the other
 * recognises.
 */
export function loadArchive(image: ExportedImage, repoTag: string, omit: ReadonlySet<string>): Readable {
  const pack = tar.pack();
  const manifest = buildManifest(image);
  const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  const [, tag] = /:([^:/]+)$/.exec(repoTag) ?? [];
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: MANIFEST_TYPE,
        digest: manifestDigest,
        size: manifest.length,
        annotations: { 'io.containerd.image.name': fullyQualified(repoTag), ...(tag ? { 'org.opencontainers.image.ref.name': tag } : {}) },
      },
    ],
  };
  void (async () => {
    try {
      const saveManifest = [{ Config: blobName(image.configDigest), RepoTags: [repoTag], Layers: image.layers.map((l) => blobName(l.digest)) }];
      pack.entry({ name: 'oci-layout' }, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      pack.entry({ name: 'index.json' }, JSON.stringify(index));
      pack.entry({ name: 'manifest.json' }, JSON.stringify(saveManifest));
      pack.entry({ name: blobName(manifestDigest) }, manifest);
      pack.entry({ name: blobName(image.configDigest) }, image.config);
      for (const layer of image.layers) {
        if (omit.has(layer.diffId)) continue;
        // pipeline() ends the entry on a read error instead of leaving an unhandled one.
        await pipeline(createReadStream(layer.path), pack.entry({ name: blobName(layer.digest), size: layer.size }));
      }
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
    }
  })();
  return pack as unknown as Readable;
}

/**
 * The name the containerd store files an image under (`app:tag` is `docker.io/library/app:tag`
 * there); given short, it would keep a second, unreachable image of the literal name.
 */
export function fullyQualified(ref: string): string {
  const first = ref.split('/')[0];
  const hasDomain = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasDomain) return ref;
  return ref.includes('/') ? `docker.io/${ref}` : `docker.io/library/${ref}`;
}
