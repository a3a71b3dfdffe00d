// A GGUF model's header: metadata and tensor infos of every shard, read with @huggingface/gguf (which reads the
// header only), with each tensor's absolute byte range checked against its file. Tensor data is read later by
// offset, one tensor at a time.
import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gguf, parseGgufShardFilename, type MetadataValue } from '@huggingface/gguf';
import { ModelError } from '../errors.ts';
import { ggmlTypeName, GGML, QUANT_FORMATS } from './quants.ts';

export interface GgufTensor {
  name: string;
  /** GGML type id. */
  type: number;
  /** GGUF dims, fastest first: [K, N] for a [N, K] matrix. */
  dims: number[];
  file: string;
  offset: number;
  byteLength: number;
}

export interface GgufModel {
  /** The shards, first to last. */
  files: string[];
  metadata: Record<string, MetadataValue>;
  tensors: Map<string, GgufTensor>;
}

const REDOWNLOAD = 'The file is damaged or incomplete: download it again';

/** Bytes of a tensor of `elems` elements of GGML type `type`, or undefined for a type we cannot read. */
function tensorBytes(type: number, elems: number, rowLength: number): number | undefined {
  if (type === GGML.F32) return elems * 4;
  if (type === GGML.F16 || type === GGML.BF16) return elems * 2;
  const f = QUANT_FORMATS[type];
  if (!f || rowLength % f.blockElems !== 0) return undefined;
  return (elems / f.blockElems) * f.blockBytes;
}

/** The shard files of a model given any one of them (or a single-file model). */
export function shardFiles(file: string): string[] {
  const shard = parseGgufShardFilename(basename(file));
  if (!shard) return [file];
  const total = Number(shard.total);
  const width = shard.total.length;
  return Array.from({ length: total }, (_, i) =>
    join(dirname(file), `${shard.prefix}-${String(i + 1).padStart(width, '0')}-of-${shard.total}.gguf`),
  );
}

async function readHeader(file: string) {
  try {
    return await gguf(file, { allowLocalFile: true });
  } catch (e) {
    throw new ModelError(file, `is not a readable GGUF file (${(e as Error).message})`, REDOWNLOAD);
  }
}

export async function readGguf(file: string): Promise<GgufModel> {
  const files = shardFiles(file);
  let metadata: Record<string, MetadataValue> | undefined;
  const tensors = new Map<string, GgufTensor>();
  for (const f of files) {
    let size: number;
    try {
      size = statSync(f).size;
    } catch {
      throw new ModelError(f, 'is missing', `Every shard of ${basename(files[0]!)} must sit beside it: download the missing one`);
    }
    const h = await readHeader(f);
    const meta = h.metadata as Record<string, MetadataValue>;
    metadata ??= meta;
    const alignment = metaNumber(meta, 'general.alignment') ?? 32;
    const base = Number(h.tensorDataOffset);
    for (const t of h.tensorInfos) {
      const dims = t.shape.map(Number);
      const elems = dims.reduce((a, b) => a * b, 1);
      const byteLength = tensorBytes(t.dtype, elems, dims[0]!);
      const offset = base + Number(t.offset);
      if (byteLength !== undefined && (offset + byteLength > size || Number(t.offset) % alignment !== 0)) {
        throw new ModelError(f, `tensor "${t.name}" lies outside the file's ${size} bytes`, REDOWNLOAD);
      }
      tensors.set(t.name, { name: t.name, type: t.dtype, dims, file: f, offset, byteLength: byteLength ?? -1 });
    }
  }
  return { files, metadata: metadata!, tensors };
}

/** Refuses a tensor whose type we cannot read, naming the type. */
export function checkReadable(t: GgufTensor): void {
  if (t.byteLength >= 0) return;
  const f = QUANT_FORMATS[t.type];
  throw new ModelError(
    t.file,
    f
      ? `tensor "${t.name}" has rows of ${t.dims[0]} elements, not a multiple of ${f.name}'s block of ${f.blockElems}`
      : `tensor "${t.name}" is ${ggmlTypeName(t.type)}, a type KVzip Code cannot read`,
    'Use a GGUF quantized as F16, BF16, Q8_0, Q6_K, Q5_K_M, Q5_0, Q4_K_M, Q4_1 or Q4_0',
  );
}

/** A metadata value of the expected kind, or undefined. */
export function metaNumber(m: Record<string, MetadataValue>, key: string): number | undefined {
  const v = m[key];
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
}

export function metaString(m: Record<string, MetadataValue>, key: string): string | undefined {
  const v = m[key];
  return typeof v === 'string' ? v : undefined;
}
