// Selection levels and baselines: what each keeps, and that KVzip's pair level keeps non-uniform budgets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PairScores } from '../../src/kvzip/scores.ts';
import {
  keptPairs,
  selectHeads,
  selectPair,
  selectPairUniform,
  selectRandom,
  selectRecency,
  selectSnapKv,
  headScoresOf,
} from '../../src/kvzip/select.ts';

function scores(layers: number, heads: number, n: number, f: (l: number, h: number, i: number) => number): PairScores {
  const s = new PairScores(layers, heads, n);
  for (let l = 0; l < layers; l++) for (let h = 0; h < heads; h++) for (let i = 0; i < n; i++) s.data[(l * heads + h) * n + i] = f(l, h, i);
  return s;
}

test('pair keeps the global top r·N, so budgets follow the scores across heads and layers', () => {
  // Layer 0 head 0 has the highest scores everywhere: it should take most of the budget.
  const s = scores(2, 2, 10, (l, h, i) => (l === 0 && h === 0 ? 1 : 0.1) + i / 1000);
  const keep = selectPair(s, 0.25);
  assert.equal(keptPairs(keep), 10);
  assert.equal(keep[0][0].length, 10);
  assert.equal(keep[1][1].length, 0);
  for (const head of keep.flat())
    assert.deepEqual(
      Array.from(head),
      [...head].sort((a, b) => a - b),
      'sorted positions',
    );
});

test('pair resolves ties deterministically and exactly meets the budget', () => {
  const s = scores(1, 2, 5, () => 0.5);
  const keep = selectPair(s, 0.4);
  assert.equal(keptPairs(keep), 4);
  assert.deepEqual(Array.from(keep[0][0]), [0, 1, 2, 3]);
});

test('pair-uniform keeps the top r·n in every head', () => {
  const s = scores(2, 3, 20, (l, h, i) => ((i * 7 + h * 3 + l) % 20) / 20);
  const keep = selectPairUniform(s, 0.3);
  for (const head of keep.flat()) assert.equal(head.length, 6);
  // In head (0,0) the kept ones are the 6 highest: values (i*7)%20 >= 14.
  assert.deepEqual(Array.from(keep[0][0]), [2, 5, 8, 11, 14, 17]);
});

test('head level keeps whole heads by context-independent head scores', () => {
  const s = scores(2, 2, 8, (l, h) => (l * 2 + h) / 10);
  const heads = headScoresOf(s);
  assert.deepEqual(
    Array.from(heads).map((x) => Math.round(x * 10)),
    [0, 1, 2, 3],
  );
  const keep = selectHeads(heads, 2, 2, 8, 0.5);
  assert.deepEqual(
    keep.flat().map((h) => h.length),
    [0, 0, 8, 8],
  );
});

test('baselines: random keeps r·N, recency keeps sinks plus the newest, snapkv pools neighbours', () => {
  assert.equal(keptPairs(selectRandom(3, 2, 50, 0.2, 1)), 60);
  const rec = selectRecency(1, 1, 20, 0.3, 2);
  assert.deepEqual(Array.from(rec[0][0]), [0, 1, 16, 17, 18, 19]);
  // One spike at position 10: pooling with window 3 keeps its neighbours too.
  const q = scores(1, 1, 20, (_l, _h, i) => (i === 10 ? 1 : 0));
  assert.deepEqual(Array.from(selectSnapKv(q, 0.15, 3)[0][0]), [9, 10, 11]);
});

test('scores of a chunk land at its context positions; the prefix columns are skipped', () => {
  const s = new PairScores(1, 2, 6);
  // Graph output [L=1, Hkv=2, M=3]: one prefix column, then two chunk keys.
  s.addChunk(Float32Array.from([9, 0.1, 0.2, 9, 0.3, 0.4]), 3, 2, 2);
  assert.deepEqual(
    Array.from(s.data).map((x) => Math.round(x * 10) / 10),
    [0, 0, 0.1, 0.2, 0, 0, 0, 0, 0.3, 0.4, 0, 0],
  );
});
