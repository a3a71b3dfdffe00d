// int4 weights (MatMulNBits) on the CPU, judged on the trained stories260K: random weights make top-1 meaningless.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCpuModel } from '../support/sessions.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';

const STORIES = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));

const TEXTS = [
  'Once upon a time, there was a little cat named Tom. Tom liked to play with his red ball in the garden. One day, the ball rolled into the pond. Tom was sad. His friend, a big dog named Max, jumped into the water and got the ball.',
  'Lily and Ben were playing in the park. They saw a big slide and wanted to go on it. Ben went first and he was very fast. Lily was scared, but her mom said, "Don\'t be afraid, you can do it!" Lily went down the slide and laughed.',
  'One day, a little bird found a shiny stone. The bird wanted to show it to his friends. He flew to the tree where his friends lived. "Look what I found!" he said. His friends were happy and they all played with the stone.',
  'Sam had a toy car. It was blue and fast. He liked to race it on the floor. One day, the car broke. Sam was very sad and started to cry. His dad came and fixed the car with some glue. Sam said thank you and hugged his dad.',
];

function logSoftmaxAt(row: Float32Array, id: number): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let z = 0;
  for (const v of row) z += Math.exp(v - max);
  return row[id] - max - Math.log(z);
}

const argmax = (row: Float32Array) => row.indexOf(Math.max(...row));

test(
  'int4 on the CPU: top-1 agrees with fp32 on >= 85% of positions, perplexity rises <= 20%',
  { skip: !existsSync(STORIES) && `${STORIES} not found` },
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'kvzip-int4-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const fp32 = await openCpuModel(STORIES, join(root, 'a'));
    const int4 = await openCpuModel(STORIES, join(root, 'b'), true);
    const tok = ModelTokenizer.load(STORIES);
    const V = fp32.prepared.spec.vocabSize;
    let agree = 0;
    let positions = 0;
    let nll32 = 0;
    let nll4 = 0;
    for (const text of TEXTS) {
      const ids = tok.encodePrompt(text);
      const a = (await fp32.dense.forward(ids, fp32.dense.empty(), { allLogits: true })).logitsAll!;
      const b = (await int4.dense.forward(ids, int4.dense.empty(), { allLogits: true })).logitsAll!;
      for (let s = 0; s + 1 < ids.length; s++) {
        const ra = a.subarray(s * V, (s + 1) * V);
        const rb = b.subarray(s * V, (s + 1) * V);
        if (argmax(ra) === argmax(rb)) agree++;
        nll32 -= logSoftmaxAt(ra, ids[s + 1]);
        nll4 -= logSoftmaxAt(rb, ids[s + 1]);
        positions++;
      }
    }
    const agreement = agree / positions;
    const rise = Math.exp((nll4 - nll32) / positions) - 1;
    t.diagnostic(
      `int4 top-1 agreement ${(100 * agreement).toFixed(1)}% over ${positions} positions; perplexity ${Math.exp(nll32 / positions).toFixed(3)} → ${Math.exp(nll4 / positions).toFixed(3)} (+${(100 * rise).toFixed(1)}%)`,
    );
    assert.ok(agreement >= 0.85, `agreement ${agreement}`);
    assert.ok(rise <= 0.2, `perplexity rise ${rise}`);
    assert.ok(rise > 0, 'int4 really quantized something');
  },
);
