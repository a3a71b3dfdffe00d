// Answer sources: how much attention the last new position gives the cached context's pairs, summed per bucket
// (the engine's buckets are the context's files, plus a last one for every pair outside a file: the system prefix,
// and a padded pair). Every layer and KV head adds the probabilities its G query heads put on each of its context
// pairs, so the output [B] is Σ over layers, KV heads and query heads of the softmax mass on each bucket's pairs.
// An answer's sources are this output summed over the runs that chose its tokens (runtime/generate.ts).
//
// What it costs per step, beside the attention it reads (which computes every one of these probabilities
// anyway): per KV head one MatMul of a [1, G·S] row selector with the [G·S, n] probabilities (the group's rows of
// the last position, summed: G·S·n multiply-adds against the attention's 2·G·S·n·D), then over all L·Hkv·n sums:
// - the compressed graph (CPU, CUDA): a bucket's pairs are one contiguous run in every head (a file's positions
//   are consecutive, and a head keeps its pairs in position order), so its sum is a difference of a prefix sum
//   (fp64) at run bounds known at build time: one CumSum, two Gathers of [B-1, L·Hkv] constant indices and a
//   ReduceSum. onnxruntime's CPU ScatterElements (add) took 38 ns per element, a third of this branch at 8K;
// - WebGPU's dense graph: the buckets come as an input, and one ScatterElements (add) sums them on the device
//   (WebGPU has no fp64 for the prefix sum; its scatter runs in parallel).
import { DataType } from './onnx.ts';
import { END, type Net } from './net.ts';
import { names } from './names.ts';
import type { Lengths } from './heads.ts';

/** Which bucket each baked pair's attention is summed into. */
export interface SourceMap {
  /** Number of buckets: the output's length. */
  buckets: number;
  /** bucket[layer][kvHead][i]: the bucket of that head's i-th baked pair, in [0, buckets). */
  bucket: Int32Array[][];
}

/** What the source branch's node names start with (bench/sources.bench.ts profiles them by it). */
export const SOURCE_NODES = 'sources_';

/** Runs `f` with the nodes it adds named as the source branch's. */
function scoped<T>(n: Net, f: () => T): T {
  const before = n.g.nodePrefix;
  n.g.nodePrefix = SOURCE_NODES;
  try {
    return f();
  } finally {
    n.g.nodePrefix = before;
  }
}

export interface SourceBranch {
  /**
   * One layer's probabilities over its context pairs, [Hkv, G*S, C] or, per KV head, [1, G*S, C] (rows are query
   * head g of the group at new position s, g*S + s, as heads.ts stacks them).
   */
  add(probs: string, pairs: number | string): void;
  /** Declares the `source_mass` output [B] (fp32). */
  finish(): void;
}

/**
 * The branch over a compressed graph's baked pairs: the buckets are constants. Every bucket but the last must be
 * one contiguous run of each head's pairs (or absent from it); the last gets whatever the others do not.
 */
export function bakedSources(n: Net, len: Lengths, map: SourceMap): SourceBranch {
  const rows = rowSelector(n, len);
  const parts: string[] = [];
  const B = map.buckets;
  const heads = map.bucket.flat();
  const LH = heads.length;
  // Run bounds in the heads' concatenated sums, as [B-1, L·Hkv] indices into their prefix sum (0, then the
  // running sum): an absent run is [0, 0), which sums to nothing.
  const starts = new Int32Array((B - 1) * LH);
  const ends = new Int32Array((B - 1) * LH);
  let offset = 0;
  heads.forEach((h, k) => {
    for (let i = 0; i < h.length; i++) {
      const b = h[i];
      if (b < 0 || b >= B) throw new Error('internal: a source bucket out of range');
      if (b === B - 1 || (i > 0 && h[i - 1] === b)) continue;
      if (ends[b * LH + k] !== 0) throw new Error(`internal: source bucket ${b} is not one run of a head's pairs`);
      let j = i;
      while (j < h.length && h[j] === b) j++;
      starts[b * LH + k] = offset + i;
      ends[b * LH + k] = offset + j;
    }
    offset += h.length;
  });
  return {
    add(probs, pairs) {
      if (pairs === 0) return;
      // [1, 1, n]: the group's last rows, summed.
      parts.push(scoped(n, () => n.op('MatMul', [rows, probs])));
    },
    finish() {
      scoped(n, () => {
        if (!parts.length || B === 1) return publish(n, n.g.constFloat(new Float32Array(B), [B]));
        // [N + 1] fp64: 0, then the running sum of every head's pairs in (layer, head, pair) order.
        const all = n.op('Reshape', [parts.length === 1 ? parts[0] : n.op('Concat', parts, { axis: 2 }), n.i64([-1])]);
        const running = n.op('CumSum', [n.op('Cast', [all], { to: DataType.DOUBLE }), n.scalar(0)]);
        const prefix = n.op('Concat', [n.g.constDouble([0], [1]), running], { axis: 0 });
        const at = (idx: Int32Array) => n.op('Gather', [prefix, n.g.constInt32(idx, [B - 1, LH])], { axis: 0 });
        const runs = n.op('ReduceSum', [n.op('Sub', [at(ends), at(starts)]), n.i64([1])], { keepdims: 0 });
        const total = n.op('Slice', [prefix, n.i64([-1]), n.i64([END]), n.i64([0])]);
        const rest = n.op('Sub', [total, n.op('ReduceSum', [runs, n.i64([0])], { keepdims: 1 })]);
        publish(n, n.op('Cast', [n.op('Concat', [runs, rest], { axis: 0 })], { to: DataType.FLOAT }));
      });
    },
  };
}

/**
 * The branch over WebGPU's dense graph's context inputs: their buckets come as the input `context_sources`
 * ([Σ_l Hkv·C_l] int32, every layer's [Hkv, C_l] flattened in layer order, padding in any bucket: its
 * probability is exactly 0), and the bucket count as the length of `source_buckets` (zeros).
 */
export function inputSources(n: Net, len: Lengths): SourceBranch {
  n.g.input(names.contextSources, DataType.INT32, ['N']);
  n.g.input(names.sourceBuckets, DataType.FLOAT, ['B']);
  const rows = rowSelector(n, len);
  const parts: string[] = [];
  return {
    add(probs) {
      // [Hkv, 1, C] → [Hkv·C]
      parts.push(scoped(n, () => n.op('Reshape', [n.op('MatMul', [rows, probs]), n.i64([-1])])));
    },
    finish() {
      scoped(n, () => {
        // Summed in fp32 whatever the graph's dtype: a file's bucket gathers thousands of small probabilities.
        const sums = n.toF32(parts.length === 1 ? parts[0] : n.op('Concat', parts, { axis: 0 }));
        publish(n, n.op('ScatterElements', [names.sourceBuckets, names.contextSources, sums], { axis: 0, reduction: 'add' }));
      });
    },
  };
}

/**
 * [1, G·S] in the graph's dtype: 1 on the rows of the last new position (g·S + S − 1, as heads.ts stacks the
 * group's query heads), 0 elsewhere; times a head's probabilities [·, G·S, C] it sums the group's last rows.
 */
function rowSelector(n: Net, len: Lengths): string {
  const G = n.spec.numHeads / n.spec.numKvHeads;
  return scoped(n, () => {
    const row = n.op('Range', [n.scalar(0), n.op('Mul', [len.S, n.scalar(G)]), n.scalar(1)]);
    const last = n.op('Equal', [n.op('Mod', [row, len.S]), n.op('Sub', [len.S, n.scalar(1)])]);
    return n.op('Unsqueeze', [n.op('Cast', [last], { to: n.T }), n.i64([0])]);
  });
}

function publish(n: Net, mass: string): void {
  n.g.alias(mass, names.sources);
  n.g.output(names.sources, DataType.FLOAT, ['B']);
}
