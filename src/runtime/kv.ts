// Host-side KV tensors as they cross the session boundary: [1, H_kv, T, D] per layer.
import * as ort from 'onnxruntime-node';
import type { ModelSpec } from '../model/config.ts';
import type { GraphDtype } from '../graph/net.ts';

export interface KvCache {
  keys: ort.Tensor[];
  values: ort.Tensor[];
  length: number;
}

export function tensorType(dtype: GraphDtype): 'float32' | 'float16' {
  return dtype === 'fp16' ? 'float16' : 'float32';
}

export function emptyKv(spec: ModelSpec, dtype: GraphDtype): KvCache {
  const dims = [1, spec.numKvHeads, 0, spec.headDim];
  const make = () =>
    dtype === 'fp16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
  return {
    keys: Array.from({ length: spec.numLayers }, make),
    values: Array.from({ length: spec.numLayers }, make),
    length: 0,
  };
}

/** Bytes of the KV's tensors that are in host memory (reading a gpu-buffer tensor's data would abort). */
export function hostKvBytes(kv: KvCache): number {
  let n = 0;
  for (const t of [...kv.keys, ...kv.values]) if (t.location !== 'gpu-buffer') n += (t.data as ArrayBufferView).byteLength;
  return n;
}
