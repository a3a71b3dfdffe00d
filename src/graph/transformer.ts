// Builds the forward graphs of a Llama-family decoder for one architecture spec.
//
// Two kinds of graph share one layer body:
// - dense: past KV in, present KV out (prefill, plain decoding, KVzip scoring);
// - compressed: the compressed context KV is baked in as per-head initializers (uploaded to the device once,
//   when the session is created); only the question/answer tail KV crosses the session boundary.
//
// Activations are 2-D [S, hidden] throughout (batch 1). Linear layers are Gemm with transB=1 so weights keep
// Hugging Face's [out, in] layout and tied embeddings need no transposed copy. Attention is written with plain
// MatMul/Softmax so it runs on every provider and can expose KVzip's attention scores; GQA is computed without
// repeating K/V: queries of the G heads sharing a KV head are stacked as rows of one matrix.
import type { ModelSpec } from '../model/config.ts';
import type { Rope } from '../model/rope.ts';
import { DataType, GraphBuilder, type DataTypeCode } from './onnx.ts';
import type { ExternalRef } from '../model/prepare.ts';
import { INT4_PARTS, int4Block, isQuantizable } from '../model/int4.ts';

export type GraphDtype = 'fp32' | 'fp16';

/** One KV head's baked context KV: K stored transposed [D, n], V as [n, D]. */
export interface BakedHead {
  count: number;
  keyRef: ExternalRef;
  valueRef: ExternalRef;
}

export interface GraphOptions {
  spec: ModelSpec;
  rope: Rope;
  dtype: GraphDtype;
  weight: (name: string) => ExternalRef;
  /** Linear weights are int4 MatMulNBits blocks (see model/prepare.ts). */
  int4?: boolean;
  /** Present for a compressed graph: baked[layer][kvHead]. */
  baked?: BakedHead[][];
  /** Element type of the baked blob (kvzip/compact.ts writes fp16); widened to `dtype` in the graph. */
  bakedDtype?: GraphDtype;
  /** TopK candidates returned for the last position (keeps per-step output small). */
  topK?: number;
  /**
   * Also output logits of every new position ([1, S, vocab]); evaluation only. onnxruntime runs every node of a
   * graph whatever outputs are fetched, so the engine's graphs leave this LM-head pass out.
   */
  allLogits?: boolean;
  /**
   * Compressed graphs only: add KVzip scoring of tail keys (a refresh scores the re-prefilled suffix this way).
   * The first `scorePrefix` baked pairs of every head are the system prefix, the sink kept in the softmax.
   */
  scorePrefix?: number;
}

export const names = {
  pastKey: (l: number) => `past_key_${l}`,
  pastValue: (l: number) => `past_value_${l}`,
  presentKey: (l: number) => `present_key_${l}`,
  presentValue: (l: number) => `present_value_${l}`,
};

const NEG_INF = -Infinity;
const END = 2 ** 53 - 1;

export function buildGraph(o: GraphOptions): Uint8Array {
  const { spec } = o;
  const g = new GraphBuilder();
  const T: DataTypeCode = o.dtype === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
  const H = spec.numHeads;
  const Hkv = spec.numKvHeads;
  const G = H / Hkv;
  const D = spec.headDim;
  const h = spec.hiddenSize;
  const compressed = o.baked !== undefined;

  g.input('input_ids', DataType.INT64, [1, 'S']);
  g.input('position_ids', DataType.INT64, [1, 'S']);
  for (let l = 0; l < spec.numLayers; l++) {
    g.input(names.pastKey(l), T, [1, Hkv, 'P', D]);
    g.input(names.pastValue(l), T, [1, Hkv, 'P', D]);
  }
  const scoring = !compressed || o.scorePrefix !== undefined;
  // Dense scoring takes two runs of past keys, [a0, a1) ++ [b0, b1) (the system prefix and the chunk), so the
  // columns are copied as contiguous slices; the compressed graph's tail scoring takes arbitrary indices.
  if (scoring && !compressed) g.input('score_spans', DataType.INT64, [4]);
  if (scoring && compressed) g.input('score_index', DataType.INT64, ['M']);

  const W = (name: string, dims: number[]) => g.external(name, T, dims, o.weight(name));
  const cast = (x: string, to: DataTypeCode) => (to === T ? x : g.op('Cast', [x], { to }));
  const toF32 = (x: string) => (T === DataType.FLOAT ? x : g.op('Cast', [x], { to: DataType.FLOAT }));
  const fromF32 = (x: string) => (T === DataType.FLOAT ? x : g.op('Cast', [x], { to: T }));
  const rms = (x: string, w: string) =>
    g.op('SimplifiedLayerNormalization', [x, w], { axis: -1, epsilon: { float: spec.rmsNormEps }, stash_type: 1 });
  // One initializer per int4 part and shape: the embedding's blocks are read by the lookup and the tied head.
  const int4Part = (wName: string, suffix: string, type: DataTypeCode, shape: number[]) => {
    return g.external(`${wName}${suffix}:${shape.join('x')}`, type, shape, o.weight(wName + suffix));
  };
  // The token lookup on the int4 table: rows dequantized as (code − zero point) × scale, as MatMulNBits does.
  const quantizedLookup = (wName: string, idx: string) => {
    const bs = int4Block(wName);
    const [V, blocks] = [spec.vocabSize, Math.ceil(h / bs)];
    return g.op(
      'GatherBlockQuantized',
      [
        int4Part(wName, INT4_PARTS.b, DataType.UINT8, [V, blocks * (bs / 2)]),
        idx,
        int4Part(wName, INT4_PARTS.scales, T, [V, blocks]),
        int4Part(wName, INT4_PARTS.zeroPoints, DataType.UINT8, [V, Math.ceil(blocks / 2)]),
      ],
      { gather_axis: 0, quantize_axis: 1, block_size: bs, bits: 4 },
      'com.microsoft',
    );
  };
  const linear = (x: string, wName: string, dims: number[], bias?: string) => {
    if (!o.int4 || !isQuantizable(wName)) {
      return g.op('Gemm', bias ? [x, W(wName, dims), W(bias, [dims[0]])] : [x, W(wName, dims)], { transB: 1 });
    }
    const [N, K] = dims;
    const bs = int4Block(wName);
    const blocks = Math.ceil(K / bs);
    const y = g.op(
      'MatMulNBits',
      [
        x,
        int4Part(wName, INT4_PARTS.b, DataType.UINT8, [N, blocks, bs / 2]),
        int4Part(wName, INT4_PARTS.scales, T, [N * blocks]),
        int4Part(wName, INT4_PARTS.zeroPoints, DataType.UINT8, [N * Math.ceil(blocks / 2)]),
      ],
      // accuracy_level 4: activations in int8 for the CPU's integer dot products (MLAS); a measured trade.
      { K, N, bits: 4, block_size: bs, accuracy_level: 4 },
      'com.microsoft',
    );
    return bias ? g.op('Add', [y, W(bias, [N])]) : y;
  };
  // A Cast of an initializer is constant-folded when the session is created, so the fp16 blob is widened once
  // (measured: decode steps as fast as with fp32 initializers) and disk holds half the bytes.
  const BT: DataTypeCode = (o.bakedDtype ?? 'fp16') === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
  const bakedInit = (name: string, dims: number[], ref: ExternalRef) => {
    const x = g.external(name, BT, dims, ref);
    return BT === T ? x : g.op('Cast', [x], { to: T });
  };
  const i64 = (v: number[]) => g.constInt64(v);
  const scalarI64 = (v: number) => g.constInt64([v], []);

  // Shapes and the causal mask, shared by every layer. Keys are indexed 0..T-1 with the S new tokens last,
  // so query s sees key k iff k <= T - S + s. This holds for the dense cache and for the compressed tail alike.
  const ids = g.op('Reshape', ['input_ids', i64([-1])]);
  const S = g.op('Gather', [g.op('Shape', ['input_ids']), scalarI64(1)], { axis: 0 });
  const P = g.op('Gather', [g.op('Shape', [names.pastKey(0)]), scalarI64(2)], { axis: 0 });
  const Tk = g.op('Add', [P, S]);
  const one = scalarI64(1);
  const zero = scalarI64(0);
  // -inf strictly above the diagonal shifted by queriesFrom: query q (position queriesFrom + row) sees keys <= q.
  const causal = (keys: string, queriesFrom: string, queriesTo: string) => {
    const dims = [g.op('Sub', [queriesTo, queriesFrom]), keys].map((d) => g.op('Unsqueeze', [d, i64([0])]));
    const shape = g.op('Concat', dims, { axis: 0 });
    return g.op('Trilu', [g.op('Expand', [g.constFloat([NEG_INF], []), shape]), g.op('Add', [queriesFrom, one])], { upper: 1 });
  };
  // Rows of the stacked-GQA score matrix are (group, query) pairs: tile the [S, T] mask G times.
  const tileRows = (m: string) => (G === 1 ? m : g.op('Tile', [m, i64([G, 1])]));
  // Only the compressed graph's explicit tail attention needs the mask (GroupQueryAttention is causal itself).
  const mask = compressed ? tileRows(causal(Tk, P, Tk)) : '';
  const seqlensK = g.op('Cast', [g.op('Reshape', [g.op('Sub', [Tk, one]), i64([1])])], { to: DataType.INT32 });
  const totalLength = g.op('Cast', [Tk], { to: DataType.INT32 });

  // Rotary embedding: angles from position ids at run time (no table bounded by max positions).
  const pos = g.op('Cast', [g.op('Reshape', ['position_ids', i64([-1, 1])])], { to: DataType.FLOAT });
  const angles = g.op('Mul', [pos, g.constFloat(o.rope.invFreq, [D / 2])]);
  const ropeScale = g.constFloat([o.rope.scale], []);
  const cos = cast(g.op('Unsqueeze', [g.op('Mul', [g.op('Cos', [angles]), ropeScale]), i64([1])]), T);
  const sin = cast(g.op('Unsqueeze', [g.op('Mul', [g.op('Sin', [angles]), ropeScale]), i64([1])]), T);
  const half = i64([D / 2, D / 2]);
  const rotate = (x: string) => {
    const [x1, x2] = g.node('Split', [x, half], { axis: 2 }, 2);
    const r1 = g.op('Sub', [g.op('Mul', [x1, cos]), g.op('Mul', [x2, sin])]);
    const r2 = g.op('Add', [g.op('Mul', [x2, cos]), g.op('Mul', [x1, sin])]);
    return g.op('Concat', [r1, r2], { axis: 2 });
  };
  const qScale = g.constFloat([1 / Math.sqrt(D)], [], T);

  // KVzip scoring: keys scored against are [scored keys of the past] ++ [the new tokens' own keys, causal]; the
  // mask is zero over the past part and causal over the own part.
  let scoreMask = '';
  let headsApart = '';
  const spanAt = (i: number) => g.op('Slice', ['score_spans', i64([i]), i64([i + 1])]);
  let scoredEnd = '';
  let ownEnd = '';
  if (scoring) {
    const M = compressed
      ? g.op('Gather', [g.op('Shape', ['score_index']), scalarI64(0)], { axis: 0 })
      : g.op('Squeeze', [g.op('Add', [g.op('Sub', [spanAt(1), spanAt(0)]), g.op('Sub', [spanAt(3), spanAt(2)])])]);
    // A dense run that scores nothing (prefill, decode) leaves out the new tokens' own keys too, so its score
    // branch works on empty tensors and costs nothing.
    const ownLen = compressed ? S : g.op('Mul', [S, g.op('Min', [M, one])]);
    const own = causal(ownLen, zero, S);
    const pastPart = g.op(
      'ConstantOfShape',
      [g.op('Concat', [g.op('Unsqueeze', [S, i64([0])]), g.op('Unsqueeze', [M, i64([0])])], { axis: 0 })],
      {},
    );
    const rows = g.op('Concat', [pastPart, own], { axis: 1 });
    // The dense branch broadcasts [S, M+S] over its heads; the compressed one stacks groups as rows.
    scoreMask = compressed ? tileRows(rows) : rows;
    if (!compressed) {
      scoredEnd = g.op('Unsqueeze', [M, i64([0])]);
      ownEnd = g.op('Unsqueeze', [ownLen, i64([0])]);
      headsApart = g.op('Concat', [i64([H]), g.op('Unsqueeze', [S, i64([0])]), i64([-1])], { axis: 0 });
    }
  }
  const scoreLayers: string[] = [];

  let x = o.int4 ? quantizedLookup('model.embed_tokens.weight', ids) : g.op('Gather', [W('model.embed_tokens.weight', [spec.vocabSize, h]), ids], { axis: 0 });

  for (let l = 0; l < spec.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const xn = rms(x, W(`${p}input_layernorm.weight`, [h]));
    const bias = (n: string) => (spec.qkvBias ? `${p}self_attn.${n}_proj.bias` : undefined);
    let q = g.op('Reshape', [linear(xn, `${p}self_attn.q_proj.weight`, [H * D, h], bias('q')), i64([-1, H, D])]);
    let k = g.op('Reshape', [linear(xn, `${p}self_attn.k_proj.weight`, [Hkv * D, h], bias('k')), i64([-1, Hkv, D])]);
    const v = g.op('Reshape', [linear(xn, `${p}self_attn.v_proj.weight`, [Hkv * D, h], bias('v')), i64([-1, Hkv, D])]);
    if (spec.qkNorm) {
      q = rms(q, W(`${p}self_attn.q_norm.weight`, [D]));
      k = rms(k, W(`${p}self_attn.k_norm.weight`, [D]));
    }
    q = rotate(q);
    k = rotate(k);
    // [S, H, D] → [H, S, D] → [Hkv, G*S, D], pre-scaled by 1/sqrt(D).
    const qs = g.op('Mul', [g.op('Reshape', [g.op('Transpose', [q], { perm: [1, 0, 2] }), i64([Hkv, -1, D])]), qScale]);
    const kNew = g.op('Transpose', [k], { perm: [1, 0, 2] });
    let presentK: string;
    let presentV: string;
    let gqaOut = '';
    if (!compressed) {
      // Fused causal attention over past ++ new (onnxruntime's GroupQueryAttention, fp32 on the CPU, fp16 on
      // CUDA): no [G*S, T] logits tensor is materialised for the hidden states.
      [gqaOut, presentK, presentV] = g.node(
        'GroupQueryAttention',
        [
          g.op('Reshape', [q, i64([1, -1, H * D])]),
          g.op('Reshape', [k, i64([1, -1, Hkv * D])]),
          g.op('Reshape', [v, i64([1, -1, Hkv * D])]),
          names.pastKey(l),
          names.pastValue(l),
          seqlensK,
          totalLength,
        ],
        { num_heads: H, kv_num_heads: Hkv },
        3,
        'com.microsoft',
      );
    } else {
      presentK = g.op('Concat', [names.pastKey(l), g.op('Unsqueeze', [kNew, i64([0])])], { axis: 2 });
      const vNew = g.op('Transpose', [v], { perm: [1, 0, 2] });
      presentV = g.op('Concat', [names.pastValue(l), g.op('Unsqueeze', [vNew, i64([0])])], { axis: 2 });
    }
    g.alias(presentK, names.presentKey(l));
    g.alias(presentV, names.presentValue(l));
    const K = g.op('Reshape', [presentK, i64([Hkv, -1, D])]);

    let merged: string;
    if (!compressed) {
      merged = g.op('Reshape', [gqaOut, i64([-1, H * D])]);
      if (scoring) {
        // Scored keys: the two spans of past keys (prefix and chunk, sliced as contiguous rows) and the new
        // tokens' own keys, in an explicit attention of its own (the fused main attention exposes no probabilities).
        const span = (from: number) => g.op('Slice', [K, spanAt(from), spanAt(from + 1), i64([1])]);
        const kBar = g.op('Concat', [span(0), span(2), g.op('Slice', [kNew, i64([0]), ownEnd, i64([1])])], { axis: 1 });
        const qk = g.op('Reshape', [toF32(g.op('MatMul', [qs, g.op('Transpose', [kBar], { perm: [0, 2, 1] })])), headsApart]);
        const probs = g.op('Softmax', [g.op('Add', [qk, scoreMask])], { axis: -1 });
        // Max over queries, then over the group: onnxruntime reduces a [H, S, keys] middle axis several times
        // faster than the merged [Hkv, G*S, keys] one.
        const perHead = g.op('ReduceMax', [probs, i64([1])], { keepdims: 0 });
        const best = g.op('ReduceMax', [g.op('Reshape', [perHead, i64([Hkv, G, -1])]), i64([1])], { keepdims: 0 });
        const pastScores = g.op('Slice', [best, i64([0]), scoredEnd, i64([1])]);
        scoreLayers.push(g.op('Unsqueeze', [pastScores, i64([0])]));
      }
    } else {
      // Per KV head: baked context keys (no padding, no mask) then the causal tail.
      const qh = g.node('Split', [qs], { axis: 0, num_outputs: Hkv }, Hkv);
      const kh = Hkv === 1 ? [K] : g.node('Split', [K], { axis: 0, num_outputs: Hkv }, Hkv);
      const V = g.op('Reshape', [presentV, i64([Hkv, -1, D])]);
      const vh = Hkv === 1 ? [V] : g.node('Split', [V], { axis: 0, num_outputs: Hkv }, Hkv);
      const heads: string[] = [];
      const headScores: string[] = [];
      for (let j = 0; j < Hkv; j++) {
        const b = o.baked![l][j];
        const kb = bakedInit(`ctx_key_${l}_${j}`, [1, D, b.count], b.keyRef);
        const vb = bakedInit(`ctx_value_${l}_${j}`, [1, b.count, D], b.valueRef);
        const sb = toF32(g.op('MatMul', [qh[j], kb]));
        const st = g.op('Add', [toF32(g.op('MatMul', [qh[j], g.op('Transpose', [kh[j]], { perm: [0, 2, 1] })])), mask]);
        const probs = fromF32(g.op('Softmax', [g.op('Concat', [sb, st], { axis: 2 })], { axis: -1 }));
        const pb = g.op('Slice', [probs, i64([0]), i64([b.count]), i64([2])]);
        const pt = g.op('Slice', [probs, i64([b.count]), i64([END]), i64([2])]);
        heads.push(g.op('Add', [g.op('MatMul', [pb, vb]), g.op('MatMul', [pt, vh[j]])]));
        if (scoring) {
          // Scored keys: the sink (first baked pairs) ++ score_index keys of the tail ++ the new tokens' own keys.
          const sink = g.op('MatMul', [qh[j], g.op('Slice', [kb, i64([0]), i64([o.scorePrefix!]), i64([2])])]);
          const picked = g.op('Gather', [kh[j], 'score_index'], { axis: 1 });
          const own = g.op('Slice', [kh[j], g.op('Unsqueeze', [P, i64([0])]), i64([END]), i64([1])]);
          const kBar = g.op('Transpose', [g.op('Concat', [picked, own], { axis: 1 })], { perm: [0, 2, 1] });
          const s = g.op('Concat', [toF32(sink), g.op('Add', [toF32(g.op('MatMul', [qh[j], kBar])), scoreMask])], { axis: 2 });
          const best = g.op('ReduceMax', [g.op('Softmax', [s], { axis: -1 }), i64([1])], { keepdims: 0 });
          const from = g.constInt64([o.scorePrefix!]);
          headScores.push(g.op('Slice', [best, from, g.op('Add', [from, g.op('Shape', ['score_index'])]), i64([1])]));
        }
      }
      if (scoring) scoreLayers.push(g.op('Unsqueeze', [g.op('Concat', headScores, { axis: 0 }), i64([0])]));
      const attn = Hkv === 1 ? heads[0] : g.op('Concat', heads, { axis: 0 });
      // [Hkv, G*S, D] → [H, S, D] → [S, H*D]
      merged = g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [attn, i64([H, -1, D])])], { perm: [1, 0, 2] }), i64([-1, H * D])]);
    }
    x = g.op('Add', [x, linear(merged, `${p}self_attn.o_proj.weight`, [h, H * D], spec.oBias ? `${p}self_attn.o_proj.bias` : undefined)]);
    const xn2 = rms(x, W(`${p}post_attention_layernorm.weight`, [h]));
    const mb = (n: string) => (spec.mlpBias ? `${p}mlp.${n}_proj.bias` : undefined);
    const gate = linear(xn2, `${p}mlp.gate_proj.weight`, [spec.intermediateSize, h], mb('gate'));
    const up = linear(xn2, `${p}mlp.up_proj.weight`, [spec.intermediateSize, h], mb('up'));
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    x = g.op('Add', [x, linear(act, `${p}mlp.down_proj.weight`, [h, spec.intermediateSize], mb('down'))]);
  }

  const xf = rms(x, W('model.norm.weight', [h]));
  const head = spec.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const lmHead = (x: string) => linear(x, head, [spec.vocabSize, h]);
  const last = g.op('Slice', [xf, i64([-1]), i64([END]), i64([0])]);
  const logitsLast = toF32(lmHead(last));
  g.alias(logitsLast, 'logits_last');
  if (o.allLogits) g.alias(g.op('Unsqueeze', [toF32(lmHead(xf)), i64([0])]), 'logits_all');
  const topK = Math.min(o.topK ?? 64, spec.vocabSize);
  g.node('TopK', [logitsLast, i64([topK])], { axis: -1 }, 2, '', ['top_values', 'top_indices']);

  g.output('logits_last', DataType.FLOAT, [1, spec.vocabSize]);
  if (o.allLogits) g.output('logits_all', DataType.FLOAT, [1, 'S', spec.vocabSize]);
  g.output('top_values', DataType.FLOAT, [1, topK]);
  g.output('top_indices', DataType.INT64, [1, topK]);
  for (let l = 0; l < spec.numLayers; l++) {
    g.output(names.presentKey(l), T, [1, Hkv, 'T', D]);
    g.output(names.presentValue(l), T, [1, Hkv, 'T', D]);
  }
  if (scoring) {
    g.alias(g.op('Concat', scoreLayers, { axis: 0 }), 'scores');
    g.output('scores', DataType.FLOAT, [spec.numLayers, Hkv, 'M']);
  }
  return g.toBytes(compressed ? 'kvzip_compressed' : 'kvzip_dense');
}
