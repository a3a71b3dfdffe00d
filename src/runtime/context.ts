// A cache generation's compressed context KV as the WebGPU dense graph's context inputs (graph/attention.ts,
// graph/names.ts). KVzip keeps a different number of pairs per KV head, so each layer's heads are padded to its
// largest head and an additive bias masks the padding (0 on kept pairs, −inf after them): one graph then serves
// every generation, where the baked layout needs a graph, and a session with its own weights, per generation.
// Beside the KV go its pairs' answer-source buckets (graph/sources.ts), flattened as the graph concatenates them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ModelSpec } from '../model/config.ts';
import { f16ToF32 } from '../model/native.ts';
import type { BakedHead } from '../graph/attention.ts';
import type { GraphDtype } from '../graph/net.ts';
import { names } from '../graph/names.ts';
import type { SourceMap } from '../graph/sources.ts';
import { tensorType } from './kv.ts';

/** The context inputs of every layer, by input name. */
export type ContextFeeds = Record<string, ort.Tensor>;

type Elems = Float32Array | Uint16Array;

/** −inf in the graph's dtype (fp16's bit pattern where it is fp16). */
function negInf(dtype: GraphDtype): number {
  return dtype === 'fp16' ? 0xfc00 : -Infinity;
}

/**
 * One layer's inputs from per-head kept pairs: `keys(h)` transposed [D, n] and `values(h)` [n, D] as they lie in
 * the blob. C is at least 1: a head with no pairs (or a build, with none at all) gets one masked zero pair.
 */
function layerFeeds(l: number, counts: number[], D: number, dtype: GraphDtype, keys: (h: number) => Elems, values: (h: number) => Elems) {
  const H = counts.length;
  const C = Math.max(1, ...counts);
  const alloc = (n: number): Elems => (dtype === 'fp16' ? new Uint16Array(n) : new Float32Array(n));
  const [k, v, bias] = [alloc(H * D * C), alloc(H * C * D), alloc(H * C)];
  for (let h = 0; h < H; h++) {
    const n = counts[h];
    if (n > 0) {
      const kt = keys(h);
      for (let d = 0; d < D; d++) k.set(kt.subarray(d * n, (d + 1) * n), (h * D + d) * C);
      v.set(values(h), h * C * D);
    }
    bias.fill(negInf(dtype), h * C + n, (h + 1) * C);
  }
  const type = tensorType(dtype);
  return {
    [names.contextKey(l)]: new ort.Tensor(type, k, [H, D, C]),
    [names.contextValue(l)]: new ort.Tensor(type, v, [H, C, D]),
    [names.contextBias(l)]: new ort.Tensor(type, bias, [H, 1, C]),
  };
}

/**
 * The answer-source inputs: every layer's [H, C_l] buckets flattened in layer order (padding in bucket 0: its
 * probability is exactly 0), and zeros, one per bucket. Without a map every pair is in one bucket.
 */
function sourceFeeds(counts: number[][], map?: SourceMap): ContextFeeds {
  const padded = counts.map((layer) => Math.max(1, ...layer));
  const index = new Int32Array(counts.reduce((a, layer, l) => a + layer.length * padded[l], 0));
  let at = 0;
  counts.forEach((layer, l) =>
    layer.forEach((n, h) => {
      if (map && n > 0) index.set(map.bucket[l][h].subarray(0, n), at);
      at += padded[l];
    }),
  );
  const B = map?.buckets ?? 1;
  return {
    [names.contextSources]: new ort.Tensor('int32', index, [index.length]),
    [names.sourceBuckets]: new ort.Tensor('float32', new Float32Array(B), [B]),
  };
}

/** No context (a build, or plain generation): one masked pair per head, which attention gives probability 0. */
export function emptyContext(spec: ModelSpec, dtype: GraphDtype): ContextFeeds {
  const none = new Float32Array(0);
  const counts = new Array<number>(spec.numKvHeads).fill(0);
  return Object.assign(
    {},
    ...Array.from({ length: spec.numLayers }, (_, l) =>
      layerFeeds(
        l,
        counts,
        spec.headDim,
        dtype,
        () => none,
        () => none,
      ),
    ),
    sourceFeeds(Array.from({ length: spec.numLayers }, () => counts)),
  );
}

/**
 * The context inputs of the generation in `dir`: its blob (fp16, as kvzip/compact.ts writes it) laid out by
 * `baked`, widened to the graph's dtype, and its pairs' answer-source buckets (`sources`; one bucket without).
 */
export function readContext(dir: string, baked: BakedHead[][], spec: ModelSpec, dtype: GraphDtype, sources?: SourceMap): ContextFeeds {
  const blobs = new Map<string, Buffer>();
  const view = (ref: BakedHead['keyRef']): Elems => {
    let blob = blobs.get(ref.location);
    if (!blob) blobs.set(ref.location, (blob = readFileSync(join(dir, ref.location))));
    const half = new Uint16Array(blob.buffer.slice(blob.byteOffset + ref.offset, blob.byteOffset + ref.offset + ref.length));
    return dtype === 'fp16' ? half : f16ToF32(half);
  };
  return Object.assign(
    {},
    ...baked.map((layer, l) =>
      layerFeeds(
        l,
        layer.map((b) => b.count),
        spec.headDim,
        dtype,
        (h) => view(layer[h].keyRef),
        (h) => view(layer[h].valueRef),
      ),
    ),
    sourceFeeds(
      baked.map((layer) => layer.map((b) => b.count)),
      sources,
    ),
  );
}

/** Bytes the context's tensors hold (the padding included): what its upload moves. */
export function contextBytes(c: ContextFeeds): number {
  let n = 0;
  for (const t of Object.values(c)) n += (t.data as ArrayBufferView).byteLength;
  return n;
}
