// The preview's build-time estimate for the two scoring levels: the same with one chunk, and local scoring's
// work linear in the context beyond it (exact scoring's is quadratic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateBuildSeconds } from '../../src/model/buildTime.ts';
import { findPreset, type HubPreset } from '../../src/model/presets.ts';

const shape = (findPreset('qwen2.5-coder-1.5b') as HubPreset).shape;

test('one chunk: both levels estimate the same build', () => {
  assert.equal(estimateBuildSeconds(shape, 1800, 'local', 2000), estimateBuildSeconds(shape, 1800, 'exact', 2000));
});

test('past one chunk, local scoring grows linearly and exact scoring quadratically', () => {
  const at = (tokens: number, scoring: 'exact' | 'local') => estimateBuildSeconds(shape, tokens, scoring, 2000);
  for (const n of [8192, 32768]) assert.ok(at(n, 'local') < at(n, 'exact'), `${n} tokens`);
  // Doubling the context: the prefill's own attention grows 4×, so compare the scoring levels' difference.
  const gap = (n: number) => at(n, 'exact') - at(n, 'local');
  assert.ok(gap(32768) / gap(16384) > 3.5, "the gap is exact scoring's extra quadratic work");
  assert.ok(at(32768, 'local') < 0.6 * at(32768, 'exact'));
});
