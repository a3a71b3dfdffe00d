// Which tensors a spec needs, with their expected shapes, and their conversion to the device's dtype.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelSpec } from './config.ts';
import { ModelError } from './errors.ts';
import { listTensors, readTensorBytes, type TensorInfo } from './safetensors.ts';
import { bf16ToF32, f16ToF32, f32ToF16 } from './native.ts';

export type WeightDtype = 'fp32' | 'fp16';

export interface WeightRef {
  name: string;
  shape: number[];
}

/** Every tensor the forward pass reads, in the order we lay them out. */
export function requiredWeights(spec: ModelSpec): WeightRef[] {
  const { hiddenSize: h, numHeads, numKvHeads, headDim: d, intermediateSize: inter, vocabSize: v } = spec;
  const out: WeightRef[] = [{ name: 'model.embed_tokens.weight', shape: [v, h] }];
  for (let l = 0; l < spec.numLayers; l++) {
    const p = `model.layers.${l}.`;
    out.push({ name: `${p}input_layernorm.weight`, shape: [h] });
    out.push({ name: `${p}self_attn.q_proj.weight`, shape: [numHeads * d, h] });
    out.push({ name: `${p}self_attn.k_proj.weight`, shape: [numKvHeads * d, h] });
    out.push({ name: `${p}self_attn.v_proj.weight`, shape: [numKvHeads * d, h] });
    if (spec.qkvBias) {
      out.push({ name: `${p}self_attn.q_proj.bias`, shape: [numHeads * d] });
      out.push({ name: `${p}self_attn.k_proj.bias`, shape: [numKvHeads * d] });
      out.push({ name: `${p}self_attn.v_proj.bias`, shape: [numKvHeads * d] });
    }
    if (spec.qkNorm) {
      out.push({ name: `${p}self_attn.q_norm.weight`, shape: [d] });
      out.push({ name: `${p}self_attn.k_norm.weight`, shape: [d] });
    }
    out.push({ name: `${p}self_attn.o_proj.weight`, shape: [h, numHeads * d] });
    if (spec.oBias) out.push({ name: `${p}self_attn.o_proj.bias`, shape: [h] });
    out.push({ name: `${p}post_attention_layernorm.weight`, shape: [h] });
    out.push({ name: `${p}mlp.gate_proj.weight`, shape: [inter, h] });
    out.push({ name: `${p}mlp.up_proj.weight`, shape: [inter, h] });
    out.push({ name: `${p}mlp.down_proj.weight`, shape: [h, inter] });
    if (spec.mlpBias) {
      out.push({ name: `${p}mlp.gate_proj.bias`, shape: [inter] });
      out.push({ name: `${p}mlp.up_proj.bias`, shape: [inter] });
      out.push({ name: `${p}mlp.down_proj.bias`, shape: [h] });
    }
  }
  out.push({ name: 'model.norm.weight', shape: [h] });
  if (!spec.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [v, h] });
  return out;
}

/** Checks that every required tensor exists with the right shape; returns where each one lives. */
export function resolveWeights(dir: string, spec: ModelSpec): Map<string, TensorInfo> {
  const tensors = listTensors(dir);
  for (const w of requiredWeights(spec)) {
    const t = tensors.get(w.name);
    if (!t) {
      const index = join(dir, 'model.safetensors.index.json');
      throw new ModelError(
        existsSync(index) ? index : join(dir, 'model.safetensors'),
        `tensor "${w.name}" is missing`,
        'The checkpoint does not match its config.json; download it again',
      );
    }
    if (t.shape.length !== w.shape.length || t.shape.some((s, i) => s !== w.shape[i])) {
      throw new ModelError(
        t.file,
        `tensor "${w.name}" has shape [${t.shape}] but config.json implies [${w.shape}]`,
        'The checkpoint does not match its config.json; download it again',
      );
    }
  }
  return tensors;
}

export function readAsFloat32(info: TensorInfo): Float32Array {
  const bytes = readTensorBytes(info);
  switch (info.dtype) {
    case 'F32':
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    case 'F16':
      return f16ToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
    case 'BF16':
      return bf16ToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
  }
}

/** One tensor's bytes in the target dtype. */
export function readAs(info: TensorInfo, dtype: WeightDtype): Uint8Array {
  if (dtype === 'fp16' && info.dtype === 'F16') return readTensorBytes(info);
  const f32 = readAsFloat32(info);
  const out = dtype === 'fp32' ? f32 : f32ToF16(f32);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
