// Streaming safetensors reader: parses headers, validates every offset against the file, and reads one
// tensor at a time, so a multi-GB checkpoint never sits in one buffer.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ModelError } from './errors.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  file: string;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

const MAX_HEADER = 100 * 1024 * 1024;

function readHeader(file: string): TensorInfo[] {
  const redownload = 'Download the checkpoint again';
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    throw new ModelError(file, 'cannot be opened', 'Check that the file exists and is readable');
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new ModelError(file, `is truncated (${size} bytes)`, redownload);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > MAX_HEADER || 8 + headerLen > size) {
      throw new ModelError(file, `has a header length (${headerLen}) beyond the file's ${size} bytes`, redownload);
    }
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch {
      throw new ModelError(file, 'has a header that is not valid JSON', redownload);
    }
    const dataStart = 8 + headerLen;
    const dataSize = size - dataStart;
    const out: TensorInfo[] = [];
    for (const [name, value] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof v.dtype !== 'string' || !(v.dtype in DTYPE_BYTES)) {
        throw new ModelError(
          file,
          `tensor "${name}" has dtype ${JSON.stringify(v.dtype)}; only F32, F16 and BF16 are supported`,
          'Use an unquantized checkpoint',
        );
      }
      const shape = v.shape;
      const offsets = v.data_offsets;
      if (
        !Array.isArray(shape) ||
        !shape.every((d) => Number.isInteger(d) && d >= 0) ||
        !Array.isArray(offsets) ||
        offsets.length !== 2 ||
        !offsets.every((o) => Number.isInteger(o) && o >= 0)
      ) {
        throw new ModelError(file, `tensor "${name}" has a malformed shape or data_offsets`, redownload);
      }
      const dtype = v.dtype as SafetensorsDtype;
      const [begin, end] = offsets as [number, number];
      const expected = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
      if (end < begin || end > dataSize || end - begin !== expected) {
        throw new ModelError(
          file,
          `tensor "${name}" claims bytes [${begin}, ${end}) but its shape needs ${expected} and the data section has ${dataSize}; the file is truncated or its header lies about offsets`,
          redownload,
        );
      }
      out.push({ name, dtype, shape: shape as number[], file, offset: dataStart + begin, byteLength: expected });
    }
    // The ranges must tile the data section exactly: no overlaps (two tensors reading the same bytes) and no gaps.
    let end = dataStart;
    for (const t of [...out].sort((a, b) => a.offset - b.offset)) {
      if (t.offset !== end) {
        throw new ModelError(
          file,
          `tensor "${t.name}" starts at byte ${t.offset - dataStart}, not where the previous tensor ends; the header lies about offsets`,
          redownload,
        );
      }
      end += t.byteLength;
    }
    if (end !== size)
      throw new ModelError(file, `has ${size - end} bytes after the last tensor; the header lies about offsets`, redownload);
    return out;
  } finally {
    closeSync(fd);
  }
}

/** All tensors of a checkpoint folder: one model.safetensors, a sharded index, or every *.safetensors. */
export function listTensors(dir: string): Map<string, TensorInfo> {
  const index = join(dir, 'model.safetensors.index.json');
  let files: string[];
  if (existsSync(index)) {
    let parsed: { weight_map?: Record<string, string> };
    try {
      parsed = JSON.parse(readFileSync(index, 'utf8'));
    } catch {
      throw new ModelError(index, 'is not valid JSON', 'Download the checkpoint again');
    }
    if (!parsed.weight_map || typeof parsed.weight_map !== 'object') {
      throw new ModelError(index, 'has no weight_map', 'Download the checkpoint again');
    }
    files = [...new Set(Object.values(parsed.weight_map))].map((f) => join(dir, f));
    for (const f of files) {
      if (!existsSync(f)) throw new ModelError(f, 'is listed in model.safetensors.index.json but missing', 'Download the missing shard');
    }
  } else {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .sort()
      .map((f) => join(dir, f));
    if (files.length === 0) {
      throw new ModelError(join(dir, 'model.safetensors'), 'not found', 'The folder needs the checkpoint weights (*.safetensors)');
    }
  }
  const all = new Map<string, TensorInfo>();
  for (const f of files) for (const t of readHeader(f)) all.set(t.name, t);
  return all;
}

/** Reads one tensor's raw bytes (little-endian, in its stored dtype). */
export function readTensorBytes(info: Pick<TensorInfo, 'name' | 'file' | 'offset' | 'byteLength'>): Buffer {
  const fd = openSync(info.file, 'r');
  try {
    const buf = Buffer.allocUnsafe(info.byteLength);
    let done = 0;
    while (done < info.byteLength) {
      // readSync reads at most 2 GiB at a time.
      const n = readSync(fd, buf, done, Math.min(info.byteLength - done, 1 << 30), info.offset + done);
      if (n === 0) throw new ModelError(info.file, `ended while reading tensor "${info.name}"`, 'Download the checkpoint again');
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}
