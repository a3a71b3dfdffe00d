// Which tensors a spec needs, with their expected shapes, and their conversion to the device's dtype.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelSpec } from './config.ts';
import { ModelError } from './errors.ts';
import { listTensors, readTensorBytes, type SafetensorsDtype } from './safetensors.ts';
import { bf16ToF32, f16ToF32, f32ToF16 } from './native.ts';
import { GGUF_INDEX, readIndex } from './gguf/import.ts';
import { decodeRows, dequantize, GGML, QUANT_FORMATS, type DecodedRows } from './gguf/quants.ts';
import { unpermutedOrder } from './gguf/tensors.ts';

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

/** A tensor of the checkpoint: a safetensors entry, or a GGUF tensor under its Hugging Face name. */
export interface SourceTensor {
  name: string;
  /** 'GGML' for a block-quantized GGUF tensor (see `ggml`). */
  dtype: SafetensorsDtype | 'GGML';
  /** HF shape: [out, in] for a matrix. */
  shape: number[];
  file: string;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
  ggml?: {
    type: number;
    /** llama.cpp permuted the rows per head (q and k of the llama family): the head count that undoes it. */
    permutedHeads?: number;
  };
}

const GGUF_FLOAT: Record<number, SafetensorsDtype> = { [GGML.F32]: 'F32', [GGML.F16]: 'F16', [GGML.BF16]: 'BF16' };

/** Every tensor of a model folder: its safetensors, or the GGUF that gguf.json points into. */
export function listSourceTensors(dir: string): Map<string, SourceTensor> {
  if (!existsSync(join(dir, GGUF_INDEX))) return listTensors(dir);
  const index = readIndex(dir);
  if (!index) throw new ModelError(join(dir, GGUF_INDEX), 'is not valid JSON', 'Open the GGUF file again: it is imported anew');
  for (const f of index.files) {
    let changed: boolean;
    try {
      changed = statSync(f.path).size !== f.size;
    } catch {
      changed = true;
    }
    if (changed) throw new ModelError(f.path, 'changed or disappeared since it was opened', 'Open the GGUF file again');
  }
  const out = new Map<string, SourceTensor>();
  for (const [name, t] of Object.entries(index.tensors)) {
    out.set(name, {
      name,
      dtype: GGUF_FLOAT[t.type] ?? 'GGML',
      shape: t.shape,
      file: t.file,
      offset: t.offset,
      byteLength: t.byteLength,
      ggml: { type: t.type, permutedHeads: t.permutedHeads },
    });
  }
  return out;
}

/** Checks that every required tensor exists with the right shape; returns where each one lives. */
export function resolveWeights(dir: string, spec: ModelSpec): Map<string, SourceTensor> {
  const tensors = listSourceTensors(dir);
  for (const w of requiredWeights(spec)) {
    const t = tensors.get(w.name);
    if (!t) {
      const gguf = readIndex(dir);
      if (gguf) {
        throw new ModelError(
          gguf.files[0]!.path,
          `holds no tensor for "${w.name}", which its ${gguf.architecture} architecture needs`,
          'The file is incomplete or not a model of that architecture: download it again',
        );
      }
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

/** [rows, K] of a block-quantized GGUF tensor (a 1-D one is one row), rows in HF order. */
function rowsOf(info: SourceTensor): { n: number; k: number; order?: Int32Array } {
  const [n, k] = info.shape.length === 1 ? [1, info.shape[0]!] : [info.shape[0]!, info.shape[1]!];
  const heads = info.ggml?.permutedHeads;
  return { n, k, order: heads && info.shape.length === 2 ? unpermutedOrder(n, heads) : undefined };
}

/** A block-quantized GGUF tensor decoded into codes, scales and mins (see gguf/quants.ts), rows in HF order. */
export function readQuantized(info: SourceTensor): DecodedRows {
  const format = QUANT_FORMATS[info.ggml!.type]!;
  const { n, k, order } = rowsOf(info);
  return decodeRows(format, readTensorBytes(info), n, k, order);
}

/** Raw little-endian bytes with llama.cpp's per-head row permutation undone (a bias is permuted like rows). */
function readBytes(info: SourceTensor): Buffer {
  const bytes = readTensorBytes(info);
  const heads = info.ggml?.permutedHeads;
  if (!heads) return bytes;
  const rows = info.shape[0]!;
  const rowBytes = bytes.byteLength / rows;
  const order = unpermutedOrder(rows, heads);
  const out = Buffer.allocUnsafe(bytes.byteLength);
  for (let r = 0; r < rows; r++) bytes.copy(out, r * rowBytes, order[r]! * rowBytes, (order[r]! + 1) * rowBytes);
  return out;
}

export function readAsFloat32(info: SourceTensor): Float32Array {
  if (info.dtype === 'GGML') return dequantize(readQuantized(info));
  const bytes = readBytes(info);
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
export function readAs(info: SourceTensor, dtype: WeightDtype): Uint8Array {
  if (dtype === 'fp16' && info.dtype === 'F16') return readBytes(info);
  const f32 = readAsFloat32(info);
  const out = dtype === 'fp32' ? f32 : f32ToF16(f32);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
