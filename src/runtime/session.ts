// onnxruntime sessions with the execution-provider choice, always with the reason stated when it is the CPU:
// `auto` takes CUDA when its provider libraries load, then WebGPU on a hardware adapter, then the CPU;
// `webgpu` forces WebGPU even on a software adapter. onnxruntime-node does not fall back by itself.
import * as ort from 'onnxruntime-node';
import type { Backend, Device } from '../core/choices.ts';
import type { GraphDtype } from '../graph/net.ts';
import { cudaStatus } from './cudaProvider.ts';
import { createOnThread, type OrtSession } from './threadSession.ts';
import { adapterName, probeWebGpu, type WebGpuAdapter } from './webgpu.ts';

// Nothing leaves the machine: onnxruntime 1.30 otherwise keeps a device id and a telemetry event store under
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime and is built to upload it. The library reads this switch when
// it creates its environment, at the first session, so setting it here (after the import) is early enough.
process.env.ORT_DISABLE_TELEMETRY = '1';

export interface DeviceChoice {
  device: Backend;
  /** Why the CPU was chosen, when it was. */
  reason?: string;
  /** The adapter, when the device is WebGPU. */
  adapter?: WebGpuAdapter;
}

/** Decides the device before any weights are prepared, since the dtype depends on it. */
export function chooseDevice(requested: Device): DeviceChoice {
  if (requested === 'cpu') return { device: 'cpu', reason: 'CPU requested' };
  if (requested === 'webgpu') {
    const probe = probeWebGpu();
    if (probe.adapter) return { device: 'webgpu', adapter: probe.adapter };
    return { device: 'cpu', reason: `WebGPU unavailable: ${probe.reason}` };
  }
  const status = cudaStatus();
  if (status.usable) return { device: 'cuda' };
  if (requested === 'cuda') return { device: 'cpu', reason: status.reason };
  const probe = probeWebGpu();
  if (probe.adapter && !probe.adapter.software) return { device: 'webgpu', adapter: probe.adapter };
  const webgpu = probe.adapter
    ? `WebGPU has only a software adapter, ${adapterName(probe.adapter)}, which auto never picks (--device webgpu forces it)`
    : `WebGPU unavailable: ${probe.reason}`;
  return { device: 'cpu', reason: `${status.reason}; ${webgpu}` };
}

/** fp16 on CUDA and on WebGPU adapters with shader-f16; fp32 elsewhere (the CPU runs fp16 as fp32 anyway). */
export function weightDtype(choice: DeviceChoice): GraphDtype {
  if (choice.device === 'cuda') return 'fp16';
  if (choice.device === 'webgpu' && choice.adapter?.shaderF16) return 'fp16';
  return 'fp32';
}

export interface OpenedSession {
  session: OrtSession;
  device: Backend;
  reason?: string;
}

export type SessionUse = 'prefill' | 'answer';

/** What a graph needs from its session: its use, and whether its Linear weights are int4 `MatMulNBits`. */
export interface SessionKind {
  use: SessionUse;
  int4?: boolean;
  /** Overrides cpuPrepacks' choice (benchmarks measure both sides of it). */
  prepack?: boolean;
  /** Threads per operator and across operators (onnxruntime's default otherwise): tiny models run best on one. */
  threads?: number;
  /** Outputs a WebGPU session keeps on the device (the present KV), where the next run takes them as they are. */
  deviceOutputs?: string[];
  /** onnxruntime's profiler writes `<prefix>_<time>.json` (benchmarks read their kernels' share of a run). */
  profilePrefix?: string;
  /** On the CPU, the session lives on its own thread (threadSession.ts): answering, whose creation a new process waits for. */
  thread?: boolean;
  /** Work for this thread while a `thread` session is created on its own; run once, before creation elsewhere. */
  meanwhile?: () => void;
}

/**
 * Whether the CPU provider prepacks this graph's weights (other providers have no such step). Measured on the
 * 0.5B shapes: fp32 answering sessions skip it, which made opening a cache 9× faster (3.5 s → 0.37 s) and used
 * 0.5 GiB less, for 4% slower decode steps; building keeps it (13% faster prefill). int4 always prepacks:
 * `MatMulNBits` only runs its fast kernels on prepacked blocks (a compressed decode step took 2,149 ms without,
 * 41 ms with), so the slower open is worth it.
 */
export function cpuPrepacks(kind: SessionKind): boolean {
  return kind.prepack ?? (kind.int4 === true || kind.use === 'prefill');
}

export function sessionOptions(device: Backend, kind: SessionKind): ort.InferenceSession.SessionOptions {
  const providers: Record<Backend, ort.InferenceSession.ExecutionProviderConfig[]> = {
    cuda: [{ name: 'cuda', deviceId: 0 }],
    webgpu: ['webgpu'],
    cpu: ['cpu'],
  };
  return {
    executionProviders: providers[device],
    graphOptimizationLevel: 'all',
    // onnxruntime's memory pattern (one block planned per set of input shapes) only cost memory on the CPU: a
    // scoring pass at the shapes of the one before allocated it beside the arena, 1.3 GiB more at 7.2K tokens on
    // the 0.5B shapes, at the same speed.
    ...(device === 'cpu' ? { enableMemPattern: false } : {}),
    logSeverityLevel: 3,
    ...(kind.threads ? { intraOpNumThreads: kind.threads, interOpNumThreads: kind.threads } : {}),
    ...(device === 'cpu' && !cpuPrepacks(kind) ? { extra: { session: { disable_prepacking: '1' } } } : {}),
    ...(kind.profilePrefix ? { enableProfiling: true, profileFilePrefix: kind.profilePrefix } : {}),
    ...(device === 'webgpu' && kind.deviceOutputs?.length
      ? { preferredOutputLocation: Object.fromEntries(kind.deviceOutputs.map((n) => [n, 'gpu-buffer' as const])) }
      : {}),
  };
}

/** Sessions over a model's weights this process has created (openSession): each one holds its own copy. */
let weightSessions = 0;

/** How many sessions holding a model's weights this process has created so far (weightless ones not counted). */
export function weightSessionsCreated(): number {
  return weightSessions;
}

/**
 * Opens `modelPath` on the chosen device. If the GPU provider fails, `fallback` is asked for a CPU model path (the
 * CPU needs fp32 weights) and the failure becomes the stated reason.
 */
export async function openSession(
  modelPath: string,
  choice: DeviceChoice,
  fallback: () => Promise<string> | string,
  kind: SessionKind = { use: 'prefill' },
): Promise<OpenedSession> {
  let meanwhile = kind.meanwhile;
  const runMeanwhile = () => {
    const work = meanwhile;
    meanwhile = undefined;
    work?.();
  };
  const create = async (path: string, device: Backend): Promise<OrtSession> => {
    const options = sessionOptions(device, kind);
    let session: OrtSession;
    if (device === 'cpu' && kind.thread) {
      const creating = createOnThread(path, options);
      try {
        runMeanwhile();
      } catch (e) {
        void creating.then(
          (s) => s.release(),
          () => undefined,
        );
        throw e;
      }
      session = await creating;
    } else {
      runMeanwhile();
      session = await ort.InferenceSession.create(path, options);
    }
    weightSessions++;
    return session;
  };
  if (choice.device !== 'cpu') {
    try {
      return { session: await create(modelPath, choice.device), device: choice.device };
    } catch (e) {
      const reason = `${choice.device === 'cuda' ? 'CUDA' : 'WebGPU'} session failed (${firstLine(e)}); running on the CPU`;
      return { session: await create(await fallback(), 'cpu'), device: 'cpu', reason };
    }
  }
  return { session: await create(modelPath, 'cpu'), device: 'cpu', reason: choice.reason };
}

/**
 * Opens a small weightless graph held in memory (the KV transfers of deviceTransfer.ts) on one device, with no
 * fallback: these graphs exist only for that device.
 */
export function openGraph(bytes: Uint8Array, device: Backend, kind: SessionKind = { use: 'prefill' }): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, sessionOptions(device, kind));
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e)
    .split('\n')[0]
    .slice(0, 300);
}
