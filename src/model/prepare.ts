// Converts a checkpoint once into the device's dtype as one external-data file (weights.bin) that every ONNX
// graph of the model references, and reuses it while the checkpoint is unchanged. With int4, every Linear weight
// (and the LM head) is stored as MatMulNBits blocks; norms and the embedding table stay in the float dtype.
import { createHash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadModelSpec, type ModelSpec } from './config.ts';
import { throwIfAborted } from '../core/cancel.ts';
import { PhaseTimes } from '../core/timings.ts';
import { ModelError } from './errors.ts';
import { BLOCK_BYTES, BlockHasher, checkBlocks, type CheckMode } from './contentCheck.ts';
import { readAs, readAsFloat32, readQuantized, requiredWeights, resolveWeights, type SourceTensor, type WeightDtype } from './weights.ts';
import { f32ToF16, quantizeInt4 } from './native.ts';
import { int4Block, int4WeightLayout, isQuantizable, NBITS_PARTS, type NBitsLayout } from './int4.ts';
import { toNBits } from './gguf/quants.ts';

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
  /** Some weights are MatMulNBits blocks: int4, or a GGUF's own quantization kept as it is. */
  quantized: boolean;
  /** Identifies the checkpoint's bytes: its config and the content of its weight files. */
  weightsHash: string;
  /** Identifies the prepared bytes and their layout (the index's checksum, which covers every block's hash). */
  contentHash: string;
  weight(name: string): ExternalRef;
  /** How a quantized weight is stored, or undefined for a float one. */
  layout(name: string): NBitsLayout | undefined;
  /**
   * Checks a weights file (the prepared one by default, or a copy of it in a cache generation) against the
   * hashes written at preparation. Returns what is wrong, or undefined.
   */
  check(mode: CheckMode, file?: string): string | undefined;
}

interface WeightsIndex {
  version: number;
  source: string;
  dtype: WeightDtype;
  int4: boolean;
  dequantize: boolean;
  bytes: number;
  tensors: Record<string, { offset: number; length: number }>;
  /** Quantized weights' layouts, by weight name. */
  layouts: Record<string, NBitsLayout>;
  /** Hash of each BLOCK_BYTES block of weights.bin, the last one short. */
  blocks: string[];
  /** sha256 of this index without this field: an edited or swapped tensor entry is caught. */
  checksum: string;
}

// 3: int4 quantizes the embedding table, which a tied LM head shares (2 kept it float beside an int4 head copy).
// 4: block hashes of weights.bin and a checksum of the index itself.
// 5: per-weight MatMulNBits layouts (GGUF formats kept as they are), neutral part names.
const INDEX_VERSION = 5;
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Identifies the checkpoint by content: config.json and the sha256 of every weight file. A file's sum is kept in
 * `<root>/checkpoint-sums.json` under its identity (inode, size, mtime, ctime), so it is computed again only when
 * the file may have changed, including a change that kept its size and modification time.
 */
export function checkpointHash(modelDir: string, spec: ModelSpec, root: string): string {
  const h = createHash('sha256');
  h.update(readFileSync(join(modelDir, 'config.json')));
  const files = new Set([...resolveWeights(modelDir, spec).values()].map((t) => t.file));
  const sumsFile = join(root, 'checkpoint-sums.json');
  const sums = readSums(sumsFile);
  let changed = false;
  for (const f of [...files].sort()) {
    const st = statSync(f);
    const stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    if (sums[f]?.stamp !== stamp) {
      sums[f] = { stamp, sha256: sha256Of(f) };
      changed = true;
    }
    h.update(`${basename(f)}\0${st.size}\0${sums[f].sha256}\0`);
  }
  if (changed) writeSums(sumsFile, sums);
  return h.digest('hex').slice(0, 32);
}

type Sums = Record<string, { stamp: string; sha256: string }>;

function readSums(file: string): Sums {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof s === 'object' && s !== null && !Array.isArray(s) ? (s as Sums) : {};
  } catch {
    return {};
  }
}

function writeSums(file: string, sums: Sums): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(sums), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // Only a shortcut: the sums are computed again next time.
  }
}

function sha256Of(file: string): string {
  const h = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(BLOCK_BYTES);
    for (let n; (n = readSync(fd, buf, 0, buf.byteLength, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

export interface PrepareOptions {
  modelDir: string;
  dtype: WeightDtype;
  int4?: boolean;
  /** A GGUF's quantized weights as floats instead of their own blocks (a benchmark's fp32 side). */
  dequantize?: boolean;
  /** Root under which prepared models live (one folder per checkpoint and dtype). */
  root: string;
  /** How prepared weights already on disk are checked before reuse: `full` reads every byte (default `quick`). */
  check?: CheckMode;
  /** Where the check of weights already prepared is timed. */
  times?: PhaseTimes;
  /** Called before the weights are converted (none are prepared, or they failed their check); throws to refuse. */
  beforeConverting?: () => void;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

const indexChecksum = (index: Omit<WeightsIndex, 'checksum'>) =>
  createHash('sha256')
    .update(JSON.stringify({ ...index, checksum: undefined }))
    .digest('hex')
    .slice(0, 32);

export function prepareModel(o: PrepareOptions): PreparedModel {
  const modelDir = resolve(o.modelDir);
  const spec = loadModelSpec(modelDir);
  const tensors = resolveWeights(modelDir, spec);
  const weightsHash = checkpointHash(modelDir, spec, o.root);
  const int4 = o.int4 ?? false;
  const dequantize = o.dequantize ?? false;
  const dir = join(o.root, `${weightsHash}-${o.dtype}${int4 ? '-int4' : ''}${dequantize ? '-dequantized' : ''}`);
  const indexFile = join(dir, 'weights.json');
  const weightsFile = join(dir, WEIGHTS_FILE);
  const make = (index: WeightsIndex): PreparedModel => ({
    dir,
    spec,
    dtype: o.dtype,
    int4,
    quantized: Object.keys(index.layouts).length > 0,
    weightsHash,
    contentHash: index.checksum,
    weight(name) {
      const t = index.tensors[name];
      if (!t) throw new Error(`internal: weight ${name} was not prepared`);
      return { location: WEIGHTS_FILE, offset: t.offset, length: t.length };
    },
    layout: (name) => index.layouts[name],
    check(mode, file = weightsFile) {
      // The stamp of the last full check lives beside the file it describes (one per generation for copies).
      return checkBlocks(file, index.blocks, index.bytes, mode, `${file}.checked`);
    },
  });
  const existing = readIndex(indexFile);
  if (
    existing &&
    existing.version === INDEX_VERSION &&
    existing.source === weightsHash &&
    existing.dtype === o.dtype &&
    existing.int4 === int4 &&
    existing.dequantize === dequantize
  ) {
    const prepared = make(existing);
    // Anything wrong with the prepared file (truncated, a flipped bit) means preparing it again, below.
    if (!(o.times ?? new PhaseTimes()).timeSync('weightsCheck', () => prepared.check(o.check ?? 'quick'))) return prepared;
  }
  o.beforeConverting?.();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${WEIGHTS_FILE}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  const hasher = new BlockHasher();
  const tensorsOut: WeightsIndex['tensors'] = {};
  const layouts: WeightsIndex['layouts'] = {};
  const scalesOf = (f: Float32Array) => (o.dtype === 'fp16' ? f32ToF16(f) : f);
  const wanted = requiredWeights(spec);
  let offset = 0;
  const write = (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
    hasher.update(bytes);
  };
  const put = (name: string, view: ArrayBufferView) => {
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    write(bytes);
    tensorsOut[name] = { offset, length: bytes.byteLength };
    // Keep offsets 64-byte aligned so the runtime can map tensors without copies.
    const pad = (64 - (bytes.byteLength % 64)) % 64;
    if (pad) write(new Uint8Array(pad));
    offset += bytes.byteLength + pad;
  };
  let finished = false;
  try {
    wanted.forEach((w, i) => {
      throwIfAborted(o.signal);
      const source = tensors.get(w.name) ?? tensors.get('model.embed_tokens.weight')!;
      if (source.dtype === 'GGML' && !dequantize && isQuantizable(w.name)) {
        // A GGUF's blocks are repacked as they are: the graph multiplies exactly the numbers the file holds.
        const d = readQuantized(source);
        finite(source, d.scales);
        finite(source, d.mins);
        const q = toNBits(d);
        put(w.name + NBITS_PARTS.b, q.b);
        put(w.name + NBITS_PARTS.scales, scalesOf(q.scales));
        if (q.zeroPoints) put(w.name + NBITS_PARTS.zeroPoints, q.zeroPoints);
        if (q.mins) put(w.name + NBITS_PARTS.mins, scalesOf(q.mins));
        layouts[w.name] = {
          bits: d.format.bits,
          block: d.format.subBlock,
          zeroPoints: q.zeroPoints !== undefined,
          zeroPoint: d.format.zeroPoint,
          mins: q.mins !== undefined,
        };
      } else if (int4 && isQuantizable(w.name)) {
        const [n, k] = w.shape;
        const q = quantizeInt4(finite(source, readAsFloat32(source)), n, k, { blockSize: int4Block(w.name), clipSearch: true });
        put(w.name + NBITS_PARTS.b, q.b);
        put(w.name + NBITS_PARTS.scales, scalesOf(q.scales));
        put(w.name + NBITS_PARTS.zeroPoints, q.zeroPoints);
        layouts[w.name] = int4WeightLayout(w.name);
      } else {
        put(w.name, finite(source, readAs(source, o.dtype), o.dtype));
      }
      o.onProgress?.(i + 1, wanted.length);
    });
    fsyncSync(fd);
    finished = true;
  } finally {
    closeSync(fd);
    // A failed preparation (full disk, a bad tensor, cancelled) leaves no temporary file behind.
    if (!finished) rmSync(tmp, { force: true });
  }
  const unsigned = {
    version: INDEX_VERSION,
    source: weightsHash,
    dtype: o.dtype,
    int4,
    dequantize,
    bytes: offset,
    tensors: tensorsOut,
    layouts,
    blocks: hasher.finish(),
  };
  const index: WeightsIndex = { ...unsigned, checksum: indexChecksum(unsigned) };
  renameSync(tmp, weightsFile);
  const indexTmp = `${indexFile}.${process.pid}.tmp`;
  try {
    writeFileSync(indexTmp, JSON.stringify(index), { mode: 0o600 });
    renameSync(indexTmp, indexFile);
  } catch (e) {
    rmSync(indexTmp, { force: true });
    throw e;
  }
  return make(index);
}

/** The index, when it parses and its checksum holds; anything else is prepared again. */
function readIndex(file: string): WeightsIndex | undefined {
  try {
    const index = JSON.parse(readFileSync(file, 'utf8')) as WeightsIndex;
    return typeof index === 'object' && index !== null && Array.isArray(index.blocks) && index.checksum === indexChecksum(index)
      ? index
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a tensor holding NaN or infinity: every answer would be garbage. fp16 data is tested on its exponent
 * bits (all ones), fp32 on the values.
 */
function finite<T extends Float32Array | Uint8Array>(source: SourceTensor, data: T, dtype: WeightDtype = 'fp32'): T {
  let bad = 0;
  if (dtype === 'fp16') {
    const u = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    for (let i = 0; i < u.length; i++) if ((u[i]! & 0x7c00) === 0x7c00) bad++;
  } else {
    const f = data instanceof Float32Array ? data : new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
    for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i]!)) bad++;
  }
  if (bad > 0) {
    throw new ModelError(
      source.file,
      `tensor "${source.name}" holds ${bad} NaN or infinite value${bad === 1 ? '' : 's'}, so every answer would be garbage`,
      'The checkpoint is damaged or was saved from a diverged training run: download or export it again',
    );
  }
  return data;
}
