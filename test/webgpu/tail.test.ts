// The conversation's kept tail KV on WebGPU lives in device memory, which no collector reclaims: a follow-up that
// replaces it, and forgetting it, must free it, or every answer leaks one tail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webgpuSkip } from '../support/webgpu.ts';
import { writeTinyModel } from '../support/tinyModel.ts';
import { openModel } from '../../src/runtime/open.ts';
import { generate } from '../../src/runtime/generate.ts';
import { TailKv } from '../../src/engine/conversation.ts';
import type { KvCache } from '../../src/runtime/kv.ts';

const skip = webgpuSkip();
const locations = (kv: KvCache) => new Set([...kv.keys, ...kv.values].map((t) => t.location));

test('a follow-up frees the tail KV it replaces, and forgetting frees the last', { skip, timeout: 120_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-webgpu-tail-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const { dir } = writeTinyModel(join(root, 'model'), { seed: 5 });
  const m = openModel({ modelDir: dir, device: 'webgpu', preparedRoot: join(root, 'prepared') });
  const dense = await m.dense();
  t.after(() => m.releaseDense());
  const answer = (ids: number[], past: KvCache) => generate(dense, ids, past, { maxTokens: 4 }, { decode: () => '' });

  const tail = new TailKv();
  const first = [1, 5, 9, 13];
  const r1 = await answer(first, dense.empty());
  assert.deepEqual(locations(r1.kv), new Set(['gpu-buffer']), 'the tail KV stays on the device');
  tail.keep('gen', [...first, ...r1.ids], r1.kv);

  const followUp = [...first, ...r1.ids, 7, 8];
  const { past, feed } = tail.resume('gen', followUp, () => dense.empty());
  assert.equal(past, r1.kv, 'the follow-up continues from the kept tail');
  const r2 = await answer(feed, past);
  tail.keep('gen', [...followUp, ...r2.ids], r2.kv);
  assert.deepEqual(locations(r1.kv), new Set(['none']), 'the replaced tail is freed');
  assert.deepEqual(locations(r2.kv), new Set(['gpu-buffer']));

  tail.forget();
  assert.deepEqual(locations(r2.kv), new Set(['none']), 'forgetting frees the last tail');
});
