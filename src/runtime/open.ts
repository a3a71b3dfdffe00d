// Opening a model on a device: the one place that prepares the weights for the device chosen, builds a graph,
// writes it next to the weights it references and opens the onnxruntime session. A model opens dense graphs
// (prefill, plain decoding, KVzip scoring; on WebGPU answering too, the compressed KV as context inputs) and
// compressed graphs (a cache generation's context KV baked in: answering on the CPU and CUDA, and refresh).
import { copyFileSync, existsSync, linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Backend, Device } from '../core/choices.ts';
import { UserError } from '../core/errors.ts';
import type { PhaseTimes } from '../core/timings.ts';
import { loadModelSpec, type ModelSpec } from '../model/config.ts';
import { prepareModel, WEIGHTS_FILE, type PreparedModel } from '../model/prepare.ts';
import type { CheckMode } from '../model/contentCheck.ts';
import { ropeFrequencies, type Rope } from '../model/rope.ts';
import { buildGraph, type GraphOptions } from '../graph/transformer.ts';
import type { BakedHead } from '../graph/attention.ts';
import type { GraphDtype } from '../graph/net.ts';
import type { SourceMap } from '../graph/sources.ts';
import { chooseDevice, openSession, weightDtype, type DeviceChoice, type SessionUse } from './session.ts';
import type { WebGpuAdapter } from './webgpu.ts';
import { ForwardSession, deviceOutputs, type KvPlacement } from './decoder.ts';
import { CPU_SPARE_KV } from './kv.ts';
import { readContext } from './context.ts';

/** A cache generation's compressed graph. */
export const DECODE_FILE = 'decode.onnx';

export interface OpenModelOptions {
  modelDir: string;
  /** See chooseDevice. The weights' dtype follows the device chosen (see weightDtype). */
  device: Device;
  /** Where prepared weights live (one folder per checkpoint and dtype). */
  preparedRoot: string;
  /** Linear weights as int4 MatMulNBits blocks. */
  int4?: boolean;
  /** GGUF weights as floats instead of their own blocks (a benchmark's fp32 side). */
  dequantize?: boolean;
  /** MatMulNBits' accuracy_level for quantized weights (see graph/net.ts). */
  accuracyLevel?: number;
  /** Every graph also outputs each new position's logits: evaluation only, it costs a full LM-head pass. */
  allLogits?: boolean;
  /** onnxruntime threads per session (its default otherwise); see session.ts. */
  threads?: number;
  /** Called once the device is chosen, before the weights are prepared for it; throws to refuse (a memory check). */
  beforePrepare?: (spec: ModelSpec, choice: DeviceChoice, dtype: GraphDtype) => void;
  /** Where opening the model is timed (the weights' check). */
  times?: PhaseTimes;
  /** Called before weights are converted for the device (see prepareModel); throws to refuse. */
  beforeConverting?: () => void;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface CompressedOptions {
  /** The baked blob's element type (kvzip/compact.ts writes fp16 unless told otherwise). */
  bakedDtype?: GraphDtype;
  /** Score the tail's keys too (a refresh scores its suffix so): the system prefix's length, its softmax sink. */
  scorePrefix?: number;
  /** The graph's file name inside the folder. */
  file?: string;
  /** Output answer sources: each baked pair's bucket (graph/sources.ts). */
  sources?: SourceMap;
}

export interface OpenCompressedOptions {
  file?: string;
  /** Answering (the default) or building (a refresh); decides the CPU's weight prepacking, see session.ts. */
  use?: SessionUse;
  /** Overrides that prepacking choice: benchmarks measure both sides. */
  prepack?: boolean;
  /** Work for the engine's thread while an answering session is created on its own (session.ts). */
  meanwhile?: () => void;
}

export interface OpenOverOptions {
  /** A refresh's session: it prefills and scores the suffix (see openOver). */
  refresh?: { scorePrefix: number; file: string };
  /** WebGPU's context buckets of answer sources (see openOver). */
  sources?: SourceMap;
  /** See OpenCompressedOptions. */
  meanwhile?: () => void;
}

export interface DeviceModel {
  /** The checkpoint folder, resolved. */
  readonly dir: string;
  readonly spec: ModelSpec;
  readonly rope: Rope;
  /** The weights for the device: replaced by fp32 ones if CUDA cannot open the dense graph. */
  readonly prepared: PreparedModel;
  readonly device: Backend;
  /** Why the CPU was chosen, when it was. */
  readonly deviceReason?: string;
  /** The WebGPU adapter, when the device is WebGPU. */
  readonly adapter?: WebGpuAdapter;
  /** The dense session: one per model, opened on first use (answering from a cache never needs it). */
  dense(): Promise<ForwardSession>;
  /** Closes the dense session, if open, freeing its copy of the weights (the next dense() opens it again). */
  releaseDense(): Promise<void>;
  /**
   * Checks the prepared weights against the hashes written at preparation (`full` reads every byte) and
   * prepares them again when they fail, closing the dense session that read them.
   */
  checkWeights(mode: CheckMode): Promise<void>;
  /**
   * Makes `dir/weights.bin` the checked prepared weights (onnxruntime refuses external data outside a model's
   * own folder): a hard link, replacing whatever else is there (an older, damaged inode).
   */
  linkWeights(dir: string): void;
  /** Writes a compressed graph over `baked` into `dir`, with the weights linked in, without opening it. */
  writeCompressed(dir: string, baked: BakedHead[][], o?: CompressedOptions): void;
  /** Opens the compressed graph in `dir`; the tail's positions start at `basePosition` (the context length). */
  openCompressed(dir: string, basePosition: number, o?: OpenCompressedOptions): Promise<ForwardSession>;
  /**
   * A session over the compressed KV in `dir` (laid out by `baked`), its tail's positions starting at
   * `basePosition`, and the bytes that went to the device to open it. It answers, or with `refresh` prefills and
   * scores a refresh's suffix (`scorePrefix`: the system prefix's length, its softmax sink). On WebGPU it is the
   * dense session with the KV as device-resident context inputs, so no generation and no refresh loads the weights
   * again; elsewhere a compressed graph with the KV baked in (a refresh's written first, into `file`).
   * `sources` gives WebGPU's context its pairs' answer-source buckets; a baked graph has its own, from its build.
   */
  openOver(
    dir: string,
    baked: BakedHead[][],
    basePosition: number,
    o?: OpenOverOptions,
  ): Promise<{ session: ForwardSession; uploaded: number }>;
  /** writeCompressed, then openCompressed. */
  compressed(
    dir: string,
    baked: BakedHead[][],
    basePosition: number,
    o?: CompressedOptions & OpenCompressedOptions,
  ): Promise<ForwardSession>;
}

export function openModel(o: OpenModelOptions): DeviceModel {
  const dir = resolve(o.modelDir);
  const spec = loadModelSpec(dir);
  const rope = ropeFrequencies(spec);
  let choice: DeviceChoice = chooseDevice(o.device);
  const prepare = (dtype: 'fp32' | 'fp16', check?: CheckMode) =>
    prepareModel({
      modelDir: dir,
      dtype,
      int4: o.int4,
      dequantize: o.dequantize,
      root: o.preparedRoot,
      check,
      times: o.times,
      beforeConverting: o.beforeConverting,
      signal: o.signal,
      onProgress: o.onProgress,
    });
  o.beforePrepare?.(spec, choice, weightDtype(choice));
  let prepared = prepare(weightDtype(choice));
  const graph = (extra: Pick<GraphOptions, 'baked' | 'bakedDtype' | 'scorePrefix' | 'sources'> = {}) =>
    buildGraph({
      spec,
      rope,
      dtype: prepared.dtype,
      layout: (n) => prepared.layout(n),
      // int8 activations only where they pay: the CPU's integer dot products (bench/gguf.bench.ts); a GPU
      // multiplies in its float dtype, exactly.
      accuracyLevel: o.accuracyLevel ?? (choice.device === 'cpu' ? 4 : 0),
      allLogits: o.allLogits,
      // WebGPU's GroupQueryAttention is wrong from 32 new tokens per run up, so its dense graph spells it out.
      fusedAttention: choice.device !== 'webgpu',
      weight: (n) => prepared.weight(n),
      ...extra,
    });
  const denseFile = () => {
    // Built each time (milliseconds) so a graph from an older version of this code is never reused; the
    // all-logits variant has its own file so evaluation and the engine never rewrite each other's.
    const f = join(prepared.dir, `dense${choice.device === 'webgpu' ? '-webgpu' : ''}${o.allLogits ? '-all-logits' : ''}.onnx`);
    const bytes = graph();
    if (!existsSync(f) || !readFileSync(f).equals(bytes)) {
      const tmp = `${f}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, bytes, { mode: 0o600 });
        renameSync(tmp, f);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
    }
    return f;
  };
  const cpuInstead = () => {
    choice = { device: 'cpu', reason: choice.reason };
    prepared = prepare('fp32');
    return denseFile();
  };
  const compressedOnCpuOnly = (): never => {
    // A compressed graph is baked with the KV in the build's dtype: fp16 KV cannot be reopened on the CPU's fp32.
    const name = choice.device === 'cuda' ? 'CUDA' : 'WebGPU';
    throw new UserError(`${name} failed to open a cache built for it. Rebuild the cache on the CPU with --device cpu.`, 'device');
  };
  let dense: ForwardSession | undefined;
  const model: DeviceModel = {
    dir,
    spec,
    rope,
    get prepared() {
      return prepared;
    },
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
        const opened = await openSession(denseFile(), choice, cpuInstead, {
          use: 'prefill',
          int4: prepared.quantized,
          threads: o.threads,
          deviceOutputs: deviceOutputs(spec.numLayers, true),
        });
        choice = { device: opened.device, reason: opened.reason, adapter: opened.device === 'webgpu' ? choice.adapter : undefined };
        // The CPU feeds the past in place, so its KV grows into spare room; other providers copy every input.
        const spare = opened.device === 'cpu' ? CPU_SPARE_KV : 0;
        dense = new ForwardSession(opened.session, spec, prepared.dtype, 0, placement(opened.device), opened.device !== 'cpu', spare);
      }
      return dense;
    },
    async releaseDense() {
      const open = dense;
      dense = undefined;
      await open?.close();
    },
    async checkWeights(mode) {
      if (!prepared.check(mode)) return;
      await model.releaseDense();
      prepared = prepare(prepared.dtype, 'full');
    },
    linkWeights(target) {
      const from = join(prepared.dir, WEIGHTS_FILE);
      const to = join(target, WEIGHTS_FILE);
      if (sameFile(from, to)) return;
      // A copy (another filesystem) that still matches the prepared hashes is kept rather than copied again.
      if (!sameDevice(from, target) && existsSync(to) && !prepared.check('quick', to)) return;
      const tmp = `${to}.${process.pid}.tmp`;
      rmSync(tmp, { force: true });
      try {
        linkSync(from, tmp);
      } catch {
        // Another filesystem: a hard link is impossible, so copy.
        copyFileSync(from, tmp);
      }
      renameSync(tmp, to);
    },
    writeCompressed(target, baked, c = {}) {
      // onnxruntime refuses external data outside a model's own folder, so the weights go in beside the graph.
      model.linkWeights(target);
      writeFileSync(
        join(target, c.file ?? DECODE_FILE),
        graph({ baked, bakedDtype: c.bakedDtype, scorePrefix: c.scorePrefix, sources: c.sources }),
        {
          mode: 0o600,
        },
      );
    },
    async openCompressed(target, basePosition, c = {}) {
      const use = c.use ?? 'answer';
      // Answering keeps its tail KV on a WebGPU device; a refresh gathers rows of its tail on the host.
      const where = use === 'answer' ? placement(choice.device) : 'host';
      const opened = await openSession(join(target, c.file ?? DECODE_FILE), choice, compressedOnCpuOnly, {
        use,
        int4: prepared.quantized,
        prepack: c.prepack,
        threads: o.threads,
        thread: use === 'answer',
        meanwhile: c.meanwhile,
        deviceOutputs: where === 'device' ? deviceOutputs(spec.numLayers, false) : [],
      });
      return new ForwardSession(opened.session, spec, prepared.dtype, basePosition, where, opened.device !== 'cpu');
    },
    async openOver(target, baked, basePosition, { refresh, sources, meanwhile } = {}) {
      if (choice.device === 'webgpu') {
        meanwhile?.();
        // Run: a CPU session below, should the dense graph have fallen back, does not run it again.
        meanwhile = undefined;
        const d = await model.dense();
        // Still WebGPU unless the dense graph fell back to the CPU, whose fp32 cannot take this generation's KV.
        if (d.placement === 'device') {
          const session = await d.withContext(readContext(target, baked, spec, prepared.dtype, sources), basePosition);
          return { session, uploaded: session.uploadedBytes };
        }
      }
      // CUDA keeps the KV baked: onnxruntime-node has no device-resident tensors there (no IO binding), so context
      // inputs would cross to the device on every decode step, where initializers go up once, as the session opens.
      // The CPU measured the baked layout fastest, and has no device to upload to.
      const session = refresh
        ? await model.compressed(target, baked, basePosition, { ...refresh, use: 'prefill', meanwhile })
        : await model.openCompressed(target, basePosition, { meanwhile });
      const blob = baked.flat().reduce((a, b) => a + b.keyRef.length + b.valueRef.length, 0);
      return { session, uploaded: choice.device === 'cpu' ? 0 : blob };
    },
    async compressed(target, baked, basePosition, c = {}) {
      model.writeCompressed(target, baked, c);
      return model.openCompressed(target, basePosition, c);
    },
  };
  return model;
}

/** WebGPU keeps the KV on the device between runs; CUDA cannot from Node, and the CPU has no other place. */
function placement(device: Backend): KvPlacement {
  return device === 'webgpu' ? 'device' : 'host';
}

function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

function sameDevice(file: string, dir: string): boolean {
  try {
    return statSync(file).dev === statSync(dir).dev;
  } catch {
    return false;
  }
}
