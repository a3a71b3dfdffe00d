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
import type { Net } from './net.ts';
import { names } from './names.ts';
import { mergeHeads, stack, type Lengths } from './heads.ts';
import type { ScoreSpans } from './scoreSpans.ts';

/** One block of new queries, rows [s0, s1): its keys are [0, kEnd), the new ones [P, kEnd) under a causal mask [s1 − s0, s1]. */
interface Block {
  s0: string;
  s1: string;
  kEnd: string;
  mask: string;
}

export interface ScoringPlan {
  spans: ScoreSpans;
  blocks: Block[];
}

/** The blocks of a run, computed once for every layer; only scoring runs build the masks. */
export function scoringPlan(n: Net, len: Lengths, spans: ScoreSpans): ScoringPlan {
  const types = Array.from({ length: SCORE_QUERY_BLOCKS }, () => [DataType.INT64, DataType.INT64, DataType.INT64, DataType.FLOAT]).flat();
  const planned = n.g.subgraph('scoring_blocks', types, () => {
    const size = n.op('Div', [n.op('Add', [len.S, n.scalar(SCORE_QUERY_BLOCKS - 1)]), n.scalar(SCORE_QUERY_BLOCKS)]);
    return Array.from({ length: SCORE_QUERY_BLOCKS }, (_, b) => {
      const s0 = n.op('Min', [n.op('Mul', [size, n.scalar(b)]), len.S]);
      const s1 = n.op('Min', [n.op('Mul', [size, n.scalar(b + 1)]), len.S]);
      const kEnd = n.op('Add', [len.P, s1]);
      const mask = n.causal(s1, s0, s1);
      return [...[s0, s1, kEnd].map((x) => n.op('Unsqueeze', [x, n.i64([0])])), mask];
    }).flat();
  });
  const idle = n.g.subgraph('no_scoring_blocks', types, () => {
    const none = n.op('ConstantOfShape', [n.i64([0, 0])]);
    return Array.from({ length: SCORE_QUERY_BLOCKS }, () => [n.i64([0]), n.i64([0]), n.i64([0]), none]).flat();
  });
  const outs = n.g.node('If', [spans.active], { then_branch: { graph: planned }, else_branch: { graph: idle } }, types.length);
  const blocks = Array.from({ length: SCORE_QUERY_BLOCKS }, (_, b) => {
    const [s0, s1, kEnd, mask] = outs.slice(4 * b, 4 * b + 4);
    return { s0, s1, kEnd, mask };
  });
  return { spans, blocks };
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
  // One chunk covering the whole context scores every past key: the full softmax is KVzip's, and the max over
  // all keys, sliced afterwards, skips copying and rescaling the scored probabilities.
  const noRest = n.op('Equal', [len.P, plan.spans.M]);
  const outs: string[] = [];
  const best: string[] = [];
  for (const b of plan.blocks) {
    // A block's queries as [Hkv, G * rows, D], one matrix per KV head: its keys are packed once, not once per head.
    const rows = n.op('Reshape', [n.op('Slice', [q4, b.s0, b.s1, n.i64([2])]), n.i64([Hkv, -1, D])]);
    const perHead = (keys: string) => n.op('Concat', [n.i64([Hkv, G, -1]), keys], { axis: 0 });
    const logits = (keysT: string, count: string) => n.op('Reshape', [n.toF32(n.op('MatMul', [rows, keysT])), perHead(count)]);
    // Every past key is seen by every query: only the new keys need the causal mask.
    const own = n.op('Sub', [b.kEnd, P]);
    const ownLogits = n.op('Add', [logits(n.op('Slice', [newKeysT, n.i64([0]), own, n.i64([2])]), own), b.mask]);
    const probs = n.op('Softmax', [n.op('Concat', [logits(pastKeysT, P), ownLogits], { axis: 3 })], { axis: -1 });
    const stacked = n.op('Concat', [n.i64([Hkv, -1]), b.kEnd], { axis: 0 });
    const attn = n.op('MatMul', [n.op('Reshape', [n.fromF32(probs), stacked]), n.op('Slice', [values, n.i64([0]), b.kEnd, n.i64([1])])]);
    outs.push(n.op('Reshape', [attn, n.i64([Hkv, G, -1, D])]));
    // Over the group's heads and the block's queries; an empty block gives −inf, which the max ignores.
    const maxOver = (x: string) => n.op('ReduceMax', [x, n.i64([1, 2])], { keepdims: 0 });
    const whole = n.g.subgraph('scores_whole_past', [DataType.FLOAT], () => [n.op('Slice', [maxOver(probs), n.i64([0]), M, n.i64([1])])]);
    const part = n.g.subgraph('scores_part_of_past', [DataType.FLOAT], () => {
      const scored = n.op('Slice', [probs, n.i64([0]), M, n.i64([3])]);
      const newMass = n.op('ReduceSum', [n.op('Slice', [probs, P, b.kEnd, n.i64([3])]), n.i64([3])], { keepdims: 1 });
      const mass = n.op('Add', [n.op('ReduceSum', [scored, n.i64([3])], { keepdims: 1 }), newMass]);
      return [maxOver(n.op('Mul', [scored, n.op('Reciprocal', [mass])]))];
    });
    best.push(n.op('If', [noRest], { then_branch: { graph: whole }, else_branch: { graph: part } }));
  }
  return [
    mergeHeads(n, n.op('Concat', outs, { axis: 2 })),
    n.op('Concat', [pastKey, n.op('Unsqueeze', [newKeys, n.i64([0])])], { axis: 2 }),
    n.op('Concat', [pastValue, n.op('Unsqueeze', [newValues, n.i64([0])])], { axis: 2 }),
    n.op('Max', best),
  ];
}
