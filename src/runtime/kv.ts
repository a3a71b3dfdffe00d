// Host-side KV tensors as they cross the session boundary: [1, H_kv, capacity, D] per layer, of which positions
// [0, length) hold the cache. The dense graph takes the past as it is (its `past_length` says how much of it is
// valid) and returns only the new positions, which are written into spare capacity here: a decode step then
// moves a few rows instead of the whole past KV in and out (on the CPU the past is fed without a copy).
import * as ort from 'onnxruntime-node';
import type { ModelSpec } from '../model/config.ts';
import type { GraphDtype } from '../graph/net.ts';

export interface KvCache {
  keys: ort.Tensor[];
  values: ort.Tensor[];
  length: number;
  /**
   * Shared by every cache over the same buffers: how many positions have been written into them. A cache shorter
   * than that is an earlier state another run has grown past, so appending to it copies the buffers first.
   */
  written?: { length: number };
}

/** Spare positions a grown dense KV gets on the CPU: one prefill chunk, so decode steps grow it in place. */
export const CPU_SPARE_KV = 512;

export function tensorType(dtype: GraphDtype): 'float32' | 'float16' {
  return dtype === 'fp16' ? 'float16' : 'float32';
}

type Elems = Float32Array | Uint16Array;

function alloc(dtype: GraphDtype, n: number): Elems {
  return dtype === 'fp16' ? new Uint16Array(n) : new Float32Array(n);
}

export function emptyKv(spec: ModelSpec, dtype: GraphDtype): KvCache {
  const dims = [1, spec.numKvHeads, 0, spec.headDim];
  const make = () => new ort.Tensor(tensorType(dtype), alloc(dtype, 0), dims);
  return {
    keys: Array.from({ length: spec.numLayers }, make),
    values: Array.from({ length: spec.numLayers }, make),
    length: 0,
    written: { length: 0 },
  };
}

/** Positions each head's rows are laid out for (the tensors' third dimension). */
export function kvCapacity(kv: KvCache): number {
  return kv.keys[0]?.dims[2] ?? 0;
}

/**
 * `past` followed by the new rows ([1, H_kv, S, D] per layer). Written in place when `past` is the latest state of
 * its buffers and they have room; otherwise into new buffers with room for `spare` more positions.
 */
export function appendKv(past: KvCache, newKeys: ort.Tensor[], newValues: ort.Tensor[], spare: number): KvCache {
  const S = newKeys[0].dims[2];
  const length = past.length + S;
  const cap = kvCapacity(past);
  const latest = past.written !== undefined && past.written.length === past.length;
  // No spare room asked for: the caller wants buffers of exactly the valid positions (a device that copies inputs).
  const inPlace = spare > 0 && latest && length <= cap;
  const into = (old: ort.Tensor, add: ort.Tensor): ort.Tensor => {
    const [, H, , D] = old.dims;
    const src = add.data as Elems;
    let dst = old.data as Elems;
    let stride = cap;
    let target = old;
    if (!inPlace) {
      stride = length + spare;
      dst = alloc(old.type === 'float16' ? 'fp16' : 'fp32', H * stride * D);
      for (let h = 0; h < H; h++) dst.set((old.data as Elems).subarray(h * cap * D, (h * cap + past.length) * D), h * stride * D);
      target = new ort.Tensor(old.type as 'float32' | 'float16', dst, [1, H, stride, D]);
    }
    for (let h = 0; h < H; h++) dst.set(src.subarray(h * S * D, (h + 1) * S * D), (h * stride + past.length) * D);
    return target;
  };
  const keys = past.keys.map((t, l) => into(t, newKeys[l]));
  const values = past.values.map((t, l) => into(t, newValues[l]));
  const written = inPlace ? past.written! : { length: 0 };
  written.length = length;
  return { keys, values, length, written };
}

/**
 * Host KV of positions `runs` ([from, to) each, in order) of `kv`, in new buffers of exactly that length: a
 * shortened past whose keys keep the positions they were roped at.
 */
export function gatherKv(kv: KvCache, runs: [number, number][]): KvCache {
  const length = runs.reduce((n, [from, to]) => n + to - from, 0);
  const cap = kvCapacity(kv);
  const gather = (t: ort.Tensor): ort.Tensor => {
    const [, H, , D] = t.dims;
    const src = t.data as Elems;
    const dst = alloc(t.type === 'float16' ? 'fp16' : 'fp32', H * length * D);
    for (let h = 0, at = 0; h < H; h++)
      for (const [from, to] of runs) {
        dst.set(src.subarray((h * cap + from) * D, (h * cap + to) * D), at);
        at += (to - from) * D;
      }
    return new ort.Tensor(t.type as 'float32' | 'float16', dst, [1, H, length, D]);
  };
  return { keys: kv.keys.map(gather), values: kv.values.map(gather), length, written: { length } };
}

/** Bytes of the KV's tensors that are in host memory (reading a gpu-buffer tensor's data would abort). */
export function hostKvBytes(kv: KvCache): number {
  let n = 0;
  for (const t of [...kv.keys, ...kv.values]) if (t.location !== 'gpu-buffer') n += (t.data as ArrayBufferView).byteLength;
  return n;
}
