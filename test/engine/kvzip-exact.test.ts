// At ratio 1.0 the compressed path (context KV baked into the decode graph, tail KV crossing the boundary)
// must give the dense full-cache path's logits; at lower ratios it must hold really fewer bytes. The exactness
// checks bake fp32 (the graph's arithmetic); the fp16 blob the engine writes is checked against it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTinyModel, prng, type TinyModelOptions } from '../support/tinyModel.ts';
import { openCpuModel, maxAbsDiff } from '../support/sessions.ts';
import { PairScores } from '../../src/kvzip/scores.ts';
import { selectPair } from '../../src/kvzip/select.ts';
import { fullKvBytes, layoutBytes } from '../../src/kvzip/compact.ts';
import { generate } from '../../src/runtime/generate.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';

const STORIES = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));

const variants: [string, TinyModelOptions][] = [
  ['llama GQA 4', { numHeads: 8, numKvHeads: 2 }],
  ['qwen2 QKV bias GQA 2', { architecture: 'Qwen2ForCausalLM', numHeads: 4, numKvHeads: 2 }],
  ['qwen3 q/k norm, MHA', { architecture: 'Qwen3ForCausalLM', numHeads: 4, numKvHeads: 4, headDim: 16 }],
];

for (const [name, options] of variants) {
  test(`ratio 1.0 compressed logits equal the full cache's: ${name}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kvzip-tiny-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeTinyModel(dir, { ...options, seed: 7 });
    const m = await openCpuModel(dir);
    const rand = prng(3);
    const ids = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(rand.uniform() * 500));
    const prefixLen = 2;
    const full = (await m.dense.prefill(ids(40), m.dense.empty(), 16)).present;
    const scores = new PairScores(m.prepared.spec.numLayers, m.prepared.spec.numKvHeads, full.length - prefixLen);
    const { session } = await m.compressed(full, prefixLen, selectPair(scores, 1), 'fp32');

    const question = ids(6);
    const a = await session.forward(question, session.empty(), { allLogits: true });
    const b = await m.dense.forward(question, full, { allLogits: true });
    assert.ok(maxAbsDiff(a.logitsAll!, b.logitsAll!) < 1e-4, `question logits differ by ${maxAbsDiff(a.logitsAll!, b.logitsAll!)}`);
    // A second step reads the question's tail KV back in: still the same.
    const next = ids(3);
    const a2 = await session.forward(next, a.present, { allLogits: true });
    const b2 = await m.dense.forward(next, b.present, { allLogits: true });
    assert.ok(maxAbsDiff(a2.logitsAll!, b2.logitsAll!) < 1e-4, `tail logits differ by ${maxAbsDiff(a2.logitsAll!, b2.logitsAll!)}`);
    // Only the tail crosses the boundary: far fewer bytes than the dense path moves.
    assert.ok(a2.bytesMoved < b2.bytesMoved / 2, `compressed step moved ${a2.bytesMoved} B, dense ${b2.bytesMoved} B`);
  });
}

test('compaction at 0.3 in fp16 holds at most 0.16 of the full fp32 KV, counting metadata', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvzip-tiny-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { spec } = writeTinyModel(dir, { numHeads: 8, numKvHeads: 4, seed: 5 });
  const m = await openCpuModel(dir);
  const rand = prng(9);
  const ids = Array.from({ length: 300 }, () => 3 + Math.floor(rand.uniform() * 500));
  const full = (await m.dense.prefill(ids, m.dense.empty(), 64)).present;
  const scores = new PairScores(spec.numLayers, spec.numKvHeads, full.length - 1);
  scores.data.forEach((_, i) => (scores.data[i] = rand.uniform()));
  const { layout } = await m.compressed(full, 1, selectPair(scores, 0.3));
  const fullBytes = fullKvBytes(spec.numLayers, spec.numKvHeads, spec.headDim, full.length, 4);
  const held = layout.bytes + layoutBytes(spec.numLayers, spec.numKvHeads);
  assert.ok(held <= 0.16 * fullBytes, `${held} <= 0.16 × ${fullBytes}`);
  // Budgets differ per head under global pair selection, and every byte is a kept pair: no padding.
  const counts = layout.baked.flat().map((h) => h.count);
  assert.ok(new Set(counts).size > 1, 'per-head budgets are non-uniform');
  assert.equal(layout.bytes, layout.pairs * 2 * spec.headDim * 2);
});

test('stories260K: ratio 1.0 answers with identical greedy text', { skip: !existsSync(STORIES) && `${STORIES} not found` }, async () => {
  const m = await openCpuModel(STORIES);
  const tok = ModelTokenizer.load(STORIES, m.prepared.spec.eosTokenIds);
  const ctx = [
    1,
    ...tok.encode(
      'Once upon a time, there was a little cat named Tom. Tom liked to play with his red ball in the garden. One day, the ball rolled into the pond. Tom was sad.',
    ),
  ];
  const full = (await m.dense.prefill(ctx, m.dense.empty(), 32)).present;
  const scores = new PairScores(m.prepared.spec.numLayers, m.prepared.spec.numKvHeads, full.length - 1);
  const { session } = await m.compressed(full, 1, selectPair(scores, 1));
  const q = tok.encode(' Tom');
  const decode = (x: number[]) => tok.decode(x);
  const a = await generate(session, q, session.empty(), { maxTokens: 48 }, { decode });
  const b = await generate(m.dense, q, full, { maxTokens: 48 }, { decode });
  assert.equal(a.text, b.text);
  assert.equal(a.ids.length, 48);
});

test(
  'stories260K: the fp16 entry answers as the fp32 entry does, at ratios 0.3 and 1.0',
  { skip: !existsSync(STORIES) && `${STORIES} not found` },
  async () => {
    const m = await openCpuModel(STORIES);
    const tok = ModelTokenizer.load(STORIES, m.prepared.spec.eosTokenIds);
    const spec = m.prepared.spec;
    const stories = [
      'Once upon a time, there was a little cat named Tom. Tom liked to play with his red ball in the garden. One day, the ball rolled into the pond. Tom was sad.',
      'Lily and Ben went to the park. They saw a big dog with a long tail. The dog wanted to play, so Lily threw a stick and the dog ran after it. Ben laughed.',
      'One day, a little bird found a shiny stone. She took it to her nest and showed it to her mom. Her mom said it was very pretty and they kept it together.',
    ];
    const rand = prng(11);
    const decode = (x: number[]) => tok.decode(x);
    for (const story of stories) {
      const full = (await m.dense.prefill([1, ...tok.encode(story)], m.dense.empty(), 32)).present;
      const scores = new PairScores(spec.numLayers, spec.numKvHeads, full.length - 1);
      scores.data.forEach((_, i) => (scores.data[i] = rand.uniform()));
      for (const ratio of [0.3, 1]) {
        const keep = selectPair(scores, ratio);
        const half = await m.compressed(full, 1, keep);
        const single = await m.compressed(full, 1, keep, 'fp32');
        assert.equal(half.layout.bytes * 2, single.layout.bytes);
        for (const probe of [' Tom', ' The', ' One day']) {
          const q = tok.encode(probe);
          const a = await generate(half.session, q, half.session.empty(), { maxTokens: 48 }, { decode });
          const b = await generate(single.session, q, single.session.empty(), { maxTokens: 48 }, { decode });
          assert.deepEqual(a.ids, b.ids, `ratio ${ratio}, probe ${JSON.stringify(probe)}: greedy answers differ`);
        }
      }
    }
  },
);
