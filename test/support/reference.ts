// A plain TypeScript forward pass with Hugging Face semantics, the yardstick the ONNX graphs are held to.
// Deliberately naive: no KV cache, full causal attention over the whole sequence, every sum in float64.
// Weights come through the engine's own reader (resolveWeights + readAsFloat32), so both sides see the same
// values; everything after that is written from the HF modeling code, not from the graph builder.
import type { ModelSpec } from '../../src/model/config.ts';
import type { Rope } from '../../src/model/rope.ts';
import { readAsFloat32, resolveWeights } from '../../src/model/weights.ts';

export type Weights = Map<string, Float32Array>;

export function loadWeights(dir: string, spec: ModelSpec): Weights {
  const out: Weights = new Map();
  for (const [name, info] of resolveWeights(dir, spec)) out.set(name, readAsFloat32(info));
  return out;
}

function get(w: Weights, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`reference: weight ${name} missing`);
  return t;
}

/** x * rsqrt(mean(x^2) + eps) * w over each row of `n` values. */
function rmsNorm(x: Float64Array, n: number, w: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[r * n + i] ** 2;
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) out[r * n + i] = x[r * n + i] * inv * w[i];
  }
  return out;
}

/** y = x W^T (+ b), W in HF's [out, in] layout; x is [rows, in]. */
function linear(x: Float64Array, rows: number, w: Float32Array, outDim: number, inDim: number, b?: Float32Array): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * w[o * inDim + i];
      y[r * outDim + o] = s;
    }
  }
  return y;
}

/** HF rotate_half RoPE in place on [S, heads, D]: out = x*cos + rotate_half(x)*sin, cos/sin scaled by rope.scale. */
function applyRope(x: Float64Array, S: number, heads: number, D: number, positions: number[], rope: Rope): void {
  const half = D / 2;
  for (let s = 0; s < S; s++) {
    for (let i = 0; i < half; i++) {
      // HF computes the angle in fp32 (inv_freq and positions are float32 tensors).
      const angle = Math.fround(positions[s] * rope.invFreq[i]);
      const c = Math.cos(angle) * rope.scale;
      const sn = Math.sin(angle) * rope.scale;
      for (let h = 0; h < heads; h++) {
        const base = (s * heads + h) * D;
        const x1 = x[base + i];
        const x2 = x[base + i + half];
        x[base + i] = x1 * c - x2 * sn;
        x[base + i + half] = x2 * c + x1 * sn;
      }
    }
  }
}

/**
 * Logits for every position of `ids` ([S * vocab], row-major), positions 0..S-1.
 * Attention: query head h reads KV head floor(h / (H / Hkv)), scaled by 1/sqrt(head_dim), causal.
 */
export function referenceForward(
  spec: ModelSpec,
  rope: Rope,
  w: Weights,
  ids: number[],
  /** Sees each layer's post-RoPE queries [S, H, D] and keys [S, Hkv, D] (the KVzip score check needs them). */
  onAttention?: (layer: number, q: Float64Array, k: Float64Array) => void,
  /**
   * Which earlier positions t position s attends to besides itself in `layer` and KV head `kvHead` (default all:
   * plain causal attention).
   */
  sees: (s: number, t: number, layer: number, kvHead: number) => boolean = () => true,
  /** Sees each query head's attention probabilities of position s over positions 0..s (answer sources' check). */
  onProbs?: (layer: number, head: number, s: number, probs: Float64Array) => void,
): Float32Array {
  const { hiddenSize: h, numHeads: H, numKvHeads: Hkv, headDim: D, intermediateSize: I, vocabSize: V } = spec;
  const S = ids.length;
  const G = H / Hkv;
  const positions = ids.map((_, i) => i);
  const embed = get(w, 'model.embed_tokens.weight');
  let x: Float64Array = new Float64Array(S * h);
  ids.forEach((id, s) => {
    for (let i = 0; i < h; i++) x[s * h + i] = embed[id * h + i];
  });

  for (let l = 0; l < spec.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const opt = (name: string, on: boolean) => (on ? get(w, p + name) : undefined);
    const xn = rmsNorm(x, h, get(w, `${p}input_layernorm.weight`), spec.rmsNormEps);
    const q = linear(xn, S, get(w, `${p}self_attn.q_proj.weight`), H * D, h, opt('self_attn.q_proj.bias', spec.qkvBias));
    const k = linear(xn, S, get(w, `${p}self_attn.k_proj.weight`), Hkv * D, h, opt('self_attn.k_proj.bias', spec.qkvBias));
    const v = linear(xn, S, get(w, `${p}self_attn.v_proj.weight`), Hkv * D, h, opt('self_attn.v_proj.bias', spec.qkvBias));
    // Qwen3: RMSNorm over each head's D values, before RoPE.
    const qr = spec.qkNorm ? rmsNorm(q, D, get(w, `${p}self_attn.q_norm.weight`), spec.rmsNormEps) : q;
    const kr = spec.qkNorm ? rmsNorm(k, D, get(w, `${p}self_attn.k_norm.weight`), spec.rmsNormEps) : k;
    applyRope(qr, S, H, D, positions, rope);
    applyRope(kr, S, Hkv, D, positions, rope);
    onAttention?.(l, qr, kr);

    const attn = new Float64Array(S * H * D);
    const scores = new Float64Array(S);
    const scale = 1 / Math.sqrt(D);
    for (let head = 0; head < H; head++) {
      const kvh = Math.floor(head / G);
      for (let s = 0; s < S; s++) {
        let max = -Infinity;
        for (let t = 0; t <= s; t++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qr[(s * H + head) * D + d] * kr[(t * Hkv + kvh) * D + d];
          scores[t] = t === s || sees(s, t, l, kvh) ? dot * scale : -Infinity;
          if (scores[t] > max) max = scores[t];
        }
        let sum = 0;
        for (let t = 0; t <= s; t++) sum += scores[t] = Math.exp(scores[t] - max);
        if (onProbs)
          onProbs(
            l,
            head,
            s,
            scores.slice(0, s + 1).map((e) => e / sum),
          );
        for (let t = 0; t <= s; t++) {
          const pr = scores[t] / sum;
          for (let d = 0; d < D; d++) attn[(s * H + head) * D + d] += pr * v[(t * Hkv + kvh) * D + d];
        }
      }
    }
    const o = linear(attn, S, get(w, `${p}self_attn.o_proj.weight`), h, H * D, opt('self_attn.o_proj.bias', spec.oBias));
    for (let i = 0; i < x.length; i++) x[i] += o[i];

    const xn2 = rmsNorm(x, h, get(w, `${p}post_attention_layernorm.weight`), spec.rmsNormEps);
    const gate = linear(xn2, S, get(w, `${p}mlp.gate_proj.weight`), I, h, opt('mlp.gate_proj.bias', spec.mlpBias));
    const up = linear(xn2, S, get(w, `${p}mlp.up_proj.weight`), I, h, opt('mlp.up_proj.bias', spec.mlpBias));
    for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
    const down = linear(gate, S, get(w, `${p}mlp.down_proj.weight`), h, I, opt('mlp.down_proj.bias', spec.mlpBias));
    for (let i = 0; i < x.length; i++) x[i] += down[i];
  }

  x = rmsNorm(x, h, get(w, 'model.norm.weight'), spec.rmsNormEps);
  const head = get(w, spec.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
  return Float32Array.from(linear(x, S, head, V, h));
}

/** Largest |a - b| over `rows` rows of two [*, vocab] logit matrices, starting at row aRow of a and bRow of b. */
export function maxAbsDiff(a: Float32Array, aRow: number, b: Float32Array, bRow: number, rows: number, vocab: number): number {
  let m = 0;
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < vocab; i++) {
      const d = Math.abs(a[(aRow + r) * vocab + i] - b[(bRow + r) * vocab + i]);
      if (!(d <= m)) m = d; // NaN propagates as a failure
    }
  }
  return m;
}
