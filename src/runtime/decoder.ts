// Runs a forward graph (dense or compressed) over a growing sequence: each call feeds new tokens after the
// ones already in the cache and returns the next-token candidates.
import { setImmediate } from 'node:timers/promises';
import * as ort from 'onnxruntime-node';
import type { ModelSpec } from '../model/config.ts';
import type { GraphDtype } from '../graph/net.ts';
import { names } from '../graph/names.ts';
import { throwIfAborted } from '../core/cancel.ts';
import { appendKv, emptyKv, hostKvBytes, type KvCache } from './kv.ts';
import { DeviceTransfer, releaseKv } from './deviceTransfer.ts';
import { contextBytes, emptyContext, type ContextFeeds } from './context.ts';
import type { OrtSession } from './threadSession.ts';

export interface Candidates {
  /** Top logits of the last position, descending. */
  values: Float32Array;
  ids: number[];
}

export interface ForwardOptions {
  /** Also return logits of every new position ([S, vocab]). */
  allLogits?: boolean;
  /** KVzip scoring: indices of past keys to score (dense graph only). */
  scoreIndex?: number[];
  /**
   * KVzip scoring over a context (WebGPU's dense graph): how many leading context pairs of every head join the
   * softmax as its sink. Default 1, the masked dummy of a build (a run with a real context and no sink wanted
   * does not read its scores). Graphs without context inputs have no such sink.
   */
  contextSink?: number;
  /**
   * Sequence position of the first new token; default right after the past. Local KVzip scoring feeds a
   * shortened past and keeps its repeat inputs where they sit after the whole cached sequence.
   */
  positionStart?: number;
  /** Fetch the new KV (default true). Scoring passes drop theirs, so they skip the copy. */
  keepPresent?: boolean;
}

export interface ForwardResult {
  candidates: Candidates;
  /** The KV after this call; `past` itself when keepPresent is false. */
  present: KvCache;
  logitsAll?: Float32Array;
  scores?: Float32Array;
  /**
   * The last new position's attention on the cached context's pairs, summed per source bucket (graph/sources.ts);
   * set by graphs that output it (a compressed graph built with sources, WebGPU's dense graph).
   */
  sources?: Float32Array;
  /** Bytes that crossed the session boundary (feeds plus fetches). */
  bytesMoved: number;
}

/**
 * Where a session's KV lives between runs. `host`: every run takes the past KV from host memory and returns the
 * present there (the CPU, and CUDA, whose tensors cannot stay on the device from Node). `device`: WebGPU keeps
 * the present KV on the device as gpu-buffer tensors that the next run, or another session, takes as they are.
 */
export type KvPlacement = 'host' | 'device';

/**
 * The outputs a device-placed session keeps on the device: the present KV, and what it does not read (the full
 * logits, and the new rows a host session appends), so those never cross either.
 */
export function deviceOutputs(layers: number, dense: boolean): string[] {
  // Only the dense graph has the new-row outputs; naming an output a graph lacks fails the session.
  const newRows = (l: number) => (dense ? [names.newKey(l), names.newValue(l)] : []);
  const perLayer = (l: number) => [names.presentKey(l), names.presentValue(l), ...newRows(l)];
  return [names.logitsLast, ...Array.from({ length: layers }, (_, l) => perLayer(l)).flat()];
}

export class ForwardSession {
  private readonly scoring: boolean;
  private readonly spans: boolean;
  /** Bytes that crossed between host and device in this session's runs (0 on the CPU, where nothing does). */
  private runBytes = 0;
  /** Reads device KV back and writes host KV to the device (device placement only). */
  readonly transfer?: DeviceTransfer;
  /** WebGPU's dense graph: it attends over a compressed context given as inputs (see context.ts). */
  private readonly contextInputs: boolean;
  /** Those inputs, on the device where the KV is: a generation's (withContext), else no context, uploaded once. */
  private context?: Promise<ContextFeeds>;
  /** The session this one shares its onnxruntime session with (withContext); closing this one leaves it open. */
  private base?: ForwardSession;
  private closed = false;
  /** Bytes withContext moved to the device for this session's context. */
  uploadedBytes = 0;
  /** The dense graph on the host: it takes a past with spare room and returns only the new positions' KV. */
  private readonly appends: boolean;
  /** The dense graph: it takes the past's valid length (its past may have spare room). */
  private readonly pastLength: boolean;
  /** The graph outputs answer sources (graph/sources.ts). */
  private readonly sources: boolean;

  constructor(
    readonly session: OrtSession,
    readonly spec: ModelSpec,
    readonly dtype: GraphDtype,
    /** First position of the sequence this session's past starts at (the context length for a compressed graph). */
    readonly basePosition = 0,
    readonly placement: KvPlacement = 'host',
    /** Whether feeds and fetches cross host ↔ device (CUDA and WebGPU; not the CPU). */
    private readonly onDevice = placement === 'device',
    /**
     * Spare positions a grown host KV gets (dense graph). On the CPU the past is fed without a copy, so room to
     * grow saves copying it every step; a provider that copies every input to its device wants 0, so that only
     * valid positions are sent.
     */
    readonly spareKv = 0,
    /** Shared with the session this one is a context view of (withContext). */
    transfer?: DeviceTransfer,
  ) {
    this.spans = session.inputNames.includes(names.scoreSpans);
    this.scoring = this.spans || session.inputNames.includes(names.scoreIndex);
    this.pastLength = session.inputNames.includes(names.pastLength);
    this.appends = this.pastLength && placement === 'host';
    this.contextInputs = session.inputNames.includes(names.contextKey(0));
    this.sources = session.outputNames.includes(names.sources);
    if (placement === 'device') this.transfer = transfer ?? new DeviceTransfer(dtype);
  }

  /**
   * This session over a cache generation's compressed context KV (WebGPU's dense graph only): the context goes
   * to the device once, here, and every run of the returned session attends over it, its tail's positions
   * starting at `basePosition` (the context length). The onnxruntime session, and its weights, are shared.
   */
  async withContext(context: ContextFeeds, basePosition: number): Promise<ForwardSession> {
    if (!this.contextInputs) throw new Error('internal: this graph takes no context inputs');
    const view = new ForwardSession(
      this.session,
      this.spec,
      this.dtype,
      basePosition,
      this.placement,
      this.onDevice,
      this.spareKv,
      this.transfer,
    );
    view.base = this;
    const before = this.transfer?.bytes ?? 0;
    view.context = Promise.resolve(await this.place(context));
    view.uploadedBytes = (this.transfer?.bytes ?? 0) - before;
    return view;
  }

  /** False once closed, or once the session it shares was. */
  get isOpen(): boolean {
    return !this.closed && (this.base?.isOpen ?? true);
  }

  /**
   * Frees what this session holds: its context's device memory, and its onnxruntime session with the weights
   * unless it shares another's (a context view).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const context = await this.context;
    if (context) for (const t of Object.values(context)) if (t.location === 'gpu-buffer') t.dispose();
    if (!this.base) await this.session.release();
  }

  /** Context inputs where this session's KV lives: on the device when it is placed there. */
  private async place(c: ContextFeeds): Promise<ContextFeeds> {
    const transfer = this.transfer;
    if (!transfer) return c;
    const placed: ContextFeeds = {};
    for (const [name, t] of Object.entries(c)) placed[name] = await transfer.toDevice(t);
    return placed;
  }

  /** Bytes that crossed between host and device so far: runs' feeds and fetches, and KV read back or written. */
  get hostDeviceBytes(): number {
    return this.runBytes + (this.transfer?.bytes ?? 0);
  }

  empty(): KvCache {
    return emptyKv(this.spec, this.dtype);
  }

  /** The KV in host memory (read back once from the device, for compaction), or `kv` itself on the host. */
  async toHost(kv: KvCache): Promise<KvCache> {
    return this.transfer ? this.transfer.kvToHost(kv) : kv;
  }

  /** Frees a KV this session returned and nobody needs any more (device memory is not left to the collector). */
  release(kv: KvCache): void {
    if (this.placement === 'device') releaseKv(kv);
  }

  async forward(ids: number[], past: KvCache, o: ForwardOptions = {}): Promise<ForwardResult> {
    const S = ids.length;
    const start = o.positionStart ?? this.basePosition + past.length;
    const feeds: Record<string, ort.Tensor> = {
      [names.inputIds]: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, S]),
      [names.positionIds]: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: S }, (_, i) => BigInt(start + i)),
        [1, S],
      ),
    };
    for (let l = 0; l < this.spec.numLayers; l++) {
      feeds[names.pastKey(l)] = past.keys[l];
      feeds[names.pastValue(l)] = past.values[l];
    }
    if (this.pastLength) feeds[names.pastLength] = new ort.Tensor('int64', BigInt64Array.from([BigInt(past.length)]), []);
    if (this.contextInputs) Object.assign(feeds, await (this.context ??= this.place(emptyContext(this.spec, this.dtype))));
    // WebGPU crashes on the zero-size tensors of a score branch that scores nothing (Softmax: SIGFPE, MatMul
    // with an empty inner dimension: SIGSEGV, ReduceMax: refused), so there a run that scores nothing scores
    // one key and drops the result: S × (1 + S) more logits per head, small next to the main attention.
    const spans = o.scoreIndex ?? (this.placement === 'device' ? [0] : []);
    if (this.spans) feeds[names.scoreSpans] = new ort.Tensor('int64', BigInt64Array.from(twoRuns(spans), BigInt), [4]);
    else if (this.scoring) {
      const index = o.scoreIndex ?? [0];
      feeds[names.scoreIndex] = new ort.Tensor('int64', BigInt64Array.from(index, BigInt), [index.length]);
    }
    if (this.contextInputs) feeds[names.scoreContextSink] = new ort.Tensor('int64', BigInt64Array.from([BigInt(o.contextSink ?? 1)]), []);
    const keep = o.keepPresent ?? true;
    const wanted: string[] = [names.topValues, names.topIndices];
    const [kvKey, kvValue] = this.appends ? [names.newKey, names.newValue] : [names.presentKey, names.presentValue];
    if (keep) for (let l = 0; l < this.spec.numLayers; l++) wanted.push(kvKey(l), kvValue(l));
    if (o.allLogits) {
      if (!this.session.outputNames.includes(names.logitsAll)) throw new Error('internal: this graph was built without allLogits');
      wanted.push(names.logitsAll);
    }
    if (o.scoreIndex) wanted.push(names.scores);
    if (this.sources) wanted.push(names.sources);
    // onnxruntime-node 1.30 places outputs wrongly (or fails the run) when a run fetches a subset of them, and the
    // session stays wrong afterwards: on the device every run fetches every output in the graph's order, and the
    // unwanted device ones are freed at once.
    const fetches = this.placement === 'device' ? [...this.session.outputNames] : wanted;
    // Let the event loop breathe between runs: a run blocks this thread, so cancel and disconnect messages are
    // only seen between runs.
    await setImmediate();
    const out = await this.session.run(feeds, fetches);
    if (this.placement === 'device') for (const n of fetches) if (!wanted.includes(n) && out[n].location === 'gpu-buffer') out[n].dispose();
    const layers = (name: (l: number) => string) => Array.from({ length: this.spec.numLayers }, (_, l) => out[name(l)]);
    let present = past;
    if (keep && this.appends) present = appendKv(past, layers(kvKey), layers(kvValue), this.spareKv);
    else if (keep) present = { keys: layers(kvKey), values: layers(kvValue), length: past.length + S };
    // The past as fed (spare room included), a context fed from the host, and everything fetched into host memory.
    let bytesMoved = hostKvBytes(past) + 16 * S;
    if (this.contextInputs && !this.transfer) bytesMoved += contextBytes(await this.context!);
    for (const name of wanted) if (out[name].location !== 'gpu-buffer') bytesMoved += (out[name].data as ArrayBufferView).byteLength;
    if (this.onDevice) this.runBytes += bytesMoved;
    return {
      candidates: {
        values: out[names.topValues].data as Float32Array,
        ids: Array.from(out[names.topIndices].data as BigInt64Array, Number),
      },
      present,
      logitsAll: o.allLogits ? (out[names.logitsAll].data as Float32Array) : undefined,
      scores: o.scoreIndex ? (out[names.scores].data as Float32Array) : undefined,
      sources: this.sources ? (out[names.sources].data as Float32Array) : undefined,
      bytesMoved,
    };
  }

  /** Feeds a long sequence in chunks; returns the last chunk's result. */
  async prefill(
    ids: number[],
    past: KvCache,
    chunkSize: number,
    signal?: AbortSignal,
    onProgress?: (done: number, total: number) => void,
  ): Promise<ForwardResult> {
    if (ids.length === 0) throw new Error('internal: prefill of no tokens');
    let result: ForwardResult | undefined;
    let kv = past;
    for (let i = 0; i < ids.length; i += chunkSize) {
      throwIfAborted(signal);
      result = await this.forward(ids.slice(i, i + chunkSize), kv);
      if (kv !== past) this.release(kv);
      kv = result.present;
      onProgress?.(Math.min(i + chunkSize, ids.length), ids.length);
    }
    return result!;
  }
}

/** [a0, a1, b0, b1]: `index` as at most two ascending runs of consecutive positions (prefix, then a chunk). */
function twoRuns(index: number[]): number[] {
  if (!index.length) return [0, 0, 0, 0];
  const cut = index.findIndex((v, i) => i > 0 && v !== index[i - 1] + 1);
  const first = cut < 0 ? index : index.slice(0, cut);
  const second = cut < 0 ? [] : index.slice(cut);
  if (second.some((v, i) => i > 0 && v !== second[i - 1] + 1)) throw new Error('internal: dense scoring takes two runs of positions');
  const run = (r: number[]) => (r.length ? [r[0], r[r.length - 1] + 1] : [first[first.length - 1] + 1, first[first.length - 1] + 1]);
  return [...run(first), ...run(second)];
}
