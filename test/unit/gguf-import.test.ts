// GGUF import on tiny files the test writes: a model of every block format the graph multiplies, with random
// blocks, matches a float64 reference forward over the dequantized weights (so the MatMulNBits packing, zero
// points, min terms, the quantized table's in-graph lookup and llama's q/k unpermutation all hold on real
// onnxruntime); and each way a file can be unusable is refused by name, in one line.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { GGMLQuantizationType as T } from '@huggingface/gguf';
import { importGguf } from '../../src/model/gguf/import.ts';
import { ModelError } from '../../src/model/errors.ts';
import { f32ToF16 } from '../../src/model/native.ts';
import { ropeFrequencies } from '../../src/model/rope.ts';
import { openModel } from '../../src/runtime/open.ts';
import { loadWeights, maxAbsDiff, referenceForward } from '../support/reference.ts';
import { prng } from '../support/tinyModel.ts';
import { f32, tensorBytes, u32, writeGguf, type GgufTensorSpec, type GgufValue } from '../support/writeGguf.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kvzip-gguf-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const HIDDEN = 256;
const FFN = 256;
const VOCAB = 48;
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
const BLOCK: Partial<Record<T, [number, number]>> = {
  [T.Q4_0]: [32, 18],
  [T.Q4_1]: [32, 20],
  [T.Q5_0]: [32, 22],
  [T.Q8_0]: [32, 34],
  [T.Q4_K]: [256, 144],
  [T.Q6_K]: [256, 210],
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
  const [, bytes] = BLOCK[type]!;
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

function tinyModel(file: string, arch: string, type: T, table: T, extra: Record<string, GgufValue> = {}): void {
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
  writeGguf(file, { ...meta(arch), ...extra }, tensors);
}

function meta(arch: string): Record<string, GgufValue> {
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

describe('a tiny GGUF of each block format matches the float64 reference (fp32 activations, within fp32 rounding)', () => {
  const cases: [string, string, T, T][] = [
    ['llama Q4_0, Q8_0 table', 'llama', T.Q4_0, T.Q8_0],
    ['llama Q4_1 and table (min term), q/k permuted', 'llama', T.Q4_1, T.Q4_1],
    ['qwen2 Q5_0, Q6_K table', 'qwen2', T.Q5_0, T.Q6_K],
    ['qwen2 Q4_K (8 sub-blocks with mins), Q4_K table', 'qwen2', T.Q4_K, T.Q4_K],
    ['llama Q6_K, Q5_0 table', 'llama', T.Q6_K, T.Q5_0],
  ];
  for (const [name, arch, type, table] of cases) {
    test(name, async () => {
      const file = join(tmp, `${name.replace(/\W+/g, '-')}.gguf`);
      tinyModel(file, arch, type, table);
      await importAndRun(file);
    });
  }
});

async function importAndRun(file: string): Promise<void> {
  const dir = await importGguf(file, join(tmp, 'import'));
  const model = openModel({ modelDir: dir, device: 'cpu', preparedRoot: join(tmp, 'prep'), allLogits: true, accuracyLevel: 0 });
  assert.ok(model.prepared.quantized);
  const ids = [5, 17, 3, 40, 22, 9, 31, 12];
  const ref = referenceForward(model.spec, ropeFrequencies(model.spec), loadWeights(dir, model.spec), ids);
  const dense = await model.dense();
  const out = await dense.forward(ids, dense.empty(), { allLogits: true });
  const d = maxAbsDiff(out.logitsAll!, 0, ref, 0, ids.length, VOCAB);
  await dense.close();
  // Random blocks make large logits: the bound is relative to their size (fp32 rounding), with 1e-4 at the least.
  const scale = Math.max(1, ...Array.from(ref, Math.abs));
  assert.ok(d <= 1e-6 * scale || d <= 1e-4, `max abs logit diff ${d} at logits up to ${scale}`);
}

describe('unusable files are refused by name, in one line', () => {
  const refused = async (file: string, problem: RegExp) => {
    await assert.rejects(importGguf(file, join(tmp, 'import')), (e: unknown) => {
      assert.ok(e instanceof ModelError, String(e));
      assert.match(e.message, problem);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  };
  test('an architecture we do not run', async () => {
    const file = join(tmp, 'gemma.gguf');
    tinyModel(file, 'gemma2', T.Q8_0, T.Q8_0);
    await refused(file, /declares architecture "gemma2", which KVzip Code does not run/);
  });
  test('a pre-tokenizer label llama.cpp has and we do not', async () => {
    const file = join(tmp, 'pre.gguf');
    tinyModel(file, 'llama', T.Q8_0, T.Q8_0, { 'tokenizer.ggml.pre': 'made-up' });
    await refused(file, /uses the pre-tokenizer "made-up", which KVzip Code does not know/);
  });
  test('a tensor type we cannot read', async () => {
    const file = join(tmp, 'iq.gguf');
    const tensors = [{ name: 'token_embd.weight', dims: [HIDDEN, VOCAB], type: T.IQ4_NL }];
    writeGguf(file, meta('llama'), tensors);
    await refused(file, /tensor "token_embd\.weight" is IQ4_NL, a type KVzip Code cannot read/);
  });
  test('a split model with a shard missing', async () => {
    const first = join(tmp, 'split-00001-of-00002.gguf');
    writeGguf(first, meta('llama'), []);
    await refused(first, /split-00002-of-00002\.gguf: is missing/);
  });
});
