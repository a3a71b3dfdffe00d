// GGUF metadata → the Hugging Face config.json that model/config.ts already validates, so a GGUF model and a
// safetensors checkpoint become the same ModelSpec.
import { closeSync, openSync, readSync } from 'node:fs';
import { ModelError } from '../errors.ts';
import { metaNumber, metaString, type GgufModel, type GgufTensor } from './file.ts';
import { GGML } from './quants.ts';

const ARCHITECTURES: Record<string, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

/** Families whose q/k rows llama.cpp's converter permuted (it converts Mistral checkpoints as Llama). */
export const PERMUTED_ARCHITECTURES = new Set(['llama', 'mistral']);

export function ggufArchitecture(model: GgufModel): string {
  const arch = metaString(model.metadata, 'general.architecture');
  if (!arch || !ARCHITECTURES[arch]) {
    throw new ModelError(
      model.files[0]!,
      `declares architecture ${JSON.stringify(arch ?? null)}, which KVzip Code does not run`,
      `Use a GGUF of one of these architectures: ${Object.keys(ARCHITECTURES).join(', ')}`,
    );
  }
  return arch;
}

function readF32(t: GgufTensor): Float32Array {
  if (t.type !== GGML.F32) throw new ModelError(t.file, `tensor "${t.name}" is not F32`, 'The file is damaged: download it again');
  const buf = Buffer.alloc(t.byteLength);
  const fd = openSync(t.file, 'r');
  try {
    readSync(fd, buf, 0, t.byteLength, t.offset);
  } finally {
    closeSync(fd);
  }
  return new Float32Array(buf.buffer, buf.byteOffset, t.byteLength / 4);
}

/** config.json for the model, in HF's field names. */
export function ggufConfig(model: GgufModel): Record<string, unknown> {
  const file = model.files[0]!;
  const arch = ggufArchitecture(model);
  const m = model.metadata;
  const need = (key: string): number => {
    const v = metaNumber(m, `${arch}.${key}`);
    if (v === undefined) throw new ModelError(file, `metadata "${arch}.${key}" is missing`, 'The file is incomplete: download it again');
    return v;
  };
  const optional = (key: string) => metaNumber(m, `${arch}.${key}`);
  const kvHeads = m[`${arch}.attention.head_count_kv`];
  if (Array.isArray(kvHeads)) {
    throw new ModelError(file, 'gives a different KV head count per layer', 'Use a model with one KV head count for every layer');
  }
  const hidden = need('embedding_length');
  const heads = need('attention.head_count');
  const headDim = optional('attention.key_length') ?? hidden / heads;
  const rotary = optional('rope.dimension_count') ?? headDim;
  if (rotary !== headDim) {
    throw new ModelError(file, `rotates ${rotary} of ${headDim} dimensions per head`, 'Use a model with full rotary embeddings');
  }
  const tokens = m['tokenizer.ggml.tokens'];
  const vocab = Array.isArray(tokens) ? tokens.length : optional('vocab_size');
  const embd = model.tensors.get('token_embd.weight');
  const scalingType = metaString(m, `${arch}.rope.scaling.type`);
  const factor = optional('rope.scaling.factor');
  let ropeScaling: Record<string, unknown> | undefined;
  const ropeFreqs = model.tensors.get('rope_freqs.weight');
  if (ropeFreqs) {
    // Llama 3.1+ files store the llama3 frequency divisors as a tensor: 1 for the fast dimensions, the factor for
    // the slow ones (the rest are Meta's defaults, which every Llama 3.x uses).
    ropeScaling = {
      rope_type: 'llama3',
      factor: factor ?? Math.max(...readF32(ropeFreqs)),
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: optional('rope.scaling.original_context_length') ?? 8192,
    };
  } else if (scalingType && scalingType !== 'none') {
    ropeScaling = {
      rope_type: scalingType,
      factor,
      original_max_position_embeddings: optional('rope.scaling.original_context_length'),
    };
  }
  const eos = [
    metaNumber(m, 'tokenizer.ggml.eos_token_id'),
    metaNumber(m, 'tokenizer.ggml.eot_token_id'),
    metaNumber(m, 'tokenizer.ggml.eom_token_id'),
  ];
  return {
    architectures: [ARCHITECTURES[arch]],
    hidden_size: hidden,
    intermediate_size: need('feed_forward_length'),
    num_hidden_layers: need('block_count'),
    num_attention_heads: heads,
    num_key_value_heads: typeof kvHeads === 'number' ? kvHeads : heads,
    head_dim: headDim,
    vocab_size: vocab ?? (embd ? embd.dims[1] : undefined),
    max_position_embeddings: need('context_length'),
    rms_norm_eps: optional('attention.layer_norm_rms_epsilon') ?? 1e-6,
    rope_theta: optional('rope.freq_base') ?? 10000,
    rope_scaling: ropeScaling,
    tie_word_embeddings: !model.tensors.has('output.weight'),
    attention_bias: arch !== 'qwen2' && model.tensors.has('blk.0.attn_q.bias') ? true : undefined,
    sliding_window: optional('attention.sliding_window'),
    bos_token_id: metaNumber(m, 'tokenizer.ggml.bos_token_id'),
    eos_token_id: [...new Set(eos.filter((x): x is number => x !== undefined))],
    hidden_act: 'silu',
  };
}
