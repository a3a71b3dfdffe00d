// The forward pass of a Llama-family decoder for one architecture spec, as an ONNX graph: embed the new tokens,
// then per layer RMSNorm → q/k/v → (q/k norm) → RoPE → attention → o_proj → residual, RMSNorm → SwiGLU MLP →
// residual; then the final norm and the LM head (the last position's top-K candidates).
//
// Two kinds of graph differ only in their attention (attention.ts) and score branch (kvzipScore.ts):
// - dense: past KV in, present KV out (prefill, plain decoding, KVzip scoring of past keys);
// - compressed: a cache generation's context KV is baked in as per-head initializers (uploaded to the device
//   once, when the session is created); only the question/answer tail KV crosses the session boundary.
//
// Activations are 2-D [S, hidden] throughout (batch 1). Linear layers keep Hugging Face's [out, in] layout, so
// tied embeddings need no transposed copy (net.ts).
import type { ModelSpec } from '../model/config.ts';
import type { ExternalRef } from '../model/prepare.ts';
import type { NBitsLayout } from '../model/int4.ts';
import type { Rope } from '../model/rope.ts';
import { DataType } from './onnx.ts';
import { END, Net, type GraphDtype } from './net.ts';
import { names } from './names.ts';
import { compressedAttention, denseAttention, explicitDenseAttention, type BakedHead } from './attention.ts';
import type { Lengths } from './heads.ts';
import { attentionScores, compressedScoreBranch, denseScoreBranch } from './kvzipScore.ts';
import { scoreSpans } from './scoreSpans.ts';
import { scoringPlan } from './scoringAttention.ts';
import { bakedSources, inputSources, type SourceMap } from './sources.ts';

export interface GraphOptions {
  spec: ModelSpec;
  rope: Rope;
  dtype: GraphDtype;
  weight: (name: string) => ExternalRef;
  /** How each quantized weight is stored as MatMulNBits inputs (see model/prepare.ts); others are float. */
  layout?: (name: string) => NBitsLayout | undefined;
  /** MatMulNBits' accuracy_level (default 4: int8 activations on the CPU; 0 computes in the graph's dtype). */
  accuracyLevel?: number;
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
  /**
   * Compressed graphs: output `source_mass`, the last new position's attention on the baked pairs summed into
   * these buckets (answer sources, see sources.ts). WebGPU's dense graph (fusedAttention false) always outputs it,
   * its buckets given as inputs with the context.
   */
  sources?: SourceMap;
  /**
   * Dense graphs: the attention as onnxruntime's fused GroupQueryAttention (default), or spelled out as
   * MatMul/Softmax (WebGPU, whose GroupQueryAttention is wrong from 32 new tokens up; see attention.ts).
   */
  fusedAttention?: boolean;
}

/**
 * Rows from which a dense graph's MatMulNBits over 8-bit blocks (most of a Q4_K_M GGUF: its Q5_0, Q6_K and Q8_0
 * tensors) compute in float instead of int8 activations. Measured on Qwen2.5-Coder-0.5B Q4_K_M (2 Zen 5 cores), ms
 * per prefilled token, int8 against float: 7.3 / 15.4 at 128 rows, 8.3 / 7.3 at 512, 9.5 / 6.5 at 2,000; at 32,
 * float took 6× as long (its blocks are widened every run). 4-bit blocks stay in int8: float gained 9% at 2,000
 * rows, for a second prepacked copy of every weight (+50% of an int4 model's memory).
 */
export const WIDE_RUN_ROWS = 512;

export function buildGraph(o: GraphOptions): Uint8Array {
  const { spec } = o;
  const { numHeads: H, numKvHeads: Hkv, headDim: D, hiddenSize: h, numLayers: L } = spec;
  const n = new Net(spec, o.dtype, o.weight, o.layout, o.accuracyLevel, o.baked ? undefined : WIDE_RUN_ROWS);
  const { g } = n;

  g.input(names.inputIds, DataType.INT64, [1, 'S']);
  g.input(names.positionIds, DataType.INT64, [1, 'S']);
  for (let l = 0; l < L; l++) {
    g.input(names.pastKey(l), n.T, [1, Hkv, 'P', D]);
    g.input(names.pastValue(l), n.T, [1, Hkv, 'P', D]);
  }
  if (!o.baked) g.input(names.pastLength, DataType.INT64, []);
  // Keys are indexed 0..Tk-1 with the S new tokens last, for the dense cache and the compressed tail alike.
  const S = n.op('Gather', [n.op('Shape', [names.inputIds]), n.scalar(1)], { axis: 0 });
  const P = o.baked ? n.op('Gather', [n.op('Shape', [names.pastKey(0)]), n.scalar(2)], { axis: 0 }) : names.pastLength;
  const len: Lengths = { S, P, Tk: n.op('Add', [P, S]) };
  const spans = o.baked ? undefined : scoreSpans(n);
  const fused = o.fusedAttention !== false;
  const attention = !spans
    ? compressedAttention(n, len, o.baked!, o.bakedDtype ?? 'fp16')
    : fused
      ? denseAttention(n, len, scoringPlan(n, len, spans))
      : explicitDenseAttention(n, len);
  const score = spans
    ? fused
      ? attentionScores(n)
      : denseScoreBranch(n, len, spans)
    : o.scorePrefix !== undefined
      ? compressedScoreBranch(n, len, o.scorePrefix)
      : undefined;
  const sources = !spans ? (o.sources ? bakedSources(n, len, o.sources) : undefined) : fused ? undefined : inputSources(n, len);
  const rope = n.rotary(names.positionIds, o.rope);

  let x = n.embed(n.shaped(n.op('Reshape', [names.inputIds, n.i64([-1])]), ['S'], DataType.INT64));
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    const xn = n.rms(x, `${p}input_layernorm.weight`, h);
    const bias = (w: string) => (spec.qkvBias ? `${p}self_attn.${w}_proj.bias` : undefined);
    const heads = (w: 'q' | 'k' | 'v', count: number) =>
      n.shaped(n.op('Reshape', [n.linear(xn, `${p}self_attn.${w}_proj.weight`, [count * D, h], bias(w)), n.i64([-1, count, D])]), [
        'S',
        count,
        D,
      ]);
    let q = heads('q', H);
    let k = heads('k', Hkv);
    const v = heads('v', Hkv);
    if (spec.qkNorm) {
      q = n.rms(q, `${p}self_attn.q_norm.weight`, D);
      k = n.rms(k, `${p}self_attn.k_norm.weight`, D);
    }
    const a = attention.layer(l, rope(q), rope(k), v);
    score?.layer(a);
    for (const c of a.contextProbs ?? []) sources?.add(c.probs, c.pairs);
    // Past the last layer's attention only the last position is read (its logits), unless every position's are:
    // the rows before it skip o_proj and the MLP (1/L of a prefill's or scoring pass's linear work).
    const lastOnly = l === L - 1 && !o.allLogits;
    const lastRow = (t: string, width: number) =>
      lastOnly ? n.shaped(n.op('Slice', [t, n.i64([-1]), n.i64([END]), n.i64([0])]), [1, width]) : t;
    // Declared, so the linears over one row skip the wide-run branch (Net.linear).
    const rows = lastOnly ? 1 : 'S';
    const oBias = spec.oBias ? `${p}self_attn.o_proj.bias` : undefined;
    x = n.shaped(n.op('Add', [lastRow(x, h), n.linear(lastRow(a.merged, H * D), `${p}self_attn.o_proj.weight`, [h, H * D], oBias)]), [
      rows,
      h,
    ]);

    const xn2 = n.rms(x, `${p}post_attention_layernorm.weight`, h);
    const mb = (w: string) => (spec.mlpBias ? `${p}mlp.${w}_proj.bias` : undefined);
    const gate = n.linear(xn2, `${p}mlp.gate_proj.weight`, [spec.intermediateSize, h], mb('gate'));
    const up = n.linear(xn2, `${p}mlp.up_proj.weight`, [spec.intermediateSize, h], mb('up'));
    const act = n.shaped(n.op('Mul', [n.op('Mul', [gate, n.op('Sigmoid', [gate])]), up]), [rows, spec.intermediateSize]);
    x = n.shaped(n.op('Add', [x, n.linear(act, `${p}mlp.down_proj.weight`, [h, spec.intermediateSize], mb('down'))]), [rows, h]);
  }

  const xf = n.rms(x, 'model.norm.weight', h);
  const head = spec.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const lastX = n.shaped(n.op('Slice', [xf, n.i64([-1]), n.i64([END]), n.i64([0])]), [1, h]);
  // A dense session prepacks (a build's prefills and scoring passes), a compressed fp32 one does not: there the
  // Gemm's GEMV measured faster (Net.head's MatMul added 18 ms to a 0.5B fp32 decode step).
  const logitsLast = n.toF32(o.baked ? n.linear(lastX, head, [spec.vocabSize, h]) : n.head(lastX, head, [spec.vocabSize, h]));
  g.alias(logitsLast, names.logitsLast);
  if (o.allLogits) g.alias(n.op('Unsqueeze', [n.toF32(n.linear(xf, head, [spec.vocabSize, h])), n.i64([0])]), names.logitsAll);
  const topK = Math.min(o.topK ?? 64, spec.vocabSize);
  g.node('TopK', [logitsLast, n.i64([topK])], { axis: -1 }, 2, '', [names.topValues, names.topIndices]);

  g.output(names.logitsLast, DataType.FLOAT, [1, spec.vocabSize]);
  if (o.allLogits) g.output(names.logitsAll, DataType.FLOAT, [1, 'S', spec.vocabSize]);
  g.output(names.topValues, DataType.FLOAT, [1, topK]);
  g.output(names.topIndices, DataType.INT64, [1, topK]);
  for (let l = 0; l < L; l++) {
    g.output(names.presentKey(l), n.T, [1, Hkv, 'T', D]);
    g.output(names.presentValue(l), n.T, [1, Hkv, 'T', D]);
  }
  if (!o.baked) {
    for (let l = 0; l < L; l++) {
      g.output(names.newKey(l), n.T, [1, Hkv, 'S', D]);
      g.output(names.newValue(l), n.T, [1, Hkv, 'S', D]);
    }
  }
  score?.finish();
  sources?.finish();
  return g.toBytes(o.baked ? 'kvzip_compressed' : 'kvzip_dense');
}
