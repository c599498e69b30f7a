import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { ExportedImage } from './layer-cache';

/**
 * A `docker load` archive (classic layout) of the image in which the layers listed in `omit`
 * are left out: the engine skips any layer whose chain it already has without opening its file
 * (moby image/tarexport/load.go), so only what the server lacks crosses the link. Layers are
 * the cached gzip blobs; the engine decompresses them on load.
 */
export function loadArchive(image: ExportedImage, repoTag: string, omit: ReadonlySet<string>): Readable {
  const pack = tar.pack();
  const configName = `${image.configDigest.replace('sha256:', '')}.json`;
  const layerNames = image.layers.map((l) => `${l.diffId.replace('sha256:', '')}/layer.tar`);
  void (async () => {
    try {
      const manifest = JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: layerNames }]);
      pack.entry({ name: 'manifest.json' }, manifest);
      pack.entry({ name: configName }, image.config);
      for (const [i, layer] of image.layers.entries()) {
        if (omit.has(layer.diffId)) continue;
        // pipeline() ends the entry on a read error instead of leaving an unhandled one.
        await pipeline(createReadStream(layer.path), pack.entry({ name: layerNames[i], size: layer.size }));
      }
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
    }
  })();
  return pack as unknown as Readable;
}
