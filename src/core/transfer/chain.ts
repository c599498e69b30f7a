import { createHash } from 'node:crypto';

/**
 * A layer's chain ID names it together with every layer below it (OCI image spec):
 * ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
 * An engine that has a chain ID has that layer on top of exactly the same parents, which is
 * what `docker load` checks before it skips a layer.
 */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev ? `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}` : d);
  }
  return out;
}
