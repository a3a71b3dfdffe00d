// What a GGUF's weights take once prepared (model/prepare.ts): its quantized Linear weights and tables as
// MatMulNBits codes plus a scale (and a min, for formats with one) per block, every other tensor in the device's
// float dtype. The memory estimate uses it where the shape alone would assume float weights.
import { isQuantizable } from '../int4.ts';
import { QUANT_FORMATS } from './quants.ts';
import { readIndex } from './import.ts';

/** Bytes of the prepared weights of the GGUF model folder `dir`, or undefined for a folder that is not one. */
export function ggufPreparedBytes(dir: string, floatBytes: number): number | undefined {
  const index = readIndex(dir);
  if (!index) return undefined;
  let bytes = 0;
  for (const [name, t] of Object.entries(index.tensors)) {
    const elems = t.shape.reduce((a, b) => a * b, 1);
    const f = QUANT_FORMATS[t.type];
    if (!f || !isQuantizable(name)) {
      bytes += elems * floatBytes;
      continue;
    }
    const blocks = elems / f.subBlock;
    const zeroPoints = f.zeroPoint === 2 ** (f.bits - 1) ? 0 : (blocks * f.bits) / 8;
    bytes += (elems * f.bits) / 8 + blocks * floatBytes * (f.mins ? 2 : 1) + zeroPoints;
  }
  return bytes;
}
