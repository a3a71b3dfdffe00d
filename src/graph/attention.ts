// The attention variants, one per graph kind. Each takes one layer's roped q [S, H, D], k and v [S, Hkv, D],
// writes the layer's present KV (past ++ new) and returns the heads' output [S, H*D], plus what the KVzip score
// branch reads.
// - dense: onnxruntime's fused GroupQueryAttention over past ++ new (fp32 on the CPU, fp16 on GPUs), so no
//   [G*S, T] logits tensor is materialised; a scoring run (an ONNX If on "scores wanted") takes the explicit
//   blocked attention of scoringAttention.ts instead, which also gives the scores;
// - explicit dense: the same over past ++ new as plain MatMul/Softmax, for WebGPU, whose GroupQueryAttention is
//   wrong from 32 new tokens per run up (0.46 off on a tiny model's logits at 40 new over a past of 10; the
//   explicit form agrees with the CPU within 5e-6 at 32, 40, 100 and 512); it also attends over a compressed
//   context given as inputs, padded per head with a −inf bias, so on WebGPU it answers too;
// - compressed: per KV head, the baked context keys (no padding, no mask) then the causal tail, as plain
//   MatMul/Softmax: each head's baked segment has its own length.
import type { ExternalRef } from '../model/prepare.ts';
import { DataType, type Dim } from './onnx.ts';
import { dataType, END, type GraphDtype, type Net } from './net.ts';
import { names } from './names.ts';
import { mergeHeads, stack, type Lengths } from './heads.ts';
import { scoringAttention, type ScoringPlan } from './scoringAttention.ts';

/** One KV head's baked context KV: K stored transposed [D, n], V as [n, D]. */
export interface BakedHead {
  count: number;
  keyRef: ExternalRef;
  valueRef: ExternalRef;
}

export interface AttentionOut {
  /** [S, H*D]: the heads' outputs, ready for o_proj. */
  merged: string;
  /** What the explicit attentions give a separate score branch: [Hkv, G*S, D] queries stacked per KV head, pre-scaled by 1/sqrt(D). */
  queries?: string;
  /** [Hkv, P + S, D]: the present keys. */
  keys?: string;
  /** [Hkv, S, D]: the new tokens' keys. */
  newKeys?: string;
  /** [Hkv, M]: the layer's KVzip scores, where the attention computes them itself (the fused one's scoring runs). */
  scores?: string;
  /** Compressed graphs, per KV head: its stacked queries, its present keys and its baked keys [1, D, n]. */
  heads?: { queries: string; keys: string; baked: string }[];
  /** WebGPU's dense graph: the layer's context inputs, keys [Hkv, D, C] and their bias [Hkv, 1, C]. */
  context?: { keys: string; bias: string };
  /**
   * The softmax's probabilities over the cached context's pairs, what answer sources sum (sources.ts): one
   * [kvHeads, G*S, pairs] per KV head in the compressed graph, one for all heads (padded) in WebGPU's dense one.
   */
  contextProbs?: { probs: string; pairs: number | string }[];
}

export interface Attention {
  layer(l: number, q: string, k: string, v: string): AttentionOut;
}

export function denseAttention(n: Net, len: Lengths, plan: ScoringPlan): Attention {
  const { numHeads: H, numKvHeads: Hkv, headDim: D } = n.spec;
  const seqlensK = n.op('Cast', [n.op('Reshape', [n.op('Sub', [len.Tk, n.scalar(1)]), n.i64([1])])], { to: DataType.INT32 });
  const totalLength = n.op('Cast', [len.Tk], { to: DataType.INT32 });
  const types = [n.T, n.T, n.T, DataType.FLOAT];
  return {
    layer(l, q, k, v) {
      const scoring = n.g.subgraph(`scoring_attention_${l}`, types, () => scoringAttention(n, len, plan, l, q, k, v));
      const fused = n.g.subgraph(`attention_${l}`, types, () => {
        const [out, presentK, presentV] = n.g.node(
          'GroupQueryAttention',
          [
            n.op('Reshape', [q, n.i64([1, -1, H * D])]),
            n.op('Reshape', [k, n.i64([1, -1, Hkv * D])]),
            n.op('Reshape', [v, n.i64([1, -1, Hkv * D])]),
            names.pastKey(l),
            names.pastValue(l),
            seqlensK,
            totalLength,
          ],
          { num_heads: H, kv_num_heads: Hkv },
          3,
          'com.microsoft',
        );
        return [n.op('Reshape', [out, n.i64([-1, H * D])]), presentK, presentV, n.op('ConstantOfShape', [n.i64([Hkv, 0])])];
      });
      const [merged, presentK, presentV, scores] = n.g.node(
        'If',
        [plan.spans.active],
        { then_branch: { graph: scoring }, else_branch: { graph: fused } },
        4,
      );
      n.g.alias(presentK, names.presentKey(l));
      n.g.alias(presentV, names.presentValue(l));
      newRows(n, l, n.op('Transpose', [k], { perm: [1, 0, 2] }), v);
      return { merged, scores };
    },
  };
}

export function explicitDenseAttention(n: Net, len: Lengths): Attention {
  const { numKvHeads: Hkv, headDim: D, numLayers: L } = n.spec;
  const mask = n.tileGroups(n.causal(len.Tk, len.P, len.Tk));
  // A cache generation's compressed KV goes in as inputs (device-resident on WebGPU, uploaded once per
  // generation), so this one session, and its one copy of the weights, both builds and answers. A build feeds
  // one masked dummy pair per head: zero-size tensors crash WebGPU's MatMul and Softmax.
  for (let l = 0; l < L; l++) {
    n.g.input(names.contextKey(l), n.T, [Hkv, D, `C${l}`]);
    n.g.input(names.contextValue(l), n.T, [Hkv, `C${l}`, D]);
    n.g.input(names.contextBias(l), n.T, [Hkv, 1, `C${l}`]);
  }
  return {
    layer(l, q, k, v) {
      const { queries, newKeys } = stack(n, q, k);
      const { presentK, presentV } = present(n, l, newKeys, v);
      newRows(n, l, newKeys, v);
      const keys = n.op('Reshape', [presentK, n.i64([Hkv, -1, D])]);
      const values = n.op('Reshape', [presentV, n.i64([Hkv, -1, D])]);
      // One softmax over [context (padding at −inf)] ++ [past ++ new, causal], as the compressed graph's per-head
      // segments do without padding; the padding's probabilities are exactly 0.
      const ctxKey = names.contextKey(l);
      const sc = n.op('Add', [n.toF32(n.op('MatMul', [queries, ctxKey])), n.toF32(names.contextBias(l))]);
      const st = n.op('Add', [n.toF32(n.op('MatMul', [queries, n.op('Transpose', [keys], { perm: [0, 2, 1] })])), mask]);
      const probs = n.fromF32(n.op('Softmax', [n.op('Concat', [sc, st], { axis: 2 })], { axis: -1 }));
      const C = n.op('Slice', [n.op('Shape', [ctxKey]), n.i64([2]), n.i64([3])]);
      const pc = n.op('Slice', [probs, n.i64([0]), C, n.i64([2])]);
      const pt = n.op('Slice', [probs, C, n.i64([END]), n.i64([2])]);
      const attn = n.op('Add', [n.op('MatMul', [pc, names.contextValue(l)]), n.op('MatMul', [pt, values])]);
      return {
        merged: mergeHeads(n, attn),
        queries,
        keys,
        newKeys,
        context: { keys: ctxKey, bias: names.contextBias(l) },
        contextProbs: [{ probs: pc, pairs: C }],
      };
    },
  };
}

/** Layer l's past ++ new KV [1, Hkv, P+S, D], which are also the graph's present outputs. */
function present(n: Net, l: number, newKeys: string, v: string): { presentK: string; presentV: string } {
  const presentK = n.op('Concat', [names.pastKey(l), n.op('Unsqueeze', [newKeys, n.i64([0])])], { axis: 2 });
  const newValues = n.op('Transpose', [v], { perm: [1, 0, 2] });
  const presentV = n.op('Concat', [names.pastValue(l), n.op('Unsqueeze', [newValues, n.i64([0])])], { axis: 2 });
  n.g.alias(presentK, names.presentKey(l));
  n.g.alias(presentV, names.presentValue(l));
  return { presentK, presentV };
}

/**
 * The dense graph's new positions' KV [1, Hkv, S, D]: a host session fetches these alone and writes them into its
 * past's spare room (runtime/kv.ts); a device session keeps the presents on the device instead.
 */
function newRows(n: Net, l: number, newKeys: string, v: string): void {
  n.g.alias(n.op('Unsqueeze', [newKeys, n.i64([0])]), names.newKey(l));
  n.g.alias(n.op('Unsqueeze', [n.op('Transpose', [v], { perm: [1, 0, 2] }), n.i64([0])]), names.newValue(l));
}

export function compressedAttention(n: Net, len: Lengths, baked: BakedHead[][], bakedDtype: GraphDtype): Attention {
  const { numKvHeads: Hkv, headDim: D } = n.spec;
  const GS = n.stackedRows;
  const split = (x: string) => (Hkv === 1 ? [x] : n.g.node('Split', [x], { axis: 0, num_outputs: Hkv }, Hkv));
  // The tail's causal mask, one [G*S, Tk] for every layer and head. Here Tk is the past tensors' length plus S,
  // the graph's T: the shapes below declare it (GraphBuilder.shape).
  const mask = n.shaped(n.tileGroups(n.shaped(n.causal(len.Tk, len.P, len.Tk), ['S', 'T'], DataType.FLOAT)), [GS, 'T'], DataType.FLOAT);
  const kv = (x: string, dims: Dim[]) => n.shaped(x, dims);
  // A Cast of an initializer is constant-folded when the session is created, so the fp16 blob is widened once
  // (measured: decode steps as fast as with fp32 initializers) and disk holds half the bytes.
  const BT = dataType(bakedDtype);
  const bakedInit = (name: string, dims: number[], ref: ExternalRef) => {
    const x = n.g.external(name, BT, dims, ref);
    return BT === n.T ? x : n.op('Cast', [x], { to: n.T });
  };
  return {
    layer(l, q, k, v) {
      const { queries, newKeys } = stack(n, q, k);
      const { presentK, presentV } = present(n, l, newKeys, v);
      kv(presentK, [1, Hkv, 'T', D]);
      kv(presentV, [1, Hkv, 'T', D]);
      const keys = kv(n.op('Reshape', [presentK, n.i64([Hkv, -1, D])]), [Hkv, 'T', D]);
      const qh = n.g.node('Split', [queries], { axis: 0, num_outputs: Hkv }, Hkv);
      const kh = split(keys);
      const vh = split(kv(n.op('Reshape', [presentV, n.i64([Hkv, -1, D])]), [Hkv, 'T', D]));
      const outs: string[] = [];
      const heads: NonNullable<AttentionOut['heads']> = [];
      const contextProbs: NonNullable<AttentionOut['contextProbs']> = [];
      for (let j = 0; j < Hkv; j++) {
        const b = baked[l][j];
        const kb = bakedInit(`ctx_key_${l}_${j}`, [1, D, b.count], b.keyRef);
        const vb = bakedInit(`ctx_value_${l}_${j}`, [1, b.count, D], b.valueRef);
        const sb = n.toF32(n.op('MatMul', [qh[j], kb]));
        const st = n.op('Add', [n.toF32(n.op('MatMul', [qh[j], n.op('Transpose', [kh[j]], { perm: [0, 2, 1] })])), mask]);
        const both = n.shaped(n.op('Concat', [sb, st], { axis: 2 }), [1, GS, `T+${b.count}`], DataType.FLOAT);
        const probs = n.fromF32(n.op('Softmax', [both], { axis: -1 }));
        const pb = kv(n.op('Slice', [probs, n.i64([0]), n.i64([b.count]), n.i64([2])]), [1, GS, b.count]);
        const pt = kv(n.op('Slice', [probs, n.i64([b.count]), n.i64([END]), n.i64([2])]), [1, GS, 'T']);
        outs.push(n.op('Add', [n.op('MatMul', [pb, vb]), n.op('MatMul', [pt, vh[j]])]));
        heads.push({ queries: qh[j], keys: kh[j], baked: kb });
        contextProbs.push({ probs: pb, pairs: b.count });
      }
      const merged = mergeHeads(n, Hkv === 1 ? outs[0] : n.op('Concat', outs, { axis: 0 }));
      return { merged, queries, keys, newKeys, heads, contextProbs };
    },
  };
}
