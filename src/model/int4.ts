// How int4 weights are stored: every Linear weight [out, in] (and the LM head) as onnxruntime's MatMulNBits
// inputs, under the weight's name plus a suffix per input.

export const INT4_BLOCK = 32;
export const INT4_PARTS = { b: '.q4', scales: '.q4scales', zeroPoints: '.q4zp' } as const;

/** Linear weights that int4 quantizes; the LM head is named lm_head.weight even when tied. */
export function isQuantizable(name: string): boolean {
  return name.endsWith('_proj.weight') || name === 'lm_head.weight';
}
