// Compaction: really drops evicted pairs. The kept pairs of every (layer, kvHead) are written contiguously,
// K transposed [D, n] (ready for Q·Kᵀ) and V as [n, D], with no padding. The bytes written are the blob the
// compressed decode graph maps as external initializers. Kept pairs keep their original (RoPE) positions.
// Segments are packed without alignment padding: onnxruntime reads external data at any offset.
// The blob holds fp16 whatever the compute dtype: half the bytes of fp32 on disk, and the compressed graph widens
// it once when its session is created (see graph/transformer.ts). fp32 storage is kept for measuring that choice.
// Beside the blob, a bitmap per head records which positions were kept, so a refresh can reuse them.
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BakedHead } from '../graph/attention.ts';
import type { GraphDtype } from '../graph/net.ts';
import { f16ToF32, f32ToF16 } from '../model/native.ts';
import type { KvCache } from '../runtime/kv.ts';
import type { KeepSets } from './select.ts';

export const KV_FILE = 'kv.bin';
export const KEEP_FILE = 'keep.bin';

export type Elems = Float32Array | Uint16Array;

/** One head's kept pairs: ascending positions, keys and values as [n, D] rows. */
export interface HeadPairs {
  positions: Int32Array;
  keys: Elems;
  values: Elems;
}

export interface CompactLayout {
  /** baked[layer][kvHead]: counts and byte ranges in the blob. */
  baked: BakedHead[][];
  /** Bytes of the KV blob. */
  bytes: number;
  /** Bytes of the keep bitmaps. */
  keepBytes: number;
  pairs: number;
  /** The blob's element type (what the compressed graph is built with). */
  storage: GraphDtype;
}

/** Metadata needed besides the blob: one count per (layer, kvHead); offsets follow from the counts. */
export function layoutBytes(layers: number, kvHeads: number): number {
  return 4 * layers * kvHeads;
}

/** Bytes the uncompressed KV of `tokens` positions holds. */
export function fullKvBytes(layers: number, kvHeads: number, headDim: number, tokens: number, bytesPerElem: number): number {
  return 2 * layers * kvHeads * headDim * tokens * bytesPerElem;
}

/** Gathers rows [n, D] of head h from a [1, Hkv, stride, D] tensor (stride: its positions per head, spare included). */
export function gatherRows(data: Elems, h: number, stride: number, headDim: number, rows: ArrayLike<number>): Elems {
  const Ctor = data.constructor as new (n: number) => Elems;
  const out = new Ctor(rows.length * headDim);
  const base = h * stride * headDim;
  for (let j = 0; j < rows.length; j++) out.set(data.subarray(base + rows[j] * headDim, base + (rows[j] + 1) * headDim), j * headDim);
  return out;
}

/** Positions [0, prefixLen) (the system prefix, the attention sink) plus each head's kept context positions. */
function pairsFromFull(kv: KvCache, prefixLen: number, keep: KeepSets, headDim: number): HeadPairs[][] {
  return keep.map((layer, l) =>
    layer.map((kept, h) => {
      const positions = new Int32Array(prefixLen + kept.length);
      for (let i = 0; i < prefixLen; i++) positions[i] = i;
      for (let i = 0; i < kept.length; i++) positions[prefixLen + i] = prefixLen + kept[i];
      return {
        positions,
        keys: gatherRows(kv.keys[l].data as Elems, h, kv.keys[l].dims[2], headDim, positions),
        values: gatherRows(kv.values[l].data as Elems, h, kv.values[l].dims[2], headDim, positions),
      };
    }),
  );
}

/** Writes the blob (kv.bin) and the keep bitmaps (keep.bin) of `heads` into `dir`. */
export function writeHeads(
  dir: string,
  heads: HeadPairs[][],
  headDim: number,
  sequenceLength: number,
  storage: GraphDtype = 'fp16',
): CompactLayout {
  const stored = (a: Elems): Elems => {
    if (storage === 'fp16') return a instanceof Float32Array ? f32ToF16(a) : a;
    if (a instanceof Float32Array) return a;
    throw new Error('internal: fp16 KV cannot be stored as fp32');
  };
  const fd = openSync(join(dir, KV_FILE), 'w', 0o600);
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
  const stride = Math.ceil(sequenceLength / 8);
  const bitmap = new Uint8Array(stride * heads.length * (heads[0]?.length ?? 0));
  try {
    heads.forEach((layer, l) => {
      baked.push(
        layer.map((p, h) => {
          const n = p.positions.length;
          const Ctor = p.keys.constructor as new (n: number) => Elems;
          const kt = new Ctor(headDim * n);
          for (let j = 0; j < n; j++) for (let d = 0; d < headDim; d++) kt[d * n + j] = p.keys[j * headDim + d];
          const base = (l * layer.length + h) * stride;
          for (const pos of p.positions) bitmap[base + (pos >> 3)] |= 1 << (pos & 7);
          pairs += n;
          return { count: n, keyRef: put(stored(kt)), valueRef: put(stored(p.values)) };
        }),
      );
    });
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const keepFd = openSync(join(dir, KEEP_FILE), 'w', 0o600);
  try {
    writeSync(keepFd, bitmap);
    fsyncSync(keepFd);
  } finally {
    closeSync(keepFd);
  }
  return { baked, bytes: offset, keepBytes: bitmap.byteLength, pairs, storage };
}

/** Writes the compacted KV of a full cache to `file` (kv.bin), with keep.bin beside it. */
export function writeCompacted(
  file: string,
  kv: KvCache,
  prefixLen: number,
  keep: KeepSets,
  headDim: number,
  storage: GraphDtype = 'fp16',
): CompactLayout {
  return writeHeads(dirname(file), pairsFromFull(kv, prefixLen, keep, headDim), headDim, kv.length, storage);
}

/** Reads a written generation (fp16 blob) back into per-head pairs in the compute dtype (for refresh). */
export function readHeads(
  dir: string,
  baked: BakedHead[][],
  headDim: number,
  sequenceLength: number,
  dtype: 'fp32' | 'fp16',
): HeadPairs[][] {
  const blob = readFileSync(join(dir, KV_FILE));
  const kept = keptPositions(dir, baked, sequenceLength);
  const view = (offset: number, length: number): Elems => {
    const half = new Uint16Array(blob.buffer.slice(blob.byteOffset + offset, blob.byteOffset + offset + length));
    return dtype === 'fp16' ? half : f16ToF32(half);
  };
  return baked.map((layer, l) =>
    layer.map((b, h) => {
      const positions = kept[l][h];
      const kt = view(b.keyRef.offset, b.keyRef.length);
      const Ctor = kt.constructor as new (n: number) => Elems;
      const keys = new Ctor(b.count * headDim);
      for (let i = 0; i < b.count; i++) for (let d = 0; d < headDim; d++) keys[i * headDim + d] = kt[d * b.count + i];
      return { positions, keys, values: view(b.valueRef.offset, b.valueRef.length) };
    }),
  );
}

/** Each head's kept positions, ascending (what keep.bin records), in the order its pairs lie in the blob. */
export function keptPositions(dir: string, baked: BakedHead[][], sequenceLength: number): Int32Array[][] {
  const bitmap = readFileSync(join(dir, KEEP_FILE));
  const stride = Math.ceil(sequenceLength / 8);
  return baked.map((layer, l) =>
    layer.map((b, h) => {
      const positions = new Int32Array(b.count);
      const base = (l * layer.length + h) * stride;
      let j = 0;
      for (let pos = 0; pos < sequenceLength && j < b.count; pos++) if (bitmap[base + (pos >> 3)] & (1 << (pos & 7))) positions[j++] = pos;
      if (j !== b.count) throw new Error(`internal: keep.bin holds ${j} positions of layer ${l} head ${h}, the layout ${b.count}`);
      return positions;
    }),
  );
}
