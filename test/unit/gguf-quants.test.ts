// GGML block formats: our decoding equals llama.cpp's own gguf-py dequantization (a fixture made once with it,
// see its "how"), and the MatMulNBits repacking holds exactly the same numbers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeRows, dequantize, QUANT_FORMATS, toNBits } from '../../src/model/gguf/quants.ts';
import { unpermutedOrder } from '../../src/model/gguf/tensors.ts';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/gguf-quants.json', import.meta.url), 'utf8')) as {
  k: number;
  rows: number;
  types: Record<string, { bytes: string; expected: string }>;
};
const formatByName = (name: string) => Object.values(QUANT_FORMATS).find((f) => f.name === name)!;
const floats = (b64: string) => {
  const b = Buffer.from(b64, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

for (const [name, { bytes, expected }] of Object.entries(fixture.types)) {
  test(`${name}: dequantized values equal gguf-py's`, () => {
    const d = decodeRows(formatByName(name), new Uint8Array(Buffer.from(bytes, 'base64')), fixture.rows, fixture.k);
    const ours = dequantize(d);
    const want = floats(expected);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - want[i]!) / Math.max(1e-30, Math.abs(want[i]!)));
    // gguf-py computes some products in another order than ggml's C; both are fp32.
    assert.ok(worst < 1e-6, `${name}: worst relative difference ${worst}`);
  });

  test(`${name}: MatMulNBits codes, scales, zero points and mins give back every value`, () => {
    const format = formatByName(name);
    const d = decodeRows(format, new Uint8Array(Buffer.from(bytes, 'base64')), fixture.rows, fixture.k);
    const q = toNBits(d);
    const { k, rows: n } = fixture;
    const subs = k / format.subBlock;
    const want = dequantize(d);
    const zp = (row: number, s: number) => {
      if (!q.zeroPoints) return 2 ** (format.bits - 1);
      if (format.bits === 8) return q.zeroPoints[row * subs + s]!;
      const byte = q.zeroPoints[row * Math.ceil(subs / 2) + (s >> 1)]!;
      return s & 1 ? byte >> 4 : byte & 15;
    };
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < k; i++) {
        const s = Math.floor(i / format.subBlock);
        const at = r * k + i;
        // MatMulNBits' 4-bit order: elements 2j and 2j+1 of a row share byte j, low nibble first.
        const code = format.bits === 8 ? q.b[at]! : (q.b[at >> 1]! >> ((at & 1) * 4)) & 15;
        const min = q.mins ? q.mins[s * n + r]! : 0;
        const v = Math.fround(Math.fround(q.scales[r * subs + s]! * (code - zp(r, s))) + min);
        assert.equal(v, want[at], `${name} row ${r} element ${i}`);
      }
    }
  });
}

test("llama q/k unpermutation: HF row h·D + half·D/2 + i comes from llama.cpp's row h·D + 2i + half", () => {
  // Two heads of D = 4: llama.cpp stores each head's rows as (0, 2, 1, 3) of HF's.
  assert.deepEqual([...unpermutedOrder(8, 2)], [0, 2, 1, 3, 4, 6, 5, 7]);
});
