// GGUF tensor names → the Hugging Face names the graph reads, with HF's [out, in] shapes, and which rows
// llama.cpp's converter permuted (q and k of the `llama` family, for its interleaved RoPE).
import type { GgufModel } from './file.ts';

/** One tensor of a GGUF as the engine reads it. */
export interface GgufTensorRef {
  /** GGUF name, GGML type, and where its bytes lie. */
  source: string;
  type: number;
  file: string;
  offset: number;
  byteLength: number;
  /** HF shape: [N, K] for a matrix. */
  shape: number[];
  /** Rows were permuted per head by llama.cpp's converter: the head count to undo it with. */
  permutedHeads?: number;
}

const LAYER: Record<string, string> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  attn_q_norm: 'self_attn.q_norm',
  attn_k_norm: 'self_attn.k_norm',
  ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

const GLOBAL: Record<string, string> = {
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
};

/** The HF name of a GGUF tensor, or undefined for tensors the graph does not read (rope_freqs, …). */
export function hfName(name: string): string | undefined {
  if (GLOBAL[name]) return GLOBAL[name];
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  const part = m && LAYER[m[2]!];
  return part ? `model.layers.${m[1]}.${part}.${m[3]}` : undefined;
}

/** Every tensor the graph can read, by HF name. `permuted`: the file is of llama.cpp's `llama` family. */
export function ggufTensorRefs(model: GgufModel, heads: { q: number; kv: number }, permuted: boolean): Record<string, GgufTensorRef> {
  const out: Record<string, GgufTensorRef> = {};
  for (const t of model.tensors.values()) {
    const name = hfName(t.name);
    if (!name) continue;
    const ref: GgufTensorRef = {
      source: t.name,
      type: t.type,
      file: t.file,
      offset: t.offset,
      byteLength: t.byteLength,
      shape: [...t.dims].reverse(),
    };
    if (permuted && /\.attn_q\.(weight|bias)$/.test(t.name)) ref.permutedHeads = heads.q;
    if (permuted && /\.attn_k\.(weight|bias)$/.test(t.name)) ref.permutedHeads = heads.kv;
    out[name] = ref;
  }
  return out;
}

/**
 * Source row of each HF row. llama.cpp stores head h's rows as pairs (2i, 2i+1) = HF rows (i, i + D/2), so
 * HF row h·D + half·D/2 + i comes from GGUF row h·D + 2i + half.
 */
export function unpermutedOrder(rows: number, heads: number): Int32Array {
  const d = rows / heads;
  const order = new Int32Array(rows);
  for (let h = 0; h < heads; h++) {
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < d / 2; i++) order[h * d + half * (d / 2) + i] = h * d + 2 * i + half;
    }
  }
  return order;
}
