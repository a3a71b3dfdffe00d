// Writes real GGUF v3 files, as llama.cpp lays them out: magic "GGUF", version 3, tensor and key-value counts
// (uint64), the key-value pairs, the tensor infos (name, dims fastest first, GGML type, offset into the data
// section), zero padding to the alignment (general.alignment, else 32), then each tensor's bytes at its aligned
// offset. Tensor bytes default to zeros of the size the type's blocks need.
import { writeFileSync } from 'node:fs';
import { GGMLQuantizationType, GGUFValueType } from '@huggingface/gguf';

/** A metadata value: strings, booleans and arrays of strings are typed by themselves; numbers say their type. */
export type GgufValue = string | boolean | string[] | { type: GGUFValueType; value: number | bigint | number[] };

export const u32 = (value: number): GgufValue => ({ type: GGUFValueType.UINT32, value });
export const f32 = (value: number): GgufValue => ({ type: GGUFValueType.FLOAT32, value });
export const i32s = (value: number[]): GgufValue => ({ type: GGUFValueType.ARRAY, value });

export interface GgufTensorSpec {
  name: string;
  /** GGUF order, fastest first: [K, N] for an [N, K] matrix. */
  dims: number[];
  type: GGMLQuantizationType;
  data?: Uint8Array;
}

/** Elements per block and bytes per block of the types tests write. */
export const BLOCKS: Partial<Record<GGMLQuantizationType, [number, number]>> = {
  [GGMLQuantizationType.F32]: [1, 4],
  [GGMLQuantizationType.F16]: [1, 2],
  [GGMLQuantizationType.BF16]: [1, 2],
  [GGMLQuantizationType.Q4_0]: [32, 18],
  [GGMLQuantizationType.Q4_1]: [32, 20],
  [GGMLQuantizationType.Q5_0]: [32, 22],
  [GGMLQuantizationType.Q8_0]: [32, 34],
  [GGMLQuantizationType.Q4_K]: [256, 144],
  [GGMLQuantizationType.Q6_K]: [256, 210],
  [GGMLQuantizationType.IQ4_NL]: [32, 18],
};

export function tensorBytes(type: GGMLQuantizationType, dims: number[]): number {
  const block = BLOCKS[type];
  if (!block) throw new Error(`test bug: no block size for GGML type ${type}`);
  const elems = dims.reduce((a, b) => a * b, 1);
  if (dims[0]! % block[0] !== 0) throw new Error(`test bug: a row of ${dims[0]} is not whole blocks of ${block[0]}`);
  return (elems / block[0]) * block[1];
}

class Out {
  private readonly parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    if (n) this.push(Buffer.alloc(n));
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function scalar(out: Out, type: GGUFValueType, v: number | bigint): void {
  const b = Buffer.alloc(8);
  const n = Number(v);
  switch (type) {
    case GGUFValueType.UINT8:
      return out.push(Buffer.from([n]));
    case GGUFValueType.INT8:
      b.writeInt8(n);
      return out.push(b.subarray(0, 1));
    case GGUFValueType.UINT16:
      b.writeUInt16LE(n);
      return out.push(b.subarray(0, 2));
    case GGUFValueType.INT16:
      b.writeInt16LE(n);
      return out.push(b.subarray(0, 2));
    case GGUFValueType.UINT32:
      return out.u32(n);
    case GGUFValueType.INT32:
      b.writeInt32LE(n);
      return out.push(b.subarray(0, 4));
    case GGUFValueType.FLOAT32:
      b.writeFloatLE(n);
      return out.push(b.subarray(0, 4));
    case GGUFValueType.UINT64:
      return out.u64(v);
    case GGUFValueType.INT64:
      b.writeBigInt64LE(BigInt(v));
      return out.push(b);
    case GGUFValueType.FLOAT64:
      b.writeDoubleLE(n);
      return out.push(b);
    default:
      throw new Error(`test bug: ${type} is not a scalar GGUF type`);
  }
}

function value(out: Out, v: GgufValue): void {
  if (typeof v === 'string') {
    out.u32(GGUFValueType.STRING);
    out.str(v);
  } else if (typeof v === 'boolean') {
    out.u32(GGUFValueType.BOOL);
    out.push(Buffer.from([v ? 1 : 0]));
  } else if (Array.isArray(v)) {
    out.u32(GGUFValueType.ARRAY);
    out.u32(GGUFValueType.STRING);
    out.u64(v.length);
    for (const s of v) out.str(s);
  } else if (Array.isArray(v.value)) {
    // Arrays of numbers: i32s() writes INT32 elements.
    out.u32(GGUFValueType.ARRAY);
    out.u32(GGUFValueType.INT32);
    out.u64(v.value.length);
    for (const n of v.value) scalar(out, GGUFValueType.INT32, n);
  } else {
    out.u32(v.type);
    scalar(out, v.type, v.value);
  }
}

/** The bytes of one GGUF file. */
export function encodeGguf(metadata: Record<string, GgufValue>, tensors: GgufTensorSpec[] = []): Buffer {
  const alignmentValue = metadata['general.alignment'];
  const alignment = typeof alignmentValue === 'object' && !Array.isArray(alignmentValue) ? Number(alignmentValue.value) : 32;
  const out = new Out();
  out.push(Buffer.from('GGUF', 'latin1'));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(Object.keys(metadata).length);
  for (const [k, v] of Object.entries(metadata)) {
    out.str(k);
    value(out, v);
  }
  const datas = tensors.map((t) => {
    const n = tensorBytes(t.type, t.dims);
    if (t.data && t.data.length !== n) throw new Error(`test bug: ${t.name} has ${t.data.length} bytes, its type and dims need ${n}`);
    return t.data ? Buffer.from(t.data) : Buffer.alloc(n);
  });
  let offset = 0;
  tensors.forEach((t, i) => {
    out.str(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(t.type);
    out.u64(offset);
    offset += datas[i]!.length;
    offset += (alignment - (offset % alignment)) % alignment;
  });
  out.pad(alignment);
  for (const d of datas) {
    out.push(d);
    out.pad(alignment);
  }
  return out.bytes();
}

export function writeGguf(file: string, metadata: Record<string, GgufValue>, tensors: GgufTensorSpec[] = []): Buffer {
  const bytes = encodeGguf(metadata, tensors);
  writeFileSync(file, bytes);
  return bytes;
}

/** The tensors of a tiny Llama-shaped model: embedding, one block, norm; `type` for its matrices. */
export function tinyLlamaTensors(
  o: { hidden?: number; ffn?: number; vocab?: number; layers?: number; type?: GGMLQuantizationType } = {},
): GgufTensorSpec[] {
  const { hidden = 64, ffn = 128, vocab = 96, layers = 1, type = GGMLQuantizationType.Q8_0 } = o;
  const t: GgufTensorSpec[] = [{ name: 'token_embd.weight', dims: [hidden, vocab], type }];
  for (let l = 0; l < layers; l++) {
    t.push(
      { name: `blk.${l}.attn_norm.weight`, dims: [hidden], type: GGMLQuantizationType.F32 },
      { name: `blk.${l}.attn_q.weight`, dims: [hidden, hidden], type },
      { name: `blk.${l}.attn_k.weight`, dims: [hidden, hidden], type },
      { name: `blk.${l}.attn_v.weight`, dims: [hidden, hidden], type },
      { name: `blk.${l}.attn_output.weight`, dims: [hidden, hidden], type },
      { name: `blk.${l}.ffn_norm.weight`, dims: [hidden], type: GGMLQuantizationType.F32 },
      { name: `blk.${l}.ffn_gate.weight`, dims: [hidden, ffn], type },
      { name: `blk.${l}.ffn_up.weight`, dims: [hidden, ffn], type },
      { name: `blk.${l}.ffn_down.weight`, dims: [ffn, hidden], type },
    );
  }
  t.push({ name: 'output_norm.weight', dims: [hidden], type: GGMLQuantizationType.F32 });
  return t;
}

/** The number of elements in tensors: a model's parameter count. */
export function parameterCount(tensors: GgufTensorSpec[]): number {
  return tensors.reduce((n, t) => n + t.dims.reduce((a, b) => a * b, 1), 0);
}
