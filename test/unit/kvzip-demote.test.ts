// Punctuation/whitespace demotion of KVzip pair scores: which tokens count, and that it scales every head's row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PairScores } from '../../src/kvzip/scores.ts';
import { applyMultipliers, demoteMultipliers, demoteScores, isPunctuationOrSpace } from '../../src/kvzip/demote.ts';
import { selectPair } from '../../src/kvzip/select.ts';

// A tokenizer as a table. Like SentencePiece, decoding drops the first token's leading space, so the space token
// 16 decodes alone to "" and ' the' to 'the'; 17 is the anchor word 'a'.
const vocab = ['', ' the', '.', '\n\n    ', '();', ' =', 'x_1', '�', '  ', '"', '}', ' <', '»', ',', 'don', "'", ' ', 'a'];
const tok = {
  calls: 0,
  decode(ids: number[]): string {
    this.calls++;
    return ids
      .map((i) => vocab[i])
      .join('')
      .replace(/^ /, '');
  },
  encode(text: string): number[] {
    return [vocab.indexOf(text)];
  },
};

test('whitespace and \\p{P} count; symbols, words, empty and U+FFFD do not', () => {
  for (const t of ['.', '\n\n    ', '();', '  ', '"', '}', '»', ',', "'", '...', '\t', '#', '//', '_'])
    assert.ok(isPunctuationOrSpace(t), JSON.stringify(t));
  for (const t of ['', ' the', ' =', 'x_1', '�', ' <', '+', '$', '|', 'don', ' a.']) assert.ok(!isPunctuationOrSpace(t), JSON.stringify(t));
});

test('multipliers are f at punctuation/whitespace positions and 1 elsewhere; each id decodes once', () => {
  tok.calls = 0;
  const ids = [1, 2, 3, 4, 5, 6, 7, 0, 2, 2, 1, 16, 8];
  const m = demoteMultipliers(tok, ids, 0.25);
  assert.deepEqual(Array.from(m), [1, 0.25, 0.25, 0.25, 1, 1, 1, 1, 0.25, 0.25, 1, 0.25, 0.25]);
  assert.equal(tok.calls, 2 * new Set(ids).size, 'the anchor and the pair, once per distinct id');
  assert.throws(() => demoteMultipliers(tok, ids, 0), RangeError);
  assert.throws(() => demoteMultipliers(tok, ids, 1.5), RangeError);
});

test('applyMultipliers scales every (layer, head) row in place, position by position', () => {
  const s = new PairScores(2, 3, 4);
  s.data.forEach((_, k) => (s.data[k] = k + 1));
  const before = Float32Array.from(s.data);
  const out = applyMultipliers(s, Float32Array.from([1, 0.5, 1, 0.25]));
  assert.equal(out, s);
  for (let l = 0; l < 2; l++)
    for (let h = 0; h < 3; h++) for (let i = 0; i < 4; i++) assert.equal(s.at(l, h, i), before[(l * 3 + h) * 4 + i] * [1, 0.5, 1, 0.25][i]);
  assert.throws(() => applyMultipliers(s, new Float32Array(3)), RangeError);
});

test('demotion moves the pair budget from punctuation to content; factor 1 changes nothing', () => {
  // Position 1 is "." with the highest raw score in every head; position 2 is a word just below it.
  const ids = [1, 2, 6, 1];
  const s = new PairScores(1, 2, 4);
  s.data.set([0.1, 0.9, 0.5, 0.2, 0.1, 0.9, 0.5, 0.2]);
  assert.deepEqual(
    selectPair(s, 0.25)
      .flat()
      .map((h) => Array.from(h)),
    [[1], [1]],
  );
  const same = new PairScores(1, 2, 4);
  same.data.set(s.data);
  demoteScores(same, tok, ids, 1);
  assert.deepEqual(same.data, s.data);
  demoteScores(s, tok, ids, 0.5);
  assert.deepEqual(
    selectPair(s, 0.25)
      .flat()
      .map((h) => Array.from(h)),
    [[2], [2]],
  );
});
