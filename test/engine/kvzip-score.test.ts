// The score graph must equal KVzip's score computed straightforwardly (docs/KVZIP.md, "Scoring, step by step"):
// score(l, h, key) = max over the G query heads of KV head h and over all repeat-input queries of
// softmax(q·K̄ᵀ/√d), where K̄ = [system-prefix keys] ++ [the chunk's keys] ++ [the repeat input's own keys, causal].
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTinyModel, prng } from '../support/tinyModel.ts';
import { openCpuModel } from '../support/sessions.ts';
import { loadWeights, referenceForward } from '../support/reference.ts';
import { ropeFrequencies } from '../../src/model/rope.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { scoreSchedule } from '../../src/kvzip/schedule.ts';
import { scoreContext } from '../../src/kvzip/score.ts';
import type { Scoring } from '../../src/core/choices.ts';

test('score graph equals the KVzip formula for every layer, head and key (GQA 4, three chunks)', (t) => checkScores(t, 30, 12, 3));

// Later chunks of a long context: most of the past is outside the chunk, and the chunk's share of the softmax
// is small.
test('score graph equals the KVzip formula when most of the past is outside the chunk (nine chunks)', (t) => checkScores(t, 72, 8, 9));

// A context no longer than one chunk: every past key is scored, so the full softmax is KVzip's as it is.
test('score graph equals the KVzip formula when one chunk covers the whole context', (t) => checkScores(t, 30, 40, 1));

// The local level: the same formula, with each repeat input attending to the system prefix and its own chunk
// only (the context itself prefilled as usual).
test('local scoring equals the KVzip formula over repeat inputs that see only the prefix and their chunk', (t) =>
  checkScores(t, 30, 12, 3, 'local'));
test('local scoring with one chunk over the whole context equals exact scoring', (t) => checkScores(t, 30, 40, 1, 'local'));

// The trained stories260K, where the repeat queries of a chunk put nearly all their attention on the rest of the
// past: KVzip's mass on the scored and new keys, taken as 1 − (mass on the rest), lost every digit there and gave
// infinite scores (chunks of 144 over 267 tokens), which the selection then always kept.
const STORIES = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
test(
  'scores stay probabilities when the rest of the past holds nearly all the attention (stories260K)',
  { skip: !existsSync(STORIES) && `${STORIES} not found (../shared is absent)` },
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'kvzip-score-stories-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const m = await openCpuModel(STORIES, root);
    const tok = ModelTokenizer.load(STORIES, m.prepared.spec.eosTokenIds);
    const ids = Array.from({ length: 267 }, (_, i) => 5 + ((i * 37) % 400));
    const full = (await m.dense.prefill(ids, m.dense.empty(), 512)).present;
    for (const chunk of [144, 100]) {
      const scores = await scoreContext(m.dense, full, 10, scoreSchedule(tok, tok.layout(), ids, 10, chunk));
      const bad = scores.data.findIndex((v) => !(v >= 0 && v <= 1 + 1e-6));
      assert.equal(bad, -1, `chunks of ${chunk}: score ${scores.data[bad]} at ${bad}`);
    }
  },
);

async function checkScores(
  t: TestContext,
  contextLen: number,
  chunkSize: number,
  chunkCount: number,
  scoring: Scoring = 'exact',
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kvzip-score-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { spec } = writeTinyModel(dir, { numHeads: 8, numKvHeads: 2, numLayers: 2, seed: 11 });
  const m = await openCpuModel(dir);
  const tok = ModelTokenizer.load(dir, spec.eosTokenIds);
  const rand = prng(4);
  const prefixLen = 3;
  const ids = Array.from({ length: prefixLen + contextLen }, () => 3 + Math.floor(rand.uniform() * 90));
  const chunks = scoreSchedule(tok, tok.layout(), ids, prefixLen, chunkSize);
  assert.equal(chunks.length, chunkCount);
  const full = (await m.dense.prefill(ids, m.dense.empty(), 8)).present;
  const got = await scoreContext(m.dense, full, prefixLen, chunks, scoring);

  const { numHeads: H, numKvHeads: Hkv, headDim: D } = spec;
  const G = H / Hkv;
  const weights = loadWeights(dir, spec);
  let checked = 0;
  let worst = 0;
  for (const c of chunks) {
    const seq = [...ids, ...c.input];
    const T = ids.length;
    const R = c.input.length;
    const keysScored = [
      ...Array.from({ length: prefixLen }, (_, i) => i),
      ...Array.from({ length: c.end - c.start }, (_, i) => c.start + i),
    ];
    // A local repeat input sees the prefix, its chunk and its own earlier tokens; the context sees all before it.
    const sees = (s: number, k: number) => scoring === 'exact' || s < T || k < prefixLen || (k >= c.start && k < c.end) || k >= T;
    referenceForward(
      spec,
      ropeFrequencies(spec),
      weights,
      seq,
      (l, q, k) => {
        for (let h = 0; h < Hkv; h++) {
          const best = new Float64Array(keysScored.length);
          for (let g = 0; g < G; g++) {
            const head = h * G + g;
            for (let s = 0; s < R; s++) {
              const qi = (T + s) * H + head;
              const dot = (pos: number) => {
                let d = 0;
                for (let x = 0; x < D; x++) d += q[qi * D + x] * k[(pos * Hkv + h) * D + x];
                return d / Math.sqrt(D);
              };
              const logits = [...keysScored.map(dot), ...Array.from({ length: s + 1 }, (_, j) => dot(T + j))];
              const max = Math.max(...logits);
              const e = logits.map((v) => Math.exp(v - max));
              const sum = e.reduce((a, b) => a + b, 0);
              keysScored.forEach((_, j) => (best[j] = Math.max(best[j], e[j] / sum)));
            }
          }
          for (let j = prefixLen; j < keysScored.length; j++) {
            const diff = Math.abs(got.at(l, h, keysScored[j] - prefixLen) - best[j]);
            worst = Math.max(worst, diff);
            checked++;
          }
        }
      },
      sees,
    );
  }
  assert.equal(checked, spec.numLayers * Hkv * contextLen);
  assert.ok(worst < 1e-5, `largest difference ${worst}`);
  // Not degenerate: scores vary across keys.
  assert.ok(Math.max(...got.data) - Math.min(...got.data) > 0.05);
}
