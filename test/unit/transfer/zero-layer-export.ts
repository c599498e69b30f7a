/**
 * Run as a child process by layer-cache-memory.test.ts: exports an image whose one layer is a
 * small gzip blob of `BM_ZERO_MIB` MiB of zeros (as the containerd store saves it), then prints
 * how much the process's peak memory grew during the export, in MiB.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { chunked, makeTarBuffer } from '../fakes/image-tar';
import { tempCache } from '../fakes/world';

const mib = Number(process.env.BM_ZERO_MIB ?? '512');
const zeros = Buffer.alloc(1024 * 1024);
function zeroStream(): Readable {
  let left = mib;
  return new Readable({ read() { this.push(left-- > 0 ? zeros : null); } });
}

async function main(): Promise<void> {
  const raw = createHash('sha256');
  for (let i = 0; i < mib; i++) raw.update(zeros);
  const diffId = `sha256:${raw.digest('hex')}`;
  const parts: Buffer[] = [];
  for await (const c of zeroStream().pipe(createGzip({ level: 9 }))) parts.push(c as Buffer);
  const blob = Buffer.concat(parts);
  const blobHex = createHash('sha256').update(blob).digest('hex');
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const configHex = createHash('sha256').update(config).digest('hex');
  const save = await makeTarBuffer({
    [`blobs/sha256/${configHex}`]: config,
    [`blobs/sha256/${blobHex}`]: blob,
    'manifest.json': JSON.stringify([{ Config: `blobs/sha256/${configHex}`, RepoTags: ['web:zeros'], Layers: [`blobs/sha256/${blobHex}`] }]),
  });
  const before = process.resourceUsage().maxRSS;
  const image = await tempCache().exportImage(chunked(save));
  const grewMiB = (process.resourceUsage().maxRSS - before) / 1024;
  process.stdout.write(JSON.stringify({ grewMiB, blobBytes: blob.length, diffId: image.layers[0].diffId, rawSize: image.layers[0].rawSize, expected: diffId }));
}

void main();
