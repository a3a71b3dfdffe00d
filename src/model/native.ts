// The conversion loops from the native addon when it is built (npm run build:native), else from the TypeScript
// reference; both give identical bits, so callers never need to know which one ran.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ts from './convert.ts';
import type { Int4Options, Int4Weight } from './convert.ts';

interface Addon {
  bf16ToF32(src: Uint16Array, dst: Float32Array): void;
  f16ToF32(src: Uint16Array, dst: Float32Array): void;
  f32ToF16(src: Float32Array, dst: Uint16Array): void;
  quantizeInt4(
    w: Float32Array,
    n: number,
    k: number,
    blockSize: number,
    clipSearch: boolean,
    b: Uint8Array,
    scales: Float32Array,
    zeroPoints: Uint8Array,
  ): number;
}

export interface Converter {
  kind: 'native' | 'typescript';
  bf16ToF32Into(src: Uint16Array, dst: Float32Array): void;
  f16ToF32Into(src: Uint16Array, dst: Float32Array): void;
  f32ToF16Into(src: Float32Array, dst: Uint16Array): void;
  quantizeInt4Into(w: Float32Array, out: Int4Weight, opts?: Pick<Int4Options, 'clipSearch'>): void;
}

export const ADDON_FILE = join('native', 'build', 'Release', 'kvzip_native.node');

/** Looks for the addon above this module: src/model/ in the repo, dist/ in a bundle. */
function findAddon(): string | undefined {
  const env = process.env.KVZIP_NATIVE;
  if (env === '0') return undefined;
  if (env && existsSync(env)) return env;
  let dir = typeof import.meta.url === 'string' ? dirname(fileURLToPath(import.meta.url)) : process.cwd();
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

function load(): { addon?: Addon; error?: string } {
  const path = findAddon();
  if (!path) return {};
  try {
    return { addon: createRequire(join(process.cwd(), 'index.js'))(path) as Addon };
  } catch (err) {
    // A stale build (other Node ABI, other platform) must not stop the engine: the TypeScript path still works.
    return { error: `${path}: ${(err as Error).message}` };
  }
}

const loaded = load();
/** Why the addon is not used, when it was found but failed to load. */
export const nativeLoadError: string | undefined = loaded.error;

export const typescriptConverter: Converter = {
  kind: 'typescript',
  bf16ToF32Into: ts.bf16ToF32Into,
  f16ToF32Into: ts.f16ToF32Into,
  f32ToF16Into: ts.f32ToF16Into,
  quantizeInt4Into: ts.quantizeInt4Into,
};

function wrap(a: Addon): Converter {
  return {
    kind: 'native',
    bf16ToF32Into: (src, dst) => a.bf16ToF32(src, dst),
    f16ToF32Into: (src, dst) => a.f16ToF32(src, dst),
    f32ToF16Into: (src, dst) => a.f32ToF16(src, dst),
    quantizeInt4Into: (w, out, opts = {}) => {
      if (w.length !== out.n * out.k) throw new RangeError(`int4: weight has ${w.length} elements, expected ${out.n}×${out.k}`);
      const bad = a.quantizeInt4(w, out.n, out.k, out.blockSize, opts.clipSearch !== false, out.b, out.scales, out.zeroPoints);
      if (bad >= 0) throw new RangeError(`int4: non-finite weight at row ${Math.floor(bad / out.k)}, column ${bad % out.k}`);
    },
  };
}

/** The addon's functions, or undefined when it is not built (or failed to load: see nativeLoadError). */
export const nativeConverter: Converter | undefined = loaded.addon ? wrap(loaded.addon) : undefined;

/** What weight preparation should call. */
export const converter: Converter = nativeConverter ?? typescriptConverter;

export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  converter.bf16ToF32Into(src, out);
  return out;
}

export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  converter.f16ToF32Into(src, out);
  return out;
}

export function f32ToF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  converter.f32ToF16Into(src, out);
  return out;
}

/** W[N, K] (row-major fp32, a Linear weight out × in) → MatMulNBits inputs B, scales, zero points. */
export function quantizeInt4(w: Float32Array, n: number, k: number, opts: Int4Options = {}): Int4Weight {
  const out = ts.allocInt4(n, k, opts.blockSize ?? 32);
  converter.quantizeInt4Into(w, out, opts);
  return out;
}
