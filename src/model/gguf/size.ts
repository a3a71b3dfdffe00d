// What a GGUF's weights take once prepared (model/prepare.ts) and opened for a build: its quantized Linear weights
// and tables as MatMulNBits codes plus a scale (and a min, for formats with one) per block, every other tensor in
// the device's float dtype. The memory estimate uses it where the shape alone would assume float weights.
import { isQuantizable } from '../int4.ts';
import { QUANT_FORMATS } from './quants.ts';
import { readIndex } from './import.ts';
import { floatBytes, type MemoryDevice } from '../memory.ts';

/**
 * Bytes a build's dense session holds for the weights of the GGUF model folder `dir` on `device`, or undefined for
 * a folder that is not one. On the CPU the layers' 8-bit blocks count twice: the dense graph runs them with int8
 * activations and, for wide runs, in float (graph/net.ts); the 0.5B Q4_K_M measured 0.33-0.43 GB more resident.
 */
export function ggufWeightsBytes(dir: string, device: MemoryDevice): number | undefined {
  const index = readIndex(dir);
  if (!index) return undefined;
  const fb = floatBytes(device);
  let bytes = 0;
  for (const [name, t] of Object.entries(index.tensors)) {
    const elems = t.shape.reduce((a, b) => a * b, 1);
    const f = QUANT_FORMATS[t.type];
    if (!f || !isQuantizable(name)) {
      bytes += elems * fb;
      continue;
    }
    const blocks = elems / f.subBlock;
    const zeroPoints = f.zeroPoint === 2 ** (f.bits - 1) ? 0 : (blocks * f.bits) / 8;
    const held = (elems * f.bits) / 8 + blocks * fb * (f.mins ? 2 : 1) + zeroPoints;
    bytes += device === 'cpu' && f.bits === 8 && name.startsWith('model.layers.') ? 2 * held : held;
  }
  return bytes;
}
