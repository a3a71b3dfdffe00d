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
import { ropeFrequencies } from '../../src/model/rope.ts';
import { openModel } from '../../src/runtime/open.ts';
import { WIDE_RUN_ROWS } from '../../src/graph/transformer.ts';
import { loadWeights, maxAbsDiff, referenceForward } from '../support/reference.ts';
import { writeGguf } from '../support/writeGguf.ts';
import { HIDDEN, tinyGgufMeta, VOCAB, writeTinyGguf } from '../support/tinyGguf.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kvzip-gguf-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

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
      writeTinyGguf(file, arch, type, table);
      await importAndRun(file);
    });
  }
});

test(`8-bit blocks at the default accuracy level: a run of ${WIDE_RUN_ROWS} rows or more matches the float64 reference, a shorter one is int8's`, async () => {
  const file = join(tmp, 'wide-q8_0.gguf');
  writeTinyGguf(file, 'qwen2', T.Q8_0, T.Q8_0);
  const dir = await importGguf(file, join(tmp, 'import'));
  const model = openModel({ modelDir: dir, device: 'cpu', preparedRoot: join(tmp, 'prep'), allLogits: true });
  const dense = await model.dense();
  const gap = async (n: number) => {
    const ids = Array.from({ length: n }, (_, i) => (i * 7 + 3) % VOCAB);
    const ref = referenceForward(model.spec, ropeFrequencies(model.spec), loadWeights(dir, model.spec), ids);
    const out = await dense.forward(ids, dense.empty(), { allLogits: true });
    return { d: maxAbsDiff(out.logitsAll!, 0, ref, 0, n, VOCAB), scale: Math.max(1, ...Array.from(ref, Math.abs)) };
  };
  const wide = await gap(WIDE_RUN_ROWS);
  const short = await gap(64);
  await dense.close();
  assert.ok(
    wide.d <= 1e-6 * wide.scale || wide.d <= 1e-4,
    `${WIDE_RUN_ROWS} rows: max abs logit diff ${wide.d} at logits up to ${wide.scale}`,
  );
  assert.ok(short.d > 1e-6 * short.scale && short.d > 1e-4, `64 rows: max abs logit diff ${short.d}, as fp32 activations would give`);
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
    writeTinyGguf(file, 'gemma2', T.Q8_0, T.Q8_0);
    await refused(file, /declares architecture "gemma2", which KVzip Code does not run/);
  });
  test('a pre-tokenizer label llama.cpp has and we do not', async () => {
    const file = join(tmp, 'pre.gguf');
    writeTinyGguf(file, 'llama', T.Q8_0, T.Q8_0, { 'tokenizer.ggml.pre': 'made-up' });
    await refused(file, /uses the pre-tokenizer "made-up", which KVzip Code does not know/);
  });
  test('a tensor type we cannot read', async () => {
    const file = join(tmp, 'iq.gguf');
    const tensors = [{ name: 'token_embd.weight', dims: [HIDDEN, VOCAB], type: T.IQ4_NL }];
    writeGguf(file, tinyGgufMeta('llama'), tensors);
    await refused(file, /tensor "token_embd\.weight" is IQ4_NL, a type KVzip Code cannot read/);
  });
  test('a tensor the architecture needs is not in the file', async () => {
    const file = join(tmp, 'no-bias.gguf');
    // Qwen2 has q/k/v biases; this file says qwen2 but holds a Llama's tensors.
    writeTinyGguf(file, 'llama', T.Q8_0, T.Q8_0, tinyGgufMeta('qwen2'));
    const dir = await importGguf(file, join(tmp, 'import'));
    assert.throws(
      () => openModel({ modelDir: dir, device: 'cpu', preparedRoot: join(tmp, 'prep') }),
      /no-bias\.gguf: holds no tensor for "model\.layers\.0\.self_attn\.q_proj\.bias", which its qwen2 architecture needs/,
    );
  });
  test('a split model with a shard missing', async () => {
    const first = join(tmp, 'split-00001-of-00002.gguf');
    writeGguf(first, tinyGgufMeta('llama'), []);
    await refused(first, /split-00002-of-00002\.gguf: is missing/);
  });
});
