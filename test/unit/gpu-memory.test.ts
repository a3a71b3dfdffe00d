// The GPU side of the memory check: WebGPU's buffer limits against a build's largest tensors, and CUDA's free
// memory as nvidia-smi reports it, on the presets' real shapes.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { bufferLimitsVerdict, largestTensors } from '../../src/model/bufferLimits.ts';
import { memoryVerdict } from '../../src/model/memory.ts';
import { findPreset, type HubPreset } from '../../src/model/presets.ts';
import { cudaFreeBytes } from '../../src/runtime/cudaProvider.ts';
import { probeWebGpu } from '../../src/runtime/webgpu.ts';
import { checkFits } from '../../src/engine/memoryCheck.ts';
import { existsSync } from 'node:fs';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const shape = (id: string) => (findPreset(id) as HubPreset).shape;
/** The limits WebGPU guarantees on every adapter (the spec's defaults). */
const DEFAULT_LIMITS = { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 128 * MiB };

describe('WebGPU buffer limits', () => {
  test('the largest tensors of a Qwen2.5-Coder-1.5B fp16 build at 8K tokens, exact bytes', () => {
    const t = largestTensors({
      shape: shape('qwen2.5-coder-1.5b'),
      weights: 'fp16',
      floatBytes: 2,
      contextTokens: 8192,
      scoreChunkTokens: 2000,
    });
    assert.deepEqual(
      t.map((x) => x.bytes),
      [
        151936 * 1536 * 2, // the embedding table (tied: it is also the LM head)
        12 * 2024 * 4048 * 4, // the score branch's fp32 logits: 12 heads × (2000 + 24 prompt) queries × ~2m keys
        2 * (8192 + 2024) * 128 * 2, // one layer's K at context + repeat input
      ],
    );
    assert.match(t[0]!.what, /embedding table/);
    assert.match(t[2]!.what, /one layer at 10216 tokens/);
  });

  test('int4 packs the vocabulary table at half a byte a weight; an untied head is a second table as large', () => {
    const int4 = largestTensors({ shape: shape('qwen2.5-coder-1.5b'), weights: 'int4', floatBytes: 2, contextTokens: 4096 });
    assert.equal(int4.find((x) => /embedding/.test(x.what))?.bytes, 151936 * (1536 / 16) * 8);
    assert.equal(
      int4.find((x) => /LM head/.test(x.what)),
      undefined,
      'tied: the head is the table',
    );
    const untied = largestTensors({ shape: shape('llama-3.1-8b'), weights: 'fp16', floatBytes: 2, contextTokens: 4096 });
    assert.equal(untied.find((x) => /LM head/.test(x.what))?.bytes, 128256 * 4096 * 2);
  });

  test('an embedding-bound build on a 256 MiB adapter is offered int4, which halves the table to fit', () => {
    // Qwen2.5-Coder-1.5B at ratio 1 (no scoring pass): its fp16 table is 445 MiB, int4's 111 MiB.
    const v = bufferLimitsVerdict({
      shape: shape('qwen2.5-coder-1.5b'),
      weights: 'fp16',
      floatBytes: 2,
      contextTokens: 8192,
      limits: { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 256 * MiB },
      adapterName: 'Test Adapter',
      cpuAvailableBytes: 0,
    });
    assert.equal(v.fits, false);
    assert.deepEqual(
      v.proposals.map((p) => p.kind),
      ['int4'],
    );
    assert.match(v.message, /the embedding table would take 445 MiB .* Try int4 weights\.$/);
  });

  test("the spec's default limits refuse a 1.5B model for its embedding table, and propose the CPU with numbers", () => {
    const v = bufferLimitsVerdict({
      shape: shape('qwen2.5-coder-1.5b'),
      weights: 'fp16',
      floatBytes: 2,
      contextTokens: 8192,
      scoreChunkTokens: 2000,
      limits: DEFAULT_LIMITS,
      adapterName: 'Test Adapter',
      cpuAvailableBytes: 32 * GiB,
    });
    assert.equal(v.fits, false);
    assert.equal(v.limitBytes, 128 * MiB);
    // The scoring pass's 375 MiB tensor stays whatever the context (m = 2000) or the weights: only the CPU is left.
    assert.deepEqual(
      v.proposals.map((p) => p.kind),
      ['cpu'],
    );
    assert.match(
      v.message,
      /^Too large for this GPU: the embedding table would take 445 MiB at 8192 tokens, but Test Adapter binds at most 128 MiB per buffer \(maxBufferSize 256 MiB, maxStorageBufferBindingSize 128 MiB\)\. Try the CPU with fp32 weights \(--device cpu: \d+\.\d GiB of 32\.0 GiB free RAM\)\.$/,
    );
    const noRam = bufferLimitsVerdict({
      shape: shape('qwen2.5-coder-1.5b'),
      weights: 'fp16',
      floatBytes: 2,
      contextTokens: 8192,
      scoreChunkTokens: 2000,
      limits: DEFAULT_LIMITS,
      adapterName: 'Test Adapter',
      cpuAvailableBytes: 1 * GiB,
    });
    assert.deepEqual(noRam.proposals, []);
    assert.match(noRam.message, /No smaller setting fits: choose a smaller model\.$/);
  });

  test('a 4 GiB-binding adapter takes Qwen2.5-Coder-7B fp16 at 32K; the message names the largest tensor', () => {
    const v = bufferLimitsVerdict({
      shape: shape('qwen2.5-coder-7b'),
      weights: 'fp16',
      floatBytes: 2,
      contextTokens: 32768,
      scoreChunkTokens: 2000,
      limits: { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 4 * GiB - 4 },
      adapterName: 'NVIDIA H200',
      cpuAvailableBytes: 64 * GiB,
    });
    assert.equal(v.fits, true, v.message);
    assert.equal(v.largest.bytes, 152064 * 3584 * 2);
    assert.match(v.message, /^The largest tensor, the embedding table, takes 1\.0 GiB; NVIDIA H200 binds at most 4\.0 GiB per buffer/);
  });

  test('a context whose per-layer KV passes the limit gets the largest context that fits, in steps of 1024', () => {
    // Llama-3.1-8B asked for 1M tokens on a 1 GiB binding limit: K of one layer is 8 heads × 128 × 2 bytes per token.
    const input = {
      shape: shape('llama-3.1-8b'),
      weights: 'fp16' as const,
      floatBytes: 2 as const,
      contextTokens: 1 << 20,
      scoreChunkTokens: 2000,
      limits: { maxBufferSize: 2 * GiB, maxStorageBufferBindingSize: GiB },
      adapterName: 'Test Adapter',
      cpuAvailableBytes: 0,
    };
    const v = bufferLimitsVerdict(input);
    assert.equal(v.fits, false);
    assert.match(v.message, /the KV cache of one layer at 1050600 tokens would take 2\.0 GiB at 1048576 tokens/);
    const ctx = v.proposals.find((p) => p.kind === 'context');
    // (n + 2024) × 2048 ≤ 2^30  →  n ≤ 522,264  →  510 × 1024.
    assert.equal(ctx?.kind === 'context' && ctx.contextTokens, 522240);
    assert.equal(bufferLimitsVerdict({ ...input, contextTokens: 522240 }).fits, true);
    assert.equal(bufferLimitsVerdict({ ...input, contextTokens: 522240 + 1024 }).fits, false);
    assert.match(v.message, /Try a context of 522240 tokens\.$/);
  });
});

describe('CUDA free memory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smi-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  /** An nvidia-smi stand-in that answers the query the way the real one does, and logs its arguments. */
  function smi(output: string, code = 0): string {
    const f = join(dir, `nvidia-smi-${Math.random().toString(36).slice(2)}`);
    writeFileSync(f, `#!/bin/sh\necho "$@" > "${f}.args"\nprintf '${output}'\nexit ${code}\n`);
    chmodSync(f, 0o755);
    return f;
  }

  test("reads the driver's free MiB for the chosen GPU", () => {
    const f = smi('81037\\n');
    assert.equal(cudaFreeBytes(0, f), 81037 * MiB);
    assert.equal(readFileSync(`${f}.args`, 'utf8').trim(), '--query-gpu=memory.free --format=csv,noheader,nounits --id=0');
  });

  test('no answer (missing, failing or garbled nvidia-smi) is undefined, never a number', () => {
    assert.equal(cudaFreeBytes(0, join(dir, 'absent')), undefined);
    assert.equal(cudaFreeBytes(0, smi('', 9)), undefined);
    assert.equal(cudaFreeBytes(0, smi('[N/A]\\n')), undefined);
  });

  test('a 7B fp16 build at 32K on a card with 20,000 MiB free is refused, with a smaller context, int4 and a smaller model', () => {
    const v = memoryVerdict({
      shape: shape('qwen2.5-coder-7b'),
      device: 'cuda',
      weights: 'fp16',
      contextTokens: 32768,
      scoreChunkTokens: 2000,
      availableBytes: cudaFreeBytes(0, smi('20000\\n')),
      cpuAvailableBytes: 8 * GiB,
    });
    assert.equal(v.fits, false);
    assert.match(
      v.message,
      /^Not enough GPU memory: needs 19\.3 GiB \(weights 14\.2 GiB, .* only 19\.5 GiB is free\. Try a context of 17408 tokens/,
    );
    assert.deepEqual(
      v.proposals.map((p) => p.kind),
      ['context', 'int4', 'model'],
    );
  });
});

describe("the engine's check against this machine's real WebGPU adapter", () => {
  const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
  test(
    'SwiftShader (1 GiB buffers, no shader-f16) refuses a 7B fp32 table before preparing, and takes int4',
    { skip: !existsSync(icd) && 'no SwiftShader' },
    () => {
      process.env.VK_ICD_FILENAMES ??= icd;
      const adapter = probeWebGpu().adapter;
      assert.ok(adapter, 'an adapter');
      const at2k = { shape: shape('qwen2.5-coder-7b'), device: 'webgpu' as const, adapter, dtype: 'fp32' as const, contextTokens: 2048 };
      assert.throws(
        () => checkFits({ ...at2k, int4: false }),
        (e: Error & { code?: string }) =>
          e.code === 'memory' &&
          /^Too large for this GPU: the embedding table would take 2\.0 GiB at 2048 tokens, but google swiftshader .* binds at most/.test(
            e.message,
          ),
      );
      assert.equal(checkFits({ ...at2k, int4: true }), undefined);
    },
  );
});
