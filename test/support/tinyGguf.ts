// Tiny GGUF models of every block format the graph multiplies, written by tests: random blocks whose fp16 scale
// fields are small finite halves (so activations stay well-conditioned), one layer, a 48-token BPE vocabulary.
import { GGMLQuantizationType as T } from '@huggingface/gguf';
import { f32ToF16 } from '../../src/model/native.ts';
import { prng } from './tinyModel.ts';
import { BLOCKS, f32, tensorBytes, u32, writeGguf, type GgufTensorSpec, type GgufValue } from './writeGguf.ts';

export const HIDDEN = 256;
const FFN = 256;
export const VOCAB = 48;
const HEADS = 4;
const KV_HEADS = 2;
const KV = (HIDDEN / HEADS) * KV_HEADS;

/** Where each format keeps its fp16 scale fields (byte offsets in a block), as ggml lays them out. */
const HALVES: Partial<Record<T, number[]>> = {
  [T.Q4_0]: [0],
  [T.Q4_1]: [0, 2],
  [T.Q5_0]: [0],
  [T.Q8_0]: [0],
  [T.Q4_K]: [0, 2],
  [T.Q6_K]: [208],
};

/** Random blocks whose scale fields are small finite halves, so activations stay well-conditioned. */
function randomTensor(name: string, dims: number[], type: T, seed: number): GgufTensorSpec {
  const r = prng(seed);
  const data = new Uint8Array(tensorBytes(type, dims));
  if (type === T.F32) {
    const f = new Float32Array(data.buffer);
    for (let i = 0; i < f.length; i++) f[i] = 1 + 0.1 * r.normal();
    return { name, dims, type, data };
  }
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r.uniform() * 256);
  const [, bytes] = BLOCKS[type]!;
  const scale = type === T.Q8_0 ? 0.002 : type === T.Q6_K ? 0.0005 : 0.01;
  for (let b = 0; b < data.length / bytes; b++) {
    for (const at of HALVES[type]!) {
      const h = f32ToF16(Float32Array.of(scale * (0.5 + r.uniform())))[0]!;
      data[b * bytes + at] = h & 0xff;
      data[b * bytes + at + 1] = h >> 8;
    }
  }
  return { name, dims, type, data };
}

export function writeTinyGguf(file: string, arch: string, type: T, table: T, extra: Record<string, GgufValue> = {}): void {
  let seed = 1;
  const t = (name: string, dims: number[], ty = type) => randomTensor(name, dims, ty, seed++);
  const tensors = [
    t('token_embd.weight', [HIDDEN, VOCAB], table),
    t('blk.0.attn_norm.weight', [HIDDEN], T.F32),
    t('blk.0.attn_q.weight', [HIDDEN, HIDDEN]),
    t('blk.0.attn_k.weight', [HIDDEN, KV]),
    t('blk.0.attn_v.weight', [HIDDEN, KV]),
    t('blk.0.attn_output.weight', [HIDDEN, HIDDEN]),
    t('blk.0.ffn_norm.weight', [HIDDEN], T.F32),
    t('blk.0.ffn_gate.weight', [HIDDEN, FFN]),
    t('blk.0.ffn_up.weight', [HIDDEN, FFN]),
    t('blk.0.ffn_down.weight', [FFN, HIDDEN]),
    t('output_norm.weight', [HIDDEN], T.F32),
    // Qwen2 has q/k/v biases.
    ...(arch === 'qwen2'
      ? [t('blk.0.attn_q.bias', [HIDDEN], T.F32), t('blk.0.attn_k.bias', [KV], T.F32), t('blk.0.attn_v.bias', [KV], T.F32)]
      : []),
  ];
  writeGguf(file, { ...tinyGgufMeta(arch), ...extra }, tensors);
}

export function tinyGgufMeta(arch: string): Record<string, GgufValue> {
  const tokens = Array.from({ length: VOCAB }, (_, i) =>
    i < 3 ? ['<s>', '</s>', '<unk>'][i]! : String.fromCharCode(97 + ((i - 3) % 26)) + (i >= 29 ? 'x' : ''),
  );
  return {
    'general.architecture': arch,
    [`${arch}.block_count`]: u32(1),
    [`${arch}.context_length`]: u32(256),
    [`${arch}.embedding_length`]: u32(HIDDEN),
    [`${arch}.feed_forward_length`]: u32(FFN),
    [`${arch}.attention.head_count`]: u32(HEADS),
    [`${arch}.attention.head_count_kv`]: u32(KV_HEADS),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(1e-5),
    [`${arch}.rope.freq_base`]: f32(10000),
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': 'smollm',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.merges': [],
    'tokenizer.ggml.bos_token_id': u32(0),
    'tokenizer.ggml.eos_token_id': u32(1),
  };
}
