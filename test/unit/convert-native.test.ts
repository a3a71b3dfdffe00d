// The TypeScript conversion reference on known values, and the native addon against it bit for bit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allocInt4,
  bf16ToF32Into,
  dequantizeInt4,
  f16BitsToF32Bits,
  f16ToF32Into,
  f32BitsToF16Bits,
  f32ToF16Into,
  quantizeInt4,
  quantizeInt4Into,
  type Int4Weight,
} from '../../src/model/convert.ts';
import { nativeConverter, nativeLoadError, typescriptConverter } from '../../src/model/native.ts';
import { mulberry32 as rng } from '../../src/runtime/random.ts';

const f32Bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0]!;

/** Random fp32 bit patterns plus every class of edge value. */
function edgeAndRandomF32Bits(count: number): Uint32Array {
  const r = rng(1);
  const edges = [
    0x00000000,
    0x80000000,
    0x7f800000,
    0xff800000,
    0x7fc00000,
    0xffc00000,
    0x7f800001,
    0x7fbfffff,
    0xff812345,
    0x7f802000,
    0x00000001,
    0x807fffff,
    0x00400000,
    0x7f7fffff,
    0xff7fffff,
    0x00800000,
    0x80800000,
    f32Bits(65504),
    f32Bits(65519.99),
    f32Bits(65520),
    f32Bits(-65520),
    f32Bits(2 ** -24),
    f32Bits(2 ** -25),
    f32Bits(3 * 2 ** -26),
    f32Bits(2 ** -14),
    f32Bits(2 ** -14 - 2 ** -25),
    f32Bits(1 + 2 ** -11),
    f32Bits(1 + 3 * 2 ** -11),
    f32Bits(2 ** -25 + 2 ** -40),
  ];
  const out = new Uint32Array(count);
  out.set(edges);
  for (let i = edges.length; i < count; i++) out[i] = Math.floor(r() * 4294967296);
  // Dense coverage near the fp16 range, where rounding is interesting.
  for (let i = edges.length; i < count; i += 3)
    out[i] = ((Math.floor(r() * 2) << 31) | ((100 + Math.floor(r() * 45)) << 23) | Math.floor(r() * 0x800000)) >>> 0;
  return out;
}

describe('conversion reference (TypeScript)', () => {
  test('fp32 → fp16 rounds to nearest even, saturates to inf, keeps NaN and subnormals', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00],
      [1e10, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [3 * 2 ** -26, 0x0001],
      [3 * 2 ** -25, 0x0002],
      [2 ** -14, 0x0400],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [-0, 0x8000],
      [0.1, 0x2e66],
    ];
    for (const [x, h] of cases) assert.equal(f32BitsToF16Bits(f32Bits(x)), h, `${x}`);
    assert.equal(f32BitsToF16Bits(0x7fc00000), 0x7e00);
    assert.equal(f32BitsToF16Bits(0xff800001), 0xfc01, 'a NaN whose payload shifts out stays NaN');
  });

  test('fp16 → fp32 is exact for all 65536 values and round-trips back', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f32 = new Float32Array(65536);
    f16ToF32Into(all, f32);
    const back = new Uint16Array(65536);
    f32ToF16Into(f32, back);
    assert.deepEqual(back, all);
    for (let h = 0; h < 65536; h++) {
      const exp = (h >> 10) & 31;
      if (exp === 31) continue;
      const mant = h & 1023;
      const v = (h & 0x8000 ? -1 : 1) * (exp === 0 ? mant * 2 ** -24 : (1 + mant / 1024) * 2 ** (exp - 15));
      assert.equal(f16BitsToF32Bits(h), f32Bits(v), `h=${h.toString(16)}`);
    }
  });

  test('bf16 → fp32 keeps every bit', () => {
    const src = new Uint16Array([0x3f80, 0xff80, 0x7fc1, 0x0001, 0x8000]);
    const dst = new Float32Array(5);
    bf16ToF32Into(src, dst);
    assert.deepEqual([...new Uint32Array(dst.buffer)], [0x3f800000, 0xff800000, 0x7fc10000, 0x00010000, 0x80000000]);
  });

  test('int4 layout: MatMulNBits B [N, blocks, 16], scales [N*blocks], packed zero points; dequantises close', () => {
    const n = 3;
    const k = 70; // three blocks of 32, the last one partial
    const r = rng(7);
    const w = Float32Array.from({ length: n * k }, () => (r() - 0.5) * 0.2);
    const q = quantizeInt4(w, n, k, { clipSearch: false });
    assert.equal(q.nBlocks, 3);
    assert.equal(q.b.length, n * 3 * 16);
    assert.equal(q.scales.length, n * 3);
    assert.equal(q.zeroPoints.length, n * 2);
    // Element 2i in the low nibble, 2i+1 in the high one; padding past K holds the zero point.
    const zp0 = q.zeroPoints[0]! & 15;
    const code0 = q.b[0]! & 15;
    const code1 = q.b[0]! >> 4;
    assert.ok(Math.abs((code0 - zp0) * q.scales[0]! - w[0]!) <= q.scales[0]! / 2 + 1e-7);
    assert.ok(Math.abs((code1 - zp0) * q.scales[0]! - w[1]!) <= q.scales[0]! / 2 + 1e-7);
    const zpLast = q.zeroPoints[1]! & 15;
    assert.equal(q.b[2 * 16 + 15]! >> 4, zpLast, 'element 95 (past K=70) is padding');
    assert.equal(q.zeroPoints[1]! >> 4, 0, 'the unused high nibble of an odd block count is 0');
    const d = dequantizeInt4(q);
    for (let i = 0; i < w.length; i++) {
      const s = q.scales[Math.floor(i / k) * 3 + Math.floor((i % k) / 32)]!;
      assert.ok(Math.abs(d[i]! - w[i]!) <= s / 2 + 1e-7, `element ${i}`);
    }
  });

  test('clip search never loses to plain round-to-nearest, and wins on outlier blocks', () => {
    const r = rng(3);
    const n = 16;
    const k = 256;
    const w = Float32Array.from({ length: n * k }, () => {
      const g = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
      return g * 0.02;
    });
    for (let i = 0; i < w.length; i += 97) w[i] = 0.2; // outliers
    const mse = (q: Int4Weight) => dequantizeInt4(q).reduce((a, v, i) => a + (v - w[i]!) ** 2, 0) / w.length;
    const rtn = mse(quantizeInt4(w, n, k, { clipSearch: false }));
    const clip = mse(quantizeInt4(w, n, k));
    assert.ok(clip < rtn, `clip ${clip} < rtn ${rtn}`);
  });

  test('all-zero blocks are exact; a non-finite weight is refused', () => {
    const q = quantizeInt4(new Float32Array(64), 1, 64);
    assert.deepEqual([...dequantizeInt4(q)], new Array(64).fill(0));
    const w = new Float32Array(64);
    w[40] = NaN;
    assert.throws(() => quantizeInt4(w, 1, 64), /non-finite weight at row 0, column 40/);
  });
});

const skip = nativeConverter
  ? false
  : `native addon not built (run npm run build:native)${nativeLoadError ? `; load error: ${nativeLoadError}` : ''}`;

describe('native addon against the TypeScript reference', { skip }, () => {
  const native = nativeConverter!;
  const ts = typescriptConverter;

  test('fp32 → fp16: identical bits on random and edge values (NaN, ±inf, subnormals, max/min)', () => {
    const bits = edgeAndRandomF32Bits(300_000);
    const src = new Float32Array(bits.buffer);
    const a = new Uint16Array(src.length);
    const b = new Uint16Array(src.length);
    ts.f32ToF16Into(src, a);
    native.f32ToF16Into(src, b);
    assert.deepEqual(b, a);
  });

  test('fp16 → fp32 and bf16 → fp32: identical bits for all 65536 inputs', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    for (const fn of ['f16ToF32Into', 'bf16ToF32Into'] as const) {
      const a = new Float32Array(65536);
      const b = new Float32Array(65536);
      ts[fn](all, a);
      native[fn](all, b);
      assert.deepEqual(new Uint32Array(b.buffer), new Uint32Array(a.buffer), fn);
    }
  });

  test('works on views with an offset into a larger buffer', () => {
    const buf = new ArrayBuffer(4096);
    const src = new Uint16Array(buf, 2, 100).map((_, i) => 0x3c00 + i);
    const a = new Float32Array(100);
    const b = new Float32Array(new ArrayBuffer(4 * 101), 4, 100);
    ts.f16ToF32Into(src, a);
    native.f16ToF32Into(src, b);
    assert.deepEqual(new Uint32Array(b.buffer, 4, 100), new Uint32Array(a.buffer));
  });

  test('int4: identical B, scales and zero points on random, skewed, tiny, subnormal and partial blocks', () => {
    const r = rng(11);
    const shapes: [number, number, number, boolean][] = [
      [8, 256, 32, true],
      [5, 100, 32, true],
      [4, 96, 64, false],
      [3, 33, 16, true],
      [2, 64, 32, false],
    ];
    for (const [n, k, bs, clip] of shapes) {
      const w = new Float32Array(n * k);
      for (let i = 0; i < w.length; i++) {
        const kind = i % 7;
        w[i] =
          kind === 0
            ? (r() - 0.5) * 2
            : kind === 1
              ? r() * 1e-3 // all-positive stretches
              : kind === 2
                ? -r() * 3e38 // near the fp32 max
                : kind === 3
                  ? (r() - 0.5) * 1e-40 // subnormals
                  : kind === 4
                    ? 0
                    : (r() - 0.3) * 0.05;
      }
      // Whole blocks of one kind too: constant, all zero, all subnormal.
      w.fill(0.5, 0, Math.min(bs, k));
      if (n * k >= 3 * bs) w.fill(0, bs, 2 * bs);
      const a = allocInt4(n, k, bs);
      const b = allocInt4(n, k, bs);
      quantizeInt4Into(w, a, { clipSearch: clip });
      native.quantizeInt4Into(w, b, { clipSearch: clip });
      const label = `${n}x${k}/${bs}/${clip}`;
      assert.deepEqual(b.b, a.b, `${label} B`);
      assert.deepEqual(new Uint32Array(b.scales.buffer), new Uint32Array(a.scales.buffer), `${label} scales`);
      assert.deepEqual(b.zeroPoints, a.zeroPoints, `${label} zero points`);
    }
  });

  test('int4: the same refusal of non-finite weights and of bad sizes', () => {
    const w = new Float32Array(64);
    w[33] = Infinity;
    const out = allocInt4(1, 64);
    assert.throws(() => native.quantizeInt4Into(w, out), /non-finite weight at row 0, column 33/);
    assert.throws(() => native.quantizeInt4Into(new Float32Array(64), allocInt4(2, 64)), RangeError);
    assert.throws(() => native.f32ToF16Into(new Float32Array(4), new Uint16Array(5)), RangeError);
  });
});
