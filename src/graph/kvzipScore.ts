// KVzip's score branch: for each layer and KV head, the max attention each scored key receives from the G query
// heads and every new (repeat-input) query, under a softmax over [scored keys] ++ [the new tokens' own keys,
// causal].
// - dense, on the devices with a fused attention: that attention computes the scores in scoring runs
//   (scoringAttention.ts), and this collects them;
// - dense, beside WebGPU's explicit attention: an explicit attention of its own, over the scored past keys as two
//   runs, [a0, a1) ++ [b0, b1) (system prefix and chunk), copied as slices; that dense graph also refreshes, so a
//   sink of leading context pairs may lead them;
// - compressed (a refresh scoring its suffix): the sink is the first `scorePrefix` baked pairs of every head,
//   and the scored keys are arbitrary tail positions.
import { DataType } from './onnx.ts';
import { END, type Net } from './net.ts';
import { names } from './names.ts';
import type { AttentionOut } from './attention.ts';
import type { Lengths } from './heads.ts';
import type { ScoreSpans } from './scoreSpans.ts';

export interface ScoreBranch {
  layer(a: AttentionOut): void;
  /** Declares the [L, Hkv, M] `scores` output from every layer's. */
  finish(): void;
}

function branch(n: Net, layers: string[]): Pick<ScoreBranch, 'finish'> {
  return {
    finish() {
      n.g.alias(n.op('Concat', layers, { axis: 0 }), names.scores);
      n.g.output(names.scores, DataType.FLOAT, [n.spec.numLayers, n.spec.numKvHeads, 'M']);
    },
  };
}

/** [S, M + own]: zero over the M scored keys, causal over the `own` new keys. */
function scoreMask(n: Net, len: Lengths, M: string, own: string): string {
  const rows = n.op('Concat', [n.op('Unsqueeze', [len.S, n.i64([0])]), n.op('Unsqueeze', [M, n.i64([0])])], { axis: 0 });
  return n.op('Concat', [n.op('ConstantOfShape', [rows], {}), n.causal(own, n.scalar(0), len.S)], { axis: 1 });
}

/** Dense graphs whose attention computes each layer's scores itself (scoringAttention.ts) collect them. */
export function attentionScores(n: Net): ScoreBranch {
  const layers: string[] = [];
  return {
    ...branch(n, layers),
    layer(a) {
      layers.push(n.op('Unsqueeze', [a.scores!, n.i64([0])]));
    },
  };
}

/** The score branch beside an attention that gives no probabilities and no scores (WebGPU's explicit one). */
export function denseScoreBranch(n: Net, len: Lengths, spans: ScoreSpans): ScoreBranch {
  const { numHeads: H, numKvHeads: Hkv } = n.spec;
  const G = H / Hkv;
  const spanAt = (i: number) => spans.at[i];
  const M = spans.M;
  // A run that scores nothing (prefill, decode) leaves out the new tokens' own keys too, so the branch works
  // on empty tensors and costs nothing.
  const ownLen = n.op('Mul', [len.S, n.op('Min', [M, n.scalar(1)])]);
  // The first K context pairs of every head lead the softmax, unscored: a refresh scores its suffix over the
  // compressed prefix, whose system prefix is that sink.
  n.g.input(names.scoreContextSink, DataType.INT64, []);
  const K = n.op('Unsqueeze', [names.scoreContextSink, n.i64([0])]);
  // Broadcast over the heads.
  const scored = scoreMask(n, len, M, ownLen);
  const sinkRows = n.op('ConstantOfShape', [n.op('Concat', [n.op('Unsqueeze', [len.S, n.i64([0])]), K], { axis: 0 })]);
  const mask = n.op('Concat', [sinkRows, scored], { axis: 1 });
  const scoredEnd = n.op('Unsqueeze', [M, n.i64([0])]);
  // Where the scored keys lie in the softmax's keys: after the sink.
  const scoredTo = n.op('Add', [K, scoredEnd]);
  const ownEnd = n.op('Unsqueeze', [ownLen, n.i64([0])]);
  const headsApart = n.op('Concat', [n.i64([H]), n.op('Unsqueeze', [len.S, n.i64([0])]), n.i64([-1])], { axis: 0 });
  const layers: string[] = [];
  return {
    ...branch(n, layers),
    layer(a) {
      const span = (from: number) => n.op('Slice', [a.keys!, spanAt(from), spanAt(from + 1), n.i64([1])]);
      const own = n.op('Slice', [a.newKeys!, n.i64([0]), ownEnd, n.i64([1])]);
      const kBar = n.op('Concat', [span(0), span(2), own], { axis: 1 });
      const sinkKeys = n.op('Slice', [a.context!.keys, n.i64([0]), K, n.i64([2])]);
      const sinkBias = n.toF32(n.op('Slice', [a.context!.bias, n.i64([0]), K, n.i64([2])]));
      const sink = n.op('Add', [n.toF32(n.op('MatMul', [a.queries!, sinkKeys])), sinkBias]);
      const logits = n.op('Concat', [sink, n.toF32(n.op('MatMul', [a.queries!, n.op('Transpose', [kBar], { perm: [0, 2, 1] })]))], {
        axis: 2,
      });
      const probs = n.op('Softmax', [n.op('Add', [n.op('Reshape', [logits, headsApart]), mask])], { axis: -1 });
      // Max over queries, then over the group: onnxruntime reduces a [H, S, keys] middle axis several times
      // faster than the merged [Hkv, G*S, keys] one.
      const perHead = n.op('ReduceMax', [probs, n.i64([1])], { keepdims: 0 });
      const best = n.op('ReduceMax', [n.op('Reshape', [perHead, n.i64([Hkv, G, -1])]), n.i64([1])], { keepdims: 0 });
      layers.push(n.op('Unsqueeze', [n.op('Slice', [best, K, scoredTo, n.i64([1])]), n.i64([0])]));
    },
  };
}

export function compressedScoreBranch(n: Net, len: Lengths, scorePrefix: number): ScoreBranch {
  n.g.input(names.scoreIndex, DataType.INT64, ['M']);
  const M = n.op('Gather', [n.op('Shape', [names.scoreIndex]), n.scalar(0)], { axis: 0 });
  // Groups stacked as rows, as the compressed attention's queries are.
  const mask = n.tileGroups(scoreMask(n, len, M, len.S));
  const from = n.g.constInt64([scorePrefix]);
  const to = n.op('Add', [from, n.op('Shape', [names.scoreIndex])]);
  const layers: string[] = [];
  return {
    ...branch(n, layers),
    layer(a) {
      const perHead = a.heads!.map((h) => {
        const sink = n.op('MatMul', [h.queries, n.op('Slice', [h.baked, n.i64([0]), n.i64([scorePrefix]), n.i64([2])])]);
        const picked = n.op('Gather', [h.keys, names.scoreIndex], { axis: 1 });
        const own = n.op('Slice', [h.keys, n.op('Unsqueeze', [len.P, n.i64([0])]), n.i64([END]), n.i64([1])]);
        const kBar = n.op('Transpose', [n.op('Concat', [picked, own], { axis: 1 })], { perm: [0, 2, 1] });
        const s = n.op('Concat', [n.toF32(sink), n.op('Add', [n.toF32(n.op('MatMul', [h.queries, kBar])), mask])], { axis: 2 });
        const best = n.op('ReduceMax', [n.op('Softmax', [s], { axis: -1 }), n.i64([1])], { keepdims: 0 });
        return n.op('Slice', [best, from, to, n.i64([1])]);
      });
      layers.push(n.op('Unsqueeze', [n.op('Concat', perHead, { axis: 0 }), n.i64([0])]));
    },
  };
}
