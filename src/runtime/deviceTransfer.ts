// Moves tensors between the host and a WebGPU device. onnxruntime-node can neither read a gpu-buffer tensor
// (`getData()` on one aborts the whole process) nor make one from host data, so both directions go through tiny
// weightless identity sessions on the WebGPU provider: the reader's outputs are on the CPU, the writer's on the
// device. Every provider session in a process shares one WebGPU device, so the writer's outputs feed the model's.
import * as ort from 'onnxruntime-node';
import { DataType, GraphBuilder } from '../graph/onnx.ts';
import type { GraphDtype } from '../graph/net.ts';
import type { KvCache } from './kv.ts';
import { openGraph } from './session.ts';

type Direction = 'toHost' | 'toDevice';

export class DeviceTransfer {
  /** Bytes this transfer moved across host ↔ device, both ways. */
  bytes = 0;
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(readonly dtype: GraphDtype) {}

  /** A copy of `t` in host memory. */
  async toHost(t: ort.Tensor): Promise<ort.Tensor> {
    if (t.location !== 'gpu-buffer') return t;
    const out = await this.copy('toHost', t);
    this.bytes += byteLength(out);
    return out;
  }

  /** A copy of `t` in device memory (a gpu-buffer tensor). */
  async toDevice(t: ort.Tensor): Promise<ort.Tensor> {
    if (t.location === 'gpu-buffer') return t;
    this.bytes += byteLength(t);
    return this.copy('toDevice', t);
  }

  /** The KV in host memory, layer by layer (the device copies stay; release them with `releaseKv`). */
  async kvToHost(kv: KvCache): Promise<KvCache> {
    const keys: ort.Tensor[] = [];
    const values: ort.Tensor[] = [];
    for (let l = 0; l < kv.keys.length; l++) {
      keys.push(await this.toHost(kv.keys[l]));
      values.push(await this.toHost(kv.values[l]));
    }
    return { keys, values, length: kv.length };
  }

  private async copy(direction: Direction, t: ort.Tensor): Promise<ort.Tensor> {
    const session = await this.session(direction, t.dims.length, t.type);
    const out = await session.run({ x: t });
    return out.y;
  }

  private session(direction: Direction, rank: number, elem: ort.Tensor.Type): Promise<ort.InferenceSession> {
    const key = `${direction}:${rank}:${elem}`;
    let s = this.sessions.get(key);
    if (!s) {
      const g = new GraphBuilder();
      // The KV's type, or another that a context input has (answer sources' int32 buckets and fp32 zeros).
      const types: Partial<Record<ort.Tensor.Type, (typeof DataType)[keyof typeof DataType]>> = {
        float16: DataType.FLOAT16,
        float32: DataType.FLOAT,
        int32: DataType.INT32,
        int64: DataType.INT64,
      };
      const type = types[elem] ?? (this.dtype === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT);
      const dims = Array.from({ length: rank }, (_, i) => `d${i}`);
      g.input('x', type, dims);
      g.alias(g.op('Identity', ['x']), 'y');
      g.output('y', type, dims);
      s = openGraph(g.toBytes(`kvzip_${direction}`), 'webgpu', { use: 'prefill', deviceOutputs: direction === 'toDevice' ? ['y'] : [] });
      this.sessions.set(key, s);
    }
    return s;
  }
}

/** Frees the device memory of a KV's gpu-buffer tensors now, rather than whenever the garbage collector runs. */
export function releaseKv(kv: KvCache): void {
  for (const t of [...kv.keys, ...kv.values]) if (t.location === 'gpu-buffer') t.dispose();
}

export function byteLength(t: ort.Tensor): number {
  const bytes = t.type === 'float16' ? 2 : t.type === 'int64' ? 8 : 4;
  return t.dims.reduce((a, b) => a * b, 1) * bytes;
}
