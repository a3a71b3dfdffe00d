// A CPU session on its own worker thread (sessionThread.ts). onnxruntime-node creates a session synchronously, and
// the CPU's answering session takes over a second to create (MatMulNBits prepacks every weight): on the engine's
// one JS thread that second blocked everything else, so a new process loaded its tokenizer only after it. On a
// thread, the two overlap on the machine's cores, and a run no longer blocks the engine either. Feeds are copied
// to the thread, outputs come back without a copy.
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

/** What ForwardSession uses of a session: an onnxruntime session or one on a thread. */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, ort.Tensor>, fetches: readonly string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

type WireType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';
export interface WireTensor {
  type: WireType;
  data: Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;
  dims: readonly number[];
}
export type ThreadRequest =
  | { kind: 'create'; path: string; options: ort.InferenceSession.SessionOptions }
  | { kind: 'run'; id: number; feeds: Record<string, WireTensor>; fetches: readonly string[] }
  | { kind: 'release' };
export type ThreadReply =
  | { kind: 'open'; inputNames: string[]; outputNames: string[] }
  | { kind: 'failed'; message: string }
  | { kind: 'result'; id: number; outputs?: Record<string, WireTensor>; error?: string }
  | { kind: 'released' };

/** A thread running sessionThread: the bundle's file next to the engine's, or the source under tsx. */
function startThread(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./sessionThread.js', import.meta.url));
  // Tests and benchmarks run the sources under tsx, whose loader a worker does not inherit on Node 20: the thread
  // registers it before it loads the script.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const script = JSON.stringify(new URL('./sessionThread.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then((t) => { t.register(); return import(${script}); })`, { eval: true });
}

/** A thread started ahead of need, idle (it does not keep the process alive) until a session is created on it. */
let spare: Worker | undefined;

/**
 * Starts a session thread now, unless one waits already: starting one and loading onnxruntime there takes a
 * quarter of a second, which then overlaps the engine's own work before the session is wanted.
 */
export function prestartThread(): void {
  if (spare) return;
  const worker = startThread();
  worker.unref();
  // One that fails to start is dropped: the session is then created on a new thread, which reports why.
  const drop = () => {
    if (spare === worker) spare = undefined;
  };
  worker.once('error', drop).once('exit', drop);
  spare = worker;
}

/** Creates the session at `path` on a thread; rejects with onnxruntime's own message when it cannot. */
export function createOnThread(path: string, options: ort.InferenceSession.SessionOptions): Promise<OrtSession> {
  const worker = spare ?? startThread();
  spare = undefined;
  worker.ref();
  worker.postMessage({ kind: 'create', path, options } satisfies ThreadRequest);
  return new Promise((resolve, reject) => {
    const session = new ThreadSession(worker, (m) => {
      if (m.kind === 'open') resolve(session.opened(m.inputNames, m.outputNames));
      else if (m.kind === 'failed') {
        reject(new Error(m.message));
        void worker.terminate();
      }
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the session's thread stopped (exit code ${code})`)));
  });
}

class ThreadSession implements OrtSession {
  inputNames: readonly string[] = [];
  outputNames: readonly string[] = [];
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (o: Record<string, ort.Tensor>) => void; reject: (e: Error) => void }>();
  private released?: Promise<void>;
  private stopped?: Error;

  constructor(
    private readonly worker: Worker,
    onStart: (m: ThreadReply) => void,
  ) {
    worker.on('message', (m: ThreadReply) => {
      if (m.kind !== 'result') return onStart(m);
      const call = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (!this.pending.size) worker.unref();
      if (m.error !== undefined) call?.reject(new Error(m.error));
      else call?.resolve(Object.fromEntries(Object.entries(m.outputs!).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)])));
    });
    // A thread that dies (out of memory, a crash in onnxruntime) fails what waits on it, and every later run.
    const stop = (e: Error) => {
      this.stopped ??= e;
      for (const call of this.pending.values()) call.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => stop(e));
    worker.on('exit', (code) => stop(new Error(`the session's thread stopped (exit code ${code})`)));
  }

  opened(inputNames: string[], outputNames: string[]): this {
    this.inputNames = inputNames;
    this.outputNames = outputNames;
    // An idle session does not keep the process alive, as one on the main thread would not; a run in flight does.
    this.worker.unref();
    return this;
  }

  run(feeds: Record<string, ort.Tensor>, fetches: readonly string[]): Promise<Record<string, ort.Tensor>> {
    if (this.released) return Promise.reject(new Error('the session was released'));
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    const wire: Record<string, WireTensor> = {};
    for (const [name, t] of Object.entries(feeds))
      wire[name] = { type: t.type as WireType, data: t.data as WireTensor['data'], dims: t.dims };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ kind: 'run', id, feeds: wire, fetches } satisfies ThreadRequest);
    });
  }

  release(): Promise<void> {
    this.released ??= this.stopped
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          this.worker.ref();
          this.worker.once('exit', () => resolve());
          this.worker.on('message', (m: ThreadReply) => m.kind === 'released' && void this.worker.terminate());
          this.worker.postMessage({ kind: 'release' } satisfies ThreadRequest);
        });
    return this.released;
  }
}
