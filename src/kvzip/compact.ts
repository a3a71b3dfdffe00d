// Compaction: really drops evicted pairs. The kept pairs of every (layer, kvHead) are written contiguously,
// K transposed [D, n] (ready for Q·Kᵀ) and V as [n, D], with no padding. The bytes written are the blob the
// compressed decode graph maps as external initializers. Kept pairs keep their original (RoPE) positions.
// Segments are packed without alignment padding: onnxruntime reads external data at any offset.
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { BakedHead } from '../graph/transformer.ts';
import type { KvCache } from '../runtime/kv.ts';
import type { KeepSets } from './select.ts';

export const KV_FILE = 'kv.bin';

export interface CompactLayout {
  /** baked[layer][kvHead]: counts and byte ranges in the blob. */
  baked: BakedHead[][];
  bytes: number;
  pairs: number;
}

/** Metadata needed besides the blob: one count per (layer, kvHead); offsets follow from the counts. */
export function layoutBytes(layers: number, kvHeads: number): number {
  return 4 * layers * kvHeads;
}

type Elems = Float32Array | Uint16Array;

/**
 * Writes the compacted KV to `file`. Positions [0, prefixLen) (the system prefix, the attention sink) are kept
 * in every head; keep sets index the context positions after it.
 */
export function writeCompacted(file: string, kv: KvCache, prefixLen: number, keep: KeepSets, headDim: number): CompactLayout {
  const fd = openSync(file, 'w', 0o600);
  const baked: BakedHead[][] = [];
  let offset = 0;
  let pairs = 0;
  const put = (a: Elems) => {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
    const ref = { location: KV_FILE, offset, length: bytes.byteLength };
    offset += bytes.byteLength;
    return ref;
  };
  try {
    for (let l = 0; l < keep.length; l++) {
      const K = kv.keys[l].data as Elems;
      const V = kv.values[l].data as Elems;
      const T = kv.length;
      const row: BakedHead[] = [];
      for (let h = 0; h < keep[l].length; h++) {
        const positions = [...Array.from({ length: prefixLen }, (_, i) => i), ...Array.from(keep[l][h], (i) => prefixLen + i)];
        const n = positions.length;
        const Ctor = K.constructor as new (n: number) => Elems;
        const kt = new Ctor(headDim * n);
        const v = new Ctor(n * headDim);
        const base = h * T * headDim;
        positions.forEach((p, j) => {
          const src = base + p * headDim;
          for (let d = 0; d < headDim; d++) kt[d * n + j] = K[src + d];
          v.set(V.subarray(src, src + headDim), j * headDim);
        });
        row.push({ count: n, keyRef: put(kt), valueRef: put(v) });
        pairs += n;
      }
      baked.push(row);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { baked, bytes: offset, pairs };
}

/** Bytes the uncompressed KV of `tokens` positions holds. */
export function fullKvBytes(layers: number, kvHeads: number, headDim: number, tokens: number, bytesPerElem: number): number {
  return 2 * layers * kvHeads * headDim * tokens * bytesPerElem;
}
