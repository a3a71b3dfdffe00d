// Issue 2, bars 1 and 2: the ONNX forward graph on onnxruntime (CPU, fp32) against the TypeScript reference on
// tiny random checkpoints of every supported variant, and the real stories260K model's greedy ids.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { ropeFrequencies } from '../../src/model/rope.ts';
import { generate } from '../../src/runtime/generate.ts';
import type { KvCache } from '../../src/runtime/kv.ts';
import { openCpuModel } from '../support/sessions.ts';
import { loadWeights, maxAbsDiff, referenceForward } from '../support/reference.ts';
import { prng, writeTinyModel, type TinyModelOptions } from '../support/tinyModel.ts';

const TOL = 1e-4;
const SEQ = 40;
const tmp = mkdtempSync(join(tmpdir(), 'kvzip-variants-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Small original_max_position_embeddings so llama3/yarn scaling changes frequencies within SEQ tokens.
const VARIANTS: Record<string, TinyModelOptions> = {
  'llama GQA 1 (MHA), untied': { numHeads: 4, numKvHeads: 4 },
  'llama GQA 2, tied': { numHeads: 4, numKvHeads: 2, tieWordEmbeddings: true },
  'llama GQA 4, head_dim derived 8': { numHeads: 8, numKvHeads: 2 },
  'llama GQA 8 (MQA), head_dim given 16': { numHeads: 8, numKvHeads: 1, headDim: 16 },
  'llama rope linear x4': { numHeads: 4, numKvHeads: 2, ropeScaling: { type: 'linear', factor: 4 } },
  'llama rope llama3': {
    numHeads: 4,
    numKvHeads: 2,
    ropeTheta: 500000,
    ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
  },
  'llama rope yarn': { numHeads: 4, numKvHeads: 2, ropeScaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16 } },
  'qwen2 QKV bias, tied, bf16 weights': {
    architecture: 'Qwen2ForCausalLM',
    numHeads: 4,
    numKvHeads: 2,
    ropeTheta: 1000000,
    tieWordEmbeddings: true,
    dtype: 'BF16',
  },
  'qwen3 q/k norm, head_dim 24 given, fp16 weights, sharded': {
    architecture: 'Qwen3ForCausalLM',
    numHeads: 4,
    numKvHeads: 2,
    headDim: 24,
    ropeTheta: 1000000,
    dtype: 'F16',
    shards: 3,
  },
  'qwen3 rope yarn, tied': {
    architecture: 'Qwen3ForCausalLM',
    numHeads: 8,
    numKvHeads: 4,
    headDim: 16,
    tieWordEmbeddings: true,
    ropeScaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16 },
  },
  'mistral GQA 4, sliding_window beyond the sequence': {
    architecture: 'MistralForCausalLM',
    numHeads: 8,
    numKvHeads: 2,
    config: { sliding_window: 4096 },
  },
};

function randomIds(n: number, vocab: number, seed: number): number[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => 3 + Math.floor(r.uniform() * (vocab - 3)));
}

function argmax(a: Float32Array, row: number, vocab: number): number {
  let best = 0;
  for (let i = 1; i < vocab; i++) if (a[row * vocab + i] > a[row * vocab + best]) best = i;
  return best;
}

describe('ONNX graph matches the reference forward pass (fp32, max abs diff 1e-4)', () => {
  let seed = 10;
  for (const [name, options] of Object.entries(VARIANTS)) {
    const modelSeed = seed++;
    test(name, async () => {
      const dir = join(tmp, `model-${modelSeed}`);
      const { spec } = writeTinyModel(dir, { ...options, seed: modelSeed });
      const V = spec.vocabSize;
      const rope = ropeFrequencies(spec);
      const ids = randomIds(SEQ, V, modelSeed);
      const ref = referenceForward(spec, rope, loadWeights(dir, spec), ids);
      const { dense: fs } = await openCpuModel(dir, join(tmp, 'prepared'));

      // One forward over the whole sequence.
      const full = await fs.forward(ids, fs.empty(), { allLogits: true });
      assert.equal(full.present.length, SEQ);
      const dFull = maxAbsDiff(full.logitsAll!, 0, ref, 0, SEQ, V);
      assert.ok(dFull <= TOL, `full forward: max abs diff ${dFull}`);
      assert.equal(full.candidates.ids[0], argmax(ref, SEQ - 1, V), 'top candidate is the reference argmax');

      // Chunked prefill: each chunk's rows against the reference rows at the same positions.
      for (const chunk of [3, 5]) {
        let kv: KvCache = fs.empty();
        for (let start = 0; start < SEQ; start += chunk) {
          const part = ids.slice(start, start + chunk);
          const r = await fs.forward(part, kv, { allLogits: true });
          const d = maxAbsDiff(r.logitsAll!, 0, ref, start, part.length, V);
          assert.ok(d <= TOL, `chunks of ${chunk}, positions ${start}..${start + part.length - 1}: max abs diff ${d}`);
          assert.equal(r.candidates.ids[0], argmax(ref, start + part.length - 1, V));
          kv = r.present;
        }
        assert.equal(kv.length, SEQ);
      }

      // The comparison only proves the scaling if scaling changes the logits at these positions.
      if (spec.ropeScaling.type !== 'none') {
        const plain = { ...spec, ropeScaling: { type: 'none' as const } };
        const unscaled = referenceForward(plain, ropeFrequencies(plain), loadWeights(dir, spec), ids);
        const effect = maxAbsDiff(unscaled, SEQ - 8, ref, SEQ - 8, 8, V);
        assert.ok(effect > 1e-2, `rope scaling barely changes the last positions' logits (${effect})`);
      }
    });
  }
});

describe('stories260K (a real trained model)', () => {
  const dir = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
  const present = existsSync(join(dir, 'expected-greedy.json'));
  const load = () => JSON.parse(readFileSync(join(dir, 'expected-greedy.json'), 'utf8')) as { prompt_ids: number[]; greedy_ids: number[] };
  const decode = (ids: number[]) => ids.join(',');

  test('greedy from BOS, token by token over the KV cache, reproduces expected-greedy.json', async (t) => {
    if (!present) return t.skip(`${dir} not found`);
    const expected = load();
    const { dense: fs } = await openCpuModel(dir, join(tmp, 'prepared'));
    const r = await generate(
      fs,
      expected.prompt_ids,
      fs.empty(),
      { maxTokens: expected.greedy_ids.length - expected.prompt_ids.length },
      { decode },
    );
    assert.deepEqual([...expected.prompt_ids, ...r.ids], expected.greedy_ids);
    assert.equal(r.ids.length, 255);
  });

  test('chunked prefill of the first 100 ids (chunks of 37), then decoding, reproduces the rest', async (t) => {
    if (!present) return t.skip(`${dir} not found`);
    const expected = load();
    const { dense: fs } = await openCpuModel(dir, join(tmp, 'prepared'));
    const prompt = expected.greedy_ids.slice(0, 100);
    const r = await generate(fs, prompt, fs.empty(), { maxTokens: expected.greedy_ids.length - 100 }, { decode }, 37);
    assert.deepEqual([...prompt, ...r.ids], expected.greedy_ids);
  });

  test('logits of the first 64 positions match the reference', async (t) => {
    if (!present) return t.skip(`${dir} not found`);
    const ids = load().greedy_ids.slice(0, 64);
    const { prepared: pm, dense: fs } = await openCpuModel(dir, join(tmp, 'prepared'));
    const ref = referenceForward(pm.spec, ropeFrequencies(pm.spec), loadWeights(dir, pm.spec), ids);
    const r = await fs.forward(ids, fs.empty(), { allLogits: true });
    const d = maxAbsDiff(r.logitsAll!, 0, ref, 0, ids.length, pm.spec.vocabSize);
    assert.ok(d <= TOL, `max abs diff ${d}`);
  });
});
