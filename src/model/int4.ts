// How int4 weights are stored: every Linear weight [out, in], the embedding table and an untied LM head as
// onnxruntime's MatMulNBits inputs, under the weight's name plus a suffix per input. The embedding's blocks are
// also what GatherBlockQuantized reads for the token lookup (same nibble order, scales and packed zero points), so
// a tied LM head and the lookup share one quantized table.

export const INT4_BLOCK = 32;
/**
 * The vocabulary table (embedding lookup and tied head) uses finer blocks: it is the one weight whose error both
 * enters every hidden state and picks every token. On stories260K (test/engine/int4.test.ts) blocks of 32 gave
 * 84.7% top-1 agreement with fp32 and blocks of 16 86.1%; on the 0.5B shapes 16 costs ~20 MB more than 32.
 */
export const INT4_TABLE_BLOCK = 16;
/** The MatMulNBits inputs of a quantized weight, stored under its name plus these suffixes. */
export const NBITS_PARTS = { b: '.qb', scales: '.qscales', zeroPoints: '.qzp', mins: '.qmins' } as const;

/** How one weight is stored as MatMulNBits inputs: int4 quantized here, or a GGUF format repacked as it is. */
export interface NBitsLayout {
  bits: 4 | 8;
  block: number;
  /** Zero points are stored (uint8, packed per block); without them MatMulNBits uses 2^(bits−1). */
  zeroPoints: boolean;
  /** Every block's zero point, where they are all the same (GGUF formats); absent for int4's per-block ones. */
  zeroPoint?: number;
  /** Blocks carry an additive min, stored [K / block, N]: y += (Σ x over each block) · mins. */
  mins: boolean;
}

/** The layout int4 gives `name`. */
export function int4WeightLayout(name: string): NBitsLayout {
  return { bits: 4, block: int4Block(name), zeroPoints: true, mins: false };
}

/** Block size of a quantized weight. */
export function int4Block(name: string): number {
  return name === 'model.embed_tokens.weight' || name === 'lm_head.weight' ? INT4_TABLE_BLOCK : INT4_BLOCK;
}

/** Weights that int4 quantizes. */
export function isQuantizable(name: string): boolean {
  return name.endsWith('_proj.weight') || name === 'lm_head.weight' || name === 'model.embed_tokens.weight';
}
