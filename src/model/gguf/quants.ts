// GGML's block formats, read row by row into one common form: unsigned integer codes, and per sub-block a scale
// and an optional additive min, so that w = scale · (code − zeroPoint) + min. That form is exactly
// onnxruntime's MatMulNBits (codes, scales, uint8 zero points) plus, for the formats with a min, a correction
// term: Σ_blocks (Σ x over the block) · min. Nothing is rounded: every GGUF number is multiplied as stored.
// Formulas follow ggml's dequantize_row_* (ggml/src/ggml-quants.c).

/** GGML tensor types we read, by their GGUF id. */
export const GGML = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  BF16: 30,
} as const;

/** Every GGML type id's name, for messages about types we do not read. */
const TYPE_NAMES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  6: 'Q5_0',
  7: 'Q5_1',
  8: 'Q8_0',
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  12: 'Q4_K',
  13: 'Q5_K',
  14: 'Q6_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  30: 'BF16',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
};

export function ggmlTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/** How one quantized format maps onto MatMulNBits. */
export interface QuantFormat {
  name: string;
  /** Elements and bytes of one GGML block. */
  blockElems: number;
  blockBytes: number;
  /** MatMulNBits code width and block (the GGML sub-block that owns one scale). */
  bits: 4 | 8;
  subBlock: number;
  /** The one zero point every sub-block uses. */
  zeroPoint: number;
  /** Whether sub-blocks carry an additive min (Q4_1, Q5_1, Q4_K, Q5_K). */
  mins: boolean;
  /** Decodes GGML block `b` of `src` into codes[at..], scales[sAt..] and mins[sAt..]. */
  decode(src: Uint8Array, b: number, codes: Uint8Array, at: number, scales: Float32Array, mins: Float32Array, sAt: number): void;
}

const F16 = new Float32Array(1);
const F16_BITS = new Uint32Array(F16.buffer);

/** IEEE half → float (exact). */
export function half(h: number): number {
  const s = (h & 0x8000) << 16;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return (s ? -1 : 1) * m * 2 ** -24;
  F16_BITS[0] = e === 31 ? s | 0x7f800000 | (m << 13) : s | ((e + 112) << 23) | (m << 13);
  return F16[0]!;
}

const u16 = (src: Uint8Array, o: number) => src[o]! | (src[o + 1]! << 8);
const u32 = (src: Uint8Array, o: number) => (src[o]! | (src[o + 1]! << 8) | (src[o + 2]! << 16) | (src[o + 3]! << 24)) >>> 0;
/** Float products as ggml computes them (in fp32). */
const mul = Math.fround;

/** Q4_K and Q5_K's packed 6-bit scale and min of sub-block j (ggml's get_scale_min_k4). */
function scaleMinK4(q: Uint8Array, o: number, j: number): [number, number] {
  if (j < 4) return [q[o + j]! & 63, q[o + j + 4]! & 63];
  return [(q[o + j + 4]! & 0xf) | ((q[o + j - 4]! >> 6) << 4), (q[o + j + 4]! >> 4) | ((q[o + j]! >> 6) << 4)];
}

/**
 * Q4_K and Q5_K blocks open with d, dmin and twelve bytes of packed 6-bit scales and mins for their eight
 * sub-blocks: w = d·sc·q − dmin·m, so each sub-block's scale is d·sc and its min −dmin·m.
 */
function kScalesMins(src: Uint8Array, o: number, scales: Float32Array, mins: Float32Array, sAt: number): void {
  const d = half(u16(src, o));
  const dmin = half(u16(src, o + 2));
  for (let j = 0; j < 8; j++) {
    const [sc, m] = scaleMinK4(src, o + 4, j);
    scales[sAt + j] = mul(d * sc);
    mins[sAt + j] = -mul(dmin * m);
  }
}

export const QUANT_FORMATS: Record<number, QuantFormat> = {
  [GGML.Q4_0]: {
    name: 'Q4_0',
    blockElems: 32,
    blockBytes: 18,
    bits: 4,
    subBlock: 32,
    zeroPoint: 8,
    mins: false,
    decode(src, b, codes, at, scales, _mins, sAt) {
      const o = b * 18;
      scales[sAt] = half(u16(src, o));
      for (let j = 0; j < 16; j++) {
        codes[at + j] = src[o + 2 + j]! & 0xf;
        codes[at + j + 16] = src[o + 2 + j]! >> 4;
      }
    },
  },
  [GGML.Q4_1]: {
    name: 'Q4_1',
    blockElems: 32,
    blockBytes: 20,
    bits: 4,
    subBlock: 32,
    zeroPoint: 0,
    mins: true,
    decode(src, b, codes, at, scales, mins, sAt) {
      const o = b * 20;
      scales[sAt] = half(u16(src, o));
      mins[sAt] = half(u16(src, o + 2));
      for (let j = 0; j < 16; j++) {
        codes[at + j] = src[o + 4 + j]! & 0xf;
        codes[at + j + 16] = src[o + 4 + j]! >> 4;
      }
    },
  },
  [GGML.Q5_0]: {
    name: 'Q5_0',
    blockElems: 32,
    blockBytes: 22,
    bits: 8,
    subBlock: 32,
    zeroPoint: 16,
    mins: false,
    decode(src, b, codes, at, scales, _mins, sAt) {
      const o = b * 22;
      scales[sAt] = half(u16(src, o));
      const qh = u32(src, o + 2);
      for (let j = 0; j < 16; j++) {
        codes[at + j] = (src[o + 6 + j]! & 0xf) | (((qh >>> j) & 1) << 4);
        codes[at + j + 16] = (src[o + 6 + j]! >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      }
    },
  },
  [GGML.Q5_1]: {
    name: 'Q5_1',
    blockElems: 32,
    blockBytes: 24,
    bits: 8,
    subBlock: 32,
    zeroPoint: 0,
    mins: true,
    decode(src, b, codes, at, scales, mins, sAt) {
      const o = b * 24;
      scales[sAt] = half(u16(src, o));
      mins[sAt] = half(u16(src, o + 2));
      const qh = u32(src, o + 4);
      for (let j = 0; j < 16; j++) {
        codes[at + j] = (src[o + 8 + j]! & 0xf) | (((qh >>> j) & 1) << 4);
        codes[at + j + 16] = (src[o + 8 + j]! >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      }
    },
  },
  [GGML.Q8_0]: {
    name: 'Q8_0',
    blockElems: 32,
    blockBytes: 34,
    bits: 8,
    subBlock: 32,
    zeroPoint: 128,
    mins: false,
    decode(src, b, codes, at, scales, _mins, sAt) {
      const o = b * 34;
      scales[sAt] = half(u16(src, o));
      // int8 q as the unsigned code q + 128 (the sign bit flipped).
      for (let j = 0; j < 32; j++) codes[at + j] = src[o + 2 + j]! ^ 0x80;
    },
  },
  [GGML.Q4_K]: {
    name: 'Q4_K',
    blockElems: 256,
    blockBytes: 144,
    bits: 4,
    subBlock: 32,
    zeroPoint: 0,
    mins: true,
    decode(src, b, codes, at, scales, mins, sAt) {
      const o = b * 144;
      kScalesMins(src, o, scales, mins, sAt);
      for (let c = 0; c < 4; c++) {
        const q = o + 16 + 32 * c;
        for (let l = 0; l < 32; l++) {
          codes[at + 64 * c + l] = src[q + l]! & 0xf;
          codes[at + 64 * c + 32 + l] = src[q + l]! >> 4;
        }
      }
    },
  },
  [GGML.Q5_K]: {
    name: 'Q5_K',
    blockElems: 256,
    blockBytes: 176,
    bits: 8,
    subBlock: 32,
    zeroPoint: 0,
    mins: true,
    decode(src, b, codes, at, scales, mins, sAt) {
      const o = b * 176;
      kScalesMins(src, o, scales, mins, sAt);
      const qh = o + 16;
      for (let c = 0; c < 4; c++) {
        const ql = o + 48 + 32 * c;
        for (let l = 0; l < 32; l++) {
          codes[at + 64 * c + l] = (src[ql + l]! & 0xf) | (((src[qh + l]! >> (2 * c)) & 1) << 4);
          codes[at + 64 * c + 32 + l] = (src[ql + l]! >> 4) | (((src[qh + l]! >> (2 * c + 1)) & 1) << 4);
        }
      }
    },
  },
  [GGML.Q6_K]: {
    name: 'Q6_K',
    blockElems: 256,
    blockBytes: 210,
    bits: 8,
    subBlock: 16,
    zeroPoint: 32,
    mins: false,
    decode(src, b, codes, at, scales, _mins, sAt) {
      const o = b * 210;
      const d = half(u16(src, o + 208));
      for (let i = 0; i < 16; i++) scales[sAt + i] = mul(d * ((src[o + 192 + i]! << 24) >> 24));
      for (let n = 0; n < 2; n++) {
        const ql = o + 64 * n;
        const qh = o + 128 + 32 * n;
        const y = at + 128 * n;
        for (let l = 0; l < 32; l++) {
          const h = src[qh + l]!;
          codes[y + l] = (src[ql + l]! & 0xf) | ((h & 3) << 4);
          codes[y + l + 32] = (src[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4);
          codes[y + l + 64] = (src[ql + l]! >> 4) | (((h >> 4) & 3) << 4);
          codes[y + l + 96] = (src[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4);
        }
      }
    },
  },
};

/** A [N, K] weight in the common form, row-major, N rows of K codes. */
export interface DecodedRows {
  format: QuantFormat;
  n: number;
  k: number;
  codes: Uint8Array;
  /** [N, K / subBlock] */
  scales: Float32Array;
  /** [N, K / subBlock], all zero for formats without mins. */
  mins: Float32Array;
}

/** Bytes of one row of K elements. */
export function rowBytes(format: QuantFormat, k: number): number {
  return (k / format.blockElems) * format.blockBytes;
}

/** Decodes `n` rows of `k` elements, taking source row `order[r]` as row r (the llama q/k unpermutation). */
export function decodeRows(format: QuantFormat, src: Uint8Array, n: number, k: number, order?: Int32Array): DecodedRows {
  const perRow = k / format.blockElems;
  const subs = k / format.subBlock;
  const codes = new Uint8Array(n * k);
  const scales = new Float32Array(n * subs);
  const mins = new Float32Array(n * subs);
  const subsPerBlock = format.blockElems / format.subBlock;
  for (let r = 0; r < n; r++) {
    const from = order ? order[r]! : r;
    for (let b = 0; b < perRow; b++) {
      format.decode(src, from * perRow + b, codes, r * k + b * format.blockElems, scales, mins, r * subs + b * subsPerBlock);
    }
  }
  return { format, n, k, codes, scales, mins };
}

/** w = scale · (code − zeroPoint) + min, in fp32 as ggml computes it. */
export function dequantize(d: DecodedRows): Float32Array {
  const { n, k, codes, scales, mins, format } = d;
  const out = new Float32Array(n * k);
  const sb = format.subBlock;
  for (let i = 0; i < n * k; i++) {
    const s = Math.floor(i / sb);
    out[i] = mul(mul(scales[s]! * (codes[i]! - format.zeroPoint)) + mins[s]!);
  }
  return out;
}

/** MatMulNBits inputs for a decoded weight; `mins` is [K / subBlock, N] (a MatMul's right side). */
export interface NBitsParts {
  b: Uint8Array;
  scales: Float32Array;
  /** Absent where the format's zero point is MatMulNBits' default (2^(bits−1)). */
  zeroPoints?: Uint8Array;
  mins?: Float32Array;
}

export function toNBits(d: DecodedRows): NBitsParts {
  const { n, k, codes, scales, format } = d;
  const subs = k / format.subBlock;
  let b: Uint8Array;
  if (format.bits === 8) b = codes;
  else {
    // MatMulNBits packs elements 2i and 2i+1 of a block into byte i (low nibble first).
    b = new Uint8Array((n * k) / 2);
    for (let i = 0; i < b.length; i++) b[i] = codes[2 * i]! | (codes[2 * i + 1]! << 4);
  }
  let zeroPoints: Uint8Array | undefined;
  if (format.zeroPoint !== 2 ** (format.bits - 1)) {
    zeroPoints =
      format.bits === 8
        ? new Uint8Array(n * subs).fill(format.zeroPoint)
        : new Uint8Array(n * Math.ceil(subs / 2)).fill(format.zeroPoint | (format.zeroPoint << 4));
  }
  let mins: Float32Array | undefined;
  if (format.mins) {
    mins = new Float32Array(subs * n);
    for (let r = 0; r < n; r++) for (let s = 0; s < subs; s++) mins[s * n + r] = d.mins[r * subs + s]!;
  }
  return { b, scales, zeroPoints, mins };
}
