// Writes real safetensors files (and sharded checkpoints) so tests exercise the reader on the same bytes a
// Hugging Face checkpoint holds: 8-byte little-endian header length, JSON header with data_offsets relative to
// the data section, header padded with spaces to 8 bytes, tensors packed back to back.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { f32ToF16 } from '../../src/model/native.ts';
import type { SafetensorsDtype } from '../../src/model/safetensors.ts';

export interface TensorData {
  name: string;
  shape: number[];
  /** Values in fp32; converted to `dtype` on write. */
  data: Float32Array;
  dtype?: SafetensorsDtype;
}

/** fp32 → bf16 with round-to-nearest-even, as torch does. */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    if ((x & 0x7fffffff) > 0x7f800000) {
      out[i] = (x >>> 16) | 0x40; // keep NaN a NaN
      continue;
    }
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

function encodeData(t: TensorData): Uint8Array {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) throw new Error(`test bug: ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
  const dtype = t.dtype ?? 'F32';
  const arr = dtype === 'F32' ? t.data : dtype === 'F16' ? f32ToF16(t.data) : f32ToBf16(t.data);
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/** The bytes of one safetensors file. `header` lets a test tamper with the parsed header before encoding. */
export function encodeSafetensors(
  tensors: TensorData[],
  metadata: Record<string, string> = { format: 'pt' },
  header?: (h: Record<string, unknown>) => void,
): Buffer {
  const h: Record<string, unknown> = { __metadata__: metadata };
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = encodeData(t);
    h[t.name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  header?.(h);
  let json = JSON.stringify(h);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([len, headerBytes, ...blobs]);
}

export function writeSafetensors(file: string, tensors: TensorData[]): void {
  writeFileSync(file, encodeSafetensors(tensors));
}

/**
 * Splits tensors over `shards` files named like the Hub's (model-00001-of-00002.safetensors) and writes
 * model.safetensors.index.json mapping every tensor to its shard.
 */
export function writeShardedSafetensors(dir: string, tensors: TensorData[], shards: number): string[] {
  const per = Math.ceil(tensors.length / shards);
  const pad = (n: number) => String(n).padStart(5, '0');
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let s = 0; s < shards; s++) {
    const part = tensors.slice(s * per, (s + 1) * per);
    const name = `model-${pad(s + 1)}-of-${pad(shards)}.safetensors`;
    const bytes = encodeSafetensors(part);
    writeFileSync(join(dir, name), bytes);
    files.push(name);
    for (const t of part) weightMap[t.name] = name;
    totalSize += bytes.length;
  }
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2),
  );
  return files;
}
