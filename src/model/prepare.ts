// Converts a checkpoint once into the device's dtype as one external-data file (weights.bin) that every ONNX
// graph of the model references, and reuses it while the checkpoint is unchanged. With int4, every Linear weight
// (and the LM head) is stored as MatMulNBits blocks; norms and the embedding table stay in the float dtype.
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { loadModelSpec, type ModelSpec } from './config.ts';
import { throwIfAborted } from '../core/cancel.ts';
import { readAs, readAsFloat32, requiredWeights, resolveWeights, type WeightDtype } from './weights.ts';
import { f32ToF16, quantizeInt4 } from './native.ts';
import { INT4_PARTS, int4Block, isQuantizable } from './int4.ts';

/** Where one tensor's bytes lie in an external-data file (ONNX's `location`/`offset`/`length`). */
export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

export interface PreparedModel {
  dir: string;
  spec: ModelSpec;
  /** Activations, KV and non-quantized weights. */
  dtype: WeightDtype;
  /** Linear weights in int4 MatMulNBits blocks. */
  int4: boolean;
  /** Identifies the checkpoint's bytes: names, sizes, mtimes and headers of its weight files and config. */
  weightsHash: string;
  weight(name: string): ExternalRef;
}

interface WeightsIndex {
  version: number;
  source: string;
  dtype: WeightDtype;
  int4: boolean;
  bytes: number;
  tensors: Record<string, { offset: number; length: number }>;
}

// 3: int4 quantizes the embedding table, which a tied LM head shares (2 kept it float beside an int4 head copy).
const INDEX_VERSION = 3;
export const WEIGHTS_FILE = 'weights.bin';

export function checkpointHash(modelDir: string, spec: ModelSpec): string {
  const h = createHash('sha256');
  h.update(readFileSync(join(modelDir, 'config.json')));
  const files = new Set([...resolveWeights(modelDir, spec).values()].map((t) => t.file));
  for (const f of [...files].sort()) {
    const st = statSync(f);
    h.update(`${f}\0${st.size}\0${st.mtimeMs}\0`);
  }
  return h.digest('hex').slice(0, 32);
}

export interface PrepareOptions {
  modelDir: string;
  dtype: WeightDtype;
  int4?: boolean;
  /** Root under which prepared models live (one folder per checkpoint and dtype). */
  root: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export function prepareModel(o: PrepareOptions): PreparedModel {
  const modelDir = resolve(o.modelDir);
  const spec = loadModelSpec(modelDir);
  const tensors = resolveWeights(modelDir, spec);
  const weightsHash = checkpointHash(modelDir, spec);
  const int4 = o.int4 ?? false;
  const dir = join(o.root, `${weightsHash}-${o.dtype}${int4 ? '-int4' : ''}`);
  const indexFile = join(dir, 'weights.json');
  const make = (index: WeightsIndex): PreparedModel => ({
    dir,
    spec,
    dtype: o.dtype,
    int4,
    weightsHash,
    weight(name) {
      const t = index.tensors[name];
      if (!t) throw new Error(`internal: weight ${name} was not prepared`);
      return { location: WEIGHTS_FILE, offset: t.offset, length: t.length };
    },
  });
  if (existsSync(indexFile)) {
    try {
      const index = JSON.parse(readFileSync(indexFile, 'utf8')) as WeightsIndex;
      const size = statSync(join(dir, WEIGHTS_FILE)).size;
      if (
        index.version === INDEX_VERSION &&
        index.source === weightsHash &&
        index.dtype === o.dtype &&
        index.int4 === int4 &&
        size === index.bytes
      ) {
        return make(index);
      }
    } catch {
      // A damaged index is rebuilt below.
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${WEIGHTS_FILE}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  const index: WeightsIndex = { version: INDEX_VERSION, source: weightsHash, dtype: o.dtype, int4, bytes: 0, tensors: {} };
  const wanted = requiredWeights(spec);
  let offset = 0;
  const put = (name: string, view: ArrayBufferView) => {
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
    index.tensors[name] = { offset, length: bytes.byteLength };
    // Keep offsets 64-byte aligned so the runtime can map tensors without copies.
    const pad = (64 - (bytes.byteLength % 64)) % 64;
    if (pad) writeSync(fd, new Uint8Array(pad));
    offset += bytes.byteLength + pad;
  };
  try {
    wanted.forEach((w, i) => {
      throwIfAborted(o.signal);
      const source = tensors.get(w.name) ?? tensors.get('model.embed_tokens.weight')!;
      if (int4 && isQuantizable(w.name)) {
        const [n, k] = w.shape;
        const q = quantizeInt4(readAsFloat32(source), n, k, { blockSize: int4Block(w.name), clipSearch: true });
        put(w.name + INT4_PARTS.b, q.b);
        put(w.name + INT4_PARTS.scales, o.dtype === 'fp16' ? f32ToF16(q.scales) : q.scales);
        put(w.name + INT4_PARTS.zeroPoints, q.zeroPoints);
      } else {
        put(w.name, readAs(source, o.dtype));
      }
      o.onProgress?.(i + 1, wanted.length);
    });
    fsyncSync(fd);
    index.bytes = offset;
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, WEIGHTS_FILE));
  const indexTmp = `${indexFile}.${process.pid}.tmp`;
  writeFileSync(indexTmp, JSON.stringify(index), { mode: 0o600 });
  renameSync(indexTmp, indexFile);
  return make(index);
}
