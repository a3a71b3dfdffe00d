// The open answering session, one cache generation at a time, and the last answer's tail KV: the state that
// build and ask share inside one engine process.
import type { ProgressFn } from '../core/progress.ts';
import { PhaseTimes } from '../core/timings.ts';
import type { Manifest } from '../cache/manifest.ts';
import type { Device } from '../core/choices.ts';
import type { ForwardSession } from '../runtime/decoder.ts';
import { prestartThread } from '../runtime/threadSession.ts';
import { TailKv } from './conversation.ts';
import type { LoadedModel } from './model.ts';
import { answerSources, sourceBaseline, sourceMap } from './sources.ts';
import type { Fingerprint } from '../context/types.ts';
import type { GenerateResult } from '../runtime/generate.ts';
import type { AnswerSource } from './protocol.ts';

export class Answering {
  private open?: { dir: string; session: ForwardSession };
  /** The last answer's tail KV, so a follow-up feeds only its own tokens. */
  readonly tail = new TailKv();
  /** The open generation's source baseline (engine/sources.ts), computed at its first answer. */
  private baseline?: { dir: string; value: Promise<Float64Array | undefined> };

  /**
   * Starts a thread for the CPU's answering session ahead of `openFor`, when none is open and the CPU may be the
   * device: its start then overlaps opening the model and the cache (runtime/threadSession.ts).
   */
  prepare(device: Device): void {
    if (!this.open && (device === 'cpu' || device === 'auto')) prestartThread();
  }

  /** The open session; only after `openFor`. */
  get session(): ForwardSession {
    if (!this.open) throw new Error('no answering session is open');
    return this.open.session;
  }

  /**
   * Each session holds its own copy of the weights (onnxruntime-node cannot share initializers between sessions),
   * so on CUDA only one of the dense and the answering session is open at a time: a build closes the answering
   * session, and answering closes the dense one. On WebGPU the answering session is the dense one over the
   * generation's KV, so a build frees only that KV, and answering closes nothing. The CPU keeps both (RAM is
   * larger, and reopening costs seconds).
   */
  async only(which: 'dense' | 'answering', m: LoadedModel): Promise<void> {
    if (m.device === 'cpu') return;
    if (which === 'dense') await this.close();
    else if (m.device === 'cuda') await m.releaseDense();
  }

  async close(): Promise<void> {
    const open = this.open;
    this.open = undefined;
    this.baseline = undefined;
    await open?.session.close();
  }

  /**
   * Opens the answering session over the generation `dir` (pinned by the caller), unless it is the open one.
   * Returns the bytes that went to the device to open it (0 when it was open, and on the CPU). `meanwhile` runs
   * once, while the session is created on its own thread where it is (the CPU's), before it otherwise.
   */
  async openFor(
    m: LoadedModel,
    dir: string,
    manifest: Manifest,
    progress?: ProgressFn,
    times = new PhaseTimes(),
    meanwhile?: () => void,
  ): Promise<number> {
    if (this.open?.dir === dir && this.open.session.isOpen) {
      meanwhile?.();
      return 0;
    }
    // A tail over another generation is never resumed here.
    this.tail.forget();
    await this.close();
    await this.only('answering', m);
    progress?.('load-cache', 0, 1);
    // The generation links the prepared weights, which may have been damaged (and prepared again) since.
    await times.time('weightsCheck', () => m.checkWeights('quick'));
    m.linkWeights(dir);
    // WebGPU's context goes up with its pairs' source buckets; a baked graph has them from its build.
    const sources = m.device === 'webgpu' ? answerSourceMap(dir, manifest) : undefined;
    const { session, uploaded } = await m.openOver(dir, manifest.layout, manifest.sequenceLength, { sources, meanwhile });
    this.open = { dir, session };
    progress?.('load-cache', 1, 1);
    return uploaded;
  }

  /**
   * The files the answer just generated over generation `dir` attended to most (engine/sources.ts), from its
   * summed attention; the generation's baseline is computed on the open session the first time.
   */
  async sources(
    m: LoadedModel,
    dir: string,
    fingerprint: Fingerprint,
    answer: GenerateResult['sources'],
  ): Promise<AnswerSource[] | undefined> {
    if (!answer) return undefined;
    if (this.baseline?.dir !== dir) this.baseline = { dir, value: sourceBaseline(this.session, m.tokenizer).catch(() => undefined) };
    return answerSources(answer, fingerprint, await this.baseline.value);
  }

  /** Forgets everything (the cache was cleared). */
  async forget(): Promise<void> {
    this.tail.forget();
    await this.close();
  }
}

function answerSourceMap(dir: string, manifest: Manifest) {
  return sourceMap(dir, manifest.layout, manifest.fingerprint, manifest.prefixLength, manifest.sequenceLength);
}
