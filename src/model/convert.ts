// Weight conversion hot loops, TypeScript reference. native/src/convert.cc implements the same functions and is
// tested against these bit for bit, so every step here is written to have one exact IEEE result:
// floats are handled as bit patterns (a JS number would canonicalise NaN payloads), and int4 arithmetic is done in
// doubles with no fused multiply-add (the C++ build uses -ffp-contract=off).

/** bf16 → fp32 is exact: the bf16 bits are the high half of the fp32. */
export function bf16ToF32Into(src: Uint16Array, dst: Float32Array): void {
  checkLength(src.length, dst.length);
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
}

/** fp16 bits → fp32 bits for all 65536 inputs; exact, NaN payloads kept. */
const F16_TO_F32_BITS = (() => {
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToF32Bits(h);
  return t;
})();

export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal fp16: normalise; every one is a normal fp32.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

export function f16ToF32Into(src: Uint16Array, dst: Float32Array): void {
  checkLength(src.length, dst.length);
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = F16_TO_F32_BITS[src[i]!]!;
}

/** fp32 bits → fp16 bits, round to nearest even; overflow → ±inf, underflow → subnormals / ±0; NaN stays NaN. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00;
    // Keep the top payload bits (the quiet bit among them), as numpy does; never let a NaN become inf.
    const m = mant >>> 13;
    return sign | 0x7c00 | (m === 0 ? 1 : m);
  }
  const e = exp - 112; // fp16 biased exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Result is subnormal (or zero) in fp16: shift in the implicit bit and round.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rem > mid || (rem === mid && (half & 1) !== 0) ? half + 1 : half);
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent, up to inf.
  return sign | (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0) ? half + 1 : half);
}

export function f32ToF16Into(src: Float32Array, dst: Uint16Array): void {
  checkLength(src.length, dst.length);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToF16Bits(bits[i]!);
}

function checkLength(a: number, b: number): void {
  if (a !== b) throw new RangeError(`conversion: source has ${a} elements, destination ${b}`);
}

// ---- int4 block quantisation in onnxruntime's com.microsoft.MatMulNBits layout ----

export interface Int4Options {
  /** Elements of K per scale; a power of two ≥ 16. MatMulNBits' usual 32 is the default. */
  blockSize?: number;
  /**
   * Per block, try shrinking the range towards zero (clipping outliers) and keep the scale with the least squared
   * error. Costs about 11× the plain round-to-nearest, once, at preparation time.
   */
  clipSearch?: boolean;
}

/**
 * A weight W[N, K] (a Hugging Face Linear weight, out × in) ready for
 * `MatMulNBits(A, b, scales, zeroPoints)` with attributes K, N, bits=4, block_size, which computes A · Wᵀ.
 */
export interface Int4Weight {
  n: number;
  k: number;
  blockSize: number;
  /** ceil(K / blockSize) */
  nBlocks: number;
  /** blockSize / 2 bytes per block */
  blobSize: number;
  /** uint8 [N, nBlocks, blobSize]: element 2i in the low nibble, 2i+1 in the high one. */
  b: Uint8Array;
  /** float [N * nBlocks] */
  scales: Float32Array;
  /** uint8 [N * ceil(nBlocks / 2)]: block 2j's zero point in the low nibble, 2j+1's in the high one. */
  zeroPoints: Uint8Array;
}

/** Clip ratios tried by the search: 1, 0.98, …, 0.80. */
export const CLIP_STEPS = 11;
const CLIP_STEP = 0.02;

export function int4Layout(n: number, k: number, blockSize = 32): Omit<Int4Weight, 'b' | 'scales' | 'zeroPoints'> {
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new RangeError(`int4 block size must be a power of two ≥ 16, got ${blockSize}`);
  }
  const nBlocks = Math.ceil(k / blockSize);
  return { n, k, blockSize, nBlocks, blobSize: blockSize / 2 };
}

export function allocInt4(n: number, k: number, blockSize = 32): Int4Weight {
  const l = int4Layout(n, k, blockSize);
  return {
    ...l,
    b: new Uint8Array(n * l.nBlocks * l.blobSize),
    scales: new Float32Array(n * l.nBlocks),
    zeroPoints: new Uint8Array(n * Math.ceil(l.nBlocks / 2)),
  };
}

/** Round half to even, as C's nearbyint in the default rounding mode. */
function rne(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function clamp15(v: number): number {
  return v < 0 ? 0 : v > 15 ? 15 : v;
}

/** Quantises W[N, K] (row-major fp32) into `out` (from allocInt4 with the same N, K, block size). */
export function quantizeInt4Into(w: Float32Array, out: Int4Weight, opts: Pick<Int4Options, 'clipSearch'> = {}): void {
  const { n, k, blockSize, nBlocks, blobSize, b, scales, zeroPoints } = out;
  if (w.length !== n * k) throw new RangeError(`int4: weight has ${w.length} elements, expected ${n}×${k}`);
  const steps = opts.clipSearch === false ? 1 : CLIP_STEPS;
  const zpRow = Math.ceil(nBlocks / 2);
  b.fill(0);
  zeroPoints.fill(0);
  for (let row = 0; row < n; row++) {
    for (let blk = 0; blk < nBlocks; blk++) {
      const start = row * k + blk * blockSize;
      const len = Math.min(blockSize, k - blk * blockSize);
      // The range always holds 0 so that the zero point is a valid code.
      let mn = 0;
      let mx = 0;
      for (let j = 0; j < len; j++) {
        const v = w[start + j]!;
        if (!Number.isFinite(v)) throw new RangeError(`int4: non-finite weight at row ${row}, column ${blk * blockSize + j}`);
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      let bestScale = 0;
      let bestZp = 8;
      let bestErr = Infinity;
      for (let s = 0; s < steps; s++) {
        const alpha = 1 - CLIP_STEP * s;
        const lo = alpha * mn;
        const hi = alpha * mx;
        const scale = Math.fround((hi - lo) / 15);
        if (scale === 0) break; // an all-zero block: codes 8 with scale 0 give exact zeros
        const zp = clamp15(rne(-lo / scale));
        let err = 0;
        for (let j = 0; j < len; j++) {
          const v = w[start + j]!;
          const q = clamp15(rne(v / scale) + zp);
          const d = (q - zp) * scale - v;
          err += d * d;
        }
        if (err < bestErr) {
          bestErr = err;
          bestScale = scale;
          bestZp = zp;
        }
      }
      const si = row * nBlocks + blk;
      scales[si] = bestScale;
      zeroPoints[row * zpRow + (blk >> 1)]! |= bestZp << ((blk & 1) * 4);
      const base = si * blobSize;
      for (let j = 0; j < blockSize; j++) {
        // Padding past K gets the zero point, so it dequantises to 0.
        const q = j < len && bestScale !== 0 ? clamp15(rne(w[start + j]! / bestScale) + bestZp) : bestZp;
        b[base + (j >> 1)]! |= q << ((j & 1) * 4);
      }
    }
  }
}

export function quantizeInt4(w: Float32Array, n: number, k: number, opts: Int4Options = {}): Int4Weight {
  const out = allocInt4(n, k, opts.blockSize ?? 32);
  quantizeInt4Into(w, out, opts);
  return out;
}

/** W[N, K] as MatMulNBits sees it: (code − zero point) × scale. */
export function dequantizeInt4(q: Int4Weight): Float32Array {
  const { n, k, blockSize, nBlocks, blobSize } = q;
  const zpRow = Math.ceil(nBlocks / 2);
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) {
      const blk = Math.floor(col / blockSize);
      const j = col % blockSize;
      const code = (q.b[(row * nBlocks + blk) * blobSize + (j >> 1)]! >> ((j & 1) * 4)) & 15;
      const zp = (q.zeroPoints[row * zpRow + (blk >> 1)]! >> ((blk & 1) * 4)) & 15;
      out[row * k + col] = (code - zp) * q.scales[row * nBlocks + blk]!;
    }
  }
  return out;
}
