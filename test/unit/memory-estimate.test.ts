// Presets' shapes against their published sizes, and the memory estimate's arithmetic and verdicts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { estimateMemory, int4Bytes, kvBytes, memoryVerdict, weightsBytes } from '../../src/model/memory.ts';
import { findPreset, HUB_PRESETS, parameterCounts, type HubPreset } from '../../src/model/presets.ts';

const GiB = 2 ** 30;
const preset = (id: string) => findPreset(id) as HubPreset;

describe('presets', () => {
  test('the five models; shapes give the published parameter counts (±1%)', () => {
    assert.deepEqual(
      HUB_PRESETS.map((p) => p.id),
      ['qwen2.5-coder-1.5b', 'qwen2.5-coder-7b', 'qwen3-4b', 'qwen3-8b', 'llama-3.1-8b'],
    );
    for (const p of HUB_PRESETS) {
      const total = parameterCounts(p.shape).total;
      assert.ok(Math.abs(total / p.params - 1) < 0.01, `${p.id}: ${total} vs ${p.params}`);
    }
    assert.equal(preset('llama-3.1-8b').gated, true);
    assert.ok(HUB_PRESETS.filter((p) => p.id !== 'llama-3.1-8b').every((p) => !p.gated));
    assert.equal(findPreset('Qwen/Qwen3-8B')?.id, 'qwen3-8b');
    assert.equal(findPreset('local'), undefined, 'a local folder is a path, not a preset');
  });
});

describe('memory estimate', () => {
  const q7 = preset('qwen2.5-coder-7b').shape;

  test('KV bytes = 2 × layers × kvHeads × headDim × tokens × bytes', () => {
    assert.equal(kvBytes(q7, 32768, 2), 2 * 28 * 4 * 128 * 32768 * 2);
    const e = estimateMemory({ shape: q7, device: 'cuda', weights: 'fp16', contextTokens: 32768 });
    assert.equal(e.kvBytes, 1.75 * GiB);
  });

  test("local scoring's working set is its chunk's, not the whole context's; with one chunk it is exact's", () => {
    const at = (contextTokens: number, scoring: 'exact' | 'local') =>
      estimateMemory({ shape: q7, device: 'cpu', weights: 'fp32', contextTokens, scoreChunkTokens: 2000, scoring }).activationBytes;
    assert.ok(at(32768, 'local') < 0.5 * at(32768, 'exact'), `${at(32768, 'local')} vs ${at(32768, 'exact')}`);
    assert.equal(at(1500, 'local'), at(1500, 'exact'));
  });

  test('weights by format: fp32 = 2 × fp16; int4 packs nibbles plus scales and zero points', () => {
    const fp16 = weightsBytes(q7, 'cuda', 'fp16');
    assert.equal(weightsBytes(q7, 'cpu', 'fp32'), 2 * fp16);
    assert.equal(fp16, parameterCounts(q7).total * 2);
    // One 32-element block: 16 code bytes + a 4-byte scale + half a zero-point byte.
    assert.equal(int4Bytes(1, 64, 32, 4), 2 * 16 + 2 * 4 + 1);
    const int4 = weightsBytes(q7, 'cpu', 'int4');
    const p = parameterCounts(q7);
    // Linear weights in blocks of 32, the embedding table and an untied head in blocks of 16; norms stay fp32.
    const perWeight = (block: number) => 0.5 + 4 / block + 0.5 / block;
    assert.ok(Math.abs(int4 - (p.linear * perWeight(32) + (p.embedding + p.lmHead) * perWeight(16) + p.other * 4)) / int4 < 0.001);
  });

  test('the total adds weights, KV, activations and runtime, and grows with the context', () => {
    const a = estimateMemory({ shape: q7, device: 'cpu', weights: 'int4', contextTokens: 4096 });
    const b = estimateMemory({ shape: q7, device: 'cpu', weights: 'int4', contextTokens: 16384 });
    assert.equal(a.totalBytes, a.weightsBytes + a.kvBytes + a.activationBytes + a.runtimeBytes);
    assert.equal(b.kvBytes, 4 * a.kvBytes);
    assert.ok(b.activationBytes > a.activationBytes);
  });
});

describe('memory verdict', () => {
  test('fits: says how much is needed and free', () => {
    const v = memoryVerdict({
      shape: preset('qwen2.5-coder-1.5b').shape,
      device: 'cuda',
      weights: 'fp16',
      contextTokens: 8192,
      availableBytes: 24 * GiB,
    });
    assert.equal(v.fits, true);
    assert.match(v.message, /^Needs \d+\.\d GiB .*24\.0 GiB of GPU memory is free/);
  });

  test('8B on a 16 GiB GPU: refused with a smaller context, a smaller model and the CPU, each with numbers', () => {
    const v = memoryVerdict({
      shape: preset('qwen3-8b').shape,
      device: 'cuda',
      weights: 'int4',
      contextTokens: 32768,
      availableBytes: 16 * GiB,
      cpuAvailableBytes: 64 * GiB,
    });
    assert.equal(v.fits, false);
    const ctx = v.proposals.find((p) => p.kind === 'context');
    assert.ok(ctx && ctx.contextTokens < 32768 && ctx.contextTokens % 1024 === 0);
    assert.ok(ctx.totalBytes <= 16 * GiB * 0.9);
    // One step more does not fit: the proposal is the largest.
    assert.ok(
      estimateMemory({ shape: preset('qwen3-8b').shape, device: 'cuda', weights: 'int4', contextTokens: ctx.contextTokens + 1024 })
        .totalBytes >
        16 * GiB * 0.9,
    );
    // The model proposed is the largest clearly smaller preset (≤ 3/4 of the parameters) that fits.
    const model = v.proposals.find((p) => p.kind === 'model');
    assert.ok(model?.kind === 'model');
    const need = (p: HubPreset) =>
      estimateMemory({ shape: p.shape, device: 'cuda', weights: 'int4', contextTokens: Math.min(32768, p.contextWindow) }).totalBytes;
    const eightB = parameterCounts(preset('qwen3-8b').shape).total;
    const smaller = HUB_PRESETS.filter((p) => parameterCounts(p.shape).total <= 0.75 * eightB);
    const proposed = preset(model.presetId);
    assert.ok(need(proposed) <= 16 * GiB * 0.9);
    for (const p of smaller)
      if (parameterCounts(p.shape).total > parameterCounts(proposed.shape).total) assert.ok(need(p) > 16 * GiB * 0.9, p.id);
    const cpu = v.proposals.find((p) => p.kind === 'cpu');
    assert.equal(cpu?.kind === 'cpu' && cpu.weights, 'int4');
    assert.match(
      v.message,
      /^Not enough GPU memory: needs \d+\.\d GiB \(weights .*KV cache .* for 32768 tokens.*only 16\.0 GiB is free\. Try a context of \d+ tokens \(\d+\.\d GiB\), or Qwen.* \(\d+\.\d GiB at \d+ tokens\), or the CPU with int4 weights/,
    );
  });

  test('fp32 on a small CPU proposes int4; nothing fits says so', () => {
    const v = memoryVerdict({
      shape: preset('qwen2.5-coder-1.5b').shape,
      device: 'cpu',
      weights: 'fp32',
      contextTokens: 4096,
      availableBytes: 6 * GiB,
    });
    assert.equal(v.fits, false);
    assert.ok(v.proposals.some((p) => p.kind === 'int4'));
    const none = memoryVerdict({
      shape: preset('qwen2.5-coder-1.5b').shape,
      device: 'cpu',
      weights: 'int4',
      contextTokens: 4096,
      availableBytes: 0.5 * GiB,
    });
    assert.deepEqual(none.proposals, []);
    assert.match(none.message, /No smaller setting fits/);
  });

  test('CUDA needs the caller to give the free GPU memory', () => {
    assert.throws(
      () => memoryVerdict({ shape: preset('qwen3-4b').shape, device: 'cuda', weights: 'fp16', contextTokens: 1024 }),
      /free GPU memory must be given/,
    );
  });
});
