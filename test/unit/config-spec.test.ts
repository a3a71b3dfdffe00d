// config.json → ModelSpec: derived and given head_dim, GQA, per-architecture features, rope scaling, and the
// rope frequencies each scaling type produces (checked against Hugging Face's formulas written out here).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseModelSpec, type ModelSpec } from '../../src/model/config.ts';
import { ropeFrequencies } from '../../src/model/rope.ts';
import { expectModelError } from '../support/modelError.ts';
import { tinyConfig, type TinyModelOptions } from '../support/tinyModel.ts';

const spec = (o: TinyModelOptions) => parseModelSpec(tinyConfig(o), '/m/config.json');

describe('parseModelSpec', () => {
  test('head_dim derived from hidden / heads, or given', () => {
    assert.equal(spec({ hiddenSize: 64, numHeads: 8 }).headDim, 8);
    const q3 = spec({ architecture: 'Qwen3ForCausalLM', hiddenSize: 64, numHeads: 4, headDim: 24 });
    assert.equal(q3.headDim, 24);
    expectModelError(
      () => spec({ hiddenSize: 60, numHeads: 8 }),
      '/m/config.json',
      /head_dim 7.5 must be an even integer/,
      /Set head_dim explicitly/,
    );
    expectModelError(() => spec({ headDim: 7 }), '/m/config.json', /head_dim 7 must be an even integer/, /Set head_dim/);
  });

  test('GQA: KV heads default to the attention heads; a ratio that does not divide is refused', () => {
    const mha = parseModelSpec({ ...tinyConfig({ numHeads: 8 }), num_key_value_heads: undefined });
    assert.equal(mha.numKvHeads, 8);
    for (const kv of [1, 2, 4, 8]) assert.equal(spec({ numHeads: 8, numKvHeads: kv }).numKvHeads, kv);
    expectModelError(
      () => spec({ numHeads: 8, numKvHeads: 3 }),
      '/m/config.json',
      /num_attention_heads \(8\) is not a multiple of num_key_value_heads \(3\)/,
      /Fix the field/,
    );
  });

  test('per-architecture features', () => {
    const llama = spec({});
    assert.deepEqual([llama.qkvBias, llama.oBias, llama.qkNorm, llama.mlpBias], [false, false, false, false]);
    const qwen2 = spec({ architecture: 'Qwen2ForCausalLM' });
    assert.deepEqual([qwen2.qkvBias, qwen2.oBias, qwen2.qkNorm], [true, false, false]);
    const qwen3 = spec({ architecture: 'Qwen3ForCausalLM', headDim: 16 });
    assert.deepEqual([qwen3.qkvBias, qwen3.qkNorm], [false, true]);
    const biased = spec({ config: { attention_bias: true, mlp_bias: true } });
    assert.deepEqual([biased.qkvBias, biased.oBias, biased.mlpBias], [true, true, true]);
    assert.equal(spec({ tieWordEmbeddings: true }).tieWordEmbeddings, true);
    assert.equal(parseModelSpec({ ...tinyConfig({}), tie_word_embeddings: undefined }).tieWordEmbeddings, false, 'HF default is untied');
    assert.deepEqual(spec({ config: { eos_token_id: [128001, 128008, 128009] } }).eosTokenIds, [128001, 128008, 128009]);
    assert.equal(spec({ architecture: 'MistralForCausalLM', config: { sliding_window: 4096 } }).slidingWindow, 4096);
    assert.equal(spec({ config: { sliding_window: 4096 } }).slidingWindow, undefined, 'Llama ignores sliding_window');
    assert.equal(
      spec({ architecture: 'Qwen2ForCausalLM', config: { sliding_window: 4096, use_sliding_window: false } }).slidingWindow,
      undefined,
    );
  });

  test('rope_scaling types, under "type" or "rope_type"', () => {
    assert.deepEqual(spec({}).ropeScaling, { type: 'none' });
    assert.deepEqual(spec({ ropeScaling: { rope_type: 'default' } }).ropeScaling, { type: 'none' });
    assert.deepEqual(spec({ ropeScaling: { type: 'linear', factor: 2 } }).ropeScaling, { type: 'linear', factor: 2 });
    assert.deepEqual(
      spec({
        ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      }).ropeScaling,
      { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 },
    );
    const yarn = spec({
      maxPositions: 131072,
      ropeScaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 },
    }).ropeScaling;
    assert.deepEqual(yarn, {
      type: 'yarn',
      factor: 4,
      originalMaxPositions: 32768,
      betaFast: 32,
      betaSlow: 1,
      attentionFactor: 0.1 * Math.log(4) + 1,
    });
    const withMscale = spec({ ropeScaling: { type: 'yarn', factor: 40, mscale: 1, mscale_all_dim: 0.707 } }).ropeScaling;
    assert.equal(withMscale.type, 'yarn');
    if (withMscale.type === 'yarn')
      assert.ok(Math.abs(withMscale.attentionFactor - (0.1 * Math.log(40) + 1) / (0.0707 * Math.log(40) + 1)) < 1e-12);
    const given = spec({ ropeScaling: { type: 'yarn', factor: 2, attention_factor: 1.5 } }).ropeScaling;
    assert.ok(given.type === 'yarn' && given.attentionFactor === 1.5);
  });
});

/** Hugging Face's rope init functions (modeling_rope_utils.py), written independently of src/model/rope.ts. */
function hfInvFreq(s: ModelSpec): { invFreq: number[]; scale: number } {
  const dim = s.headDim;
  const base = s.ropeTheta;
  const plain = Array.from({ length: dim / 2 }, (_, i) => 1 / base ** ((2 * i) / dim));
  const r = s.ropeScaling;
  if (r.type === 'none') return { invFreq: plain, scale: 1 };
  if (r.type === 'linear') return { invFreq: plain.map((f) => f / r.factor), scale: 1 };
  if (r.type === 'llama3') {
    const low = r.originalMaxPositions / r.lowFreqFactor;
    const high = r.originalMaxPositions / r.highFreqFactor;
    return {
      invFreq: plain.map((f) => {
        const wavelen = (2 * Math.PI) / f;
        const scaled = wavelen > low ? f / r.factor : f;
        if (wavelen < high || wavelen > low) return scaled;
        const smooth = (r.originalMaxPositions / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
        return ((1 - smooth) * scaled) / r.factor + smooth * scaled;
      }),
      scale: 1,
    };
  }
  const corr = (rot: number) => (dim * Math.log(r.originalMaxPositions / (rot * 2 * Math.PI))) / (2 * Math.log(base));
  const lo = Math.max(Math.floor(corr(r.betaFast)), 0);
  const hi0 = Math.min(Math.ceil(corr(r.betaSlow)), dim - 1);
  const hi = lo === hi0 ? hi0 + 0.001 : hi0;
  return {
    invFreq: plain.map((f, i) => {
      const extrapolation = 1 - Math.min(Math.max((i - lo) / (hi - lo), 0), 1);
      return (f / r.factor) * (1 - extrapolation) + f * extrapolation;
    }),
    scale: r.attentionFactor,
  };
}

describe('ropeFrequencies', () => {
  const cases: Record<string, TinyModelOptions> = {
    none: { headDim: 64, ropeTheta: 1000000 },
    linear: { headDim: 16, ropeScaling: { type: 'linear', factor: 4 } },
    'llama3 (Llama-3.1 settings)': {
      headDim: 128,
      ropeTheta: 500000,
      ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    },
    'llama3 (short original context)': {
      headDim: 16,
      ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
    },
    'yarn (Qwen settings)': {
      headDim: 128,
      ropeTheta: 1000000,
      maxPositions: 131072,
      ropeScaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 },
    },
    'yarn (short original context)': { headDim: 16, ropeScaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16 } },
  };
  for (const [name, o] of Object.entries(cases)) {
    test(name, () => {
      const s = spec({ numHeads: 4, numKvHeads: 2, ...o });
      const got = ropeFrequencies(s);
      const want = hfInvFreq(s);
      assert.equal(got.invFreq.length, s.headDim / 2);
      assert.equal(got.scale, want.scale);
      got.invFreq.forEach((f, i) =>
        assert.ok(Math.abs(f - want.invFreq[i]) <= 1e-6 * want.invFreq[i], `invFreq[${i}] ${f} vs ${want.invFreq[i]}`),
      );
    });
  }

  test('llama3 leaves high frequencies alone and divides low ones by the factor', () => {
    const s = spec({
      headDim: 128,
      ropeTheta: 500000,
      ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    });
    const plain = ropeFrequencies({ ...s, ropeScaling: { type: 'none' } }).invFreq;
    const scaled = ropeFrequencies(s).invFreq;
    assert.equal(scaled[0], plain[0]);
    assert.ok(Math.abs(scaled[63] - plain[63] / 8) < 1e-12);
  });
});
