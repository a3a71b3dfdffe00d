// A model made ready for one device: prepared weights, tokenizer, and the dense session (opened lazily,
// since answering from a cache never needs it).
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Device } from './protocol.ts';
import { loadModelSpec } from '../model/config.ts';
import { prepareModel, WEIGHTS_FILE, type PreparedModel } from '../model/prepare.ts';
import { ropeFrequencies, type Rope } from '../model/rope.ts';
import { ModelTokenizer } from '../model/tokenizer.ts';
import { buildGraph, type BakedHead } from '../graph/transformer.ts';
import { chooseDevice, openSession, weightDtype, type Backend, type DeviceChoice } from '../runtime/session.ts';
import type { WebGpuAdapter } from '../runtime/webgpu.ts';
import { ForwardSession } from '../runtime/decoder.ts';

export interface LoadedModel {
  dir: string;
  prepared: PreparedModel;
  tokenizer: ModelTokenizer;
  tokenizerHash: string;
  rope: Rope;
  device: Backend;
  deviceReason?: string;
  /** The WebGPU adapter, when the device is WebGPU. */
  adapter?: WebGpuAdapter;
  dense(): Promise<ForwardSession>;
  /** Closes the dense session, if open, freeing its copy of the weights (the next dense() opens it again). */
  releaseDense(): Promise<void>;
  /** Opens a compressed decode session for a cache generation folder (which holds kv.bin and decode.onnx). */
  compressed(genDir: string, sequenceLength: number): Promise<ForwardSession>;
  buildCompressedGraph(baked: BakedHead[][]): Uint8Array;
  /** Puts the prepared weights into `dir`: onnxruntime refuses external data outside a model's own folder. */
  linkWeights(dir: string): void;
}

export interface LoadOptions {
  modelDir: string;
  device: Device;
  int4?: boolean;
  /** Where prepared weights live (per checkpoint and dtype). */
  preparedRoot: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function loadModel(o: LoadOptions): Promise<LoadedModel> {
  const dir = resolve(o.modelDir);
  const spec = loadModelSpec(dir);
  const tokenizer = ModelTokenizer.load(dir, spec.eosTokenIds);
  const tokenizerHash = createHash('sha256')
    .update(readFileSync(join(dir, 'tokenizer.json')))
    .update(readFileSync(join(dir, 'tokenizer_config.json')))
    .digest('hex')
    .slice(0, 16);
  let choice: DeviceChoice = chooseDevice(o.device);
  const prepare = (dtype: 'fp32' | 'fp16') =>
    prepareModel({ modelDir: dir, dtype, int4: o.int4, root: o.preparedRoot, signal: o.signal, onProgress: o.onProgress });
  let prepared = prepare(weightDtype(choice));
  const rope = ropeFrequencies(spec);
  const denseFile = (p: PreparedModel) => {
    // Built each time (milliseconds) so a graph from an older version of this code is never reused.
    const f = join(p.dir, 'dense.onnx');
    const bytes = buildGraph({ spec, rope, dtype: p.dtype, int4: p.int4, weight: (n) => p.weight(n) });
    if (!existsSync(f) || !readFileSync(f).equals(bytes)) {
      const tmp = `${f}.${process.pid}.tmp`;
      writeFileSync(tmp, bytes, { mode: 0o600 });
      renameSync(tmp, f);
    }
    return f;
  };
  const fallbackToCpu = () => {
    prepared = prepare('fp32');
    return denseFile(prepared);
  };
  let dense: ForwardSession | undefined;
  const model: LoadedModel = {
    dir,
    get prepared() {
      return prepared;
    },
    tokenizer,
    tokenizerHash,
    rope,
    get device() {
      return choice.device;
    },
    get deviceReason() {
      return choice.reason;
    },
    get adapter() {
      return choice.adapter;
    },
    async dense() {
      if (!dense) {
        const opened = await openSession(denseFile(prepared), choice, fallbackToCpu);
        choice = { device: opened.device, reason: opened.reason, adapter: opened.device === 'webgpu' ? choice.adapter : undefined };
        dense = new ForwardSession(opened.session, spec, prepared.dtype);
      }
      return dense;
    },
    async releaseDense() {
      const open = dense;
      dense = undefined;
      await open?.session.release();
    },
    async compressed(genDir, sequenceLength) {
      const opened = await openSession(
        join(genDir, 'decode.onnx'),
        choice,
        () => {
          throw new Error(`${choice.device === 'cuda' ? 'CUDA' : 'WebGPU'} failed for a cache built for it; rebuild the cache on the CPU with --device cpu`);
        },
        { use: 'answer', int4: prepared.int4 },
      );
      return new ForwardSession(opened.session, spec, prepared.dtype, sequenceLength);
    },
    linkWeights(target) {
      const from = join(prepared.dir, WEIGHTS_FILE);
      try {
        linkSync(from, join(target, WEIGHTS_FILE));
      } catch {
        // Another filesystem: a hard link is impossible, so copy.
        copyFileSync(from, join(target, WEIGHTS_FILE));
      }
    },
    buildCompressedGraph(baked) {
      return buildGraph({ spec, rope, dtype: prepared.dtype, int4: prepared.int4, weight: (n) => prepared.weight(n), baked });
    },
  };
  return model;
}
