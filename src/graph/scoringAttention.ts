// KVzip scoring runs' attention where the dense attention is fused (CPU, CUDA). The fused kernel gives no
// probabilities, and a second explicit attention beside it, for the scores alone, made scoring cost 2.3× a
// prefill. In scoring runs one explicit attention gives both the layer's output and its scores:
// - the past keys (and values alike) are reordered as [scored runs] ++ [the rest]: a softmax does not care about
//   key order, and the scored keys become the first M columns;
// - the new queries go in blocks that read the new keys up to their last query only (the causal half is skipped)
//   and whose probabilities stay in cache; only the new keys' logits take the causal mask;
// - KVzip's softmax runs over the scored keys and the new ones: the full softmax divided by its mass there, which
//   is exact. The mass is summed over those keys: 1 − (mass on the rest) loses every digit when the rest holds
//   nearly all the attention, and made scores infinite. When the chunk covers the whole past, the full softmax is
//   KVzip's as it is.
import { SCORE_QUERY_BLOCKS } from '../model/memory.ts';
import { DataType } from './onnx.ts';
import { NEG_INF, type Net } from './net.ts';
import { names } from './names.ts';
import { stack, type Lengths } from './heads.ts';
import type { ScoreSpans } from './scoreSpans.ts';

export interface ScoringPlan {
  spans: ScoreSpans;
  /** Scalar int64: rows of new queries per block, ceil(S / SCORE_QUERY_BLOCKS). */
  size: string;
  /** Scalar int64: the blocks that hold queries, ceil(S / size): each layer's Loop runs this many times. */
  count: string;
  /** [S, S]: the new tokens' causal mask, built once for every layer's blocks (empty in a run that scores nothing). */
  mask: string;
}

/**
 * The query blocks of a run, sized once for every layer. The blocks are one ONNX Loop per layer, not unrolled:
 * 64 unrolled blocks made the dense graph 48,000 nodes, which onnxruntime took 11-19 s to open.
 */
export function scoringPlan(n: Net, len: Lengths, spans: ScoreSpans): ScoringPlan {
  // At least one row, so that a run of no new token divides by nothing.
  const size = n.op('Max', [
    n.op('Div', [n.op('Add', [len.S, n.scalar(SCORE_QUERY_BLOCKS - 1)]), n.scalar(SCORE_QUERY_BLOCKS)]),
    n.scalar(1),
  ]);
  const count = n.op('Div', [n.op('Add', [len.S, n.op('Sub', [size, n.scalar(1)])]), size]);
  const scoring = n.g.subgraph('scoring_mask', [DataType.FLOAT], () => [n.causal(len.S, n.scalar(0), len.S)]);
  const idle = n.g.subgraph('no_scoring_mask', [DataType.FLOAT], () => [n.op('ConstantOfShape', [n.i64([0, 0])])]);
  const mask = n.op('If', [spans.active], { then_branch: { graph: scoring }, else_branch: { graph: idle } });
  return { spans, size, count, mask };
}

/**
 * Layer l in a scoring run, from its roped q [S, H, D], k and v [S, Hkv, D]: the heads' output [S, H*D], the
 * present KV [1, Hkv, P + S, D] and the layer's scores [Hkv, M].
 */
export function scoringAttention(n: Net, len: Lengths, plan: ScoringPlan, l: number, q: string, k: string, v: string): string[] {
  const { numHeads: H, numKvHeads: Hkv, headDim: D } = n.spec;
  const G = H / Hkv;
  const { queries, newKeys } = stack(n, q, k);
  const newValues = n.op('Transpose', [v], { perm: [1, 0, 2] });
  const P = n.op('Unsqueeze', [len.P, n.i64([0])]);
  const M = n.op('Unsqueeze', [plan.spans.M, n.i64([0])]);
  // The past without its spare room (runtime/kv.ts).
  const pastKey = n.op('Slice', [names.pastKey(l), n.i64([0]), P, n.i64([2])]);
  const pastValue = n.op('Slice', [names.pastValue(l), n.i64([0]), P, n.i64([2])]);
  const [a0, a1, b0, b1] = plan.spans.at;
  const runs = [
    [a0, a1],
    [b0, b1],
    [n.i64([0]), a0],
    [a1, b0],
    [b1, P],
  ];
  const heads = (x: string) => n.op('Reshape', [x, n.i64([Hkv, -1, D])]);
  const reorder = (past: string) =>
    n.op(
      'Concat',
      runs.map(([from, to]) => n.op('Slice', [heads(past), from, to, n.i64([1])])),
      { axis: 1 },
    );
  const pastKeysT = n.op('Transpose', [reorder(pastKey)], { perm: [0, 2, 1] });
  const newKeysT = n.op('Transpose', [newKeys], { perm: [0, 2, 1] });
  const values = n.op('Concat', [reorder(pastValue), newValues], { axis: 1 });
  const q4 = n.op('Reshape', [queries, n.i64([Hkv, G, -1, D])]);
  // One chunk covering the whole context scores every past key: the full softmax is KVzip's as it is. (An If per
  // block that skipped the rescaling then was 1,536 Ifs per pass; without them a pass measured no slower.)
  const noRest = n.op('Equal', [len.P, plan.spans.M]);
  const unsqueeze = (x: string) => n.op('Unsqueeze', [x, n.i64([0])]);
  // Block b holds new queries [s0, s1); its keys are [0, kEnd), the new ones [P, kEnd) under a causal mask. Each
  // iteration's output rows are padded to `size` (a Loop's scan outputs all have one shape) and the running max of
  // its scores is carried: an iteration's tensors go when it ends, so a block's peak is what it was unrolled.
  const body = n.g.subgraph(
    `scoring_blocks_${l}`,
    [DataType.BOOL, DataType.FLOAT, n.T],
    (b, cond, bestIn) => {
      const s0 = n.op('Min', [n.op('Mul', [plan.size, b]), len.S]);
      const s1 = n.op('Min', [n.op('Mul', [plan.size, n.op('Add', [b, n.scalar(1)])]), len.S]);
      const kEnd = unsqueeze(n.op('Add', [len.P, s1]));
      const mask = n.op('Slice', [
        plan.mask,
        n.op('Concat', [unsqueeze(s0), n.i64([0])], { axis: 0 }),
        n.op('Concat', [unsqueeze(s1), unsqueeze(s1)], { axis: 0 }),
      ]);
      // A block's queries as [Hkv, G * rows, D], one matrix per KV head: its keys are packed once, not once per head.
      const rows = n.op('Reshape', [n.op('Slice', [q4, unsqueeze(s0), unsqueeze(s1), n.i64([2])]), n.i64([Hkv, -1, D])]);
      const perHead = (keys: string) => n.op('Concat', [n.i64([Hkv, G, -1]), keys], { axis: 0 });
      const logits = (keysT: string, count: string) => n.op('Reshape', [n.toF32(n.op('MatMul', [rows, keysT])), perHead(count)]);
      // Every past key is seen by every query: only the new keys need the causal mask.
      const own = n.op('Sub', [kEnd, P]);
      const ownLogits = n.op('Add', [logits(n.op('Slice', [newKeysT, n.i64([0]), own, n.i64([2])]), own), mask]);
      const probs = n.op('Softmax', [n.op('Concat', [logits(pastKeysT, P), ownLogits], { axis: 3 })], { axis: -1 });
      const stacked = n.op('Concat', [n.i64([Hkv, -1]), kEnd], { axis: 0 });
      const attn = n.op('MatMul', [n.op('Reshape', [n.fromF32(probs), stacked]), n.op('Slice', [values, n.i64([0]), kEnd, n.i64([1])])]);
      const short = unsqueeze(n.op('Sub', [plan.size, n.op('Sub', [s1, s0])]));
      const pads = n.op('Concat', [n.i64([0, 0, 0, 0, 0, 0]), short, n.i64([0])], { axis: 0 });
      const out = n.op('Pad', [n.op('Reshape', [attn, n.i64([Hkv, G, -1, D])]), pads]);
      // The scored keys' share of the softmax, over the group's heads and the block's queries: the full softmax's
      // where it covers the whole past (× 1 changes no bit), else rescaled to KVzip's keys.
      const scored = n.op('Slice', [probs, n.i64([0]), M, n.i64([3])]);
      const newMass = n.op('ReduceSum', [n.op('Slice', [probs, P, kEnd, n.i64([3])]), n.i64([3])], { keepdims: 1 });
      const mass = n.op('Add', [n.op('ReduceSum', [scored, n.i64([3])], { keepdims: 1 }), newMass]);
      const scale = n.op('Where', [noRest, n.g.constFloat([1], []), n.op('Reciprocal', [mass])]);
      const best = n.op('ReduceMax', [n.op('Mul', [scored, scale]), n.i64([1, 2])], { keepdims: 0 });
      return [cond, n.op('Max', [bestIn, best]), out];
    },
    [{ type: DataType.INT64, dims: [] }, { type: DataType.BOOL, dims: [] }, { type: DataType.FLOAT }],
  );
  const noScores = n.op('Expand', [n.g.constFloat([NEG_INF], []), n.op('Concat', [n.i64([Hkv]), M], { axis: 0 })]);
  const [best, blocks] = n.g.node('Loop', [plan.count, '', noScores], { body: { graph: body } }, 2);
  // [blocks, Hkv, G, size, D] → [blocks × size, H × D], whose first S rows are the new queries in order.
  const merged = n.op('Reshape', [n.op('Transpose', [blocks], { perm: [0, 3, 1, 2, 4] }), n.i64([-1, H * D])]);
  const S = n.op('Unsqueeze', [len.S, n.i64([0])]);
  return [
    n.op('Slice', [merged, n.i64([0]), S, n.i64([0])]),
    n.op('Concat', [pastKey, n.op('Unsqueeze', [newKeys, n.i64([0])])], { axis: 2 }),
    n.op('Concat', [pastValue, n.op('Unsqueeze', [newValues, n.i64([0])])], { axis: 2 }),
    best,
  ];
}
