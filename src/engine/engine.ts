// The engine: owns models and the cache store, and runs build / ask / generate for its clients.
import { join } from 'node:path';
import type { AskResult, CacheEntryInfo, CacheSettings, ClearResult, GenerateRequest, GenerateResult, WarmResult } from './protocol.ts';
import type { ProgressFn } from '../core/progress.ts';
import type { PhaseTimes } from '../core/timings.ts';
import type { Scoring } from '../core/choices.ts';
import { UserError } from '../core/errors.ts';
import { loadModel, type LoadedModel } from './model.ts';
import { resolveModel } from './resolveModel.ts';
import { modelFolder } from '../model/gguf/import.ts';
import { ggufWeightsBytes } from '../model/gguf/size.ts';
import { attentionWindow } from '../model/config.ts';
import { checkFits } from './memoryCheck.ts';
import { prefillChunk } from '../runtime/traffic.ts';
import { workspaceContext } from './workspaceContext.ts';
import type { BuiltContext } from '../context/types.ts';
import { CacheStore } from '../cache/store.ts';
import { FORMAT_VERSION } from '../cache/manifest.ts';
import { DEFAULT_CHUNK, fittingChunk, longestChunk } from '../kvzip/schedule.ts';
import { PUNCT_DEMOTE } from '../kvzip/demote.ts';
import { generate } from '../runtime/generate.ts';
import { Answering } from './answering.ts';
import { askCache, type AskJob } from './ask.ts';
import { warmCache } from './warm.ts';
import { buildCache, type BuildJob, type BuildOutcome } from './buildCache.ts';
import { canonicalPath, compressedBytes, deviceOf, modelSource } from './entryFacts.ts';
import { SessionStore } from './sessions.ts';
import type { EngineParts } from './parts.ts';

/** The shortest context the memory check before preparing weights asks room for. */
const MIN_CONTEXT_TOKENS = 2048;

export interface EngineOptions {
  /** Chunk size m of the KVzip scoring schedule. */
  scoreChunk?: number;
}

export class Engine {
  private readonly models = new Map<string, LoadedModel>();
  /** The answering session and the last answer's tail, shared by build and ask. */
  private readonly answering = new Answering();
  /** What the build and ask jobs use of this engine. */
  private readonly parts: EngineParts = {
    model: (r, progress, signal, times) => this.model(r, progress, signal, times),
    entryKey: (s, m) => this.entryKey(s, m),
    context: (s, m, signal, progress) => this.context(s, m, signal, progress),
    scoreChunk: (m, tokens) => this.scoreChunk(m, tokens),
    checkMemory: (m, tokens, scoring) => this.checkMemory(m, tokens, scoring),
    answering: this.answering,
  };

  constructor(private readonly o: EngineOptions = {}) {}

  async model(
    r: { model: string; device: CacheSettings['device']; cacheDir: string; int4?: boolean; hfToken?: string },
    progress?: ProgressFn,
    signal?: AbortSignal,
    times?: PhaseTimes,
  ): Promise<LoadedModel> {
    const dir = await modelFolder(await resolveModel(r.model, r.cacheDir, { token: r.hfToken, signal, progress }), r.cacheDir);
    const key = `${dir}\0${r.device}\0${r.int4 ?? false}`;
    let m = this.models.get(key);
    if (!m) {
      m = loadModel({
        modelDir: dir,
        device: r.device,
        int4: r.int4,
        preparedRoot: join(r.cacheDir, 'models'),
        beforePrepare: (spec, choice, dtype) => {
          // A device that cannot hold the weights with a short context is refused before they are converted for
          // it: converting first took minutes and filled the disk, only to be refused at the prefill.
          const contextTokens = Math.min(MIN_CONTEXT_TOKENS, attentionWindow(spec));
          // A GGUF keeps its own blocks: fp32 of its shape would refuse a quantized model that fits.
          const preparedWeightsBytes = ggufWeightsBytes(dir, choice.device === 'cuda' ? 'cuda' : 'cpu');
          checkFits({
            shape: spec,
            device: choice.device,
            adapter: choice.adapter,
            dtype,
            int4: r.int4 ?? false,
            contextTokens,
            preparedWeightsBytes,
          });
        },
        times,
        signal,
        onProgress: (d, t) => progress?.('load-model', d, t),
      });
      this.models.set(key, m);
    }
    return m;
  }

  /** Refuses, with numbers and proposals, a context that would not fit on the model's device, before prefilling it. */
  private checkMemory(m: LoadedModel, tokens: number, scoring: Scoring): number | undefined {
    return checkFits({
      shape: m.prepared.spec,
      device: m.device,
      adapter: m.adapter,
      dtype: m.prepared.dtype,
      int4: m.prepared.int4,
      contextTokens: tokens,
      scoreChunkTokens: longestChunk(this.scoreChunk(m, tokens)),
      scoring,
      preparedWeightsBytes: ggufWeightsBytes(m.dir, m.device === 'cuda' ? 'cuda' : 'cpu'),
    });
  }

  /** KVzip's chunk m for a sequence of `tokens`, capped so repeat inputs stay inside the model's window. */
  private scoreChunk(m: LoadedModel, tokens: number): number {
    return fittingChunk(this.o.scoreChunk ?? DEFAULT_CHUNK, tokens, attentionWindow(m.prepared.spec));
  }

  private entryKey(s: CacheSettings, m: LoadedModel): string {
    return CacheStore.keyOf({
      format: FORMAT_VERSION,
      workspace: canonicalPath(s.workspace),
      weights: m.prepared.weightsHash,
      tokenizer: m.tokenizerHash,
      dtype: m.prepared.dtype,
      int4: m.prepared.int4,
      ratio: s.ratio,
      level: s.level,
      chunk: this.o.scoreChunk ?? DEFAULT_CHUNK,
      demote: s.level === 'pair' ? PUNCT_DEMOTE : 1,
      maxContextTokens: s.maxContextTokens ?? null,
      includeSecrets: s.includeSecrets ?? false,
      include: s.include ?? [],
      exclude: s.exclude ?? [],
      // Only when set, so that entries built before these settings existed keep their keys.
      ...(s.pinned?.length ? { pinned: s.pinned } : {}),
      ...(s.scoring === 'local' ? { scoring: s.scoring } : {}),
      ...(s.folders?.length ? { folders: s.folders } : {}),
    });
  }

  async context(s: CacheSettings, m: LoadedModel, signal?: AbortSignal, progress?: ProgressFn): Promise<BuiltContext> {
    return workspaceContext(s, m.prepared.spec, m.tokenizer, m.tokenizerHash, signal, progress);
  }

  build(s: BuildJob['settings'], progress?: ProgressFn, signal?: AbortSignal, notice?: (message: string) => void): Promise<BuildOutcome> {
    return buildCache(this.parts, { settings: s, progress, signal, notice });
  }

  ask(
    s: AskJob['settings'],
    onText: (t: string) => void,
    progress?: ProgressFn,
    signal?: AbortSignal,
    notice?: (message: string) => void,
  ): Promise<AskResult> {
    return askCache(this.parts, { settings: s, onText, progress, signal, notice });
  }

  warm(s: CacheSettings, progress?: ProgressFn, signal?: AbortSignal): Promise<WarmResult> {
    return warmCache(this.parts, s, progress, signal);
  }

  /** Plain generation from a prompt (no context cache): the engine-core check and the `generate` command. */
  async generate(r: GenerateRequest, onText: (t: string) => void, progress?: ProgressFn, signal?: AbortSignal): Promise<GenerateResult> {
    const m = await this.model(r, progress, signal);
    await this.answering.only('dense', m);
    const dense = await m.dense();
    const ids = r.promptIds?.length ? r.promptIds : m.tokenizer.encodePrompt(r.prompt ?? '');
    if (ids.length === 0) throw new UserError('The prompt is empty: give --prompt or --prompt-ids', 'bad-request');
    const vocab = m.prepared.spec.vocabSize;
    const outside = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
    if (outside !== undefined)
      throw new UserError(`The prompt id ${outside} is not in this model's vocabulary: ids run from 0 to ${vocab - 1}.`, 'bad-request');
    const window = attentionWindow(m.prepared.spec);
    if (ids.length >= window) {
      throw new UserError(
        `The prompt is ${ids.length} tokens; this model attends over ${window} positions. Shorten the prompt.`,
        'bad-request',
      );
    }
    const out = await generate(
      dense,
      ids,
      dense.empty(),
      { maxTokens: r.maxTokens ?? 128, temperature: r.temperature, topP: r.topP, stopStrings: r.stop, stopIds: m.tokenizer.eosIds, signal },
      { decode: (x) => m.tokenizer.decode(x), onText },
      prefillChunk(m.device, ids.length),
      window,
    );
    return {
      modelPath: modelSource(m.dir),
      ids: [...ids, ...out.ids],
      text: out.text,
      ...deviceOf(m),
      prefillMs: out.firstTokenMs,
      decodeMsPerToken: out.decodeMsPerToken,
      bytesPerStep: out.bytesPerStep,
    };
  }

  info(cacheDir: string): CacheEntryInfo[] {
    return new CacheStore(cacheDir).list().map((e) =>
      e.manifest
        ? {
            entry: e.dir,
            workspace: e.manifest.workspace,
            model: e.manifest.model.dir,
            modelPath: modelSource(e.manifest.model.dir),
            ratio: e.manifest.ratio,
            level: e.manifest.level,
            scoring: e.manifest.scoring ?? 'exact',
            contextTokens: e.manifest.sequenceLength,
            bytes: e.bytes,
            kvBytesFull: e.manifest.stats.kvBytesFull,
            kvBytesCompressed: compressedBytes(e.manifest),
            createdAt: e.manifest.createdAt,
            lastUsedAt: new Date(e.lastUsedMs).toISOString(),
            ...(e.manifest.stats.refreshedTokens === undefined ? { buildMs: e.manifest.stats.buildMs } : {}),
          }
        : { entry: e.dir, bytes: e.bytes, problem: e.problem ?? 'unreadable' },
    );
  }

  /**
   * Removes the entries of `workspace` (every entry without one), and entries whose manifest cannot be trusted:
   * nothing says whose they are, and they can never be answered from. Their conversations go with them, and so do
   * those whose entry is already gone (cleared by an earlier version): a rebuild of that entry would bring them back.
   * With `entry` (its directory or key), that entry alone.
   */
  async clear(cacheDir: string, workspace?: string, entry?: string): Promise<ClearResult> {
    const store = new CacheStore(cacheDir);
    const ws = workspace && canonicalPath(workspace);
    let removed = 0;
    let bytes = 0;
    for (const e of store.list()) {
      if (entry !== undefined && e.dir !== entry && e.key !== entry) continue;
      if (ws && e.manifest && e.manifest.workspace !== ws) continue;
      await store.remove(e.key);
      removed++;
      bytes += e.bytes;
    }
    const conversations = new SessionStore(cacheDir).removeExcept(new Set(store.list().map((e) => e.key)));
    await this.answering.forget();
    return { removed, bytes, conversations };
  }
}
