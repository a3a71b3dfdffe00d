// Native addon against the TypeScript reference on the conversion loops: 1 GiB of bf16 → fp32 (in 32 MiB chunks
// so memory stays bounded), fp32 → fp16 and int4 on smaller inputs. Writes bench/results/convert.json.
// Run: node --import tsx bench/convert.bench.ts   (build the addon first: npm run build:native)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocInt4 } from '../src/model/convert.ts';
import { nativeConverter, nativeLoadError, typescriptConverter, type Converter } from '../src/model/native.ts';

const GiB = 1024 ** 3;
const CHUNK = 16 * 1024 * 1024; // elements: 32 MiB of bf16

function fillRandom(u16: Uint16Array): void {
  // Plausible weights: bf16 of values around ±0.05, so no time goes to NaN-specific paths.
  let s = 12345;
  for (let i = 0; i < u16.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    u16[i] = ((s >>> 31) << 15) | (0x3c00 + ((s >>> 8) & 0x3ff)) | 0;
  }
}

function timeBf16(c: Converter, totalBytes: number, src: Uint16Array, dst: Float32Array): number {
  const chunks = totalBytes / 2 / CHUNK;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < chunks; i++) c.bf16ToF32Into(src, dst);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function timeF16(c: Converter, f32: Float32Array, out: Uint16Array): number {
  const t0 = process.hrtime.bigint();
  c.f32ToF16Into(f32, out);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function timeInt4(c: Converter, w: Float32Array, n: number, k: number, clipSearch: boolean): number {
  const out = allocInt4(n, k);
  const t0 = process.hrtime.bigint();
  c.quantizeInt4Into(w, out, { clipSearch });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const src = new Uint16Array(CHUNK);
fillRandom(src);
const dst = new Float32Array(CHUNK);
const converters = [typescriptConverter, ...(nativeConverter ? [nativeConverter] : [])];
// Warm both paths (JIT, page faults) before timing.
for (const c of converters) c.bf16ToF32Into(src, dst);

const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model,
  nativeBuilt: Boolean(nativeConverter),
  nativeLoadError,
};
const rows: Record<string, Record<string, number>> = {};

for (const c of converters) {
  const secs = timeBf16(c, GiB, src, dst);
  (rows.bf16ToF32_1GiB ??= {})[`${c.kind}_s`] = secs;
  rows.bf16ToF32_1GiB[`${c.kind}_GBps`] = GiB / secs / 1e9;
}

const f32 = new Float32Array(CHUNK);
typescriptConverter.bf16ToF32Into(src, f32);
const f16 = new Uint16Array(CHUNK);
for (const c of converters) (rows.f32ToF16_64MiB ??= {})[`${c.kind}_s`] = timeF16(c, f32, f16);

// A 4096×1024 Linear weight (4M elements) for int4, with and without the clip search.
const n = 4096;
const k = 1024;
const w = f32.subarray(0, n * k);
for (const clip of [false, true]) {
  const key = clip ? 'int4_clipSearch_4Mweights' : 'int4_rtn_4Mweights';
  for (const c of converters) (rows[key] ??= {})[`${c.kind}_s`] = timeInt4(c, w, n, k, clip);
}

for (const r of Object.values(rows)) if (r.native_s !== undefined) r.speedup = r.typescript_s! / r.native_s;
result.results = rows;

const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'convert.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
