// The engine: owns models and the cache store, and runs build / ask / generate for its clients.
import { realpathSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AskRequest, AskResult, BuildResult, CacheEntryInfo, CacheSettings, GenerateRequest, GenerateResult } from './protocol.ts';
import type { ProgressFn } from '../core/progress.ts';
import { loadModel, type LoadedModel } from './model.ts';
import { resolveModel } from './resolveModel.ts';
import { attentionWindow } from '../model/config.ts';
import { checkFits } from './memoryCheck.ts';
import { adapterName } from '../runtime/webgpu.ts';
import { prefillChunk } from '../runtime/traffic.ts';
import { contextLimit, workspaceContext } from './workspaceContext.ts';
import type { BuiltContext } from '../context/types.ts';
import { CacheStore } from '../cache/store.ts';
import { FORMAT_VERSION, type Manifest } from '../cache/manifest.ts';
import { UserError } from '../core/errors.ts';
import { DEFAULT_CHUNK, fittingChunk } from '../kvzip/schedule.ts';
import { PUNCT_DEMOTE } from '../kvzip/demote.ts';
import { KV_FILE } from '../kvzip/compact.ts';
import { ENTRY_FILES, writeGeneration } from './build.ts';
import { fitQuestion } from './question.ts';
import { emptyContextMessage } from './workspace.ts';
import { planRefresh, type RefreshPlan } from '../context/index.ts';
import { generate, type SamplingOptions } from '../runtime/generate.ts';
import type { ForwardSession } from '../runtime/decoder.ts';
import { TailKv, conversationBudget, planTail } from './conversation.ts';
import { SessionStore } from './sessions.ts';
import { quoteFor } from './attach.ts';

/** The shortest context the memory check before preparing weights asks room for. */
const MIN_CONTEXT_TOKENS = 2048;
/** Files a generation must list in its manifest to be answered from. */

export interface EngineOptions {
  /** Chunk size m of the KVzip scoring schedule. */
  scoreChunk?: number;
}

export class Engine {
  private readonly models = new Map<string, LoadedModel>();
  /** The open answering session: one cache generation at a time, so memory holds one copy of the weights. */
  private answering?: { dir: string; session: ForwardSession };

  /**
   * Each session holds its own copy of the weights (onnxruntime-node cannot share initializers between sessions),
   * so on a GPU only one of the dense and the answering session is open at a time: a build closes the answering
   * session, and answering closes the dense one. The CPU keeps both (RAM is larger, and reopening costs seconds).
   */
  private async openOnly(which: 'dense' | 'answering', m: LoadedModel): Promise<void> {
    if (m.device === 'cpu') return;
    if (which === 'dense') await this.closeAnswering();
    else await m.releaseDense();
  }

  private async closeAnswering(): Promise<void> {
    const open = this.answering;
    this.answering = undefined;
    await open?.session.session.release();
  }

  /**
   * Opens the answering session over the generation `dir` (pinned by the caller), unless it is the open one.
   * True when it opened one.
   */
  private async openAnswering(m: LoadedModel, dir: string, sequenceLength: number, progress?: ProgressFn): Promise<boolean> {
    if (this.answering?.dir === dir) return false;
    await this.closeAnswering();
    await this.openOnly('answering', m);
    progress?.('load-cache', 0, 1);
    // The generation links the prepared weights, which may have been damaged (and prepared again) since.
    await m.checkWeights('quick');
    m.linkWeights(dir);
    this.answering = { dir, session: await m.openCompressed(dir, sequenceLength) };
    progress?.('load-cache', 1, 1);
    return true;
  }
  /** The last answer's tail KV, so a follow-up feeds only its own tokens. */
  private readonly tail = new TailKv();

  constructor(private readonly o: EngineOptions = {}) {}

  async model(
    r: { model: string; device: CacheSettings['device']; cacheDir: string; int4?: boolean; hfToken?: string },
    progress?: ProgressFn,
    signal?: AbortSignal,
  ): Promise<LoadedModel> {
    const dir = await resolveModel(r.model, r.cacheDir, { token: r.hfToken, signal, progress });
    const key = `${dir}\0${r.device}\0${r.int4 ?? false}`;
    let m = this.models.get(key);
    if (!m) {
      m = loadModel({
        modelDir: dir,
        device: r.device,
        int4: r.int4,
        preparedRoot: join(r.cacheDir, 'models'),
        beforePrepare: (spec, choice, dtype) => {
          // A GPU that cannot hold the weights with a short context is refused before they are converted for it.
          if (choice.device === 'cpu') return;
          const contextTokens = Math.min(MIN_CONTEXT_TOKENS, attentionWindow(spec));
          checkFits({ shape: spec, device: choice.device, adapter: choice.adapter, dtype, int4: r.int4 ?? false, contextTokens });
        },
        signal,
        onProgress: (d, t) => progress?.('load-model', d, t),
      });
      this.models.set(key, m);
    }
    return m;
  }

  /** Refuses, with numbers and proposals, a context that would not fit on the model's device, before prefilling it. */
  private checkMemory(m: LoadedModel, tokens: number): number | undefined {
    return checkFits({
      shape: m.prepared.spec,
      device: m.device,
      adapter: m.adapter,
      dtype: m.prepared.dtype,
      int4: m.prepared.int4,
      contextTokens: tokens,
      scoreChunkTokens: this.scoreChunk(m, tokens),
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
      ...(s.folders?.length ? { folders: s.folders } : {}),
    });
  }

  async context(s: CacheSettings, m: LoadedModel, signal?: AbortSignal, progress?: ProgressFn): Promise<BuiltContext> {
    return workspaceContext(s, m.prepared.spec, m.tokenizer, m.tokenizerHash, signal, progress);
  }

  async build(
    s: CacheSettings & { force?: boolean },
    progress?: ProgressFn,
    signal?: AbortSignal,
  ): Promise<Omit<BuildResult, 'report'> & { manifest: Manifest; context: BuiltContext }> {
    const t0 = performance.now();
    const m = await this.model(s, progress, signal);
    const store = new CacheStore(s.cacheDir);
    const key = this.entryKey(s, m);
    const ctx = await this.context(s, m, signal, progress);
    if (ctx.tokenIds.length === 0)
      throw new UserError(
        emptyContextMessage(s.workspace, ctx, contextLimit(m.prepared.spec, m.tokenizer, s.maxContextTokens).maxTokens),
        'empty-context',
      );
    const prefixIds = m.tokenizer.prefixIds(m.tokenizer.layout());
    const ids = [...prefixIds, ...ctx.tokenIds];
    const opened = s.force ? undefined : await store.open(key, ENTRY_FILES);
    // Pinned until the new generation is written: a refresh reads the old one's KV.
    const existing = opened && 'manifest' in opened && trustedFor(opened.manifest, m) ? opened : undefined;
    try {
      const plan = existing ? planRefresh(existing.manifest.fingerprint, ctx) : undefined;
      if (existing && plan?.upToDate) {
        return {
          ...this.summary(existing.manifest, existing.dir, m, true, 0, performance.now() - t0),
          manifest: existing.manifest,
          context: ctx,
        };
      }

      const memoryEstimateBytes = this.checkMemory(m, ids.length);
      // Writing a generation is long anyway: read every byte of the prepared weights it will link, and prepare
      // them again if any is wrong.
      await m.checkWeights('full');
      const gen = store.begin(key);
      try {
        const written = await writeGeneration({
          settings: s,
          model: m,
          store,
          key,
          gen,
          workspace: canonicalPath(s.workspace),
          context: ctx,
          ids,
          prefixLen: prefixIds.length,
          existing: existing && plan ? { ...existing, plan } : undefined,
          scoreChunk: this.scoreChunk(m, ids.length),
          startedAt: t0,
          beforeDense: () => this.openOnly('dense', m),
          progress,
          signal,
        });
        const summary = this.summary(written.manifest, written.dir, m, false, written.prefillTokens, performance.now() - t0);
        return { ...summary, hostDeviceBytes: written.hostDeviceBytes, memoryEstimateBytes, manifest: written.manifest, context: ctx };
      } catch (e) {
        rmSync(gen, { recursive: true, force: true });
        throw e;
      }
    } finally {
      if (opened && 'release' in opened) await opened.release();
    }
  }

  private summary(
    manifest: Manifest,
    entry: string,
    m: LoadedModel,
    fromCache: boolean,
    prefillTokens: number,
    ms: number,
  ): Omit<BuildResult, 'report'> {
    return {
      entry,
      fromCache,
      contextTokens: manifest.sequenceLength,
      prefillTokens,
      kvBytesFull: manifest.stats.kvBytesFull,
      kvBytesCompressed: compressedBytes(manifest),
      keptShare: manifest.stats.keptPairs / manifest.stats.totalPairs,
      ratio: manifest.ratio,
      level: manifest.level,
      ...deviceOf(m),
      buildMs: ms,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  }

  async ask(
    s: CacheSettings & AskRequest & { sampling?: Partial<SamplingOptions> },
    onText: (t: string) => void,
    progress?: ProgressFn,
    signal?: AbortSignal,
    notice?: (message: string) => void,
  ): Promise<AskResult> {
    const t0 = performance.now();
    const m = await this.model(s, progress, signal);
    const layout = m.tokenizer.layout();
    const window = attentionWindow(m.prepared.spec);
    const maxTokens = s.maxTokens ?? 256;
    const encodeQuestion = (text: string) => m.tokenizer.questionIds(layout, text);
    const store = new CacheStore(s.cacheDir);
    const key = this.entryKey(s, m);
    let opened = await store.open(key, ENTRY_FILES);
    let prefillTokens = 0;
    if (!('manifest' in opened) || !trustedFor(opened.manifest, m)) {
      if ('release' in opened) await opened.release();
      // A question that cannot fit even next to the shortest context is refused before the build.
      const prefix = m.tokenizer.prefixIds(layout).length;
      fitQuestion(encodeQuestion, s.question, s.quote, { window, used: prefix, maxTokens, beforeBuild: true });
      const reason = 'problem' in opened ? opened.problem : 'the cache was built with another model';
      progress?.('prefill', 0, 1, `Building the cache first: ${reason}`);
      const built = await this.build({ ...s, force: true }, progress, signal);
      prefillTokens = built.prefillTokens;
      opened = await store.open(key, ENTRY_FILES);
      if (!('manifest' in opened)) throw new UserError(`The cache just built cannot be read back: ${opened.problem}`, 'cache');
    }
    const { dir, manifest } = opened;
    // On a GPU the compressed KV goes to the device once, baked into the session as it opens.
    let uploaded = 0;
    try {
      if ((await this.openAnswering(m, dir, manifest.sequenceLength, progress)) && m.device !== 'cpu') {
        uploaded = manifest.files[KV_FILE]?.bytes ?? 0;
      }
    } finally {
      // The session holds what it read: the generation may go now.
      await opened.release();
    }
    const budget = conversationBudget(s.conversationBudget, window, manifest.sequenceLength);
    // A file's current text goes only where the cache lacks it or holds an older version.
    const current = quoteFor(manifest.fingerprint, s.question, s.quote);
    const { text: question, quoteLines } = fitQuestion(encodeQuestion, current.question, current.quote, {
      window,
      used: manifest.sequenceLength,
      maxTokens,
      budget,
    });
    const { session } = this.answering!;
    const sessions = s.session ? new SessionStore(s.cacheDir) : undefined;
    if (sessions && s.newConversation) sessions.remove(key, s.session!);
    const earlier = sessions ? sessions.load(key, s.session!) : (s.history ?? []);
    if (earlier.some((t) => t.answerIds.some((v) => v >= m.prepared.spec.vocabSize)))
      throw new UserError('The conversation holds tokens of another model. Start a new conversation.', 'bad-request');
    const plan = planTail(m.tokenizer, layout, earlier, question, budget, maxTokens);
    if (plan.ids.length >= budget) {
      throw new UserError(
        `The question is ${plan.ids.length} tokens, and the conversation budget after the context is ${budget}. Shorten the question or raise the budget.`,
        'bad-request',
      );
    }
    const { past, feed } = this.tail.resume(dir, plan.ids, () => session.empty());
    let ttftMs = 0;
    const bytesBefore = session.hostDeviceBytes;
    const r = await generate(
      session,
      feed,
      past,
      { maxTokens, stopIds: m.tokenizer.eosIds, signal, ...s.sampling },
      {
        decode: (ids) => m.tokenizer.decode(ids),
        onText: (t) => {
          if (!ttftMs) ttftMs = performance.now() - t0;
          onText(t);
        },
      },
      prefillChunk(m.device, feed.length),
      // Every token of the tail, the answer's last included, keeps a position inside the budget.
      manifest.sequenceLength + budget - 1,
    );
    this.tail.keep(dir, [...plan.ids, ...r.ids], r.kv);
    // An entry built earlier still answers after files changed, and the user is told: after the answer, so the
    // first token does not wait for the workspace to be read again.
    const cancelled = r.stopReason === 'cancelled';
    let stale = false;
    if (prefillTokens === 0 && !cancelled) {
      try {
        const changes = planRefresh(manifest.fingerprint, await this.context(s, m, signal));
        stale = !changes.upToDate;
        if (stale) notice?.(staleNotice(changes));
      } catch (e) {
        // The answer is complete: a cancel loses only the check, and a workspace gone since the build is news.
        if (e instanceof UserError && e.code === 'workspace') {
          stale = true;
          notice?.(`${e.message} The answer came from the cache built before.`);
        } else if (!signal?.aborted) throw e;
      }
    }
    const turn = { question, answer: r.text, answerIds: r.ids };
    if (sessions && !cancelled) sessions.save(key, s.session!, [...plan.kept, turn]);
    return {
      answer: r.text,
      fromCache: prefillTokens === 0,
      prefillTokens,
      questionTokens: plan.questionTokens,
      answerTokens: r.ids.length,
      ttftMs: ttftMs || performance.now() - t0,
      decodeMsPerToken: r.decodeMsPerToken,
      ...deviceOf(m),
      hostDeviceBytes: uploaded + session.hostDeviceBytes - bytesBefore,
      cancelled,
      ...(r.stopReason === 'context-full' ? { stopped: 'conversation-budget' as const } : {}),
      turnsUsed: plan.kept.length,
      turnsDropped: plan.dropped,
      turn,
      stopReason: r.stopReason,
      stale,
      ...(quoteLines ? { quoteLines } : {}),
      ...(current.added ? { added: current.added } : {}),
    };
  }

  /** Plain generation from a prompt (no context cache): the engine-core check and the `generate` command. */
  async generate(r: GenerateRequest, onText: (t: string) => void, progress?: ProgressFn, signal?: AbortSignal): Promise<GenerateResult> {
    const m = await this.model(r, progress, signal);
    await this.openOnly('dense', m);
    const dense = await m.dense();
    const ids = r.promptIds?.length ? r.promptIds : m.tokenizer.encodePrompt(r.prompt ?? '');
    if (ids.length === 0) throw new UserError('The prompt is empty: give --prompt or --prompt-ids', 'bad-request');
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
            ratio: e.manifest.ratio,
            level: e.manifest.level,
            contextTokens: e.manifest.sequenceLength,
            bytes: e.bytes,
            kvBytesFull: e.manifest.stats.kvBytesFull,
            kvBytesCompressed: compressedBytes(e.manifest),
            createdAt: e.manifest.createdAt,
            lastUsedAt: new Date(e.lastUsedMs).toISOString(),
          }
        : { entry: e.dir, bytes: e.bytes, problem: e.problem ?? 'unreadable' },
    );
  }

  /**
   * Removes the entries of `workspace` (every entry without one), and entries whose manifest cannot be trusted:
   * nothing says whose they are, and they can never be answered from.
   */
  async clear(cacheDir: string, workspace?: string): Promise<{ removed: number }> {
    const store = new CacheStore(cacheDir);
    const ws = workspace && canonicalPath(workspace);
    let removed = 0;
    for (const e of store.list()) {
      if (ws && e.manifest && e.manifest.workspace !== ws) continue;
      await store.remove(e.key);
      removed++;
    }
    await this.closeAnswering();
    this.tail.forget();
    return { removed };
  }
}

/** The real path (symlinks resolved), so a workspace reached through a link maps to the same entry. */
export function canonicalPath(p: string): string {
  try {
    return realpathSync.native(resolve(p));
  } catch {
    return resolve(p);
  }
}

/** The device a result reports: its name, the adapter's on WebGPU, and why, when it is the CPU. */
function deviceOf(m: LoadedModel): { device: string; deviceReason?: string; adapter?: string } {
  return { device: m.device, deviceReason: m.deviceReason, ...(m.adapter ? { adapter: adapterName(m.adapter) } : {}) };
}

function staleNotice(plan: RefreshPlan): string {
  const files = [...plan.changed, ...plan.added, ...plan.removed];
  const named = files.length ? `${files.slice(0, 3).join(', ')}${files.length > 3 ? ` and ${files.length - 3} more` : ''}` : 'the context';
  return `files changed since the cache was built (${named}); answering from the old cache. Run build to refresh it.`;
}

/** Compressed bytes held: the KV blob (no padding) plus the per-head counts that describe it. */
function compressedBytes(m: Manifest): number {
  return m.stats?.kvBytesCompressed ?? 0;
}

function trustedFor(manifest: Manifest, m: LoadedModel): boolean {
  return (
    manifest.model?.weightsHash === m.prepared.weightsHash &&
    manifest.model?.weightsContent === m.prepared.contentHash &&
    manifest.model?.tokenizerHash === m.tokenizerHash &&
    manifest.model?.dtype === m.prepared.dtype &&
    manifest.model?.int4 === m.prepared.int4
  );
}
