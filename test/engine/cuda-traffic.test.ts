// CUDA's prefill traffic: onnxruntime-node copies each run's whole past KV in and the new positions out, so a
// prefill of k chunks moves (k+1)/2 × its final KV. The chunks prefillChunk gives CUDA keep that under
// CUDA_PREFILL_MULTIPLE × the KV. Measured here by the bytes each real run feeds and fetches (on the CPU
// provider, with no spare KV room as on CUDA: the same tensors cross the session boundary that CUDA would copy).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CUDA_PREFILL_MULTIPLE, PREFILL_CHUNK, prefillChunk } from '../../src/runtime/traffic.ts';
import { hostKvBytes } from '../../src/runtime/kv.ts';
import { ForwardSession } from '../../src/runtime/decoder.ts';
import { openCpuModel } from '../support/sessions.ts';
import { writeTinyModel } from '../support/tinyModel.ts';

const root = mkdtempSync(join(tmpdir(), 'kvzip-traffic-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Prefills `n` tokens in chunks of `chunk`; returns the bytes fed and fetched over all runs, and the final KV's. */
async function prefillTraffic(dense: ForwardSession, n: number, chunk: number): Promise<{ moved: number; kv: number; runs: number }> {
  let kv = dense.empty();
  let moved = 0;
  let runs = 0;
  for (let i = 0; i < n; i += chunk) {
    const ids = Array.from({ length: Math.min(chunk, n - i) }, (_, j) => 3 + ((i + j) % 200));
    const r = await dense.forward(ids, kv);
    moved += r.bytesMoved;
    kv = r.present;
    runs++;
  }
  return { moved, kv: hostKvBytes(kv), runs };
}

describe('CUDA prefill traffic', () => {
  test('chunks: 512 up to 8 × 512 tokens, then 1/8 of the context; the CPU and WebGPU keep 512', () => {
    assert.equal(prefillChunk('cuda', 2048), PREFILL_CHUNK);
    assert.equal(prefillChunk('cuda', 32768), 4096);
    assert.equal(prefillChunk('cuda', 131072), 16384);
    assert.equal(prefillChunk('cuda', 100_001), 12501);
    assert.equal(prefillChunk('cpu', 131072), PREFILL_CHUNK);
    assert.equal(prefillChunk('webgpu', 131072), PREFILL_CHUNK);
    for (const n of [100, 4096, 5000, 65536, 131072]) assert.ok(Math.ceil(n / prefillChunk('cuda', n)) <= CUDA_PREFILL_MULTIPLE, `${n}`);
  });

  test('a 6,000-token prefill in CUDA-sized chunks moves under 8 × its KV; 512-token chunks would move 6.5 ×', async () => {
    const { dir } = writeTinyModel(join(root, 'model'), { maxPositions: 8192, numHeads: 4, numKvHeads: 2, numLayers: 2, seed: 11 });
    const cpu = await openCpuModel(dir, join(root, 'prepared'));
    const dense = new ForwardSession(cpu.dense.session, cpu.dense.spec, 'fp32');
    const n = 6000;
    const sized = await prefillTraffic(dense, n, prefillChunk('cuda', n));
    assert.equal(sized.runs, CUDA_PREFILL_MULTIPLE);
    assert.ok(sized.moved <= CUDA_PREFILL_MULTIPLE * sized.kv * 1.01, `${sized.moved} vs ${CUDA_PREFILL_MULTIPLE} × ${sized.kv}`);
    // k chunks move (k+1)/2 × KV (the in-copies sum to (k-1)/2, the new positions to 1): the count is what matters.
    assert.ok(sized.moved >= ((CUDA_PREFILL_MULTIPLE + 1) / 2 - 0.1) * sized.kv, `${sized.moved / sized.kv}`);
    const small = await prefillTraffic(dense, n, PREFILL_CHUNK);
    assert.equal(small.runs, 12);
    assert.ok(small.moved >= 6.4 * small.kv, `${small.moved / small.kv}`);
  });
});
